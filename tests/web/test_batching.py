"""s2s.web.batching: concurrent greedy decodes run as one batch, and each request still gets its own answer."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from s2s import tasks
from s2s.web import batching, models, runs
from tests.conftest import web_settings


class Gate:
    """A fake model: the first batch waits at the gate, so that the requests sent meanwhile pile up."""

    def __init__(self):
        self.open = threading.Event()
        self.batches: list[tuple[batching.Key, list[str], str]] = []  # key, texts, the thread that ran it
        self.requesters: dict[str, str] = {}  # text -> the thread that asked for it

    def decode_batch(self, key, texts):
        self.batches.append((key, list(texts), threading.current_thread().name))
        if len(self.batches) == 1:
            assert self.open.wait(10)
        if any(text.startswith("bad") for text in texts):
            raise ValueError("a bad text in the batch")
        return [f"{key[0]}:{key[1]}:{text}" for text in texts]

    def decode_one(self, key, text):
        if text.startswith("bad"):
            raise ValueError(f"{text} is bad")
        return f"{key[0]}:{key[1]}:{text}"


def ask_all(batcher: batching.Batcher, gate: Gate, requests: list[tuple[batching.Key, str]]) -> list:
    """Send the first request, then the rest while the first is held at the gate; every answer or error."""

    def ask(key, text):
        gate.requesters[text] = threading.current_thread().name
        try:
            return batcher.translate(key, text)
        except ValueError as error:
            return error

    with ThreadPoolExecutor(len(requests)) as pool:
        first = pool.submit(ask, *requests[0])
        while not gate.batches:
            threading.Event().wait(0.001)
        rest = [pool.submit(ask, *request) for request in requests[1:]]
        while len(batcher._waiting) < len(rest):  # every later request is waiting before the gate opens
            threading.Event().wait(0.001)
        gate.open.set()
        return [first.result(10)] + [future.result(10) for future in rest]


def test_requests_that_arrive_while_the_model_runs_are_decoded_together_each_getting_its_own_answer():
    gate = Gate()
    batcher = batching.Batcher(gate.decode_batch, gate.decode_one)
    requests = [(("dates", "bidirectional"), "first")]
    requests += [(("dates", "bidirectional"), f"a{i}") for i in range(5)]
    requests += [(("dates", "causal"), f"c{i}") for i in range(3)] + [(("reverse", "bidirectional"), "r0")]
    answers = ask_all(batcher, gate, requests)

    assert answers == [f"{spec}:{mask}:{text}" for (spec, mask), text in requests]  # each its own, none swapped
    assert gate.batches[0][1] == ["first"]  # an idle model decodes at once, alone
    groups = sorted((key, tuple(texts)) for key, texts, _ in gate.batches[1:])
    assert groups == [(("dates", "bidirectional"), ("a0", "a1", "a2", "a3", "a4")),
                      (("dates", "causal"), ("c0", "c1", "c2")), (("reverse", "bidirectional"), ("r0",))]
    assert (batcher.batches, batcher.texts) == (4, len(requests))
    for _, texts, runner in gate.batches:  # whoever runs a batch has a request in it: nobody works for others
        assert runner in {gate.requesters[text] for text in texts}
    assert not batcher._running and not batcher._waiting


def test_one_bad_text_gets_its_own_error_and_the_rest_of_its_batch_their_answers():
    gate = Gate()
    batcher = batching.Batcher(gate.decode_batch, gate.decode_one)
    key = ("dates", "bidirectional")
    answers = ask_all(batcher, gate, [(key, "first"), (key, "x"), (key, "bad one"), (key, "y")])
    assert answers[0] == "dates:bidirectional:first" and answers[1] == "dates:bidirectional:x"
    assert isinstance(answers[2], ValueError) and str(answers[2]) == "bad one is bad"
    assert answers[3] == "dates:bidirectional:y"


def test_a_batch_is_no_larger_than_its_limit():
    gate = Gate()
    batcher = batching.Batcher(gate.decode_batch, gate.decode_one, max_batch=3)
    key = ("dates", "bidirectional")
    answers = ask_all(batcher, gate, [(key, f"t{i}") for i in range(8)])
    assert answers == [f"dates:bidirectional:t{i}" for i in range(8)]
    assert [len(texts) for _, texts, _ in gate.batches] == [1, 3, 3, 1]


@pytest.mark.usefixtures("bundled")
def test_a_run_decoded_in_a_batch_matches_the_same_run_alone(monkeypatch):
    """Through runs.run, with real (tiny) checkpoints: the oracle is each request decoded alone by translate."""
    texts = [source for source, _ in tasks.TASKS["dates"].generate(12, seed=3)]
    gate = threading.Event()
    real = runs._decode_batch
    sizes = []

    def held(key, batch):
        sizes.append(len(batch))
        if len(sizes) == 1:
            assert gate.wait(10)
        return real(key, batch)

    monkeypatch.setattr(runs, "_BATCHER", batching.Batcher(held, runs._decode_alone))
    settings = [web_settings(text, checkpoint=name, mask=mask, seed=i)
                for i, (text, name, mask) in enumerate(
                    (t, "dates" if i % 3 else "dates-causal", "causal" if i % 4 == 0 else "bidirectional")
                    for i, t in enumerate(texts))]
    with ThreadPoolExecutor(len(settings)) as pool:
        first = pool.submit(runs.run, settings[0])
        while not sizes:
            threading.Event().wait(0.001)
        rest = [pool.submit(runs.run, s) for s in settings[1:]]
        while len(runs._BATCHER._waiting) < len(rest):
            threading.Event().wait(0.001)
        gate.set()
        got = [first.result(30)] + [future.result(30) for future in rest]
    assert max(sizes) > 1  # some were decoded together

    for s, result in zip(settings, got, strict=True):
        alone = models.get_model(models.web_spec(s.checkpoint)).translator.translate(s.text, mask=s.mask, seed=s.seed)
        assert (result.text, result.output_pieces, result.decoder_inputs) == (alone.text, alone.output_pieces,
                                                                              alone.decoder_inputs)
        assert (result.mask, result.seed, result.teacher_forcing, result.beam_size) == (s.mask, s.seed, 0.0, 1)
        for name in ("attention", "scores", "probs", "top_probs", "queries", "contexts", "encoder_states"):
            assert np.allclose(getattr(result, name), getattr(alone, name), atol=1e-6, rtol=0), name
