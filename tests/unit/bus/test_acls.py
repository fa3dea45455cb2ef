"""The Kafka ACLs follow the topic table: producers write, consumers read, nobody else."""

from __future__ import annotations

from shared.bus.acls import EXTERNAL_PRINCIPAL, SERVICES, Acl, acls_for, may
from shared.events.topics import TOPICS

DECISIONS = ("model.approved", "model.rejected", "model.suspended", "model.retired")


def test_only_governance_may_write_decision_topics() -> None:
    for topic in (*DECISIONS, "review.requested", "governance.audit"):
        writers = {
            a.principal for a in acls_for() if a.operation == "Write" and a.resource == topic
        }
        assert writers == {"governance"}, topic


def test_only_the_deployer_writes_what_serving_emits() -> None:
    for topic in ("model.deployed", "predictions.logged", "model.promoted", "model.rolled_back"):
        writers = {
            a.principal for a in acls_for() if a.operation == "Write" and a.resource == topic
        }
        assert writers == {"deployer"}, topic


def test_every_write_and_read_comes_from_the_table() -> None:
    for acl in acls_for():
        if acl.resource_type == "Group":
            continue
        if acl.resource.endswith(".dlq"):
            topic = TOPICS[acl.resource.removesuffix(".dlq")]
            parties = {*topic.producers, *topic.consumers}
            assert acl.operation == "Write"
        else:
            topic = TOPICS[acl.resource]
            parties = set(topic.producers if acl.operation == "Write" else topic.consumers)
        named = {p if p in SERVICES else EXTERNAL_PRINCIPAL for p in parties}
        assert acl.principal in named, acl.describe()


def test_consumers_read_their_topics_and_dead_letter_them_and_nothing_else() -> None:
    for topic in TOPICS.values():
        for service in SERVICES:
            assert may(service, "Read", topic.name) == (service in topic.consumers)
            if service in topic.consumers or service in topic.producers:
                assert may(service, "Write", topic.dead_letter)
            else:
                assert not may(service, "Write", topic.dead_letter)
    assert may(EXTERNAL_PRINCIPAL, "Write", "labels.received")
    assert not may(EXTERNAL_PRINCIPAL, "Write", "model.approved")
    assert may(EXTERNAL_PRINCIPAL, "Read", "governance.audit")


def test_each_consuming_service_reads_only_groups_named_after_it() -> None:
    groups = [a for a in acls_for() if a.resource_type == "Group"]
    assert {a.principal for a in groups} == {*SERVICES, EXTERNAL_PRINCIPAL}
    assert all(a == Acl(a.principal, "Read", "Group", a.principal, "Prefixed") for a in groups)


def test_the_cli_gets_no_kafka_user() -> None:
    assert not any(a.principal == "cli" for a in acls_for())
