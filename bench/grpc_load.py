"""A gRPC load generator for bench/serving.py: ``ModelInfer`` calls at a fixed concurrency.

``connections`` callers share one HTTP/2 channel (as gRPC clients do) and send the same
pre-serialized request back to back for ``seconds``; prints req/s and latency percentiles
as JSON. Any call that fails stops the run with its status, like wrk's non-2xx check.

    python bench/grpc_load.py PORT TOKEN REQUEST_HEX CONNECTIONS SECONDS
"""

from __future__ import annotations

import asyncio
import json
import sys
import time

import grpc

METHOD = "/inference.GRPCInferenceService/ModelInfer"


async def load(port: int, token: str, request: bytes, connections: int, seconds: float) -> dict:
    metadata = (("authorization", f"Bearer {token}"),)
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        call = channel.unary_unary(METHOD)  # bytes in, bytes out: no client-side parsing
        for _ in range(20):  # warm the channel
            await call(request, metadata=metadata)
        latencies: list[float] = []
        deadline = time.perf_counter() + seconds

        async def caller() -> None:
            while (started := time.perf_counter()) < deadline:
                await call(request, metadata=metadata)
                latencies.append(time.perf_counter() - started)

        began = time.perf_counter()
        await asyncio.gather(*(caller() for _ in range(connections)))
        elapsed = time.perf_counter() - began
    latencies.sort()

    def percentile(p: float) -> float:
        return latencies[min(len(latencies) - 1, int(p * len(latencies)))] * 1000

    return {"rps": len(latencies) / elapsed, "p50": percentile(0.5), "p99": percentile(0.99)}


if __name__ == "__main__":
    port, token, request_hex, connections, seconds = sys.argv[1:6]
    figures = asyncio.run(
        load(int(port), token, bytes.fromhex(request_hex), int(connections), float(seconds))
    )
    print(json.dumps(figures))
