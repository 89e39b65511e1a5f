"""Values as they cross between the server and its child processes, never as a pickle.

The server reads what its children write (the Train tab's run, training/worker.py; the decoding process,
decode_worker.py). A pickle would let whatever writes that stream run code in the server; JSON can only
describe values. A `Translation` (its hypotheses too), arrays (numbers and booleans only), bytes and dicts
are tagged, so `value` rebuilds exactly what `plain` was given, and refuses anything else.

    {"translation": [{...its fields...}, ["self", ...the other hypotheses]]}
    {"array": ["<f4", [2, 11, 12], "base64 of the bytes"]}

Two forms: a line (`dumps`/`loads`: one JSON line, arrays in base64), and a frame (`frame`/`read_frame`: a JSON
line whose arrays are `{"raw": [dtype, shape]}`, then their bytes one after another, as many as the line says),
which spares the base64 and a JSON string of every array: the decoding process answers many requests a second.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import math

import numpy as np

from ..translator import Translation

_SCALARS = frozenset((str, int, float, bool, type(None)))  # JSON's own values, by their exact type
_NESTED = (list, dict)  # what `value` looks into (a tuple: `list | dict` would be made again at every item)
ARRAY_KINDS = "biuf"  # booleans, integers and floats: an array of objects would need a pickle
MAX_FRAME_BYTES = 256 * 1024 * 1024  # a frame's arrays: far more than any answer (one is a few hundred KB)


class WireError(ValueError):
    """A line or value that is not one this module wrote."""


def dumps(value) -> bytes:
    """A value -> one line of JSON (with its newline)."""
    return json.dumps(plain(value)).encode() + b"\n"


def loads(line: bytes):
    """One line `dumps` wrote -> the value. Raises WireError for anything else."""
    try:
        return value(json.loads(line))
    except WireError:
        raise
    except (ValueError, KeyError, TypeError) as error:
        raise WireError(f"not a line of values: {error}") from None


def frame(value) -> bytes:
    """A value -> one frame: a JSON line (the value, arrays by dtype and shape), then the arrays' bytes."""
    buffers: list = []
    head = json.dumps({"value": plain(value, buffers), "bytes": sum(b.nbytes for b in buffers)})
    return b"".join([head.encode(), b"\n", *buffers])


def read_frame(stream) -> object:
    """The value of the next frame `frame` wrote on `stream` (a binary file). Raises WireError for anything else,
    an ended stream included."""
    try:
        head = json.loads(stream.readline())
        size = head["bytes"]
        if not isinstance(size, int) or not 0 <= size <= MAX_FRAME_BYTES:
            raise WireError(f"a frame of {size!r} bytes")
        data = stream.read(size)
        if len(data) != size:
            raise WireError("a frame cut short")
        raw = _Raw(memoryview(data))
        found = value(head["value"], raw)
        if raw.offset != size:
            raise WireError("a frame with bytes no array reads")
        return found
    except WireError:
        raise
    except (ValueError, KeyError, TypeError) as error:
        raise WireError(f"not a frame of values: {error}") from None


class _Raw:
    """A frame's array bytes, read in order."""

    def __init__(self, data: memoryview):
        self.data, self.offset = data, 0

    def array(self, dtype: np.dtype, shape: list[int]) -> np.ndarray:
        if not all(type(n) is int and n >= 0 for n in shape):  # a negative size would read the bytes backwards
            raise WireError(f"an array of shape {shape!r}")
        end = self.offset + math.prod(shape) * dtype.itemsize  # math's prod: numpy's cost more than the copy
        if end > len(self.data):
            raise WireError("an array beyond the frame's bytes")
        found = np.frombuffer(self.data[self.offset:end], dtype=dtype).reshape(shape).copy()
        self.offset = end
        return found


def _crossing(dtype) -> np.dtype:
    """`dtype` as numpy's, if an array of it may cross (numbers and booleans); WireError otherwise."""
    dtype = np.dtype(dtype)
    if dtype.kind not in ARRAY_KINDS:
        raise WireError(f"an array of {dtype} cannot cross")
    return dtype


def fields(record) -> dict:
    """A dataclass's fields by name, as they are (not copied)."""
    return {f.name: getattr(record, f.name) for f in dataclasses.fields(record)}


def plain(value, buffers: list | None = None):
    """A value -> JSON's values, arrays, bytes and translations tagged; with `buffers`, each array's bytes are
    appended there instead, in order (a frame)."""
    if type(value) in _SCALARS:  # most values are: looked at first (a numpy float is not one: it is unwrapped)
        return value
    if isinstance(value, Translation):  # beam search's best carries the hypotheses, itself first: "self"
        named = fields(value)
        others = named.pop("hypotheses")
        named = plain(named, buffers)  # before the hypotheses: a frame's arrays are read in this order
        return {"translation": [named, ["self" if h is value else plain(h, buffers) for h in others]]}
    if isinstance(value, np.ndarray):
        _crossing(value.dtype)
        contiguous = np.ascontiguousarray(value)
        if buffers is not None:
            buffers.append(contiguous.reshape(-1).view(np.uint8))  # its bytes, without a copy
            return {"raw": [value.dtype.str, list(value.shape)]}
        data = base64.b64encode(contiguous.tobytes()).decode()
        return {"array": [value.dtype.str, list(value.shape), data]}
    if isinstance(value, bytes):
        return {"bytes": base64.b64encode(value).decode()}
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, dict):
        return {"dict": {str(key): plain(item, buffers) for key, item in value.items()}}
    if isinstance(value, list | tuple):
        return [item if type(item) in _SCALARS else plain(item, buffers) for item in value]
    if value is None or isinstance(value, bool | int | float | str):
        return value
    raise WireError(f"a {type(value).__name__} cannot cross")


def value(plain, raw: _Raw | None = None):
    """The inverse of `plain` (with `raw`, a frame's array bytes)."""
    if isinstance(plain, list):  # JSON's own values are themselves: only lists and objects are looked into
        return [value(item, raw) if isinstance(item, _NESTED) else item for item in plain]
    if not isinstance(plain, dict):
        return plain
    if len(plain) != 1:
        raise WireError("an untagged object")
    (tag, content), = plain.items()
    if tag == "translation":
        named, hypotheses = content
        translation = Translation(**value(named, raw))
        translation.hypotheses = [translation if h == "self" else value(h, raw) for h in hypotheses]
        return translation
    if tag == "array":
        dtype, shape, data = content
        return np.frombuffer(base64.b64decode(data), dtype=_crossing(dtype)).reshape(shape).copy()
    if tag == "raw" and raw is not None:
        dtype, shape = content
        return raw.array(_crossing(dtype), shape)
    if tag == "bytes":
        return base64.b64decode(content)
    if tag == "dict":
        return {key: value(item, raw) if isinstance(item, _NESTED) else item for key, item in content.items()}
    raise WireError(f"an unknown tag: {tag!r}")
