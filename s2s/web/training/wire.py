"""A run's events as they cross from its training process to the server: one JSON line each, never a pickle.

The server reads what its child writes (worker.py). A pickle would let whatever writes that stream run
code in the server; a JSON line can only describe values. Each event class, the `Translation` inside a
`Probe`, arrays (dtype, shape and raw bytes in base64: numbers and booleans only) and `Trained`'s file
bytes are tagged, so `decode` rebuilds exactly what `encode` was given, and refuses anything else.

    {"event": "Loss", "fields": {"step": 40, "loss": 1.25, ...}}
    {"event": "Probe", "fields": {"step": 40, "translation": {"translation": [{...}, [hypotheses]]}, ...}}
"""

from __future__ import annotations

import base64
import dataclasses
import json

import numpy as np

from ...translator import Translation
from .events import Epoch, Failed, Loss, Probe, Trained

EVENTS = {cls.__name__: cls for cls in (Epoch, Loss, Probe, Trained, Failed)}
ARRAY_KINDS = "biuf"  # booleans, integers and floats: an array of objects would need a pickle


class WireError(ValueError):
    """A line that is not an event this module wrote."""


def encode(event) -> bytes:
    """An event -> one line of JSON (with its newline)."""
    if EVENTS.get(type(event).__name__) is not type(event):
        raise WireError(f"not a training event: {type(event).__name__}")
    return json.dumps({"event": type(event).__name__, "fields": _plain(_fields(event))}).encode() + b"\n"


def decode(line: bytes) -> Epoch | Loss | Probe | Trained | Failed:
    """One line `encode` wrote -> the event. Raises WireError for anything else."""
    try:
        message = json.loads(line)
        cls = EVENTS[message["event"]]
        return cls(**_value(message["fields"]))
    except WireError:
        raise
    except (ValueError, KeyError, TypeError) as error:
        raise WireError(f"not a training event line: {error}") from None


def _fields(record) -> dict:
    return {f.name: getattr(record, f.name) for f in dataclasses.fields(record)}


def _plain(value):
    """A value -> JSON's values, arrays, bytes and translations tagged."""
    if isinstance(value, Translation):  # beam search's best carries the hypotheses, itself first: "self"
        fields = _fields(value)
        hypotheses = ["self" if h is value else _plain(h) for h in fields.pop("hypotheses")]
        return {"translation": [_plain(fields), hypotheses]}
    if isinstance(value, np.ndarray):
        if value.dtype.kind not in ARRAY_KINDS:
            raise WireError(f"an array of {value.dtype} cannot cross")
        data = base64.b64encode(np.ascontiguousarray(value).tobytes()).decode()
        return {"array": [value.dtype.str, list(value.shape), data]}
    if isinstance(value, bytes):
        return {"bytes": base64.b64encode(value).decode()}
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, dict):
        return {"dict": {str(key): _plain(item) for key, item in value.items()}}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    if value is None or isinstance(value, bool | int | float | str):
        return value
    raise WireError(f"a {type(value).__name__} cannot cross")


def _value(plain):
    """The inverse of `_plain`."""
    if isinstance(plain, list):
        return [_value(item) for item in plain]
    if not isinstance(plain, dict):
        return plain
    if len(plain) != 1:
        raise WireError("an untagged object")
    (tag, content), = plain.items()
    if tag == "translation":
        fields, hypotheses = content
        translation = Translation(**_value(fields))
        translation.hypotheses = [translation if h == "self" else _value(h) for h in hypotheses]
        return translation
    if tag == "array":
        dtype, shape, data = content
        dtype = np.dtype(dtype)
        if dtype.kind not in ARRAY_KINDS:
            raise WireError(f"an array of {dtype} cannot cross")
        return np.frombuffer(base64.b64decode(data), dtype=dtype).reshape(shape).copy()
    if tag == "bytes":
        return base64.b64decode(content)
    if tag == "dict":
        return {key: _value(item) for key, item in content.items()}
    raise WireError(f"an unknown tag: {tag!r}")
