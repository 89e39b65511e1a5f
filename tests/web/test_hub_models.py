"""A real translation model from the Hub (a tiny random MarianMT built in tests/tiny_marian.py, served by the fake
Hub) in the page's own path: the name typed in the checkpoint box, the budget, the views (issue 24)."""

from __future__ import annotations

import numpy as np
import pytest
from huggingface_hub import constants

from s2s import viz
from s2s.errors import CheckpointFileNotFound
from s2s.web import cards, models, runs, views
from tests.conftest import free_port
from tests.fake_hub import serving
from tests.tiny_marian import tiny_marian_files

REPO = "Helsinki-NLP/opus-mt-en-fr"


@pytest.fixture
def hub(monkeypatch, tmp_path):
    monkeypatch.setattr(models, "CACHE", models.new_cache())
    with serving(monkeypatch, tmp_path / "hf-cache") as server:
        yield server


def test_a_marian_repo_typed_in_the_checkpoint_box_runs_through_every_view(hub):
    hub.add_commit(REPO, tiny_marian_files())
    explored = views.explore(runs.Settings("the cat sees the mouse", REPO))
    r = explored.result
    assert r is not None and r.family == "marian" and explored.output == r.text, explored.status
    layers = models.get_model(REPO).translator.config["num_layers"]
    assert models.layer_choices(REPO) == [("mean of layers", "mean"), *((f"layer {i}", str(i)) for i in range(layers))]
    np.testing.assert_allclose(r.attention, r.heads["cross"].mean(1), atol=1e-6)  # the heatmap: the heads' mean
    for view in (views.HEATMAP, views.GRID, views.HEADS, views.FED, views.NBEST):
        assert all(part is not None for part in views.tab_contents(view, r).values()), view
    heads = views.tab_contents(views.HEADS, r, kind="encoder_self")["heads"]
    assert len([t for t in heads.data if t.hovertemplate]) == r.heads["encoder_self"].shape[0] * r.heads[
        "encoder_self"].shape[1]
    forced = runs.run(runs.Settings("the cat sees the mouse", REPO, forcing=True, ratio=1.0, reference="le chat"))
    assert forced.forced[1:].all() and viz.heatmap(forced) is not None


def test_a_marian_repo_s_card_names_its_family_and_languages(hub):
    hub.add_commit(REPO, tiny_marian_files())
    card = cards.model_card(REPO)
    assert "MarianMT from the Hub" in card and "languages en, fr" in card and "LSTM" not in card


def test_a_repo_with_neither_kind_of_files_says_what_a_checkpoint_needs(hub):
    hub.add_commit("org/empty", {"README.md": b"# nothing here\n"})
    with pytest.raises(CheckpointFileNotFound, match="config.json"):
        models.get_model("org/empty")


@pytest.mark.parametrize("offline", [True, False], ids=["HF_HUB_OFFLINE", "hub-down"])
def test_a_marian_model_in_the_cache_opens_in_the_page_without_the_hub(hub, monkeypatch, offline):
    """A Space fills its cache before the lecture (or the Hub goes down during it): the page opens the cached model,
    offline by its name, with the Hub down by its commit (a branch could have moved, so it is not trusted then)."""
    commit = hub.add_commit(REPO, tiny_marian_files())
    assert views.explore(runs.Settings("the cat", REPO)).result is not None  # online, once: now in the cache
    monkeypatch.setattr(models, "CACHE", models.new_cache())  # a fresh process
    hub.stop()  # and nothing listens where the Hub was (a kept-alive connection would still reach the stopped one)
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{free_port()}")
    if offline:
        monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    spec = REPO if offline else f"{REPO}@{commit}"
    explored = views.explore(runs.Settings("the cat", spec))
    assert explored.result is not None and explored.result.family == "marian", explored.status
    assert models.get_model(spec).translator.config["commit"] == commit


def test_a_repo_with_only_pickles_on_main_is_refused_and_its_safetensors_pull_request_opens(hub):
    """What docs/hub.md tells a lecturer whose opus-mt repo has only pytorch_model.bin on main: the page refuses it
    in one line, and the revision of the Hub's safetensors conversion (refs/pr/N) opens."""
    pickled = tiny_marian_files(model__safetensors=None, **{"pytorch_model.bin": b"a pickle"})
    hub.add_commit(REPO, pickled)
    hub.add_commit(REPO, tiny_marian_files(), ref="refs/pr/1")
    refused = views.explore(runs.Settings("the cat", REPO))
    assert refused.result is None and "only as pytorch_model.bin" in refused.status and "\n" not in refused.status
    converted = views.explore(runs.Settings("the cat", f"{REPO}@refs/pr/1"))
    assert converted.result is not None and converted.result.family == "marian", converted.status
