"""The decision-model door: a scorecard in YAML, compiled, measured on its test cases,
registered like any uploaded model."""

from __future__ import annotations

import hashlib
from typing import Any

from fastapi import APIRouter, Request, Response

from services.registry.api.params import ModelName
from services.registry.api.schemas import VersionView
from services.registry.domain import doors
from services.registry.registration import Registrar
from services.registry.rules.compile import LABEL, SCORE, compile_scorecard
from services.registry.rules.evidence import plain_decisions_csv, test_cases_csv
from services.registry.rules.scorecard import MAX_BYTES, TARGET, Scorecard, parse_scorecard
from services.registry.sandbox.runner import Evaluation
from services.registry.store import versions
from shared.bus.unit_of_work import Transactions
from shared.http.auth import DataScientist
from shared.http.guard import body_limit

POLICY = "rules"  # services/governance/policies/rules.yaml


def describe(card: Scorecard, raw: bytes) -> doors.UploadMetadata:
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
        },
    )


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
                "content": {"application/yaml": {"schema": {"type": "string"}}},
            }
        },
    )
    @body_limit(MAX_BYTES)
    async def register_rules(
        name: ModelName, request: Request, response: Response, principal: DataScientist
    ) -> Any:
        """Register a scorecard (YAML body) as a new version: compiled to ONNX with standard
        operators, then measured by the registry's sandbox on the document's own test cases
        (accuracy: the share passed; parity: the graph against the rules read plainly)."""
        raw = await request.body()
        card = parse_scorecard(raw)
        candidate = doors.from_upload(name, describe(card, raw), principal.id)
        registered, created = await registrar.register_upload(
            transactions,
            candidate,
            compile_scorecard(card, name),
            None,
            expected_sha256=None,
            evaluation=Evaluation(test_cases_csv(card), plain_decisions_csv(card)),
        )
        if not created:
            response.status_code = 200
        async with transactions.pool.acquire() as conn:
            return await versions.get_version(conn, name, registered.version)

    return api
