"""Governance's HTTP API, all under ``/v1``: people's decisions, the inventory, the trail.

Routes decode, call a use case or a query, and encode; each declares its role.
"""

from __future__ import annotations

from fastapi import APIRouter

from services.governance.api import audit_routes, inventory_routes, review_routes
from services.governance.recording import Governance
from shared.bus.unit_of_work import Transactions


def router(transactions: Transactions, governance: Governance) -> APIRouter:
    root = APIRouter(prefix="/v1")
    root.include_router(review_routes.router(transactions, governance))
    root.include_router(inventory_routes.router(transactions.pool, governance))
    root.include_router(audit_routes.router(transactions.pool, governance))
    return root
