"""The third door: a data scientist uploads an ONNX file with its metadata (multipart)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Response, UploadFile
from pydantic import ValidationError

from services.registry.api.params import ModelName
from services.registry.api.schemas import VersionView
from services.registry.domain import doors
from services.registry.domain.refusal import Check, Refusal
from services.registry.registration import Registrar, refuse_upload
from services.registry.sandbox.runner import Evaluation
from services.registry.store import versions
from shared.bus.unit_of_work import Transactions
from shared.errors import InvalidInput, describe_validation
from shared.http.auth import DataScientist
from shared.http.guard import body_limit

# Room in an upload's body for its metadata part and the multipart framing.
FORM_OVERHEAD_BYTES = 1024 * 1024


def router(transactions: Transactions, registrar: Registrar) -> APIRouter:
    api = APIRouter(tags=["upload"])
    cap = registrar.settings.max_artifact_bytes
    eval_cap = registrar.settings.max_eval_bytes

    @api.post(
        "/{name}/versions",
        response_model=VersionView,
        status_code=201,
        responses={
            200: {"description": "this upload_id was registered before; that version"},
            413: {"description": "the artifact is over the size limit"},
            422: {"description": "the model was refused; the body names each failed check"},
        },
    )
    # The artifact and its profile, the evaluation data and reference predictions, each capped.
    @body_limit(2 * cap + 2 * eval_cap + FORM_OVERHEAD_BYTES)
    async def upload_version(
        name: ModelName,
        response: Response,
        artifact: Annotated[UploadFile, File(description="the ONNX file")],
        principal: DataScientist,
        metadata: Annotated[str, Form(description="JSON: task, sha256, metadata, ...")] = "{}",
        reference_profile: Annotated[UploadFile | None, File(description="JSON")] = None,
        eval_data: Annotated[
            UploadFile | None,
            File(description="CSV: the model's input columns and the target (metadata.target)"),
        ] = None,
        reference_predictions: Annotated[
            UploadFile | None,
            File(description="CSV, one column: the original model's prediction per eval row"),
        ] = None,
    ) -> Any:
        """Register a new version. With ``eval_data`` the platform measures the model on it
        (in its sandbox); metrics in ``metadata`` are only claimed. A refusal also emits
        ``model.registration_failed``."""
        try:
            described = doors.UploadMetadata.model_validate_json(metadata)
        except ValidationError as exc:
            problems = describe_validation(exc, root="metadata")
            raise InvalidInput(f"metadata is not valid: {problems}") from exc
        candidate = doors.from_upload(name, described, principal.name)
        parts = [(artifact, cap), (reference_profile, cap)]
        parts += [(eval_data, eval_cap), (reference_predictions, eval_cap)]
        for part, limit in parts:  # refused before a byte is read
            if part is not None and part.size is not None and part.size > limit:
                refusal = Refusal.of(
                    Check.SIZE, f"{part.filename} is {part.size} bytes, limit {limit}"
                )
                raise await refuse_upload(transactions, candidate, refusal)
        if reference_predictions is not None and eval_data is None:
            raise InvalidInput("reference_predictions are compared on eval_data; send both")
        if eval_data is not None and described.target is None:
            raise InvalidInput("eval_data needs metadata.target, the name of its target column")
        profile = await reference_profile.read() if reference_profile is not None else None
        evaluation = None
        if eval_data is not None:
            reference = await reference_predictions.read() if reference_predictions else None
            evaluation = Evaluation(await eval_data.read(), reference)
        registered, created = await registrar.register_upload(
            transactions,
            candidate,
            await artifact.read(),
            profile,
            expected_sha256=described.sha256,
            evaluation=evaluation,
        )
        if not created:
            response.status_code = 200
        async with transactions.pool.acquire() as conn:
            return await versions.get_version(conn, name, registered.version)

    return api
