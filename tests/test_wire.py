"""The broker's wire format: every job and result type round-trips; garbage never decodes.

The codec is generic over ``bot.jobs``' dataclasses, so the tests build values of every
wire type from its own type hints (a new field is covered without editing this file),
and check that nothing is ever unpickled.
"""

from __future__ import annotations

import dataclasses
import math
import pickle
import types
import typing
from typing import Any

import msgpack
import numpy as np
import pytest

from bot import jobs
from bot.pool import wire


def sample(tp: Any, depth: int = 0) -> Any:
    """A value of type hint ``tp`` with something in every field (nan in floats)."""
    origin = typing.get_origin(tp)
    if dataclasses.is_dataclass(tp) and isinstance(tp, type):
        hints = typing.get_type_hints(tp, vars(jobs))
        return tp(**{f.name: sample(hints[f.name], depth + 1) for f in dataclasses.fields(tp)})
    if origin in (typing.Union, types.UnionType):
        return sample(next(a for a in typing.get_args(tp) if a is not type(None)), depth)
    if origin is tuple:
        args = typing.get_args(tp)
        if len(args) == 2 and args[1] is Ellipsis:
            return (sample(args[0], depth), sample(args[0], depth))
        return tuple(sample(a, depth) for a in args)
    if origin is dict:
        return {"a": sample(typing.get_args(tp)[1], depth), "b": sample(typing.get_args(tp)[1])}
    return {
        str: "Ærtist ✓",
        float: float("nan"),
        int: 7,
        bool: True,
        bytes: b"\x89PNG" + bytes(range(256)),
        np.ndarray: np.arange(12, dtype=np.float32).reshape(3, 4),
    }[tp]


def same(a: Any, b: Any) -> bool:
    if isinstance(a, np.ndarray):
        return isinstance(b, np.ndarray) and a.dtype == b.dtype and np.array_equal(a, b)
    if dataclasses.is_dataclass(a):
        fields = dataclasses.fields(a)
        return type(a) is type(b) and all(
            same(getattr(a, f.name), getattr(b, f.name)) for f in fields
        )
    if isinstance(a, tuple | list):
        return type(a) is type(b) and len(a) == len(b) and all(map(same, a, b))
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, float) and math.isnan(a):
        return isinstance(b, float) and math.isnan(b)
    return type(a) is type(b) and a == b


@pytest.mark.parametrize("name", sorted(wire.WIRE_TYPES))
def test_every_wire_type_round_trips(name: str):
    value = sample(wire.WIRE_TYPES[name])
    back = wire.decode(wire.encode(value), wire.WIRE_TYPES[name])
    assert same(value, back), (value, back)


def test_the_real_shapes_round_trip_with_their_dtypes():
    voice = jobs.Voice(
        np.random.default_rng(0).standard_normal(256).astype(np.float32),
        (1.5, float("nan")),
        np.zeros((64, 94), np.uint8),
        "resemblyzer 0.1.4",
    )
    back = wire.decode(wire.encode(jobs.CompareJob(voice, voice, ("a", "b"))), jobs.CompareJob)
    assert back.a.embedding.dtype == np.float32 and back.a.mel.shape == (64, 94)
    assert np.array_equal(back.b.embedding, voice.embedding) and back.labels == ("a", "b")


def test_defaults_fill_missing_optional_fields_and_unknown_fields_are_refused():
    body = {"audio": b"x", "filename": "n.ogg"}
    doc = {"v": wire.WIRE_VERSION, "schema": wire.schema(), "type": "AnalyzeJob", "body": body}
    assert wire.decode(msgpack.packb(doc)).top_k == 5
    doc["body"] = {**body, "evil": 1}
    with pytest.raises(wire.WireError, match="no field"):
        wire.decode(msgpack.packb(doc))
    doc["body"] = {"filename": "n.ogg"}
    with pytest.raises(wire.WireError, match="missing field 'audio'"):
        wire.decode(msgpack.packb(doc))


@pytest.mark.parametrize(
    ("body", "why"),
    [
        ({"audio": "text, not bytes", "filename": "n"}, "expected bytes"),
        ({"audio": b"x", "filename": "n", "top_k": True}, "expected an integer"),
        ({"audio": b"x", "filename": 5}, "expected a string"),
    ],
)
def test_wrong_types_are_refused(body, why):
    doc = {"v": wire.WIRE_VERSION, "schema": wire.schema(), "type": "AnalyzeJob", "body": body}
    with pytest.raises(wire.WireError, match=why):
        wire.decode(msgpack.packb(doc))


def test_garbage_other_versions_and_other_schemas_are_refused(tmp_path):
    marker = tmp_path / "pwned"

    class Boom:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    good = wire.encode(jobs.AnalyzeJob(b"x", "n"))
    doc = msgpack.unpackb(good)
    cases = {
        pickle.dumps(Boom()): "not a msgpack message|not a rapsim message",
        b"": "not a msgpack message",
        msgpack.packb([1, 2]): "not a rapsim message",
        msgpack.packb({**doc, "v": 99}): "wire version 99",
        msgpack.packb({**doc, "schema": "0ther"}): "run different code",
        msgpack.packb({**doc, "type": "Popen"}): "expected a wire type",
        good: "expected Analysis",
    }
    for data, why in cases.items():
        with pytest.raises(wire.WireError, match=why):
            wire.decode(data, jobs.Analysis if data == good else None)
    assert not marker.exists()
    with pytest.raises(wire.WireError, match="over the 100-byte limit"):
        wire.decode(wire.encode(jobs.AnalyzeJob(bytes(200), "n")), max_bytes=100)


def test_arrays_are_numbers_only_and_must_match_their_shape():
    voice = sample(jobs.Voice)
    with pytest.raises(wire.WireError, match="cannot encode"):
        wire.encode(dataclasses.replace(voice, mel=np.array([object()])))
    blob = wire.encode(voice)
    head = msgpack.packb(["|O", [1]])
    forged = msgpack.ExtType(1, len(head).to_bytes(2, "big") + head + bytes(8))
    doc = msgpack.unpackb(blob, ext_hook=lambda c, d: msgpack.ExtType(c, d))
    doc["body"]["mel"] = forged
    with pytest.raises(wire.WireError, match="refused array"):
        wire.decode(msgpack.packb(doc))
    head = msgpack.packb(["<f4", [100]])
    doc["body"]["mel"] = msgpack.ExtType(1, len(head).to_bytes(2, "big") + head + bytes(8))
    with pytest.raises(wire.WireError, match="do not match"):
        wire.decode(msgpack.packb(doc))


def test_schema_follows_the_fields(monkeypatch):
    assert set(wire.WIRE_TYPES) >= {"AnalyzeJob", "Analysis", "CompareJob", "WorkerInfo"}
    before = wire.schema()

    @dataclasses.dataclass(frozen=True)
    class MatchOut:  # the same name with one more field: another schema
        artist: str
        score: float
        demo: bool
        resemblance: float = 0.0

    monkeypatch.setattr(wire, "_SCHEMA", None)
    monkeypatch.setitem(wire.WIRE_TYPES, "MatchOut", MatchOut)
    assert wire.schema() != before
    monkeypatch.setattr(wire, "_SCHEMA", None)
