"""Provisioning a broker with ACLs: every topic, then the ACLs of :mod:`shared.bus.acls`.

Run with the admin's (super user's) credentials, before the services start: they may
not create topics themselves. Idempotent: existing topics stay, an existing ACL is
created again as a no-op. SCRAM users are not made here: the broker's storage is
formatted with them (``deploy/kafka/start.sh --scram-file``, the compose entrypoint).

aiokafka has no ACL calls, so the CreateAcls (v1) and DescribeAcls (v1) requests are
sent through its protocol classes.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from aiokafka.errors import for_code
from aiokafka.protocol.admin import (
    CreateAclsRequest_v1,
    DescribeAclsRequest_v1,
)
from aiokafka.protocol.api import Request

from shared.bus.acls import Acl, acls_for
from shared.bus.kafka import admin_client, ensure_topics
from shared.settings import Settings

# Kafka's wire codes (org.apache.kafka.common.acl / resource).
_ANY, _ALLOW, _HOST = 1, 3, "*"
_RESOURCE = {"Topic": 2, "Group": 3}
_PATTERN = {"Literal": 3, "Prefixed": 4}
_OPERATION = {"Read": 3, "Write": 4}
_NAMES = {
    "resource": {v: k for k, v in _RESOURCE.items()},
    "pattern": {v: k for k, v in _PATTERN.items()},
    "operation": {v: k for k, v in _OPERATION.items()},
}


class _CreateAcls(Request[CreateAclsRequest_v1]):  # type: ignore[misc]
    API_KEY = 30

    def __init__(self, acls: list[Acl]) -> None:
        self._acls = acls

    def build(self, request_struct_class: type[CreateAclsRequest_v1]) -> CreateAclsRequest_v1:
        return request_struct_class(
            [
                (
                    _RESOURCE[a.resource_type],
                    a.resource,
                    _PATTERN[a.pattern],
                    f"User:{a.principal}",
                    _HOST,
                    _OPERATION[a.operation],
                    _ALLOW,
                )
                for a in self._acls
            ]
        )


class _DescribeAllAcls(Request[DescribeAclsRequest_v1]):  # type: ignore[misc]
    API_KEY = 29

    def build(self, request_struct_class: type[DescribeAclsRequest_v1]) -> DescribeAclsRequest_v1:
        return request_struct_class(_ANY, None, _ANY, None, None, _ANY, _ANY)


def _raise_for(code: int, message: str | None, what: str) -> None:
    if code:
        raise for_code(code)(f"{what}: {message or ''}".strip())


async def existing_acls(settings: Settings) -> set[Acl]:
    """The ALLOW bindings the broker's authorizer holds now, as modelbus models them."""
    admin = admin_client(settings)
    await admin.start()
    try:
        response: Any = await admin._send_request(_DescribeAllAcls())
    finally:
        await admin.close()
    _raise_for(response.error_code, response.error_message, "DescribeAcls")
    found: set[Acl] = set()
    for resource_type, name, pattern, entries in response.resources:
        for principal, _host, operation, permission in entries:
            kind = _NAMES["resource"].get(resource_type)
            op = _NAMES["operation"].get(operation)
            pat = _NAMES["pattern"].get(pattern)
            if permission != _ALLOW or None in (kind, op, pat) or not principal.startswith("User:"):
                continue
            found.add(Acl(principal.removeprefix("User:"), op, kind, name, pat))  # type: ignore[arg-type]
    return found


async def apply_acls(settings: Settings, acls: list[Acl], *, timeout_s: float = 180.0) -> None:
    """Create ``acls`` and return once the broker's authorizer reports every one of them."""
    admin = admin_client(settings)
    await admin.start()
    try:
        response: Any = await admin._send_request(_CreateAcls(acls))
    finally:
        await admin.close()
    for (code, message), acl in zip(response.creation_responses, acls, strict=True):
        _raise_for(code, message, f"CreateAcls {acl.describe()}")
    # The authorizer applies ACLs from the metadata log, a moment after CreateAcls answers
    # (on a loaded machine, a long moment: the deadline only bounds a broker that never does).
    deadline = time.monotonic() + timeout_s
    while missing := set(acls) - await existing_acls(settings):
        if time.monotonic() > deadline:
            raise TimeoutError(f"{len(missing)} ACLs not visible after {timeout_s:.0f}s")
        await asyncio.sleep(0.5)


async def provision(settings: Settings) -> list[Acl]:
    """Create every topic and the generated ACLs; return the ACLs."""
    await ensure_topics(settings)
    acls = acls_for()
    await apply_acls(settings, acls)
    return acls
