"""The gRPC server beside the REST one, in the deployer's own event loop (``grpc.aio``).

Bound while the service is built, so a port that is taken stops the start with a message
saying which and how to choose another, before anything serves; served by a worker. Messages are bounded like
REST bodies and calls in flight by ``grpc_max_in_flight`` (past it a call is refused with
RESOURCE_EXHAUSTED at once instead of queueing). Stopping gives accepted calls
``grpc_grace_s`` to finish.
"""

from __future__ import annotations

import grpc
import structlog

from services.deployer.api.grpc_service import InferenceService
from services.deployer.settings import DeployerSettings

log = structlog.get_logger(__name__)


class GrpcPortUnavailable(RuntimeError):
    """The configured gRPC address cannot be bound."""


class GrpcServer:
    def __init__(self, service: InferenceService, config: DeployerSettings, host: str) -> None:
        assert config.grpc_port is not None, "gRPC is switched off"
        self.config = config
        self.address = f"{config.grpc_host or host}:{config.grpc_port}"
        limit = config.max_body_bytes
        self.server = grpc.aio.server(
            maximum_concurrent_rpcs=config.grpc_max_in_flight,
            options=[
                ("grpc.max_receive_message_length", limit),
                ("grpc.max_send_message_length", limit),
                # gRPC sets SO_REUSEPORT by default: a second server would share the port
                # silently instead of being refused.
                ("grpc.so_reuseport", 0),
            ],
        )
        self.server.add_generic_rpc_handlers((service.handler(),))
        self.port = 0

    def bind(self) -> None:
        """Take the port, or say why not: while the service is built, before anything runs."""
        try:
            self.port = self.server.add_insecure_port(self.address)
        except RuntimeError as exc:
            raise self._unavailable() from exc
        if not self.port:
            raise self._unavailable()

    async def serve(self) -> None:
        """A worker: serve until cancelled, then let accepted calls finish. Started here and
        not when bound, so a service built but never run leaves no server to stop."""
        await self.server.start()
        log.info("grpc.started", address=self.address, port=self.port)
        try:
            await self.server.wait_for_termination()
        finally:
            await self.server.stop(self.config.grpc_grace_s)

    def _unavailable(self) -> GrpcPortUnavailable:
        return GrpcPortUnavailable(
            f"the deployer cannot listen for gRPC on {self.address}: the port is taken or "
            "the address is not this host's; set MODELBUS_DEPLOYER_GRPC_PORT to a free port"
        )
