"""s2s/training/data.py: the one pair loader (a task's split, your own pairs shuffled and split), and the batches."""

import random
from collections import Counter

import pytest
import torch

from s2s.tasks import TASKS, split_of
from s2s.tokenizer import EOS_ID, PAD_ID
from s2s.training.config import TrainConfig
from s2s.training.data import Pairs, batches, load_pairs, to_blocks


def test_a_task_trains_on_its_pairs_and_validates_on_its_validation_split():
    """toy-fr validates on held-out sentences (none of them trained on), drawn with the next seed."""
    pairs = load_pairs(TrainConfig(task="toy-fr", train_size=300, val_size=60, seed=4))
    assert isinstance(pairs, Pairs) and len(pairs.train) == 300 and len(pairs.validation) == 60
    assert pairs.train == TASKS["toy-fr"].generate(300, 4)
    assert all(split_of(source) == "train" for source, _ in pairs.train)
    assert all(split_of(source) == "heldout" for source, _ in pairs.validation)
    assert pairs.validation == TASKS["toy-fr"].generate(60, 5, split="heldout")
    dates = load_pairs(TrainConfig(task="dates", train_size=50, val_size=20, seed=4))
    assert dates.validation == TASKS["dates"].generate(20, 5, split="all")  # dates validates on any date


def test_your_own_pairs_are_shuffled_by_the_seed_and_a_tenth_validates():
    own = [(f"s{i}", f"t{i}") for i in range(95)]
    pairs = load_pairs(TrainConfig(val_size=1000, seed=3), own)
    assert len(pairs.validation) == 9 and sorted(pairs.train + pairs.validation) == sorted(own)
    assert pairs.train + pairs.validation != own  # shuffled ...
    assert load_pairs(TrainConfig(val_size=1000, seed=3), own) == pairs  # ... the same way for a seed
    assert load_pairs(TrainConfig(val_size=1000, seed=4), own) != pairs
    assert len(load_pairs(TrainConfig(val_size=4), own).validation) == 4  # at most val_size
    assert len(load_pairs(TrainConfig(), own[:5]).validation) == 1  # at least one
    with pytest.raises(ValueError, match="training needs at least 2"):
        load_pairs(TrainConfig(), own[:1])


def test_a_tsv_file_is_read_and_split_as_pairs_given(tmp_path):
    data = tmp_path / "mine.tsv"
    data.write_text("".join(f"s{i}\tt{i}\n" for i in range(30)))
    read = load_pairs(TrainConfig(data=str(data), seed=1))
    assert read == load_pairs(TrainConfig(seed=1), [(f"s{i}", f"t{i}") for i in range(30)])


def test_an_unknown_task_is_refused():
    with pytest.raises(ValueError, match="task must be one of dates, reverse, reverse-short, toy-fr; got 'nope'"):
        load_pairs(TrainConfig(task="nope"))


def test_each_batch_has_one_source_length_and_an_epoch_holds_every_example_once():
    rng = random.Random(0)
    examples = [([5] * rng.randint(1, 4) + [EOS_ID], [6] * rng.randint(1, 5) + [EOS_ID]) for _ in range(40)]
    blocks = to_blocks(examples, "cpu")
    assert sorted(len(b.target_lengths) for b in blocks) == sorted(Counter(len(s) for s, _ in examples).values())
    seen = Counter()
    for source, lengths, target in batches(blocks, 3, random.Random(1)):
        assert source.shape[0] <= 3 and (lengths == source.shape[1]).all()
        widths = (target != PAD_ID).sum(1)
        for row, width in zip(target.tolist(), widths.tolist()):
            assert row[width - 1] == EOS_ID and set(row[width:]) <= {PAD_ID}  # each target whole, then padding
        assert widths.max() == target.shape[1]  # the batch as wide as its widest target
        seen.update((tuple(s), tuple(t[:w])) for s, t, w in zip(source.tolist(), target.tolist(), widths.tolist()))
    assert seen == Counter((tuple(s), tuple(t)) for s, t in examples)
    again = [b.source for b in batches(blocks, 3, random.Random(1))]
    assert all(torch.equal(a, b.source) for a, b in zip(again, batches(blocks, 3, random.Random(1))))
