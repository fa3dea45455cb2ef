"""``modelbus demo``: the whole lifecycle on the running platform, or on one it starts."""

from __future__ import annotations

import argparse
import asyncio
import math
import sys
from typing import Any


def register(subparsers: Any) -> None:
    demo = subparsers.add_parser(
        "demo", help="train, approve, serve, detect drift, retrain and promote, end to end"
    )
    demo.add_argument(
        "--control",
        action="store_true",
        help="send unshifted traffic only; succeeds if no drift alert is raised",
    )
    demo.add_argument(
        "--dataset",
        choices=("breast_cancer", "credit"),
        default="breast_cancer",
        help="breast_cancer (numbers, bundled with scikit-learn) or credit (generated credit "
        "applications with text and numeric columns; the shift moves a country and amounts)",
    )
    demo.set_defaults(func=run_demo)


def run_demo(args: argparse.Namespace) -> int:
    from modelbus.demo.platform import PlatformGone, platform, watch
    from modelbus.demo.scenario import DemoResult, run

    async def main() -> DemoResult:
        print("modelbus demo: starting (or finding) the platform…", flush=True)
        async with platform() as where:
            how = "started for this demo" if where.started_here else "already running"
            print(
                f"platform {how}: Kafka {where.kafka_bootstrap}, {where.database_url}", flush=True
            )
            demo = asyncio.create_task(
                run(
                    where,
                    shift=not args.control,
                    echo=lambda line: print(line, flush=True),
                    dataset=args.dataset,
                )
            )
            watchdog = asyncio.create_task(watch(where))
            await asyncio.wait({demo, watchdog}, return_when=asyncio.FIRST_COMPLETED)
            if not demo.done():
                demo.cancel()
                await asyncio.gather(demo, return_exceptions=True)
                raise PlatformGone(watchdog.result())
            watchdog.cancel()
            return demo.result()

    try:
        result = asyncio.run(main())
    except KeyboardInterrupt:
        raise
    except (Exception, asyncio.CancelledError) as exc:  # one line, never a traceback
        reason = str(exc) if isinstance(exc, PlatformGone) else _one_line(exc)
        print(f"\nmodelbus demo: stopped: {reason}", file=sys.stderr, flush=True)
        return 1
    print(summary(result, control=args.control))
    if args.control:
        return 0 if not result.drift_detected and result.audit_ok else 1
    return 0 if result.closed_loop and result.audit_ok else 1


def summary(result: Any, *, control: bool) -> str:
    lines = ["", "summary", f"  model            {result.model_name}"]
    lines.append(f"  versions         {', '.join(f'v{v}' for v in result.versions)}")
    if not control:
        lines.append(f"  drifted features {', '.join(result.drifted_features) or '-'}")
    for label, (accuracy, n) in result.accuracy.items():
        shown = "-" if math.isnan(accuracy) else f"{accuracy:.3f}"
        lines.append(f"  accuracy         {shown} over {n} labelled requests: {label}")
    lines.append(f"  failed requests  {result.failed_requests}")
    lines.append(f"  audit chain      {result.audit}")
    lines.append(f"  took             {result.seconds:.0f} s")
    if control:
        verdict = (
            "no drift alert on unshifted traffic" if not result.drift_detected else "FALSE ALARM"
        )
    else:
        verdict = "the loop closed" if result.closed_loop else "the loop did NOT close"
    lines.append(f"  result           {verdict}")
    return "\n".join(lines)


def _one_line(exc: BaseException) -> str:
    """What failed, in one line: the error's type and first line (no traceback)."""
    if isinstance(exc, asyncio.CancelledError):
        return "cancelled while the platform was stopping"
    first = (str(exc).strip().splitlines() or [""])[0][:300]
    return f"{type(exc).__name__}: {first}" if first else type(exc).__name__
