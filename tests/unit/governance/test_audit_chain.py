"""The audit log's chains and checkpoints: each kind of tampering is named by its first seq."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import orjson
import pytest

from services.governance.audit.hashing import GENESIS, Checkpoint, chain_hash, sign_checkpoint
from services.governance.audit.log import seal
from services.governance.audit.verify import Report, verify_records
from shared.events.envelope import Event, encode, new_event
from shared.events.governance import AuditRecord
from tests.support.events import deployed, drift, registered

KEY = b"k" * 32
Row = tuple[AuditRecord, str]


def build(
    events: list[Event[Any]], every: int = 4, key: bytes = KEY
) -> tuple[list[Row], list[Checkpoint]]:
    """What AuditLog.append does, in memory: per-model links, the global chain, checkpoints."""
    rows: list[Row] = []
    checkpoints: list[Checkpoint] = []
    heads: dict[str, tuple[int, str]] = {}
    chain = GENESIS
    for seq, event in enumerate(events, start=1):
        model_seq, prev = heads.get(event.key, (0, GENESIS))
        record = seal(event, seq=seq, model_seq=model_seq + 1, prev_hash=prev)
        chain = chain_hash(seq, chain, record.hash)
        heads[event.key] = (record.model_seq, record.hash)
        rows.append((record, chain))
        if seq % every == 0:
            checkpoints.append(Checkpoint(seq, chain, sign_checkpoint(key, seq, chain)))
    return rows, checkpoints


def lifecycle(name: str) -> list[Event[Any]]:
    return [
        new_event(p, source="test") for p in (registered(name), deployed(name, 1), drift(name, 1))
    ]


@pytest.fixture
def events() -> list[Event[Any]]:
    a, b = lifecycle("alpha"), lifecycle("beta")
    return [a[0], b[0], a[1], b[1], a[2], b[2], *lifecycle("gamma")]


@pytest.fixture
def log(events: list[Event[Any]]) -> tuple[list[Row], list[Checkpoint]]:
    return build(events, every=4)


def broken(report: Report) -> tuple[int, str]:
    assert report.problem is not None, "tampering went unnoticed"
    return report.problem.seq, report.problem.reason


def test_an_untouched_log_verifies(log: tuple[list[Row], list[Checkpoint]]) -> None:
    rows, checkpoints = log
    report = verify_records(KEY, checkpoints, rows)
    assert report.ok and report.records == 9 and report.checkpoints == 2


def test_an_edited_record_is_named(log: tuple[list[Row], list[Checkpoint]]) -> None:
    rows, checkpoints = log
    record, chain = rows[4]
    rows[4] = (record.model_copy(update={"actor": "mallory"}), chain)
    assert broken(verify_records(KEY, checkpoints, rows)) == (
        5,
        "record content does not match its hash (edited)",
    )


def test_a_deleted_record_is_named(log: tuple[list[Row], list[Checkpoint]]) -> None:
    rows, checkpoints = log
    del rows[3]
    seq, reason = broken(verify_records(KEY, checkpoints, rows))
    assert seq == 4 and "missing" in reason


@pytest.mark.parametrize(("first", "second"), [(0, 2), (2, 3)])  # same model; two models
def test_swapped_records_are_named(
    log: tuple[list[Row], list[Checkpoint]], first: int, second: int
) -> None:
    rows, checkpoints = log
    (a, a_chain), (b, b_chain) = rows[first], rows[second]
    rows[first] = (b.model_copy(update={"seq": a.seq}), b_chain)  # contents swapped, seq kept
    rows[second] = (a.model_copy(update={"seq": b.seq}), a_chain)
    assert broken(verify_records(KEY, checkpoints, rows))[0] == first + 1


def test_a_truncated_tail_is_caught_by_the_last_checkpoint(
    log: tuple[list[Row], list[Checkpoint]],
) -> None:
    rows, checkpoints = log
    assert checkpoints[-1].seq == 8
    seq, reason = broken(verify_records(KEY, checkpoints, rows[:6]))
    assert seq == 7 and "removed from the end" in reason


def test_a_consistent_rewrite_without_the_key_is_caught(
    events: list[Event[Any]],
    log: tuple[list[Row], list[Checkpoint]],
) -> None:
    _, checkpoints = log
    first = events[0].model_copy(update={"data": registered("alpha", metadata={"owner": "eve"})})
    forged, _ = build([first, *events[1:]], every=1000)  # every hash recomputed, no key
    seq, reason = broken(verify_records(KEY, checkpoints, forged))
    assert seq == 4 and "does not match the chain" in reason
    resigned = [
        Checkpoint(
            c.seq, forged[c.seq - 1][1], sign_checkpoint(b"x" * 32, c.seq, forged[c.seq - 1][1])
        )
        for c in checkpoints
    ]
    seq, reason = broken(verify_records(KEY, resigned, forged))
    assert seq == 4 and "signature is invalid" in reason


def test_model_chains_do_not_depend_on_the_global_order() -> None:
    a, b = lifecycle("alpha"), lifecycle("beta")
    one, _ = build([*a, *b])
    other, _ = build([b[0], a[0], b[1], a[1], a[2], b[2]])
    hashes = lambda rows: {(r.model_name, r.model_seq): r.hash for r, _ in rows}  # noqa: E731
    assert hashes(one) == hashes(other)
    assert one[-1][1] != other[-1][1]  # the global chain binds the order it saw


def test_an_audit_consumer_can_recompute_the_hash_from_the_wire() -> None:
    rows, _ = build(lifecycle("alpha"))
    for record, _ in rows:
        wire = orjson.loads(encode(new_event(record, source="governance")))["data"]
        body = {k: v for k, v in wire.items() if k not in ("seq", "hash")}
        text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        assert hashlib.sha256(text.encode()).hexdigest() == record.hash
