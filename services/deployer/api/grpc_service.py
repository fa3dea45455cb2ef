"""The Open Inference Protocol over gRPC (KServe's ``inference.GRPCInferenceService``).

Transport only, like the REST routes beside it: the same serving table answers health,
readiness and metadata, and the same :class:`Inference` routes, runs, logs and counts every
``ModelInfer``, so canary arms, shadows, prediction logs and metrics do not depend on the
protocol. Each method is registered with raw bytes in: the bearer token in the
``authorization`` metadata is checked (viewer, as for REST; the two health calls are
public) before the message is parsed, and an unparsable message is INVALID_ARGUMENT rather
than gRPC's own INTERNAL. Refusals carry the REST error's message with the gRPC status
code of its HTTP status.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeAlias

import grpc
import structlog
from google.protobuf.message import DecodeError, Message

from services.deployer.api.grpc_codec import infer_response, parse_infer_request
from services.deployer.api.infer_endpoint import version_number
from services.deployer.api.oip import grpc_predict_v2_pb2 as pb
from services.deployer.metrics import GRPC_CALLS
from services.deployer.serving.inference import Inference
from services.deployer.serving.metadata import SERVER_NAME, SERVER_VERSION, model_metadata
from services.deployer.serving.table import ServingTable, VersionRetired, VersionStopped
from shared.errors import InvalidInput, ModelbusError, NotFound
from shared.http.auth import Role, TokenAuthority, authenticate_bearer, granted

log = structlog.get_logger(__name__)

SERVICE = "inference.GRPCInferenceService"

# The gRPC status of each HTTP status the serving code raises.
STATUS = {
    400: grpc.StatusCode.INVALID_ARGUMENT,
    401: grpc.StatusCode.UNAUTHENTICATED,
    403: grpc.StatusCode.PERMISSION_DENIED,
    404: grpc.StatusCode.NOT_FOUND,
    409: grpc.StatusCode.FAILED_PRECONDITION,
    413: grpc.StatusCode.RESOURCE_EXHAUSTED,
    422: grpc.StatusCode.INVALID_ARGUMENT,
    429: grpc.StatusCode.RESOURCE_EXHAUSTED,
    503: grpc.StatusCode.UNAVAILABLE,
}

Context: TypeAlias = Any  # grpc.aio.ServicerContext (grpcio ships no type hints)
Method: TypeAlias = Callable[[Any, Context], Awaitable[Message]]


class InferenceService:
    def __init__(self, table: ServingTable, inference: Inference, auth: TokenAuthority) -> None:
        self.table = table
        self.inference = inference
        self.auth = auth

    def handler(self) -> grpc.GenericRpcHandler:
        methods: dict[str, tuple[type[Message], Role | None, Method]] = {
            "ServerLive": (pb.ServerLiveRequest, None, self.server_live),
            "ServerReady": (pb.ServerReadyRequest, None, self.server_ready),
            "ModelReady": (pb.ModelReadyRequest, "viewer", self.model_ready),
            "ServerMetadata": (pb.ServerMetadataRequest, "viewer", self.server_metadata),
            "ModelMetadata": (pb.ModelMetadataRequest, "viewer", self.model_metadata),
            "ModelInfer": (pb.ModelInferRequest, "viewer", self.model_infer),
        }
        return grpc.method_handlers_generic_handler(
            SERVICE,
            {
                name: grpc.unary_unary_rpc_method_handler(
                    self._guarded(name, message, role, method),
                    request_deserializer=None,  # raw bytes: parsed after the token check
                    response_serializer=_serialize,
                )
                for name, (message, role, method) in methods.items()
            },
        )

    def _guarded(
        self, name: str, message: type[Message], role: Role | None, method: Method
    ) -> Callable[[bytes, Context], Awaitable[Message]]:
        counted = {code: GRPC_CALLS.labels(name, code.name) for code in grpc.StatusCode}

        async def call(raw: bytes, context: Context) -> Message:
            code = grpc.StatusCode.OK
            try:
                if role is not None:
                    granted(await self._principal(context), role)
                try:
                    request = message.FromString(raw)
                except DecodeError as exc:
                    raise InvalidInput(f"the request is not a valid {message.__name__}") from exc
                return await method(request, context)
            except ModelbusError as exc:
                code = STATUS.get(exc.status_code, grpc.StatusCode.INTERNAL)
                await context.abort(code, exc.message)
                raise  # abort raised already; this keeps type checkers informed
            except Exception:
                log.exception("grpc.crashed", method=name)
                code = grpc.StatusCode.INTERNAL
                await context.abort(code, "internal error")
                raise
            finally:
                counted[code].inc()

        return call

    async def _principal(self, context: Context) -> Any:
        header = ""
        for key, value in context.invocation_metadata() or ():
            if key == "authorization":
                header = value if isinstance(value, str) else value.decode("latin-1")
                break
        return await authenticate_bearer(header, self.auth, _peer_host(context.peer()))

    async def server_live(self, _: pb.ServerLiveRequest, __: Context) -> Message:
        return pb.ServerLiveResponse(live=True)

    async def server_ready(self, _: pb.ServerReadyRequest, __: Context) -> Message:
        return pb.ServerReadyResponse(ready=self.table.ready)

    async def server_metadata(self, _: pb.ServerMetadataRequest, __: Context) -> Message:
        return pb.ServerMetadataResponse(name=SERVER_NAME, version=SERVER_VERSION)

    async def model_ready(self, request: pb.ModelReadyRequest, _: Context) -> Message:
        """Not serving (unknown, suspended, retired) is ``ready: false``, as Triton says."""
        try:
            self.table.addressed(request.name, version_number(request.version or None))
        except (NotFound, VersionStopped, VersionRetired):
            return pb.ModelReadyResponse(ready=False)
        return pb.ModelReadyResponse(ready=True)

    async def model_metadata(self, request: pb.ModelMetadataRequest, _: Context) -> Message:
        found = self.table.addressed(request.name, version_number(request.version or None))
        return pb.ModelMetadataResponse(**model_metadata(*found))

    async def model_infer(self, request: pb.ModelInferRequest, context: Context) -> Message:
        metadata = {
            key: value
            for key, value in context.invocation_metadata() or ()
            if isinstance(value, str)
        }
        answer = await self.inference.answer(
            request.model_name,
            version_number(request.model_version or None),
            parse_infer_request(request),
            lambda header: metadata.get(header.lower()),
        )
        return infer_response(answer)


def _serialize(message: Message) -> bytes:
    return message.SerializeToString()


def _peer_host(peer: str | None) -> str | None:
    """``ipv4:127.0.0.1:5000`` or ``ipv6:[::1]:5000`` to the host alone."""
    if not peer:
        return None
    _, _, address = peer.partition(":")
    host, _, _ = address.rpartition(":")
    return host.strip("[]") or None
