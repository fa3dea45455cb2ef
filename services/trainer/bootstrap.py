"""Wiring of the trainer service: its migrations, handlers, routes and workers."""

from __future__ import annotations

from importlib import resources

from shared.runtime import Infrastructure, ServiceDefinition, ServiceParts


async def build(infra: Infrastructure) -> ServiceParts:
    return ServiceParts()


DEFINITION = ServiceDefinition("trainer", resources.files("services.trainer") / "migrations", build)
