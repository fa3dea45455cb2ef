"""The deployer's HTTP routes: the Open Inference Protocol under ``/v2`` (its own
convention) and the deployments under ``/v1/deployments``.

Live inference reaches the same :class:`InferEndpoint` through
:func:`services.deployer.api.fast_path.fast_path` before the framework's middleware; the
router declares it too, so the route audit and plain ASGI clients see it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import APIRouter

from services.deployer.api.deployments import deployments_router
from services.deployer.api.infer_endpoint import InferEndpoint
from services.deployer.api.v2 import v2_router
from services.deployer.serving.table import ServingTable
from shared.bus.unit_of_work import Transactions


def router(
    table: ServingTable,
    infer: InferEndpoint,
    transactions: Transactions,
    *,
    replica: str,
    applied: Callable[[], Awaitable[None]],
) -> APIRouter:
    """Every route of the deployer; ``applied`` is awaited after a transition by hand."""
    routes = APIRouter()
    routes.include_router(v2_router(table, infer))
    routes.include_router(deployments_router(transactions, table, replica=replica, applied=applied))
    return routes
