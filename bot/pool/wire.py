"""The wire format of jobs and results between machines: msgpack data, never pickle.

Anyone who can write to the broker can put bytes in front of the bot and the workers, so
nothing read from it is unpickled. A message is a msgpack map ``{"v", "schema", "type",
"body"}``; the body is built generically from the dataclasses of :mod:`bot.jobs` (one
map per dataclass, by field name), so a field added there travels without editing this
module. numpy arrays travel as raw bytes with their dtype and shape (msgpack extension
type 1; numeric dtypes only). Decoding is driven by the dataclass type hints and checks
every value's type, so a message either becomes exactly the dataclass it claims to be or
raises :class:`WireError`.

``schema`` is a digest of the field names and types of every dataclass in
:data:`WIRE_TYPES`: a bot and a worker built from code with different job or result
fields refuse each other's messages with a clear error instead of guessing.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import types
import typing
from typing import Any

import msgpack
import numpy as np

from .. import jobs

WIRE_VERSION = 1
MAX_MESSAGE_BYTES = 64 * 1024 * 1024  # hard cap; callers pass their own, smaller limit
_NDARRAY_EXT = 1
_ARRAY_KINDS = "biuf"  # bool, int, uint, float: no object, string or void dtypes
_MAX_ARRAY_DIMS = 4

# Every dataclass of bot.jobs may travel (found by looking, so a new one needs no edit here).
WIRE_TYPES: dict[str, type] = {
    name: cls
    for name, cls in vars(jobs).items()
    if isinstance(cls, type) and dataclasses.is_dataclass(cls) and cls.__module__ == jobs.__name__
}


class WireError(ValueError):
    """A message is malformed, too big, of an unknown type or from other code (schema)."""


# ---- encoding ---------------------------------------------------------------------------
def encode(obj: Any) -> bytes:
    """One dataclass of :data:`WIRE_TYPES` as a versioned msgpack message."""
    name = type(obj).__name__
    if WIRE_TYPES.get(name) is not type(obj):
        raise WireError(f"{name} is not a wire type")
    doc = {"v": WIRE_VERSION, "schema": schema(), "type": name, "body": _plain(obj)}
    return msgpack.packb(doc, default=_ext, use_bin_type=True)


def _plain(value: Any) -> Any:
    """Dataclasses to maps and tuples to lists; leaves arrays for ``_ext``."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, np.generic):
        return value.item()
    return value


def _ext(value: Any) -> msgpack.ExtType:
    if isinstance(value, np.ndarray) and value.dtype.kind in _ARRAY_KINDS:
        arr = np.ascontiguousarray(value)
        head = msgpack.packb([arr.dtype.str, list(arr.shape)], use_bin_type=True)
        return msgpack.ExtType(_NDARRAY_EXT, len(head).to_bytes(2, "big") + head + arr.tobytes())
    raise WireError(f"cannot encode {type(value).__name__} values")


# ---- decoding ---------------------------------------------------------------------------
def decode(data: bytes, expected: type | None = None, max_bytes: int = MAX_MESSAGE_BYTES) -> Any:
    """The dataclass a message holds; ``expected``: the only type accepted (else any)."""
    if not isinstance(data, bytes | bytearray | memoryview):
        raise WireError("not a byte string")
    if len(data) > max_bytes:
        raise WireError(f"message of {len(data)} bytes is over the {max_bytes}-byte limit")
    try:
        doc = msgpack.unpackb(data, ext_hook=_array, raw=False, strict_map_key=True)
    except (ValueError, TypeError, msgpack.UnpackException) as e:
        raise WireError(f"not a msgpack message ({_short(e)})") from None
    if not isinstance(doc, dict) or not {"v", "schema", "type", "body"} <= doc.keys():
        raise WireError("not a rapsim message (no version, schema, type or body)")
    if doc["v"] != WIRE_VERSION:
        raise WireError(f"wire version {doc['v']!r}; this rapsim speaks {WIRE_VERSION}")
    if doc["schema"] != schema():
        raise WireError(
            f"job schema {str(doc['schema'])[:16]!r} differs from this rapsim's {schema()!r} "
            "(bot and workers run different code)"
        )
    cls = WIRE_TYPES.get(doc["type"]) if isinstance(doc["type"], str) else None
    if cls is None or (expected is not None and cls is not expected):
        want = expected.__name__ if expected else "a wire type"
        raise WireError(f"message holds {str(doc['type'])[:40]!r}, expected {want}")
    return _build(cls, doc["body"], cls.__name__)


def _array(code: int, data: bytes) -> np.ndarray:
    if code != _NDARRAY_EXT or len(data) < 2:
        raise WireError(f"unknown msgpack extension {code}")
    n = int.from_bytes(data[:2], "big")
    try:
        dtype_str, shape = msgpack.unpackb(data[2 : 2 + n], raw=False)
        dtype = np.dtype(dtype_str)
    except (ValueError, TypeError, msgpack.UnpackException) as e:
        raise WireError(f"bad array header ({_short(e)})") from None
    ok_shape = isinstance(shape, list) and len(shape) <= _MAX_ARRAY_DIMS
    if dtype.kind not in _ARRAY_KINDS or not ok_shape:
        raise WireError(f"refused array of dtype {dtype_str!r}")
    if not all(isinstance(s, int) and s >= 0 for s in shape):
        raise WireError("bad array shape")
    raw = data[2 + n :]
    if len(raw) != dtype.itemsize * int(np.prod(shape, dtype=np.int64)):
        raise WireError("array bytes do not match its shape")
    return np.frombuffer(raw, dtype=dtype).reshape(shape).copy()


def _build(tp: Any, value: Any, where: str) -> Any:
    """``value`` checked against the type hint ``tp`` (and rebuilt into it)."""
    origin = typing.get_origin(tp)
    if dataclasses.is_dataclass(tp) and isinstance(tp, type):
        return _build_dataclass(tp, value, where)
    if origin in (typing.Union, types.UnionType):
        for option in typing.get_args(tp):
            try:
                return _build(option, value, where)
            except WireError:
                continue
        raise WireError(f"{where}: {type(value).__name__} fits none of {tp}")
    if origin is tuple:
        return _build_tuple(tp, value, where)
    if origin is dict:
        key_t, val_t = typing.get_args(tp)
        _need(isinstance(value, dict), where, "a map")
        return {_build(key_t, k, where): _build(val_t, v, f"{where}.{k}") for k, v in value.items()}
    return _build_scalar(tp, value, where)


def _build_dataclass(cls: type, value: Any, where: str) -> Any:
    _need(isinstance(value, dict), where, "a map")
    hints = _hints(cls)
    unknown = set(value) - hints.keys()
    _need(not unknown, where, f"no field {sorted(map(str, unknown))[:3]}")
    kwargs = {}
    for f in dataclasses.fields(cls):
        if f.name in value:
            kwargs[f.name] = _build(hints[f.name], value[f.name], f"{where}.{f.name}")
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            raise WireError(f"{where}: missing field {f.name!r}")
    return cls(**kwargs)


def _build_tuple(tp: Any, value: Any, where: str) -> tuple[Any, ...]:
    _need(isinstance(value, list), where, "a list")
    args = typing.get_args(tp)
    if len(args) == 2 and args[1] is Ellipsis:
        return tuple(_build(args[0], v, f"{where}[{i}]") for i, v in enumerate(value))
    _need(len(args) == len(value), where, f"{len(args)} items")
    pairs = enumerate(zip(args, value, strict=True))
    return tuple(_build(t, v, f"{where}[{i}]") for i, (t, v) in pairs)


def _build_scalar(tp: Any, value: Any, where: str) -> Any:
    if tp is type(None):
        _need(value is None, where, "None")
    elif tp is float:
        _need(isinstance(value, float | int) and not isinstance(value, bool), where, "a number")
        return float(value)
    elif tp is int:
        _need(isinstance(value, int) and not isinstance(value, bool), where, "an integer")
    elif tp is bool:
        _need(isinstance(value, bool), where, "true or false")
    elif tp is str:
        _need(isinstance(value, str), where, "a string")
    elif tp is bytes:
        _need(isinstance(value, bytes), where, "bytes")
    elif tp is np.ndarray:
        _need(isinstance(value, np.ndarray), where, "an array")
    elif tp is Any:
        _need(isinstance(value, str | int | float | bool | bytes | type(None)), where, "plain")
    else:
        raise WireError(f"{where}: type {tp} cannot travel")
    return value


def _need(ok: bool, where: str, what: str) -> None:
    if not ok:
        raise WireError(f"{where}: expected {what}")


@functools.cache
def _hints(cls: type) -> dict[str, Any]:
    """Field types of a dataclass (resolving them costs ~1 ms: done once per class)."""
    return typing.get_type_hints(cls, vars(jobs))


def _short(e: BaseException) -> str:
    return str(e).splitlines()[0][:80] if str(e) else type(e).__name__


_SCHEMA: str | None = None


def schema() -> str:
    """12 hex digits over every wire type's field names and types (in order)."""
    global _SCHEMA
    if _SCHEMA is None:
        text = ";".join(
            f"{name}(" + ",".join(f"{k}:{v}" for k, v in _hints(cls).items()) + ")"
            for name, cls in sorted(WIRE_TYPES.items())
        )
        _SCHEMA = hashlib.sha256(text.encode()).hexdigest()[:12]
    return _SCHEMA
