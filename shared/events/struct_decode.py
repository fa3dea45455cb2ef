"""Decoding a high-volume topic's events into plain structs instead of pydantic models.

A stream consumer (:mod:`shared.bus.stream`) reads hundreds of thousands of events per
second, and building a pydantic model per event costs more than what is then done with
it. :func:`struct_decoder` derives, from the pydantic envelope and payload of a topic,
msgspec structs with the same fields, the same defaults and the same constraints, and a
decoder that reads bytes straight into them (about a third of ``model_validate_json``'s
cost).

The invariant that keeps this safe: a struct decoder accepts a subset of what
:func:`~shared.events.envelope.decode` accepts, with equal values. msgspec is stricter
than pydantic's lax mode (no numeric strings, no integral floats for an int, no
timestamps as numbers, no ``NaN``), and whatever it refuses is handed to
:func:`~shared.events.envelope.decode_on`, which either accepts it as a pydantic event
(with the same attributes) or refuses it with the reason. A model using anything this
module cannot express exactly (a pattern, a validator, a type :func:`_type` does not map)
gets no struct decoder at all, rather than a looser one.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Callable
from datetime import datetime
from functools import cache
from typing import Annotated, Any, Literal

import annotated_types
import msgspec
from pydantic import BaseModel

from shared.events.envelope import Event, decode_on
from shared.events.topics import Topic

_SCALARS: tuple[type, ...] = (str, int, float, bool, datetime)
_CONSTRAINTS: dict[type, str] = {
    annotated_types.Ge: "ge",
    annotated_types.Gt: "gt",
    annotated_types.Le: "le",
    annotated_types.Lt: "lt",
    annotated_types.MinLen: "min_length",
    annotated_types.MaxLen: "max_length",
}


class Unsupported(TypeError):
    """A model this module cannot mirror exactly."""


def _type(annotation: Any, seen: dict[type[BaseModel], Any]) -> Any:
    """The msgspec type accepting exactly (or less than) the pydantic annotation."""
    if annotation is Any or annotation in _SCALARS or annotation is type(None):
        return annotation
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return _struct(annotation, seen)
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is Literal and all(isinstance(a, str) for a in args):
        return annotation
    if origin in (types.UnionType, typing.Union):
        return typing.Union[tuple(_type(a, seen) for a in args)]  # noqa: UP007
    if origin is list and len(args) == 1:
        return list[_type(args[0], seen)]  # type: ignore[misc]
    if origin is dict and len(args) == 2 and args[0] is str:
        return dict[str, _type(args[1], seen)]  # type: ignore[misc]
    raise Unsupported(f"no struct type for {annotation!r}")


def _constrained(annotation: Any, metadata: list[Any], seen: dict[type[BaseModel], Any]) -> Any:
    base = _type(annotation, seen)
    if not metadata:
        return base
    meta: dict[str, Any] = {}
    for item in metadata:
        key = _CONSTRAINTS.get(type(item))
        if key is None:
            raise Unsupported(f"no struct constraint for {item!r}")
        meta[key] = getattr(item, key)
    args = typing.get_args(base) if typing.get_origin(base) is typing.Union else (base,)
    # pydantic applies a field's constraint to the value, not to its None.
    constrained = [a if a is type(None) else Annotated[a, msgspec.Meta(**meta)] for a in args]
    return typing.Union[tuple(constrained)] if len(constrained) > 1 else constrained[0]  # noqa: UP007


def _struct(model: type[BaseModel], seen: dict[type[BaseModel], Any]) -> Any:
    if model in seen:
        return seen[model]
    extra = model.model_config.get("extra", "ignore")
    hooks = model.__pydantic_decorators__
    if extra not in ("ignore", "forbid") or hooks.field_validators or hooks.model_validators:
        raise Unsupported(f"{model.__name__}: validators or extra={extra!r}")
    fields: list[tuple[str, Any] | tuple[str, Any, Any]] = []
    for name, info in model.model_fields.items():
        if info.alias not in (None, name) or info.default_factory is not None:
            raise Unsupported(f"{model.__name__}.{name}: alias or default factory")
        kind = _constrained(info.annotation, info.metadata, seen)
        fields.append((name, kind) if info.is_required() else (name, kind, info.default))
    # Required fields first, as a struct's signature wants; decoding is by name.
    fields.sort(key=lambda f: len(f) == 3)
    # gc=False: a decoded struct never takes part in a reference cycle, and a fetch makes
    # tens of thousands of them for the collector to walk otherwise.
    seen[model] = msgspec.defstruct(
        model.__name__, fields, forbid_unknown_fields=extra == "forbid", frozen=True, gc=False
    )
    return seen[model]


@cache
def struct_decoder(topic: Topic) -> Callable[[bytes | None], Any]:
    """A function decoding one record value of ``topic`` into a struct with the fields of
    ``Event[payload]`` (or, when msgspec refuses it, as :func:`decode_on` does: a pydantic
    event, or :class:`~shared.errors.InvalidEvent` with the reason). Topics whose models
    cannot be mirrored exactly get :func:`decode_on` itself."""
    try:
        decoder = msgspec.json.Decoder(_struct(Event[topic.payload], {}))  # type: ignore[name-defined]
    except Unsupported:
        return lambda raw: decode_on(raw, topic)
    event_type = topic.event_type

    def decode(raw: bytes | None) -> Any:
        # U+0000 is refused by the strict path (Postgres text cannot hold it).
        if raw is not None and b"\\u0000" not in raw:
            try:
                event = decoder.decode(raw)
            except msgspec.DecodeError:
                pass
            else:
                if event.type == event_type:
                    return event
        return decode_on(raw, topic)

    return decode
