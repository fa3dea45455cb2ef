"""The sandbox process: it inherits no secret, answers like the checks it runs, and is
stopped at its deadline (a real child process; no broker, no database)."""

from __future__ import annotations

import asyncio
import os
import time

import onnxruntime
import pytest

from services.registry.domain.refusal import Check, Refusal
from services.registry.sandbox.runner import Evaluation, Job, Sandbox, sandbox_env
from services.registry.settings import RegistrySettings
from tests.support.onnx_models import (
    custom_domain_onnx,
    regression_onnx,
    two_inputs_eval_csv,
    two_inputs_fp64_onnx,
)

JOB = Job(task="regression", max_bytes=10**8, threads=1, max_rows=1000)


def test_the_sandbox_inherits_no_setting_and_no_credential(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MODELBUS_DATABASE_URL", "postgresql://modelbus:secret@db/modelbus")
    monkeypatch.setenv("MODELBUS_TOKEN", "mb_secret")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret")
    env = sandbox_env()
    assert not [value for value in env.values() if "secret" in value]
    assert set(env) <= {"PATH", "PYTHONPATH", "PYTHONDONTWRITEBYTECODE", "LANG",
                        "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
                        "MALLOC_ARENA_MAX"}  # fmt: skip


async def test_a_good_model_comes_back_with_its_signature() -> None:
    outcome = await Sandbox(RegistrySettings()).run(regression_onnx().onnx, JOB, None)
    assert [spec.datatype for spec in outcome.signature.inputs] == ["FP32"]
    assert outcome.measured is None


async def test_a_refusal_in_the_sandbox_is_the_registry_refusal() -> None:
    with pytest.raises(Refusal) as caught:
        await Sandbox(RegistrySettings()).run(custom_domain_onnx(), JOB, None)
    assert list(caught.value.failures) == [Check.DOMAINS]


async def test_a_sandbox_past_its_deadline_is_stopped_and_the_model_refused() -> None:
    sandbox = Sandbox(RegistrySettings(sandbox_timeout_s=0.05))
    with pytest.raises(Refusal) as caught:
        await sandbox.run(regression_onnx().onnx, JOB, None)
    assert list(caught.value.failures) == [Check.LIMITS]
    assert "longer than 0.05 s" in caught.value.reason


async def test_the_registry_process_never_builds_a_session(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def refuse(*_: object, **__: object) -> None:
        raise AssertionError("an ONNX Runtime session in the registry's own process")

    monkeypatch.setattr(onnxruntime, "InferenceSession", refuse)
    data, reference = two_inputs_eval_csv(rows=50)
    job = Job(task="classification", max_bytes=10**8, threads=1, max_rows=100, target="y")
    outcome = await Sandbox(RegistrySettings()).run(
        two_inputs_fp64_onnx(), job, Evaluation(data.encode(), reference.encode())
    )
    assert outcome.measured is not None and outcome.measured.parity_passed is True


async def test_the_sandbox_stands_in_a_directory_that_is_already_gone() -> None:
    """Nothing can be made where the process stands, and a killed process leaves nothing."""
    process = await Sandbox(RegistrySettings())._start()
    try:
        cwd = f"/proc/{process.pid}/cwd"
        deadline = time.monotonic() + 60
        while not os.readlink(cwd).startswith("/tmp/"):  # importing, still in /
            assert time.monotonic() < deadline, "the sandbox never left /"
            await asyncio.sleep(0.05)
        where = os.readlink(cwd)
        assert where.endswith(" (deleted)")
        assert not await asyncio.to_thread(os.path.exists, where.removesuffix(" (deleted)"))
    finally:
        process.kill()
        await process.wait()
