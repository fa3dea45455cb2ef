"""Wiring of the deployer service: its migrations, handlers, routes and workers."""

from __future__ import annotations

from functools import partial
from importlib import resources

from services.deployer import api, handlers
from services.deployer.api.fast_path import fast_path
from services.deployer.api.grpc_server import GrpcServer
from services.deployer.api.grpc_service import InferenceService
from services.deployer.api.infer_endpoint import InferEndpoint
from services.deployer.reconciler import Reconciler
from services.deployer.serving.inference import Inference
from services.deployer.serving.prediction_log import PredictionLog
from services.deployer.serving.table import ServingTable
from services.deployer.serving.verdicts import VerdictQueue
from services.deployer.settings import DeployerSettings
from shared.gc_tuning import tune_garbage_collector
from shared.runtime import Infrastructure, ServiceDefinition, ServiceParts


def definition(settings: DeployerSettings | None = None) -> ServiceDefinition:
    """The deployer, with ``settings`` or settings read from the environment at build time."""

    async def build(infra: Infrastructure) -> ServiceParts:
        config = settings or DeployerSettings()
        tune_garbage_collector(config.gc_young_threshold)
        replica = config.replica(infra.settings.port_for(infra.service))
        table = ServingTable()
        transactions = infra.transactions
        reconciler = Reconciler(transactions, infra.artifacts, table, config, replica=replica)
        verdicts = VerdictQueue(transactions, applied=reconciler.reconcile)
        predictions = PredictionLog(
            capacity=config.prediction_log_buffer,
            enabled=config.prediction_log_enabled,
            source=infra.service,
            max_event_bytes=infra.settings.kafka_max_message_bytes,
        )
        inference = Inference(
            table, predictions, verdicts.submit, shadow_max_in_flight=config.shadow_max_in_flight
        )
        poke = reconciler.poke
        infer = InferEndpoint(inference, max_body_bytes=config.max_body_bytes)

        async def publish_predictions() -> None:
            await predictions.run(
                infra.producer,
                batch=config.prediction_log_batch,
                flush_s=config.prediction_log_flush_ms / 1000,
            )

        workers = [reconciler.run, verdicts.run, publish_predictions]
        if config.grpc_port is not None:
            grpc_server = GrpcServer(
                InferenceService(table, inference, infra.auth), config, infra.settings.http_host
            )
            grpc_server.bind()  # a taken port stops the start here, saying so
            workers.append(grpc_server.serve)

        return ServiceParts(
            handlers={
                "model.registered": partial(handlers.on_registered, config=config, poke=poke),
                "model.approved": partial(handlers.on_approved, config=config, poke=poke),
                "model.suspended": partial(
                    handlers.on_stopped, status="suspended", config=config, poke=poke
                ),
                "model.retired": partial(
                    handlers.on_stopped, status="retired", config=config, poke=poke
                ),
                "drift.detected": partial(handlers.on_alert, config=config, poke=poke),
                "performance.degraded": partial(handlers.on_alert, config=config, poke=poke),
                "monitor.metrics": partial(handlers.on_metrics, config=config, poke=poke),
            },
            routers=[
                api.router(
                    table, infer, transactions, replica=replica, applied=reconciler.reconcile
                )
            ],
            workers=workers,
            asgi_wrappers=[fast_path(infer)],
            # Every replica must see every lifecycle event: each has its own group.
            consumer_group=f"{infra.service}-{replica}",
        )

    return ServiceDefinition("deployer", resources.files("services.deployer") / "migrations", build)
