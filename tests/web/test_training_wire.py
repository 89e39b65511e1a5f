"""The Train tab's events as they cross from the training process to the server (s2s/web/training/wire.py):
each comes back equal to what was sent, and a line that is not such an event is refused, never run."""

from __future__ import annotations

import base64
import dataclasses
import json
import pickle

import numpy as np
import pytest

from s2s import load
from s2s.translator import Translation
from s2s.web.training import wire
from s2s.web.training.events import Epoch, Failed, Loss, Probe, Trained


def same(a, b) -> bool:
    """Equal, field by field, arrays by their dtype, shape and values (NaN and -inf included); a translation's
    hypotheses are the same translations, the best (itself) first."""
    if isinstance(a, Translation):
        if not isinstance(b, Translation) or len(a.hypotheses) != len(b.hypotheses):
            return False
        fields = [f.name for f in dataclasses.fields(a) if f.name != "hypotheses"]
        return (all(same(getattr(a, name), getattr(b, name)) for name in fields)
                and all((h is a) == (g is b) and (h is a or same(h, g)) for h, g in zip(a.hypotheses, b.hypotheses)))
    if dataclasses.is_dataclass(a):
        return type(a) is type(b) and all(same(getattr(a, f.name), getattr(b, f.name)) for f in dataclasses.fields(a))
    if isinstance(a, np.ndarray):
        return (isinstance(b, np.ndarray) and a.dtype == b.dtype and a.shape == b.shape
                and np.array_equal(a, b, equal_nan=a.dtype.kind == "f"))
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list | tuple):
        return isinstance(b, list) and len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    return type(a) is type(b) and a == b


@pytest.mark.parametrize("spec", ["dates-causal", "dates-transformer"])
def test_every_event_comes_back_as_it_was_sent(spec):
    r = load(spec).translate("3 March 2021", beam_size=2)  # beam: hypotheses, each a Translation, inside
    assert r.hypotheses and (spec != "dates-transformer" or r.heads)
    events = [Epoch(2), Loss(40, 1.25, 2560, 3.5, 3.0), Probe(40, r, 0.5, 0.25),
              Trained({"model.safetensors": bytes(range(256)), "config.json": b"{}"}, "it learnt"), Failed("no")]
    for event in events:
        line = wire.encode(event)
        assert line.endswith(b"\n") and line.count(b"\n") == 1  # one line each
        assert same(event, wire.decode(line))


@pytest.mark.parametrize("line", [
    pickle.dumps(Epoch(1)),  # what the stream used to carry
    b"", b"{not json\n", b'{"event": "os.system", "fields": {}}\n',
    json.dumps({"event": "Epoch", "fields": {"number": 1, "extra": 2}}).encode(),
    json.dumps({"event": "Probe", "fields": {"step": 1, "translation": {"object": 1}, "token_accuracy": 0,
                                             "exact_match": 0}}).encode(),
    json.dumps({"event": "Loss", "fields": {"step": {"array": ["|O", [1], base64.b64encode(b"x").decode()]},
                                            "loss": 0, "examples": 0, "seconds": 0,
                                            "training_seconds": 0}}).encode(),
])
def test_a_line_that_is_not_an_event_is_refused(line):
    with pytest.raises(wire.WireError):
        wire.decode(line)


def test_what_cannot_cross_as_values_is_refused_when_sent():
    with pytest.raises(wire.WireError):
        wire.encode(Failed(message=object()))
    with pytest.raises(wire.WireError):
        wire.encode(Trained({"x": np.array([object()])}))
