"""Tuning the cyclic garbage collector of a service that allocates per event.

A service handling tens of thousands of events per second allocates containers (lists,
dicts, records) far faster than CPython's default young-generation threshold of 700
expects: the collector then runs hundreds of times a second, each time walking the
batches still in flight, and the promoted survivors trigger full collections that walk
everything. Measured on the monitor draining ``predictions.logged``
(``bench/monitor_ingest.py``), that was about 30% of its CPU with the defaults and 13%
with a young threshold of 10,000; the deployer's figures are in ``bench/serving.py``.
"""

from __future__ import annotations

import gc


def tune_garbage_collector(young_threshold: int) -> None:
    """Freeze what start-up created (imports, settings: never garbage, yet walked by every
    full collection) and collect young objects less often. 0 leaves the collector as it
    is (tests, which run many services in one process)."""
    if young_threshold:
        gc.freeze()
        gc.set_threshold(young_threshold, 50, 100)
