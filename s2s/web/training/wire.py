"""A run's events as they cross from its training process to the server: one JSON line each, never a pickle.

Each event class is tagged by its name, and its fields are values as s2s/web/wire.py carries them (the
`Translation` inside a `Probe`, arrays, `Trained`'s file bytes), so `decode` rebuilds exactly what `encode`
was given, and refuses anything else.

    {"event": "Loss", "fields": {"step": 40, "loss": 1.25, ...}}
    {"event": "Probe", "fields": {"step": 40, "translation": {"translation": [{...}, [hypotheses]]}, ...}}
"""

from __future__ import annotations

import json

from ..wire import WireError, fields, plain, value
from .events import Epoch, Failed, Loss, Probe, Trained

EVENTS = {cls.__name__: cls for cls in (Epoch, Loss, Probe, Trained, Failed)}

__all__ = ["EVENTS", "WireError", "decode", "encode"]


def encode(event) -> bytes:
    """An event -> one line of JSON (with its newline)."""
    if EVENTS.get(type(event).__name__) is not type(event):
        raise WireError(f"not a training event: {type(event).__name__}")
    return json.dumps({"event": type(event).__name__, "fields": plain(fields(event))}).encode() + b"\n"


def decode(line: bytes) -> Epoch | Loss | Probe | Trained | Failed:
    """One line `encode` wrote -> the event. Raises WireError for anything else."""
    try:
        message = json.loads(line)
        cls = EVENTS[message["event"]]
        return cls(**value(message["fields"]))
    except WireError:
        raise
    except (ValueError, KeyError, TypeError) as error:
        raise WireError(f"not a training event line: {error}") from None
