"""The Train tab's events as they cross from the training process to the server (s2s/web/training/wire.py):
each comes back equal to what was sent, and a line that is not such an event is refused, never run."""

from __future__ import annotations

import base64
import json
import pickle

import numpy as np
import pytest

from s2s import load
from s2s.web.training import wire
from s2s.web.training.events import Epoch, Failed, Loss, Probe, Trained
from tests.oracles import same


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
