"""The decoding process (s2s/web/decode_worker.py): its answers are the server's own to the bit, a batch is answered
whether or not a child is there to decode it, and the server reads only values from its child, never code."""

from __future__ import annotations

import pickle
import sys

import pytest

from s2s.web import decode_worker, models, runs
from tests.oracles import same

TEXTS = ["3 March 2021", "2021-04-05", "march 3rd 1999", "7/8/1990"]  # of different lengths: a ragged batch


@pytest.fixture(scope="module")
def worker():
    worker = decode_worker.DecodeWorker()
    assert worker.ready(120)
    yield worker
    worker.close()


@pytest.mark.parametrize("spec, mask", [("dates", "bidirectional"), ("dates-causal", "causal"),
                                        ("dates-transformer", "bidirectional"), ("reverse-noattn", "bidirectional")])
def test_the_childs_translations_are_the_servers_own_to_the_bit(worker, spec, mask):
    texts = TEXTS if spec.startswith("dates") else ["abc", "hello world"]
    loaded = models.get_model(spec)
    here = loaded.translator.translate_batch(texts, mask=mask)
    there = worker.translate_batch(str(loaded.folder), mask, texts)
    assert len(there) == len(texts)
    for mine, theirs in zip(here, there, strict=True):
        assert same(mine, theirs)  # every field, every array's dtype, shape and bits


def test_a_decode_that_fails_in_the_child_comes_back_as_its_message(worker):
    folder = str(models.get_model("dates").folder)
    with pytest.raises(ValueError, match="Unknown mask .sideways."):
        worker.translate_batch(folder, "sideways", ["3 March 2021"])
    assert worker.translate_batch(folder, "bidirectional", ["3 March 2021"])[0].text  # and it goes on


def test_a_checkpoint_the_child_does_not_hold_is_decoded_in_the_server(worker, bundled, monkeypatch):
    """A checkpoint is named by its folder: another folder of the same name (here a test's own bundled folder) is
    not the child's to decode, and the server decodes it itself."""
    assert worker.translate_batch(str(bundled / "dates"), "bidirectional", ["3 March 2021"]) is None
    monkeypatch.setattr(runs, "_WORKER", worker)
    served = runs.run(runs.Settings("3 March 2021", "dates"))
    assert same(models.get_model("dates").translator.translate("3 March 2021"), served)  # the tiny model's answer


def test_a_batch_is_answered_before_the_child_is_ready_and_after_it_dies(monkeypatch):
    """runs' batches go to the child; with none ready, or one killed mid-way, they are decoded in the server, the
    same answers, and a new child takes over."""
    worker = decode_worker.DecodeWorker()
    monkeypatch.setattr(runs, "_WORKER", worker)
    asked = []
    monkeypatch.setattr(worker, "translate_batch", _counting(worker.translate_batch, asked))
    loaded = models.get_model("dates")
    key = runs.BatchKey(loaded.translator, "bidirectional", bundled=str(loaded.folder))
    expected = key.translator.translate_batch(TEXTS)
    try:
        for _ in range(2):
            assert all(same(a, b) for a, b in zip(expected, runs._decode_batch(key, TEXTS), strict=True))
            assert worker.ready(120)
            assert all(same(a, b) for a, b in zip(expected, runs._decode_batch(key, TEXTS), strict=True))
            assert asked[-1] == "answered"  # by the child
            worker._child.kill()
            worker._child.wait()
        assert asked.count("answered") == 2 and asked.count("gone") == 2
    finally:
        worker.close()


def _counting(translate_batch, asked: list):
    def counted(*args):
        answer = translate_batch(*args)
        asked.append("gone" if answer is None else "answered")
        return answer
    return counted


class Opens:
    """Unpickled, it creates a file: what a pickle on the stream could do to the server."""

    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        return (open, (self.path, "w"))


@pytest.mark.parametrize("kind", ["pickle", "object", "array of objects", "not json", "too few"])
def test_the_server_takes_only_translations_from_its_child(kind, tmp_path):
    marker = tmp_path / "ran"
    answer = {"pickle": pickle.dumps([Opens(marker)]) + b"\n",
              "object": b'{"dict": {"__reduce__": "os.system"}}\n',
              "array of objects": b'[{"array": ["|O", [1], "eA=="]}]\n',
              "not json": b"not json\n", "too few": b"[]\n"}[kind]
    script = (f"import sys\nsys.stdout.write('{{\"dict\": {{\"ready\": [\"here\"]}}}}\\n'); sys.stdout.flush()\n"
              f"for line in sys.stdin:\n    sys.stdout.buffer.write({answer!r}); sys.stdout.flush()\n")
    worker = decode_worker.DecodeWorker((sys.executable, "-c", script))
    try:
        assert worker.ready(60)
        assert worker.translate_batch("here", "bidirectional", ["3 March 2021"]) is None
        assert not marker.exists()  # nothing it sent ran
        assert worker._child is None  # and it was dropped: a new one starts with the next batch
    finally:
        worker.close()


def test_the_setting_and_the_default(monkeypatch):
    monkeypatch.setenv("S2S_DECODE_PROCESS", "0")
    assert not decode_worker.enabled()
    monkeypatch.setenv("S2S_DECODE_PROCESS", "1")
    assert decode_worker.enabled() == (decode_worker.os.name != "nt")
    monkeypatch.delenv("S2S_DECODE_PROCESS")
    monkeypatch.setattr(decode_worker.os, "cpu_count", lambda: 1)
    assert not decode_worker.enabled()  # one CPU: the child would only take turns with the server
    monkeypatch.setattr(decode_worker.os, "cpu_count", lambda: 2)
    assert decode_worker.enabled() == (decode_worker.os.name != "nt")


def test_decode_here_keeps_every_batch_in_this_process(monkeypatch):
    """bench.app times the work in process with runs.decode_here(): the child is closed and never asked again."""
    asked, closed = [], []

    class Child:
        def translate_batch(self, *args):
            asked.append(args)

        def close(self):
            closed.append(True)

    monkeypatch.setattr(runs, "_WORKER", Child())
    runs.decode_here()
    loaded = models.get_model("dates")
    key = runs.BatchKey(loaded.translator, "bidirectional", bundled=str(loaded.folder))
    assert same(loaded.translator.translate_batch(TEXTS)[0], runs._decode_batch(key, TEXTS)[0])
    assert asked == [] and closed == [True]
