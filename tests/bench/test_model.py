"""python -m bench.model: the training case runs the old loop and the new one side by side; the inference case
times real translations on each device."""

from __future__ import annotations

import pytest
import torch

from bench import model as bench
from s2s import checkpoint
from s2s.tasks import TASKS
from s2s.training.config import DEFAULT_BATCH
from s2s.training.data import batches, to_blocks


@pytest.fixture(autouse=True)
def small(monkeypatch):
    monkeypatch.setattr(bench, "TRAIN_EXAMPLES", 400)
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


@pytest.mark.slow  # trains both loops for rounds
def test_training_case_prints_both_loops_and_their_ratio(capsys):
    bench.main(["--case", "training", "--seconds", "0.2", "--train-rounds", "1", "--device", "cuda",
                "--train-batch", "128"])
    out = capsys.readouterr().out
    rows = {line.split(":")[1].rsplit(None, 2)[0].strip(): line.split()[-2:]
            for line in out.splitlines() if line.startswith("CPU: ")}
    default = DEFAULT_BATCH["cpu"]
    assert set(rows) == {"old, batch 64", f"new, batch {default}, autograd decoder",
                         f"new, batch {default} (default), fused decoder",
                         f"new, batch {default}, fused, --amp (bf16 encoder)", "new, batch 128",
                         "transformer, batch 64", "transformer, batch 128"}  # beside the LSTM, batch by batch
    assert rows["old, batch 64"][1] == "1.00x"
    assert all(float(speed) > 0 and ratio.endswith("x") for speed, ratio in rows.values())
    if not torch.cuda.is_available():
        assert "no CUDA device is present" in out


def test_the_old_loop_draws_the_batches_the_new_one_draws():
    """The baseline copy and s2s.training.data.batches cut the same examples into the same batches for a seed."""
    import random

    examples = [([5] * (1 + i % 4) + [2], [6] * (1 + i % 3) + [2]) for i in range(50)]
    old = list(bench.OldLoop.batches(examples, 8, random.Random(3), "cpu"))
    new = list(batches(to_blocks(examples, "cpu"), 8, random.Random(3)))
    assert len(old) == len(new)
    for (s1, l1, t1), (s2, l2, t2) in zip(old, new):
        assert torch.equal(s1, s2) and torch.equal(l1, l2) and torch.equal(t1, t2)


@pytest.mark.slow  # times real translations
def test_the_inference_case_times_real_translations():
    """The calls it times give the right answers (the task's own targets, the letters reversed by hand)."""
    translators = {name: checkpoint.load(checkpoint.BUNDLED_DIR / name, device="cpu")
                   for name in ("dates", "reverse", "dates-transformer")}
    inputs = bench.inference_inputs()
    calls = bench.inference_calls(inputs)
    dates = dict(TASKS["dates"].generate(20, seed=7))
    assert len(inputs["reverse"]) == 20 and all(len(s.split()) == 30 for s in inputs["reverse"])
    right = [calls["translate, dates, greedy"](translators, i).text == dates[inputs["dates"][i]] for i in range(20)]
    right += [calls["translate, dates, beam 4"](translators, i).text == dates[inputs["dates"][i]] for i in range(20)]
    right += [calls[f"translate, dates-transformer, {how}"](translators, i).text == dates[inputs["dates"][i]]
              for i in range(20) for how in ("greedy", "beam 4")]
    right += [calls["translate, reverse, 30 letters, greedy"](translators, i).text
              == " ".join(reversed(inputs["reverse"][i].split())) for i in range(20)]
    batch = calls[f"translate_batch, dates, {bench.INFERENCE_BATCH} inputs, greedy"](translators, 0)
    assert len(batch) == bench.INFERENCE_BATCH
    assert sum(right) >= 95 and batch[0].text == translators["dates"].translate(inputs["batch"][0]).text


@pytest.mark.slow  # times real translations
def test_the_inference_case_prints_each_device_beside_the_cpu(capsys):
    bench.main(["--case", "inference", "--rounds", "2", "--device", "cuda"])
    out = capsys.readouterr().out
    rows = [line for line in out.splitlines() if line.startswith("translate")]
    assert len(rows) == 6 and all(float(row.split()[-2]) > 0 for row in rows)
    if not torch.cuda.is_available():
        assert "no CUDA device is present" in out
    # a second device's column and its ratio, shown here with the CPU twice
    two = bench.inference_case([torch.device("cpu"), torch.device("cpu")], rounds=2)
    assert two[0].split()[-4:] == ["CPU", "CPU", "vs", "CPU"]
    assert all(row.rstrip().endswith("x") and float(row.split()[-1][:-1]) > 0 for row in two[1:])
