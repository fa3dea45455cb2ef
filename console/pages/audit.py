"""The audit page's check of the trail: each model's hash chain, recomputed here.

A record's hash is ``sha256(canonical(record without seq and hash))`` with canonical JSON
(sorted keys, no spaces, UTF-8), as :class:`shared.events.governance.AuditRecord` defines
it; ``prev_hash`` links it to the model's previous record. The console recomputes both for
the records it was given. The global chain's signed checkpoints need governance's key,
which the console never has: ``modelbus audit verify`` checks those.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

GENESIS = "0" * 64


def record_hash(record: Mapping[str, Any]) -> str:
    body = {k: v for k, v in record.items() if k not in ("seq", "hash")}
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


@dataclass(frozen=True)
class ChainCheck:
    records: int
    problem: str | None

    @property
    def ok(self) -> bool:
        return self.problem is None


def check_chain(records: Sequence[Mapping[str, Any]]) -> ChainCheck:
    """Every record's hash recomputes and links to the previous one of the same model.

    ``records`` in chain order; a model's first record shown may follow records not shown,
    so its ``prev_hash`` is only checked when it is the model's first (``model_seq`` 1).
    """
    last: dict[str, Mapping[str, Any]] = {}
    for r in records:
        model = str(r.get("model_name"))
        if record_hash(r) != r.get("hash"):
            return ChainCheck(len(records), f"record {r.get('seq')} does not match its hash")
        before = last.get(model)
        if before is not None and before.get("model_seq") == int(r.get("model_seq", 0)) - 1:
            if r.get("prev_hash") != before.get("hash"):
                return ChainCheck(len(records), f"record {r.get('seq')} breaks {model}'s chain")
        elif r.get("model_seq") == 1 and r.get("prev_hash") != GENESIS:
            return ChainCheck(len(records), f"record {r.get('seq')} starts {model}'s chain wrongly")
        last[model] = r
    return ChainCheck(len(records), None)
