"""Hostile Open Inference Protocol (KServe V2) traffic at the deployer's ``/v2`` routes.

These routes are raw Starlette routes outside the OpenAPI document, so the inputs come
from strategies written here: inference bodies that are almost right (the served model's
input name with the wrong datatype, shape or data), structurally wrong (wrong types in
every field, nested garbage, unicode, huge and non-finite numbers), deep JSON, not JSON at
all, the binary tensor extension with lying lengths, compressed bodies that are not, and
unknown models and versions, from every kind of caller. Every answer must be no 5xx, JSON,
with ``error`` on a refusal and ``outputs`` on success.
"""

from __future__ import annotations

import gzip
import json
from typing import Any

import orjson
import pytest
import requests
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.fuzz.conftest import examples
from tests.fuzz.platform import SERVED_MODEL, Platform
from tests.fuzz.tally import TALLY
from tests.fuzz.test_http_openapi import callers

# Generous: the first test also waits for the platform to start on a loaded machine.
pytestmark = [pytest.mark.fuzz, pytest.mark.timeout(900)]

DATATYPES = ["BOOL", "UINT8", "UINT16", "UINT32", "UINT64", "INT8", "INT16", "INT32", "INT64",
             "FP16", "FP32", "FP64", "BYTES"]  # fmt: skip
INPUT = "X"  # the served model's input (skl2onnx names it so)

numbers = st.one_of(
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from([0, -0.0, 1e308, -1e308, 5e-324, 2**63, 2**64, -(2**63) - 1]),
)
scalars = st.one_of(st.none(), st.booleans(), numbers, st.text(max_size=20))
garbage = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=5),
        st.dictionaries(st.text(max_size=10), children, max_size=5),
    ),
    max_leaves=30,
)
shapes = st.one_of(
    st.lists(st.integers(min_value=-3, max_value=40), max_size=4),
    st.lists(st.sampled_from([0, 1, 2**31, 2**62, 2**64]), min_size=1, max_size=3),
    garbage,
)


@st.composite
def tensor_data(draw: st.DrawFn) -> Any:
    """Data that fits ``[n, 30]`` FP32, or nearly, or not at all."""
    rows = draw(st.integers(min_value=0, max_value=4))
    cols = draw(st.sampled_from([30, 30, 29, 31, 0]))
    flat = draw(st.lists(numbers, min_size=rows * cols, max_size=rows * cols))
    return draw(
        st.sampled_from(
            [
                flat,
                [flat[i * cols : (i + 1) * cols] for i in range(rows)],  # nested rows
                [str(x) for x in flat],
                [None] * len(flat),
                draw(garbage),
            ]
        )
    )


@st.composite
def tensor(draw: st.DrawFn) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "name": draw(st.one_of(st.just(INPUT), st.text(max_size=12), garbage)),
        "datatype": draw(st.one_of(st.just("FP32"), st.sampled_from(DATATYPES), garbage)),
        "shape": draw(st.one_of(st.just([2, 30]), shapes)),
        "data": draw(tensor_data()),
    }
    if draw(st.booleans()):
        doc["parameters"] = draw(
            st.one_of(
                garbage,
                st.fixed_dictionaries({"binary_data_size": garbage}),
                st.fixed_dictionaries({"binary_data_size": st.integers(-5, 2**40)}),
            )
        )
    for field in draw(st.sets(st.sampled_from(list(doc)), max_size=2)):
        del doc[field]
    return doc


@st.composite
def infer_document(draw: st.DrawFn) -> Any:
    doc: dict[str, Any] = {"inputs": draw(st.lists(tensor(), max_size=3))}
    if draw(st.booleans()):
        doc["id"] = draw(garbage)
    if draw(st.booleans()):
        doc["parameters"] = draw(
            st.one_of(garbage, st.fixed_dictionaries({"binary_data_output": garbage}))
        )
    if draw(st.booleans()):
        doc["outputs"] = draw(
            st.one_of(
                garbage,
                st.lists(
                    st.fixed_dictionaries(
                        {"name": st.one_of(st.text(max_size=10), garbage)},
                        optional={"parameters": garbage},
                    ),
                    max_size=3,
                ),
            )
        )
    return draw(st.one_of(st.just(doc), garbage))


def _json(doc: Any) -> bytes:
    """JSON as any client may write it: integers of any size (orjson stops at 64 bits)."""
    return json.dumps(doc, ensure_ascii=False).encode()


def _deep(depth: int, kind: str) -> bytes:
    if kind == "list":
        return b"[" * depth + b"]" * depth
    return b'{"a":' * depth + b"1" + b"}" * depth


@st.composite
def infer_request(draw: st.DrawFn) -> tuple[str, bytes, dict[str, str | bytes]]:
    """A body, its headers, and what it is (for the tally)."""
    kind = draw(
        st.sampled_from(["json", "json", "json", "deep", "bytes", "binary", "gzip", "huge"])
    )
    headers: dict[str, str | bytes] = {"Content-Type": "application/json"}
    if kind == "json":
        body = _json(draw(infer_document()))
    elif kind == "deep":
        depth = draw(st.sampled_from([63, 64, 65, 200, 10_000, 100_000]))
        body = _deep(depth, draw(st.sampled_from(["list", "object"])))
    elif kind == "bytes":
        body = draw(st.one_of(st.binary(max_size=200), st.text(max_size=100).map(str.encode)))
    elif kind == "binary":
        head = _json(draw(infer_document()))
        tail = draw(st.binary(max_size=256))
        body = head + tail
        length = draw(st.one_of(st.just(len(head)), st.integers(-10, len(body) + 10), garbage))
        # Sent as bytes: a hostile client's header need not be Latin-1 (requests would refuse).
        headers["Inference-Header-Content-Length"] = str(length).encode()
    elif kind == "gzip":
        raw = _json(draw(infer_document()))
        body = draw(st.sampled_from([gzip.compress(raw), raw, gzip.compress(raw)[:-4]]))
        headers["Content-Encoding"] = draw(st.sampled_from(["gzip", "deflate", "br", "gzip, gzip"]))
    else:  # a syntactically fine body with absurd sizes inside
        rows = draw(st.sampled_from([1, 1000, 30_000]))
        body = orjson.dumps(
            {
                "inputs": [
                    {
                        "name": INPUT,
                        "datatype": "FP32",
                        "shape": [rows, 30],
                        "data": [1e38] * (rows * 30),
                    }
                ]
            }
        )
    return kind, body, headers


model_names = st.one_of(
    st.just(SERVED_MODEL),
    st.just(SERVED_MODEL),
    st.text(
        alphabet=st.characters(blacklist_categories=["Cs"], blacklist_characters="/?#%"),
        min_size=1,
        max_size=30,
    ),
)
versions = st.one_of(
    st.none(),
    st.sampled_from(["1", "2", "0", "-1", "01", "99999999999999999999999", "x", "1.0", " 1"]),
)


def _path(name: str, version: str | None, tail: str) -> str:
    quoted = requests.utils.quote(name, safe="")
    base = f"/v2/models/{quoted}" + (
        f"/versions/{requests.utils.quote(version)}" if version else ""
    )
    return base + tail


def _check(response: requests.Response, label: str, what: str) -> None:
    if response.status_code >= 500 and response.status_code != 503:
        raise AssertionError(f"{label}: {response.status_code} for {what}: {response.text[:300]}")
    kind = response.headers.get("content-type", "").split(";")[0]
    if kind == "application/octet-stream":
        return  # binary tensor output (checked by the protocol tests)
    if response.status_code == 400 and kind == "text/plain":
        # Not HTTP at all (a header value with control characters): uvicorn refuses it
        # itself, before any route could answer in JSON.
        assert response.text == "Invalid HTTP request received.", f"{label}: {response.text!r}"
        return
    doc = response.json()  # every answer is JSON
    assert isinstance(doc, dict), f"{label}: {doc!r}"
    if response.status_code >= 400:
        assert "error" in doc, f"{label}: refusal without an error: {doc!r}"


def test_inference_answers_every_hostile_body_with_a_4xx_or_a_result(platform: Platform) -> None:
    base = platform.url("deployer")
    session = requests.Session()
    who = callers(platform)
    viewer = {"Authorization": f"Bearer {platform.tokens['viewer']}"}

    # Most inputs come from a valid caller: refusals of the body are what is fuzzed here.
    @settings(max_examples=examples(3000))
    @given(
        request=infer_request(),
        name=model_names,
        version=versions,
        caller=st.one_of(st.just(("viewer", viewer)), st.sampled_from(who)),
    )
    def infer(
        request: tuple[str, bytes, dict[str, str | bytes]],
        name: str,
        version: str | None,
        caller: tuple[str, dict[str, str]],
    ) -> None:
        kind, body, headers = request
        label = "deployer POST /v2/models/{m}[/versions/{v}]/infer"
        TALLY.tried("http", label)
        try:
            response = session.post(
                base + _path(name, version, "/infer"),
                data=body,
                headers={**headers, **caller[1]},
                timeout=60,
            )
            _check(response, label, f"{kind} body as {caller[0]}")
        except Exception as exc:
            TALLY.failed("http", label, f"{kind} as {caller[0]} {body[:300]!r}: {exc}"[:3000])

    infer()

    @settings(max_examples=examples(400))
    @given(
        name=model_names,
        version=versions,
        tail=st.sampled_from(["", "/ready"]),
        caller=st.sampled_from(who),
    )
    def metadata(name: str, version: str | None, tail: str, caller: tuple[str, Any]) -> None:
        label = "deployer GET /v2/models/{m}[/versions/{v}][/ready]"
        TALLY.tried("http", label)
        try:
            path = "/v2" if name == "" else _path(name, version, tail)
            response = session.get(base + path, headers=caller[1], timeout=30)
            _check(response, label, f"{path} as {caller[0]}")
        except Exception as exc:
            TALLY.failed("http", label, f"{name!r} {version!r} as {caller[0]}: {exc}"[:3000])

    metadata()

    failures = {k: v for k, v in TALLY.failures.items() if "/v2/" in k[1]}
    assert not failures, "\n\n".join(
        f"{k[1]}: {len(v)}; first: {v[0]}" for k, v in failures.items()
    )
