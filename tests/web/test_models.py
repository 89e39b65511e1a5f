"""s2s.web.models and s2s.web.cards: the model cache, the checkpoints a visitor may name, menus and cards."""

from __future__ import annotations

import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from s2s import checkpoint, hub
from s2s.errors import HubError, InvalidCheckpointName
from s2s.web import cards, models, trained
from tests.conftest import build_checkpoint, web_settings
from tests.fake_hub import FakeHub, use_fake_hub

pytestmark = pytest.mark.usefixtures("bundled")  # tiny checkpoints only (tests/conftest.py)
settings = web_settings


# --- checkpoints ------------------------------------------------------------------------------------


def test_checkpoint_choices_are_the_bundled_ones_then_the_hub_list(monkeypatch):
    assert models.checkpoint_choices() == ["dates", "dates-causal", "reverse", "reverse-noattn"]
    monkeypatch.setenv("S2S_HUB_CHECKPOINTS", "org/a, org/b@v1, ../bad, dates")
    assert models.checkpoint_choices() == ["dates", "dates-causal", "reverse", "reverse-noattn", "org/a", "org/b@v1"]
    assert models.default_checkpoint() == "dates"


@pytest.mark.parametrize("spec", ["../../etc", "/etc", "/etc/passwd", "~/x", "..", "a/b/c", "", "  ", None, 3,
                                  "org/name@../x", "dates/../../etc"])
def test_web_spec_refuses_paths_and_malformed_names(spec):
    with pytest.raises(InvalidCheckpointName):
        models.web_spec(spec)


def test_web_spec_accepts_bundled_names_and_hub_ids():
    assert models.web_spec(" dates ") == "dates"
    assert models.web_spec("org/name") == "org/name"
    assert models.web_spec("org/name@v1.0") == "org/name@v1.0"


def test_a_checkpoint_folder_on_the_server_is_never_loaded_by_path(bundled, monkeypatch, tmp_path):
    with pytest.raises(InvalidCheckpointName):
        models.get_model(str(bundled / "dates"))  # an absolute path to a real checkpoint
    # "org/name" is also a relative path: when such a folder exists, it must still be asked of the Hub
    build_checkpoint(tmp_path / "org" / "name")
    monkeypatch.chdir(tmp_path)
    asked = []
    monkeypatch.setattr(hub, "resolve_commit", lambda spec, **_: (spec.split("@")[0], "0" * 40))
    monkeypatch.setattr(hub, "download", lambda repo_id, revision=None: asked.append(repo_id) or bundled / "dates")
    models.get_model("org/name")
    assert asked == ["org/name"]


def test_a_hub_checkpoint_loads_and_has_a_card(bundled, monkeypatch, tmp_path):
    files = {path.name: path.read_bytes() for path in (bundled / "dates").iterdir()}
    with FakeHub() as server:
        use_fake_hub(monkeypatch, server.url, tmp_path / "hf-cache")
        server.add_commit("org/tiny", files)
        loaded = models.get_model("org/tiny")
        assert loaded.folder.is_relative_to(tmp_path / "hf-cache")
        assert "**org/tiny**" in cards.model_card("org/tiny")
        assert "exact match | 50.0% of 50" in cards.model_card("org/tiny")
        problem = cards.model_card("org/missing")
    assert "org/missing" in problem and "s2s-problem" in problem


def test_model_card_lists_the_settings_and_metrics_and_escapes_what_the_folder_says(bundled, tmp_path, monkeypatch):
    card = cards.model_card("dates")
    for text in ("task *dates*", "scaled_dot", "trained mask | bidirectional", "hidden 32", "2 layers",
                 "encoder | uni: reads the source left to right", "bridge | final: the decoder starts from",
                 "exact match | 50.0% of 50", "2 epochs"):
        assert text in card
    assert "token accuracy" not in card  # not in this metrics.json
    hostile = tmp_path / "checkpoints"
    folder = build_checkpoint(hostile / "dates")
    config = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps(config | {"task": "<img src=x onerror=alert(1)>"}))
    (folder / "metrics.json").write_text('{"exact_match": "<b>1</b>", "epochs": [1]}')
    monkeypatch.setattr(checkpoint, "BUNDLED_DIR", hostile)
    monkeypatch.setattr(models, "CACHE", models.ModelCache(2, models.load))
    card = cards.model_card("dates")
    assert "&lt;img src=x onerror=alert(1)&gt;" in card and "<img" not in card
    assert "exact match" not in card and "epochs" not in card  # not numbers: left out


@pytest.mark.parametrize("metrics", ["[" * 100_000 + "]" * 100_000, "{" * 3 + "x", "[1, 2]", "\udcff"],
                         ids=["nested", "not-json", "not-an-object", "not-utf-8"])
def test_model_card_of_a_checkpoint_whose_metrics_cannot_be_read_leaves_them_out(bundled, tmp_path, monkeypatch,
                                                                                  metrics):
    """A nested metrics.json (under its size limit) raised RecursionError out of the card (review of 2026-11-29)."""
    hostile = tmp_path / "checkpoints"
    folder = build_checkpoint(hostile / "dates")
    (folder / "metrics.json").write_bytes(metrics.encode("utf-8", errors="surrogateescape"))
    monkeypatch.setattr(checkpoint, "BUNDLED_DIR", hostile)
    monkeypatch.setattr(models, "CACHE", models.ModelCache(2, models.load))
    card = cards.model_card("dates")
    assert "task *dates*" in card and "scaled_dot" in card and "exact match" not in card


def test_model_card_of_a_bad_name_is_a_message():
    card = cards.model_card("../../etc")
    assert "s2s-problem" in card and "not a checkpoint this app can load" in card


def test_layer_choices_follow_the_checkpoint():
    assert models.layer_choices("dates") == [("mean of layers", "mean"), ("layer 0", "0"), ("layer 1", "1")]
    assert models.layer_choices("nope/nope@../") == [("mean of layers", "mean")]


# --- the model cache ----------------------------------------------------------------------------------


def test_cache_keeps_the_most_recently_used_models_only():
    loads = []
    cache = models.ModelCache(2, lambda spec: loads.append(spec) or spec.upper())
    for spec in ("a", "b", "a", "c"):  # a is used again before c arrives, so b is evicted
        cache.get(spec)
    assert cache.loaded() == ["a", "c"]
    assert cache.get("b") == "B"
    assert loads == ["a", "b", "c", "b"]
    assert cache.loaded() == ["c", "b"]


def test_concurrent_requests_for_one_spec_load_it_once():
    loads = []
    started = threading.Event()

    def slow_load(spec):
        loads.append(spec)
        started.set()
        time.sleep(0.3)
        return object()

    cache = models.ModelCache(4, slow_load)
    with ThreadPoolExecutor(8) as pool:
        got = list(pool.map(cache.get, ["x"] * 8))
    assert loads == ["x"]
    assert all(model is got[0] for model in got)


def test_a_failed_load_is_shared_then_retried():
    calls = []

    def flaky(spec):
        calls.append(spec)
        time.sleep(0.2)
        if len(calls) == 1:
            raise ValueError("not yet")
        return spec

    cache = models.ModelCache(4, flaky)
    with ThreadPoolExecutor(4) as pool:
        futures = [pool.submit(cache.get, "x") for _ in range(4)]
        errors = [future.exception() for future in futures]
    assert len(calls) == 1 and all(isinstance(error, ValueError) for error in errors)
    assert cache.get("x") == "x" and len(calls) == 2


def test_prepare_loads_every_bundled_checkpoint_and_they_are_never_evicted(monkeypatch):
    models.prepare(threads=1)
    assert sorted(models.CACHE.loaded()) == ["dates", "dates-causal", "reverse", "reverse-noattn"]
    loads = []
    monkeypatch.setattr(models, "HUB_CACHE_SIZE", 1)
    cache = models.ModelCache(1, lambda spec: loads.append(spec) or object(), pinned=lambda spec: spec.islower())
    for spec in ["a", "b", "X", "Y", "a", "b", "X"]:  # a, b pinned; one unpinned model kept
        cache.get(spec)
    assert loads == ["a", "b", "X", "Y", "X"]
    assert cache.loaded() == ["a", "b", "X"]


def test_every_spelling_of_a_hub_commit_loads_one_model(bundled, monkeypatch, tmp_path):
    files = {path.name: path.read_bytes() for path in (bundled / "dates").iterdir()}
    with FakeHub() as server:
        use_fake_hub(monkeypatch, server.url, tmp_path / "hf-cache")
        commit = server.add_commit("org/tiny", files)
        loads = []
        real = models.checkpoint.load
        monkeypatch.setattr(models.checkpoint, "load", lambda *a, **k: loads.append(a) or real(*a, **k))
        spellings = ["org/tiny", "Org/Tiny", "org/tiny@main", f"org/tiny@{commit}"]
        got = [models.get_model(spec) for spec in spellings]
    assert len(loads) == 1
    assert len({id(loaded.translator) for loaded in got}) == 1
    assert [loaded.spec for loaded in got] == spellings  # each keeps the name it was asked by (cards show it)


@pytest.mark.slow  # waits out a hanging Hub's timeouts
def test_a_hanging_hub_never_holds_a_request_and_bundled_ones_go_on(monkeypatch):
    release = threading.Event()
    monkeypatch.setattr(models, "HUB_WAIT_S", 0.2)
    monkeypatch.setattr(hub, "resolve_commit", lambda spec, **_: release.wait(10) and ("org/x", "0" * 40))
    try:
        started = time.perf_counter()
        with pytest.raises(HubError, match="still loading from the Hub: try again"):
            models.get_model("org/slow")
        assert time.perf_counter() - started < 1.0
        started = time.perf_counter()
        assert models.get_model("dates").translator is not None  # bundled: served while the Hub hangs
        assert time.perf_counter() - started < 1.0
        for i in range(models.HUB_MAX_PENDING - 1):
            with pytest.raises(HubError):
                models.get_model(f"org/slow{i}")
        with pytest.raises(HubError, match="Too many Hub checkpoints are loading"):
            models.get_model("org/one-too-many")
    finally:
        release.set()


def test_the_trained_mask_of_a_checkpoint():
    assert models.trained_mask("dates") == "bidirectional"
    assert models.trained_mask("dates-causal") == "causal"
    assert models.trained_mask("../../etc") is None


def test_a_model_trained_in_the_page_is_named_and_kept_for_explore(tmp_path, monkeypatch):
    monkeypatch.setattr(models, "TRAINED", trained.TrainedModels())
    translator = models.get_model("dates").translator
    name = models.add_trained("page-a", translator, tmp_path)
    assert trained.is_trained_name(name) and models.web_spec(name) == name
    assert models.get_model(name).translator is translator and models.get_model(name).spec == name
    again = models.add_trained("page-a", translator, tmp_path)  # the page's new model: a new name, the old one gone
    assert again != name and models.get_model(again).translator is translator
    with pytest.raises(InvalidCheckpointName, match="no longer kept"):
        models.get_model(name)
    for spec in ("trained-../x", "trained-0123abcd", "trained-" + "g" * 16):
        with pytest.raises(InvalidCheckpointName):
            models.web_spec(spec)


def test_the_layer_menu_keeps_a_chosen_layer_the_checkpoint_has():
    choices, value = models.layer_menu("dates", "1")
    assert choices == [("mean of layers", "mean"), ("layer 0", "0"), ("layer 1", "1")] and value == "1"
    assert models.layer_menu("dates", "3")[1] == "mean"  # a 2-layer checkpoint has no layer 3
    assert models.layer_menu("reverse-noattn", "0") == ([("mean of layers", "mean")], "mean")  # no attention
