"""The decision-model door: a scorecard in YAML, compiled, measured on its test cases,
registered like any uploaded model; with a reference table of typical inputs, monitored
like one too (:mod:`services.registry.rules.reference`).

The body is the YAML document (``application/yaml``), or a form (``multipart/form-data``)
of the document as ``rules`` and the reference table (CSV) as ``reference``."""

from __future__ import annotations

import asyncio
import hashlib
from typing import Any

from fastapi import APIRouter, Request, Response
from starlette.datastructures import UploadFile

from services.registry.api.params import ModelName
from services.registry.api.schemas import VersionView
from services.registry.domain import doors
from services.registry.registration import Registrar
from services.registry.rules import reference
from services.registry.rules.compile import LABEL, SCORE, compile_scorecard
from services.registry.rules.evidence import plain_decisions_csv, test_cases_csv
from services.registry.rules.scorecard import MAX_BYTES, TARGET, Scorecard, parse_scorecard
from services.registry.sandbox.runner import Evaluation
from services.registry.store import versions
from shared.bus.unit_of_work import Transactions
from shared.errors import InvalidInput, PayloadTooLarge
from shared.http.auth import DataScientist
from shared.http.guard import body_limit

POLICY = "rules"  # services/governance/policies/rules.yaml
FORM_OVERHEAD_BYTES = 64 * 1024  # the multipart framing around the two parts
NOT_MONITORED = (
    "none: registered without a reference table, so the monitor has no reference "
    "profile and does no input or prediction drift monitoring for this version"
)


def monitoring(profile: bytes | None, rows: int | None) -> str:
    """What the monitor will do for the version, said in its registration's metadata."""
    if profile is None:
        return NOT_MONITORED
    return f"input and prediction drift against a reference table of {rows} rows"


def describe(card: Scorecard, raw: bytes, monitored: str) -> doors.UploadMetadata:
    """The upload a scorecard is: classification into its decisions, governed by the rules
    policy, one origin per document (the same YAML again answers with its version)."""
    metadata = card.metadata.model_copy(
        update={
            "description": card.metadata.description or card.description,
            "tags": {**card.metadata.tags, "policy": POLICY},
        }
    )
    return doors.UploadMetadata(
        task="classification",
        upload_id="rules-" + hashlib.sha256(raw).hexdigest(),
        target=TARGET,
        metadata=metadata,
        algorithm="scorecard",
        params={
            "feature_names": list(card.inputs),
            "inputs": {
                n: "categorical" if k == "string" else "numeric" for n, k in card.inputs.items()
            },
            "outputs": [LABEL, SCORE],
            "classes": card.decisions,
            "rules": [r.name for r in card.rules],
            "test_cases": len(card.tests),
            "monitoring": monitored,
        },
    )


async def _parts(request: Request) -> tuple[bytes, bytes | None]:
    """The document and the reference table (or None) of either kind of body."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind != "multipart/form-data":
        return await request.body(), None
    async with request.form(max_files=2, max_fields=0) as form:
        if set(form) - {"rules", "reference"}:
            raise InvalidInput("the form takes a 'rules' part and optionally a 'reference' part")
        rules, table = form.get("rules"), form.get("reference")
        if not isinstance(rules, UploadFile):
            raise InvalidInput("the form needs the rules document as a file part 'rules'")
        if table is not None and not isinstance(table, UploadFile):
            raise InvalidInput("the reference table must be a file part 'reference' (CSV)")
        for part, cap in ((rules, MAX_BYTES), (table, reference.MAX_BYTES)):
            if part is not None and part.size is not None and part.size > cap:
                raise PayloadTooLarge(f"the form's {part.filename!r} part is over {cap} bytes")
        return await rules.read(), (await table.read() if table is not None else None)


def router(transactions: Transactions, registrar: Registrar) -> APIRouter:
    api = APIRouter(tags=["rules"])

    @api.post(
        "/{name}/rules",
        response_model=VersionView,
        status_code=201,
        responses={
            200: {"description": "this document was registered before; that version"},
            400: {"description": "the document is not a valid scorecard; the body says why"},
            413: {"description": "the document is over the size limit"},
            422: {"description": "the compiled model was refused; the body names each check"},
        },
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {
                    "application/yaml": {"schema": {"type": "string"}},
                    "multipart/form-data": {
                        "schema": {
                            "type": "object",
                            "required": ["rules"],
                            "properties": {
                                "rules": {"type": "string", "format": "binary"},
                                "reference": {"type": "string", "format": "binary"},
                            },
                        }
                    },
                },
            }
        },
    )
    @body_limit(MAX_BYTES + reference.MAX_BYTES + FORM_OVERHEAD_BYTES)
    async def register_rules(
        name: ModelName, request: Request, response: Response, principal: DataScientist
    ) -> Any:
        """Register a scorecard (YAML body) as a new version: compiled to ONNX with standard
        operators, then measured by the registry's sandbox on the document's own test cases
        (accuracy: the share passed; parity: the graph against the rules read plainly).
        With a reference table the version gets a reference profile (input and prediction
        drift); without one it is not drift-monitored, and its metadata says so."""
        raw, table = await _parts(request)
        card = parse_scorecard(raw)
        # Reading up to 100,000 rows and deciding each is CPU work: off the event loop.
        profile = (
            None
            if table is None
            else await asyncio.to_thread(reference.reference_profile, card, table)
        )
        rows = None if profile is None else profile.rows
        encoded = None if profile is None else profile.to_json()
        # The same document with another table is another origin (another profile).
        origin = raw if encoded is None else raw + b"\0" + encoded
        candidate = doors.from_upload(
            name, describe(card, origin, monitoring(encoded, rows)), principal.id
        )
        registered, created = await registrar.register_upload(
            transactions,
            candidate,
            compile_scorecard(card, name),
            encoded,
            expected_sha256=None,
            evaluation=Evaluation(test_cases_csv(card), plain_decisions_csv(card)),
        )
        if not created:
            response.status_code = 200
        async with transactions.pool.acquire() as conn:
            return await versions.get_version(conn, name, registered.version)

    return api
