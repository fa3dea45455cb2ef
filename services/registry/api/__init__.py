"""The registry's HTTP API, under ``/v1/models``: thin routes that parse, call a plain
function of the registry, and answer.

:func:`router` is the one factory; the routes live in one module per concern (reading
models and versions, uploads, scorecards, aliases, the lifecycle read model, the risk tier floor).
"""

from __future__ import annotations

from fastapi import APIRouter

from services.registry.api import aliases, lifecycle, models, risk_tier, rules, upload
from services.registry.registration import Registrar
from shared.bus.unit_of_work import Transactions
from shared.store.artifacts import ArtifactStore


def router(transactions: Transactions, artifacts: ArtifactStore, registrar: Registrar) -> APIRouter:
    pool = transactions.pool
    api = APIRouter()
    for part in (
        models.router(pool, artifacts),
        upload.router(transactions, registrar),
        rules.router(transactions, registrar),
        aliases.router(pool),
        lifecycle.router(pool),
        risk_tier.router(transactions),
    ):
        api.include_router(part, prefix="/v1/models")
    return api
