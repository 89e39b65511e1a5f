"""python -m s2s.bench: the training case runs the old loop and the new one side by side."""

from __future__ import annotations

import pytest
import torch

from s2s import bench, train


@pytest.fixture(autouse=True)
def small(monkeypatch):
    monkeypatch.setattr(bench, "TRAIN_EXAMPLES", 400)
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


def test_training_case_prints_both_loops_and_their_ratio(capsys):
    bench.main(["--case", "training", "--seconds", "0.2", "--train-rounds", "1", "--device", "cuda",
                "--train-batch", "128"])
    out = capsys.readouterr().out
    rows = {line.split(":")[1].rsplit(None, 2)[0].strip(): line.split()[-2:]
            for line in out.splitlines() if line.startswith("CPU: ")}
    default = train.DEFAULT_BATCH["cpu"]
    assert set(rows) == {"old, batch 64", f"new, batch {default}, autograd decoder",
                         f"new, batch {default} (default), fused decoder",
                         f"new, batch {default}, fused, --amp (bf16 encoder)", "new, batch 128"}
    assert rows["old, batch 64"][1] == "1.00x"
    assert all(float(speed) > 0 and ratio.endswith("x") for speed, ratio in rows.values())
    if not torch.cuda.is_available():
        assert "no CUDA device is present" in out


def test_the_old_loop_draws_the_batches_the_new_one_draws():
    """The baseline copy and s2s.train.batches cut the same examples into the same batches for a seed."""
    import random

    examples = [([5] * (1 + i % 4) + [2], [6] * (1 + i % 3) + [2]) for i in range(50)]
    old = list(bench.OldLoop.batches(examples, 8, random.Random(3), "cpu"))
    new = list(train.batches(train.to_blocks(examples, "cpu"), 8, random.Random(3)))
    assert len(old) == len(new)
    for (s1, l1, t1), (s2, l2, t2) in zip(old, new):
        assert torch.equal(s1, s2) and torch.equal(l1, l2) and torch.equal(t1, t2)
