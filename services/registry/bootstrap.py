"""Wiring of the registry service: its migrations, handlers and routes.

The one place that binds dependencies (artifact store, registry settings, the service's
transactions) into the plain handlers and routes. :func:`definition` takes the registry's
settings so that a test can run the service with, say, a lower size cap; without them
they are read from the environment.
"""

from __future__ import annotations

from functools import partial
from importlib import resources

from services.registry import api, handlers
from services.registry.domain.lifecycle_rules import lifecycle_topics
from services.registry.registration import Registrar
from services.registry.settings import RegistrySettings
from shared.bus.consumer import Handler
from shared.runtime import Infrastructure, ServiceDefinition, ServiceParts


def definition(settings: RegistrySettings | None = None) -> ServiceDefinition:
    async def build(infra: Infrastructure) -> ServiceParts:
        registrar = Registrar(infra.sources, settings or RegistrySettings())
        consumed: dict[str, Handler] = {
            "training.completed": partial(handlers.on_training_completed, registrar=registrar),
            "model.submitted": partial(handlers.on_model_submitted, registrar=registrar),
        }
        for topic in lifecycle_topics():
            consumed[topic] = partial(handlers.on_lifecycle_event, topic=topic)
        return ServiceParts(
            handlers=consumed,
            routers=[api.router(infra.transactions, infra.artifacts, registrar)],
            workers=[registrar.sandbox.keep_warm],
        )

    return ServiceDefinition("registry", resources.files("services.registry") / "migrations", build)
