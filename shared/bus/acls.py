"""Kafka ACLs generated from the topic table: who may write and read which topic.

Each service is one Kafka principal (``User:<service>``, a SCRAM user of that name); systems
outside modelbus share ``User:external``. The broker denies whatever is not listed here
(``StandardAuthorizer``, no ``allow.everyone.if.no.acl.found``); the admin principal that
creates topics and these ACLs is a super user and needs none. The rules:

- a topic's producers may Write it (the ``producers`` column);
- its consumers may Read it (the ``consumers`` column), and Read their consumer groups:
  every group whose name starts with the service's name (the deployer's replicas each
  have their own group, ``deployer-<replica>``);
- both may Write its dead-letter topic: a consumer dead-letters what it cannot apply, a
  producer's relay dead-letters a row the broker keeps refusing.

Write and Read imply Describe, so a principal sees exactly the topics it uses. Producers
named in the table that are not Kafka clients (``cli`` goes through the trainer's HTTP API)
get nothing. Idempotent producers need no cluster ACL since Kafka 3.0 (Write on a topic
suffices); topic creation is the admin's, at provisioning.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from shared.events.topics import EXTERNAL, TOPICS, Topic
from shared.settings import DEFAULT_PORTS

SERVICES: tuple[str, ...] = tuple(DEFAULT_PORTS)
EXTERNAL_PRINCIPAL = "external"
ADMIN_PRINCIPAL = "admin"
# Every Kafka user modelbus provisions, the admin (super user) first.
KAFKA_USERS: tuple[str, ...] = (ADMIN_PRINCIPAL, *SERVICES, EXTERNAL_PRINCIPAL)

Operation = Literal["Read", "Write"]
ResourceType = Literal["Topic", "Group"]
PatternType = Literal["Literal", "Prefixed"]


@dataclass(frozen=True, order=True)
class Acl:
    """One ALLOW binding: ``principal`` may ``operation`` the resource, from any host."""

    principal: str  # the user name, without the "User:" prefix
    operation: Operation
    resource_type: ResourceType
    resource: str
    pattern: PatternType = "Literal"

    def describe(self) -> str:
        prefix = "*" if self.pattern == "Prefixed" else ""
        return (
            f"User:{self.principal} {self.operation} {self.resource_type}:{self.resource}{prefix}"
        )


def principal_of(party: str) -> str | None:
    """The Kafka user of a name in the table's producers/consumers columns, if it has one."""
    if party in SERVICES:
        return party
    if party == EXTERNAL:
        return EXTERNAL_PRINCIPAL
    return None


def _principals(parties: Iterable[str]) -> list[str]:
    return [p for p in (principal_of(party) for party in parties) if p is not None]


def acls_for(topics: Iterable[Topic] | None = None) -> list[Acl]:
    """Every binding the topic table implies, sorted and without duplicates."""
    chosen = list(topics) if topics is not None else list(TOPICS.values())
    found: set[Acl] = set()
    consumers: set[str] = set()
    for t in chosen:
        for user in _principals(t.producers):
            found.add(Acl(user, "Write", "Topic", t.name))
            found.add(Acl(user, "Write", "Topic", t.dead_letter))
        for user in _principals(t.consumers):
            found.add(Acl(user, "Read", "Topic", t.name))
            found.add(Acl(user, "Write", "Topic", t.dead_letter))
            consumers.add(user)
    for user in consumers:
        found.add(Acl(user, "Read", "Group", user, "Prefixed"))
    return sorted(found)


def may(user: str, operation: Operation, topic: str, acls: Iterable[Acl] | None = None) -> bool:
    """Whether the generated ACLs let ``user`` do ``operation`` on ``topic`` (Literal only)."""
    return any(
        a.principal == user
        and a.operation == operation
        and a.resource_type == "Topic"
        and a.resource == topic
        for a in (acls if acls is not None else acls_for())
    )


def strimzi_users(
    cluster: str = "kafka", acls: Iterable[Acl] | None = None
) -> list[dict[str, object]]:
    """Strimzi ``KafkaUser`` resources: a SCRAM-SHA-512 user per service and ``external``,
    each with its generated ACLs (deploy/k8s/kafka-users.yaml is this, as YAML)."""
    chosen = list(acls if acls is not None else acls_for())
    users: list[dict[str, object]] = []
    for user in (*SERVICES, EXTERNAL_PRINCIPAL):
        rules = [
            {
                "resource": {
                    "type": a.resource_type.lower(),
                    "name": a.resource,
                    "patternType": a.pattern.lower(),
                },
                "operations": [a.operation],
                "host": "*",
            }
            for a in chosen
            if a.principal == user
        ]
        users.append(
            {
                "apiVersion": "kafka.strimzi.io/v1beta2",
                "kind": "KafkaUser",
                "metadata": {
                    "name": user,
                    "labels": {
                        "strimzi.io/cluster": cluster,
                        "app.kubernetes.io/part-of": "modelbus",
                    },
                },
                "spec": {
                    "authentication": {"type": "scram-sha-512"},
                    "authorization": {"type": "simple", "acls": rules},
                },
            }
        )
    return users
