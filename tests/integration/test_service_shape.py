"""One shape for every service, checked for all five alike (docs/ARCHITECTURE.md, "The
services"): who learns one service knows where everything is in the others.

Each ``services/<name>/`` has ``bootstrap.py`` with ``definition(settings=None)`` as its one
factory, ``settings.py``, ``handlers.py``, an ``api/`` package with one ``router`` factory,
``store/`` holding all of its SQL, ``migrations/``, and a pure core package (no SQL, no
Kafka, no HTTP, no database). Built as the runtime builds it, its handlers cover exactly
the topics the topic table says it consumes, each a plain function of ``handlers.py``
typed with its topic's payload; its routes follow one URL convention. No service imports
another, ``shared/`` imports no service, and the CLI imports only their public modules.
"""

from __future__ import annotations

import ast
import inspect
import re
import typing
from collections.abc import Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import pytest

from shared.bus.consumer import BatchHandler
from shared.bus.stream import StreamHandler
from shared.events.common import Payload
from shared.events.envelope import Event
from shared.events.topics import TOPICS, consumed_by
from shared.http.app import PUBLIC_PATHS
from tests.support.built_services import SERVICES, Built, bootstrap

pytestmark = pytest.mark.integration
on_module_loop = pytest.mark.asyncio(loop_scope="module")


REPO = Path(__file__).resolve().parents[2]
# The pure core of each service: what it knows, apart from how it is stored or reached.
CORE = {
    "deployer": "runtime",
    "governance": "policy",
    "monitor": "analysis",
    "registry": "domain",
    "trainer": "training",
}
REQUIRED = ("bootstrap.py", "settings.py", "handlers.py", "api/__init__.py", "store/__init__.py")
# Modules that speak to a database, a broker or the network; a core package imports none.
IMPURE = (
    "asyncpg",
    "aiokafka",
    "faststream",
    "fastapi",
    "starlette",
    "httpx",
    "uvicorn",
    "shared.bus",
    "shared.http",
    "shared.store",
    "shared.runtime",
)
# Management routes live under /v1; the deployer also serves the Open Inference Protocol.
URL_PREFIXES = {"deployer": ("/v1/", "/v2")}

_SQL = re.compile(
    r"\bSELECT\b[\s\S]*\bFROM\b|\bINSERT\s+INTO\b|\bUPDATE\s+\w+(\s+\w+)?\s+SET\b"
    r"|\bDELETE\s+FROM\b|\bCREATE\s+(TABLE|INDEX|SCHEMA|UNIQUE)\b|\bALTER\s+TABLE\b"
    r"|\bTRUNCATE\b|\bpg_\w+\(|\bON\s+CONFLICT\b"
)
# Calls that run SQL, on something that looks like a connection or a pool.
_DB_CALL = re.compile(
    r"(conn|connection|pool|tx)\.(execute|executemany|fetch|fetchrow|fetchval"
    r"|copy_records_to_table|copy_to_table|copy_from_query|cursor|prepare)\("
)


@dataclass(frozen=True)
class Module:
    path: Path
    name: str  # dotted
    tree: ast.Module
    source: str

    @property
    def relative(self) -> str:
        return str(self.path.relative_to(REPO))


def _modules(root: Path) -> Iterator[Module]:
    for path in sorted(root.rglob("*.py")):
        source = path.read_text()
        name = ".".join(path.relative_to(REPO).with_suffix("").parts).removesuffix(".__init__")
        yield Module(path, name, ast.parse(source, str(path)), source)


def _imports(module: Module) -> set[str]:
    found: set[str] = set()
    package = module.name if module.path.name == "__init__.py" else module.name.rpartition(".")[0]
    for node in ast.walk(module.tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1] + ([base] if base else []))
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return found


def _sql(module: Module) -> list[str]:
    """Where a module holds SQL: string literals that read as SQL, or calls that run it."""
    found = []
    for node in ast.walk(module.tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            if _SQL.search(node.value):
                found.append(f"{module.relative}:{node.lineno}: {node.value[:60]!r}")
    for number, line in enumerate(module.source.splitlines(), 1):
        if _DB_CALL.search(line):
            found.append(f"{module.relative}:{number}: {line.strip()[:80]}")
    return found


def _service_dir(service: str) -> Path:
    return REPO / "services" / service


def _in(module: Module, folder: Path) -> bool:
    return folder in module.path.parents


# --- the layout, read from the source -------------------------------------------------


@pytest.mark.parametrize("service", SERVICES)
def test_skeleton_files(service: str) -> None:
    root = _service_dir(service)
    missing = [f for f in (*REQUIRED, "migrations") if not (root / f).exists()]
    assert missing == [], f"services/{service} lacks {missing}"
    assert (root / CORE[service] / "__init__.py").exists(), f"no core package {CORE[service]}/"
    assert not (root / "config.py").exists(), "settings live in settings.py"


@pytest.mark.parametrize("service", SERVICES)
def test_bootstrap_has_one_factory(service: str) -> None:
    module = bootstrap(service)
    factory = module.definition
    params = list(inspect.signature(factory).parameters.values())
    assert [p.name for p in params] == ["settings"], "definition(settings=None)"
    assert params[0].default is None
    assert factory().name == service
    others = [n for n in ("DEFINITION", "make_definition", "build") if hasattr(module, n)]
    assert others == [], f"{service}.bootstrap has other factories: {others}"


@pytest.mark.parametrize("service", SERVICES)
def test_api_has_one_router_factory(service: str) -> None:
    api = __import__(f"services.{service}.api", fromlist=["router"])
    assert callable(getattr(api, "router", None)), f"services.{service}.api.router(...)"
    source = (_service_dir(service) / "bootstrap.py").read_text()
    assert "api.router(" in source, "bootstrap wires the API through api.router(...)"


@pytest.mark.parametrize("service", SERVICES)
def test_sql_only_in_store_and_migrations(service: str) -> None:
    root = _service_dir(service)
    allowed = (root / "store", root / "migrations")
    found = [
        hit
        for module in _modules(root)
        if not any(_in(module, folder) for folder in allowed)
        for hit in _sql(module)
    ]
    assert found == [], "SQL outside store/:\n" + "\n".join(found)


@pytest.mark.parametrize("service", SERVICES)
def test_core_package_is_pure(service: str) -> None:
    core = _service_dir(service) / CORE[service]
    found = []
    for module in _modules(core):
        impure = sorted(
            i for i in _imports(module) if any(i == m or i.startswith(m + ".") for m in IMPURE)
        )
        found.extend(f"{module.relative} imports {i}" for i in impure)
        found.extend(_sql(module))
    assert found == [], "\n".join(found)


@pytest.mark.parametrize("service", SERVICES)
def test_no_service_imports_another(service: str) -> None:
    own = f"services.{service}"
    found = [
        f"{module.relative} imports {name}"
        for module in _modules(_service_dir(service))
        for name in _imports(module)
        if name.startswith("services.") and not (name == own or name.startswith(own + "."))
    ]
    assert found == [], "\n".join(found)


# What the CLI may import of a service: how to run it, and governance's audit tools.
PUBLIC_MODULES = ("bootstrap", "audit_tools")


def test_cli_imports_only_public_modules() -> None:
    """The CLI speaks HTTP to the services, or uses their few public modules."""
    found = [
        f"{module.relative} imports {name}"
        for module in _modules(REPO / "modelbus")
        for name in _imports(module)
        if name.startswith("services.")
        and len(name.split(".")) > 2
        and name.split(".")[2] not in PUBLIC_MODULES
    ]
    assert found == [], "\n".join(found)


def test_shared_imports_no_service() -> None:
    found = [
        f"{module.relative} imports {name}"
        for module in _modules(REPO / "shared")
        for name in _imports(module)
        if name == "services" or name.startswith("services.")
    ]
    assert found == [], "\n".join(found)


# --- the service as the runtime builds it ---------------------------------------------


def _function(handler: Any) -> Any:
    if isinstance(handler, BatchHandler | StreamHandler):
        handler = handler.apply
    while isinstance(handler, partial):
        handler = handler.func
    return handler


def _payload_type(function: Any, batch: bool) -> Any:
    """The payload class of a handler's first parameter, ``Event[P]`` (``list[Event[P]]``)."""
    first = next(iter(inspect.signature(function).parameters))
    annotation = typing.get_type_hints(function)[first]
    if batch:
        assert typing.get_origin(annotation) is list, "a batch handler takes list[Event[P]]"
        (annotation,) = typing.get_args(annotation)
    metadata = getattr(annotation, "__pydantic_generic_metadata__", None)
    assert metadata and metadata["origin"] is Event, f"{first} must be Event[Payload]"
    (payload,) = metadata["args"]
    return payload


@on_module_loop
@pytest.mark.parametrize("service", SERVICES)
async def test_handlers_cover_exactly_the_consumed_topics(
    built: dict[str, Built], service: str
) -> None:
    parts = built[service].parts
    assert not set(parts.handlers) & set(parts.streams), "a topic has one way in"
    assert sorted([*parts.handlers, *parts.streams]) == sorted(consumed_by(service))


@on_module_loop
@pytest.mark.parametrize("service", SERVICES)
async def test_handlers_are_typed_functions_of_handlers_py(
    built: dict[str, Built], service: str
) -> None:
    parts = built[service].parts
    for topic, handler in [*parts.handlers.items(), *parts.streams.items()]:
        function = _function(handler)
        assert function.__module__ == f"services.{service}.handlers", (
            f"{topic}: {function.__qualname__} lives in {function.__module__}"
        )
        payload = _payload_type(function, isinstance(handler, BatchHandler | StreamHandler))
        assert isinstance(payload, type) and issubclass(payload, Payload), (
            f"{topic}: {function.__name__} takes Event[{payload}], not a payload type"
        )
        assert issubclass(TOPICS[topic].payload, payload), (
            f"{topic} carries {TOPICS[topic].payload.__name__}; "
            f"{function.__name__} takes {payload.__name__}"
        )


@on_module_loop
@pytest.mark.parametrize("service", SERVICES)
async def test_one_url_convention(built: dict[str, Built], service: str) -> None:
    prefixes = URL_PREFIXES.get(service, ("/v1/",))
    off = [
        r.path
        for r in built[service].routes
        if r.path not in PUBLIC_PATHS and not r.path.startswith(prefixes)
    ]
    assert off == [], f"{service} routes outside {prefixes}: {off}"
