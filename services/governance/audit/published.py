"""Reading the checkpoint heads governance published on ``governance.checkpoints``.

The topic is the copy of the checkpoints that does not live in the database: whoever can
rewrite the audit tables cannot unpublish it. Read from offset 0 to the end offsets seen
at the start; records that do not decode, belong to another log or carry a signature the
key does not verify are ignored (anyone able to write to the topic could add them; only
a valid signature makes a checkpoint evidence).
"""

from __future__ import annotations

from aiokafka import AIOKafkaConsumer, TopicPartition

from services.governance.audit.hashing import Checkpoint, checkpoint_valid
from shared.bus.kafka import client_options
from shared.errors import InvalidEvent
from shared.events.envelope import decode
from shared.events.governance import AuditCheckpoint
from shared.events.topics import topic
from shared.settings import Settings

TOPIC = "governance.checkpoints"


async def published_checkpoints(settings: Settings, key: bytes, log: str) -> list[Checkpoint]:
    """Every validly signed checkpoint of ``log`` on the topic, in publication order."""
    partitions = [TopicPartition(TOPIC, p) for p in range(topic(TOPIC).partitions)]
    consumer = AIOKafkaConsumer(**client_options(settings), group_id=None, enable_auto_commit=False)
    await consumer.start()
    found: list[Checkpoint] = []
    try:
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        remaining = {tp for tp in partitions if ends[tp] > 0}
        while remaining:
            for tp, records in (await consumer.getmany(*remaining, timeout_ms=500)).items():
                for message in records:
                    if message.offset >= ends[tp]:
                        continue
                    try:
                        data = decode(message.value).data
                    except InvalidEvent:
                        continue
                    if not isinstance(data, AuditCheckpoint) or data.log != log:
                        continue
                    if checkpoint_valid(key, data.seq, data.chain_hash, data.signature):
                        found.append(Checkpoint(data.seq, data.chain_hash, data.signature))
            for tp in list(remaining):
                if await consumer.position(tp) >= ends[tp]:
                    remaining.discard(tp)
    finally:
        await consumer.stop()
    return found
