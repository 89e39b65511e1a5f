"""Shared fixtures: tiny untrained checkpoints built in temporary folders (fast, no network)."""

from __future__ import annotations

import contextlib
import functools
import json
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

from s2s import checkpoint
from s2s.model import ModelConfig, build_model
from s2s.tokenizer import Tokenizer
from tests.fake_hub import serving

MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September",
          "October", "November", "December"]


@functools.cache
def tiny_tokenizers() -> tuple[Tokenizer, Tokenizer]:
    sources = [f"{d} {m} {y}" for d in range(1, 29) for m in MONTHS for y in (1999, 2021)]
    targets = [f"{y}-{i:02d}-{d:02d}" for d in range(1, 29) for i in range(1, 13) for y in (1999, 2021)]
    return Tokenizer.train(sources, 400), Tokenizer.train(targets, 300)


def build_checkpoint(folder: Path, seed: int = 0, **settings) -> Path:
    """A small random-weight checkpoint; `settings` override ModelConfig fields."""
    source, target = tiny_tokenizers()
    torch.manual_seed(seed)
    fields = dict(emb_size=16, hidden_size=32, num_layers=2) | settings
    model = build_model(ModelConfig(source.vocab_size, target.vocab_size, **fields))
    extra = dict(task="dates", trained_mask="bidirectional", max_source_len=48, max_target_len=16)
    return checkpoint.save(folder, model, source, target, extra, card="# tiny test checkpoint\n")


@pytest.fixture(scope="session")
def tiny_checkpoint_dir(tmp_path_factory) -> Path:
    """A tiny attention checkpoint folder (query=state, scaled_dot)."""
    return build_checkpoint(tmp_path_factory.mktemp("tiny"))


@pytest.fixture(scope="session")
def tiny(tiny_checkpoint_dir):
    """The tiny checkpoint, loaded on the CPU."""
    return checkpoint.load(tiny_checkpoint_dir, device="cpu")


@pytest.fixture
def make_checkpoint(tmp_path):
    """Factory: make_checkpoint(score=..., query=..., model=...) -> folder."""
    counter = iter(range(1000))
    return lambda **settings: build_checkpoint(tmp_path / f"ckpt{next(counter)}", **settings)


def make_bundled(folder: Path) -> Path:
    """A checkpoints/ folder of tiny random-weight checkpoints standing in for the bundled ones.

    dates: attention, trained bidirectional; dates-causal: the same weights, said to be trained causal;
    reverse and reverse-noattn (a plain EDM), so that every preset has what it needs.
    """
    build_checkpoint(folder / "dates")
    causal = build_checkpoint(folder / "dates-causal")
    config = json.loads((causal / "config.json").read_text())
    (causal / "config.json").write_text(json.dumps(config | {"trained_mask": "causal"}))
    build_checkpoint(folder / "reverse", seed=1)
    noattn = build_checkpoint(folder / "reverse-noattn", seed=2, model="edm")
    for name in ("reverse", "reverse-noattn"):  # the tiny tokenizer reads letters as well as dates
        config = json.loads((folder / name / "config.json").read_text())
        (folder / name / "config.json").write_text(json.dumps(config | {"task": "reverse"}))
    (noattn.parent / "dates" / "metrics.json").write_text(json.dumps({"n": 50, "exact_match": 0.5, "epochs": 2}))
    return folder


@pytest.fixture(autouse=True, scope="module")
def torch_threads():
    """service.prepare sets torch to one thread; the test modules after this one get their setting back."""
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="session")
def bundled_dir(tmp_path_factory) -> Path:
    """A checkpoints/ folder of tiny checkpoints (make_bundled), shared by the web service's tests."""
    return make_bundled(tmp_path_factory.mktemp("checkpoints"))


@pytest.fixture
def bundled(bundled_dir, monkeypatch) -> Path:
    """The web service sees only the tiny checkpoints, with an empty model cache and no Hub list."""
    from s2s.web import models

    monkeypatch.setattr(checkpoint, "BUNDLED_DIR", bundled_dir)
    monkeypatch.setattr(models, "CACHE", models.new_cache())
    monkeypatch.delenv("S2S_HUB_CHECKPOINTS", raising=False)
    return bundled_dir


def one_line_without_paths(error: BaseException, *paths: Path) -> str:
    """An error's message, checked: one line, naming none of `paths` (a server's folders are nobody's business)."""
    message = str(error)
    assert message and "\n" not in message and "\r" not in message, message
    for path in paths:
        assert str(path) not in message, message
    return message


@pytest.fixture
def fake_hub(monkeypatch, tmp_path):
    """A fake Hub on 127.0.0.1 (tests/fake_hub.py) that huggingface_hub uses, with its cache in tmp_path/hf-cache."""
    with serving(monkeypatch, tmp_path / "hf-cache") as server:
        yield server


def web_settings(text: str = "3 March 2021", **changes):
    """One run's settings for the web service, on the tiny `dates` unless told otherwise."""
    from s2s.web import runs

    return runs.Settings(text, changes.pop("checkpoint", "dates"), **changes)


@pytest.fixture(scope="module")
def one_torch_thread():
    """Tiny models run fastest on one thread, far faster than on two of a busy two-core machine."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def plain(tiny):
    """The tiny checkpoint's translation of a date, decoded freely with the bidirectional mask."""
    return tiny.translate("3 March 2021")


@pytest.fixture(scope="module")
def causal(tiny):
    """The same date with the causal mask."""
    return tiny.translate("3 March 2021", mask="causal")


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def served_app(bundled_dir: Path | None = None, attributes: dict | None = None) -> Iterator[str]:
    """The whole app, launched in this process on a free local port for the time of the block: its URL.

    bundled_dir: the checkpoints it serves (default: the real bundled ones). The model cache starts empty
    and no Hub allow-list applies. attributes: {(module, name): value} to set meanwhile.
    """
    import app
    from s2s.web import models

    with pytest.MonkeyPatch.context() as patch:
        if bundled_dir is not None:
            patch.setattr(checkpoint, "BUNDLED_DIR", bundled_dir)
        patch.setattr(models, "CACHE", models.new_cache())
        patch.delenv("S2S_HUB_CHECKPOINTS", raising=False)
        for (module, name), value in (attributes or {}).items():
            patch.setattr(module, name, value)
        demo = app.build_demo()
        _, url, _ = demo.launch(prevent_thread_lock=True, server_name="127.0.0.1", server_port=free_port(),
                                quiet=True, **app.launch_options(demo))
        try:
            yield url
        finally:
            demo.close()


# What a Train-tab run is tested with: its task, a small model, little data, a probe (tests/web)
TINY_RUN = dict(task="dates", size="small", train_size=400, probe="3 March 2021")


@pytest.fixture
def quick_probes(monkeypatch, tmp_path):
    """A Train-tab run probes every 0.4 s (not every 3 s) and exports in this test's own folder; torch's threads
    are put back afterwards (a run sets them)."""
    from s2s.web.training import limits

    monkeypatch.setattr(limits, "PROBE_EVERY_S", 0.4)
    monkeypatch.setattr(limits, "EXPORT_DIR", tmp_path / "exports")
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)
