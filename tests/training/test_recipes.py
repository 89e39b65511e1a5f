"""s2s/training/recipes.py: the bundled checkpoints' settings, as their metrics.json record them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from s2s.training import recipes

CHECKPOINTS = Path(__file__).resolve().parents[2] / "checkpoints"


@pytest.mark.parametrize("name", sorted(recipes.RECIPES))
def test_each_recipe_is_what_its_bundled_checkpoint_records(name):
    """Every flag metrics.json records (but where it was written and what it resumed) is the recipe's last stage."""
    recorded = json.loads((CHECKPOINTS / name / "metrics.json").read_text())["settings"]
    stage = recipes.stages(name)[-1]
    assert {k: v for k, v in recorded.items() if k not in ("out", "resume")} == {
        k: stage[k] for k in recorded if k not in ("out", "resume")}
    assert (stage["resume"] is not None) == (recorded["resume"] is not None)
    for run in recipes.recipe_runs(name, "somewhere", {}):  # every stage is a valid TrainConfig
        assert run.out == str(Path("somewhere") / name) and run.batch_size == 64 and run.lr_scaling == "none"


def test_reverse_has_two_stages_the_second_resuming_the_first():
    first, second = recipes.recipe_runs("reverse", "out", {})
    assert first.resume is None and second.resume == first.out and second.forcing_start == 0.5
    first, second = recipes.recipe_runs("reverse", "out", {"out": "elsewhere"})  # --out given: both stages there
    assert first.out == second.resume == second.out == "elsewhere"  # stage 2 resumed out/reverse, never written


def test_describe_lists_each_stage_and_what_differs_from_the_defaults():
    lines = recipes.describe("reverse").splitlines()
    assert len(lines) == 2 and lines[0].startswith("reverse stage 1:")
    assert lines[0].endswith("(reconstructed: not recorded)") and "reconstructed" not in lines[1]
    assert "--resume <stage 1's output>" in lines[1] and "--forcing-start 0.5" in lines[1]
    causal = recipes.describe("dates-causal")
    assert causal.startswith("dates-causal: ") and "--mask causal" in causal and "--seed" not in causal  # 0: default


def test_an_unknown_recipe_is_refused():
    with pytest.raises(ValueError, match="recipe must be one of dates, .*; got 'nope'"):
        recipes.recipe_runs("nope", "out", {})
