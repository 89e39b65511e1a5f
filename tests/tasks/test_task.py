"""s2s/tasks/task.py, for every task: generate is deterministic, within its lengths, in its split."""

import dataclasses
import random

import pytest

from s2s.tasks import TASKS, split_of


@pytest.mark.parametrize("name", list(TASKS))
def test_generate_is_deterministic_and_leaves_the_global_rng_alone(name):
    random.seed(0)
    state = random.getstate()
    first = TASKS[name].generate(50, seed=7)
    assert random.getstate() == state
    assert TASKS[name].generate(50, seed=7) == first
    assert TASKS[name].generate(50, seed=8) != first
    assert len(first) == 50


@pytest.mark.parametrize("name", list(TASKS))
def test_generated_lengths_respect_the_hints(name):
    task = TASKS[name]
    for source, target in task.generate(1000, seed=3):
        assert len(source) <= task.max_source_chars and len(target) <= task.max_target_chars


@pytest.mark.parametrize("name", list(TASKS))
def test_splits(name):
    task = TASKS[name]
    train = task.generate(1000, seed=4, split="train")
    heldout = task.generate(200, seed=4, split="heldout")
    assert all(split_of(source) == "train" for source, _ in train)
    assert all(split_of(source) == "heldout" for source, _ in heldout)
    assert not {source for source, _ in train} & {source for source, _ in heldout}
    assert {split_of(source) for source, _ in task.generate(300, seed=4, split="all")} == {"train", "heldout"}
    with pytest.raises(ValueError, match="split"):
        task.generate(1, seed=0, split="test")


def test_default_splits():
    assert TASKS["toy-fr"].generate(100, seed=5) == TASKS["toy-fr"].generate(100, seed=5, split="train")
    assert TASKS["dates"].generate(100, seed=5) == TASKS["dates"].generate(100, seed=5, split="all")
    assert TASKS["reverse"].generate(100, seed=5) == TASKS["reverse"].generate(100, seed=5, split="all")


def test_each_task_validates_on_its_own_split():
    """toy-fr validates on held-out sentences (never trained on), the others on every source; the field decides."""
    assert {name: task.validation_split for name, task in TASKS.items()} == {
        "dates": "all", "reverse": "all", "reverse-short": "all", "toy-fr": "heldout"}
    pairs = TASKS["toy-fr"].validation_pairs(200, seed=9)
    assert len(pairs) == 200 and all(split_of(source) == "heldout" for source, _ in pairs)
    assert TASKS["dates"].validation_pairs(50, seed=9) == TASKS["dates"].generate(50, seed=9, split="all")
    with pytest.raises(ValueError, match="validation_split must be one of"):
        dataclasses.replace(TASKS["dates"], validation_split="test")
