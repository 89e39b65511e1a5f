"""Recipes: the bundled checkpoints' settings, and `python -m s2s.train --recipe/--all/--list-recipes`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

import s2s
from s2s import recipes, train
from s2s.evaluate import evaluate
from s2s.model import build_model
from s2s.tasks import TASKS
from s2s.translator import Translator

CHECKPOINTS = Path(__file__).resolve().parent.parent / "checkpoints"
TINY = ["--train-size", "1500", "--val-size", "60", "--epochs", "1", "--batch-size", "16", "--emb-size", "16",
        "--hidden-size", "32", "--threads", "1"]


@pytest.mark.parametrize("name", sorted(recipes.RECIPES))
def test_each_recipe_is_what_its_bundled_checkpoint_records(name):
    """Every flag metrics.json records (but where it was written and what it resumed) is the recipe's last stage."""
    recorded = json.loads((CHECKPOINTS / name / "metrics.json").read_text())["settings"]
    stage = recipes.stages(name)[-1]
    assert {k: v for k, v in recorded.items() if k not in ("out", "resume")} == {
        k: stage[k] for k in recorded if k not in ("out", "resume")}
    assert (stage["resume"] is not None) == (recorded["resume"] is not None)
    for run in train.recipe_runs(name, "somewhere", {}):  # every stage is a valid TrainConfig
        assert run.out == str(Path("somewhere") / name) and run.batch_size == 64 and run.lr_scaling == "none"


def test_reverse_has_two_stages_the_second_resuming_the_first():
    first, second = train.recipe_runs("reverse", "out", {})
    assert first.resume is None and second.resume == first.out and second.forcing_start == 0.5
    first, second = train.recipe_runs("reverse", "out", {"out": "elsewhere"})  # --out given: both stages there
    assert first.out == second.resume == second.out == "elsewhere"  # stage 2 resumed out/reverse, never written


def test_list_recipes_prints_every_recipe(capsys):
    assert train.main(["--list-recipes"]) == 0
    out = capsys.readouterr().out
    assert all(name in out for name in recipes.RECIPES) and "reconstructed" in out


def test_recipes_never_write_into_the_bundled_folder_unless_asked(capsys, monkeypatch, tmp_path):
    from s2s import hub

    # a stand-in for checkpoints/: with the guard broken, this test would retrain into the real one
    monkeypatch.setattr(hub, "BUNDLED_DIR", tmp_path / "checkpoints")
    assert train.main(["--recipe", "dates", "--out-dir", str(tmp_path / "checkpoints"), *TINY]) == 2
    assert "--overwrite-bundled" in capsys.readouterr().err and not (tmp_path / "checkpoints").exists()
    assert train.main(["--recipe", "nope", "--out-dir", "x"]) == 2
    assert "unknown recipe" in capsys.readouterr().err


def test_a_recipe_retrained_tiny_for_an_epoch_loads_and_beats_its_untrained_self(tmp_path):
    assert train.main(["--recipe", "dates-seed", "--out-dir", str(tmp_path), *TINY]) == 0
    folder = tmp_path / "dates-seed"
    trained = s2s.load(str(folder), device="cpu")
    settings = json.loads((folder / "metrics.json").read_text())["settings"]
    assert settings["query"] == "input" and settings["hidden_size"] == 32 and settings["source_vocab"] == 450
    torch.manual_seed(0)
    untrained = Translator(build_model(trained.model.config), trained.source_tokenizer, trained.target_tokenizer,
                           trained.config)
    pairs = TASKS["dates"].generate(100, 123)
    after, before = (evaluate(m, pairs, alignment=False)["token_accuracy"] for m in (trained, untrained))
    assert after > before + 0.1, (before, after)

    source_ids = [trained.encode_source(s) for s, _ in pairs[:20]]
    target_ids = [trained.encode_reference(t) for _, t in pairs[:20]]
    losses = []
    for model in (trained.model, untrained.model):
        with torch.no_grad():
            losses.append(sum(float(train.sequence_loss(model(torch.tensor([s]), torch.tensor([len(s)]),
                                                              torch.tensor([t])), torch.tensor([t])))
                              for s, t in zip(source_ids, target_ids)))
    assert losses[0] < losses[1], losses


def test_a_two_stage_recipe_resumes_its_first_stage(tmp_path):
    args = ["--recipe", "reverse", "--out-dir", str(tmp_path), *TINY, "--train-size", "200", "--num-layers", "1"]
    assert train.main(args) == 0
    metrics = json.loads((tmp_path / "reverse" / "metrics.json").read_text())
    assert metrics["settings"]["resume"] == str(tmp_path / "reverse") and metrics["settings"]["forcing_start"] == 0.5
    assert s2s.load(str(tmp_path / "reverse"), device="cpu").translate("a b c").output_tokens
