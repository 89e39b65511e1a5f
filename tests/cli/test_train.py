"""python -m s2s.cli.train: plain runs, recipes, and every refusal in one line (exit code 2, no traceback)."""

from __future__ import annotations

import json
import os
import random
import string
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

import s2s
from s2s import checkpoint
from s2s.cli import train as cli
from s2s.evaluate import evaluate
from s2s.model import build_model
from s2s.tasks import MAX_PAIR_CHARS, TASKS
from s2s.training import recipes
from s2s.training.config import DEFAULT_BATCH, TrainConfig, config_from_flags, scaled_lr
from s2s.training.trainer import sequence_loss, train
from s2s.translator import Translator

ROOT = Path(__file__).resolve().parents[2]
TINY_RUN = ["--task", "dates", "--train-size", "200", "--val-size", "10", "--epochs", "1", "--emb-size", "8",
            "--hidden-size", "8", "--num-layers", "1", "--seed", "2", "--threads", "1"]
RECIPE_TINY = ["--train-size", "1500", "--val-size", "60", "--epochs", "1", "--batch-size", "16", "--emb-size", "16",
               "--hidden-size", "32", "--threads", "1"]


def test_help_lists_every_flag(capsys):
    with pytest.raises(SystemExit) as done:
        cli.main(["--help"])
    out = capsys.readouterr().out
    assert done.value.code == 0 and out.startswith("usage: python -m s2s.cli.train")
    for flag in ("--task", "--data", "--score", "--encoder", "--recipe", "--all", "--overwrite-bundled", "--no-fused"):
        assert flag in out


def test_tiny_training_run_writes_a_checkpoint_that_loads(tmp_path):
    out = tmp_path / "tiny-dates"
    code = cli.main(["--task", "dates", "--out", str(out), "--train-size", "300", "--val-size", "40",
                       "--epochs", "2", "--emb-size", "16", "--hidden-size", "24", "--source-vocab", "330",
                       "--batch-size", "32", "--mask", "causal", "--bridge", "hidden", "--seed", "3", "--threads", "1"])
    assert code == 0
    model = s2s.load(str(out))
    assert model.config["trained_mask"] == "causal" and model.config["bridge"] == "hidden"
    r = model.translate("3 March 2021")
    np.testing.assert_allclose(r.attention.sum(-1), 1.0, atol=1e-5)
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["epochs"] == 2 and len(metrics["history"]) == 2 and 0 <= metrics["exact_match"] <= 1
    card = (out / "README.md").read_text()
    assert "library_name: s2s-attention-explorer" in card and "causal" in card and "min on" in card


def test_training_is_deterministic_for_a_seed(tmp_path):
    args = ["--task", "reverse", "--train-size", "120", "--val-size", "10", "--epochs", "1", "--emb-size", "8",
            "--hidden-size", "8", "--num-layers", "1", "--seed", "5", "--threads", "1"]
    for name in ("a", "b"):
        assert cli.main([*args, "--out", str(tmp_path / name)]) == 0
    assert (tmp_path / "a" / "model.safetensors").read_bytes() == (tmp_path / "b" / "model.safetensors").read_bytes()


def test_bad_training_arguments_are_one_line_errors(tmp_path, capsys):
    with pytest.raises(SystemExit) as refused:  # argparse lists the tasks
        cli.main(["--task", "nope", "--out", str(tmp_path / "x")])
    assert refused.value.code == 2 and "invalid choice: 'nope'" in capsys.readouterr().err
    bad = tmp_path / "bad.tsv"
    bad.write_text("no tab here\n")
    assert cli.main(["--data", str(bad), "--out", str(tmp_path / "y")]) == 2
    assert "line 1" in capsys.readouterr().err


@pytest.mark.parametrize("flags, said", [
    (["--epochs", "0"], "epochs must be 1 or more"),  # was a TypeError from load_state_dict(None)
    (["--train-size", "0"], "train_size must be 1 or more"),  # was sentencepiece's "!sentences_.empty()"
    (["--val-size", "0"], "val_size must be 1 or more"),  # was "0.0% on 0 examples"
    (["--max-minutes", "0"], "max_minutes must be more than 0"),
    (["--data", "ONE_LINE"], "training needs at least 2"),  # sentencepiece again: no pair left to train on
    (["--hidden-size", "0"], "would make a checkpoint that cannot be loaded: hidden_size must be"),  # "config.json:"
])
def test_runs_that_cannot_train_are_refused_in_one_line(tmp_path, capsys, flags, said):
    one_line = tmp_path / "one.tsv"
    one_line.write_text("a b\tb a\n")
    flags = [str(one_line) if flag == "ONE_LINE" else flag for flag in flags]
    assert cli.main([*flags, "--out", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err
    assert said in err and "Traceback" not in err and "config.json" not in err and not (tmp_path / "x").exists()


def test_a_run_never_writes_into_the_bundled_folder_unless_told(tmp_path, capsys, monkeypatch):
    """--out defaulted to checkpoints/dates: `--task reverse` replaced the bundled dates (review of 2026-11-29)."""
    bundled = tmp_path / "checkpoints"
    (bundled / "dates").mkdir(parents=True)
    (bundled / "dates" / "config.json").write_text("{}")
    monkeypatch.setattr(checkpoint, "BUNDLED_DIR", bundled)
    monkeypatch.chdir(tmp_path)
    for argv in (["--out", str(bundled / "dates")], ["--out", str(bundled)], ["--out", str(bundled / "dates" / "v2")],
                 ["--recipe", "dates", "--out", str(bundled / "dates")], ["--recipe", "dates", "--out-dir",
                 str(bundled)]):
        assert cli.main([*TINY_RUN, *argv]) == 2
        assert "--overwrite-bundled" in capsys.readouterr().err
    assert (bundled / "dates" / "config.json").read_text() == "{}" and len(list(bundled.rglob("*"))) == 2
    assert cli.main([*TINY_RUN, "--task", "reverse"]) == 0  # no --out: trained/<task>, beside, not inside
    assert s2s.load(str(tmp_path / "trained" / "reverse")).config["task"] == "reverse"
    cli.check_out(TrainConfig(out=str(bundled / "dates")), allowed=True)  # told: no refusal


def test_resuming_keeps_the_task_and_mask_the_checkpoint_records(tmp_path, capsys):
    """--resume kept config.json as it was: a dates checkpoint resumed on reverse with a causal mask still said
    dates and bidirectional, so the app ran it with the wrong mask (review of 2026-11-29)."""
    first = tmp_path / "first"
    assert cli.main([*TINY_RUN, "--out", str(first)]) == 0
    for other in (["--task", "reverse"], ["--mask", "causal"]):
        assert cli.main([*TINY_RUN, *other, "--resume", str(first), "--out", str(tmp_path / "x")]) == 2
        assert "trained on dates with the bidirectional mask" in capsys.readouterr().err
    assert cli.main([*TINY_RUN, "--resume", str(first), "--out", str(tmp_path / "again")]) == 0
    assert s2s.load(str(tmp_path / "again")).config["task"] == "dates"


def test_a_tsv_checkpoint_from_before_tsv_was_a_task_resumes(tmp_path):
    """Such checkpoints recorded the file's name as their task ("pairs"); resuming them on their data still works."""
    data = tmp_path / "pairs.tsv"
    data.write_text("".join(f"{w}\t{w[::-1]}\n" for w in ("abc", "de", "fgh", "ij", "klm", "no", "pqr", "st")))
    small = ["--epochs", "1", "--emb-size", "8", "--hidden-size", "8", "--num-layers", "1"]
    assert cli.main(["--data", str(data), "--out", str(tmp_path / "old"), *small]) == 0
    config = tmp_path / "old" / "config.json"
    config.write_text(json.dumps(json.loads(config.read_text()) | {"task": "pairs"}))  # as it was recorded then
    assert cli.main(["--data", str(data), "--resume", str(tmp_path / "old"), "--out", str(tmp_path / "new"),
                       *small]) == 0


def test_your_own_pairs_never_pass_for_a_built_in_task(tmp_path):
    """A TSV named dates.tsv recorded the task "dates", and evaluate then scored the model on generated dates."""
    data = tmp_path / "dates.tsv"
    data.write_text("".join(f"{w}\t{w[::-1]}\n" for w in ("abc", "de", "fgh", "ij", "klm", "no", "pqr", "st")))
    assert cli.main(["--data", str(data), "--out", str(tmp_path / "mine"), "--epochs", "1", "--emb-size", "8",
                       "--hidden-size", "8", "--num-layers", "1"]) == 0
    assert s2s.load(str(tmp_path / "mine")).config["task"] == "tsv"
    assert "trained on the pairs of `dates.tsv`" in (tmp_path / "mine" / "README.md").read_text()


def test_the_time_cap_ends_the_epoch_under_way(tmp_path):
    """--max-minutes was checked at the end of each epoch: 0.1 minutes trained for 0.5. Now after every batch:
    a cap already passed after the first batch ends the run there, with that batch's examples only."""
    assert cli.main([*TINY_RUN, "--batch-size", "16", "--max-minutes", "1e-9", "--epochs", "3",
                       "--out", str(tmp_path / "x")]) == 0
    history = json.loads((tmp_path / "x" / "metrics.json").read_text())["history"]
    assert len(history) == 1 and 1 <= history[0]["examples"] <= 16  # one batch (a block's last may be short), of 200


def test_amp_runs_the_encoder_in_bfloat16_on_the_cpu_too_and_metrics_record_what_ran(tmp_path):
    assert cli.main([*TINY_RUN, "--out", str(tmp_path / "plain"), "--device", "cpu"]) == 0
    assert cli.main([*TINY_RUN, "--out", str(tmp_path / "amp"), "--device", "cpu", "--amp"]) == 0
    weights = [load_file(tmp_path / name / "model.safetensors") for name in ("plain", "amp")]
    assert weights[0].keys() == weights[1].keys()
    assert all(w.dtype == torch.float32 for w in weights[1].values())  # bfloat16 computes; the weights stay float32
    assert any(not torch.equal(weights[0][k], weights[1][k]) for k in weights[0])
    assert json.loads((tmp_path / "amp" / "metrics.json").read_text())["settings"]["amp"] is True
    metrics = json.loads((tmp_path / "plain" / "metrics.json").read_text())
    settings = metrics["settings"]
    assert settings["batch_size"] == DEFAULT_BATCH["cpu"] and settings["emb_size"] == 8  # resolved, flat
    assert metrics["lr_used"] == pytest.approx(scaled_lr(TrainConfig(), settings["batch_size"]))
    assert {"loss", "lr", "examples_per_s"} <= set(metrics["history"][0])


def test_asking_for_cuda_without_it_is_a_one_line_error(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)  # the same on a machine that has one
    assert cli.main([*TINY_RUN, "--out", str(tmp_path / "x"), "--device", "cuda"]) == 2
    assert "no CUDA device is present" in capsys.readouterr().err


def test_a_settings_record_trains_the_same_run_again(tmp_path):
    """metrics.json's settings, fed back as flags, give the same weights (what recipes rely on)."""
    assert cli.main([*TINY_RUN, "--out", str(tmp_path / "a"), "--batch-size", "16"]) == 0
    settings = json.loads((tmp_path / "a" / "metrics.json").read_text())["settings"]
    assert train(config_from_flags(settings | {"out": str(tmp_path / "b")}))
    assert (tmp_path / "a" / "model.safetensors").read_bytes() == (tmp_path / "b" / "model.safetensors").read_bytes()


def test_your_own_data_at_its_longest_lines_and_widest_alphabet_trains_a_checkpoint_that_loads(tmp_path, capsys):
    """Lines of MAX_PAIR_CHARS characters, with upper and lower case and digits (65 characters with the
    space and accents: more than a 320-piece vocabulary had room for), train a checkpoint this app loads
    (its lengths within checkpoint.LIMITS), and one character more is refused before any training."""
    alphabet = string.ascii_letters + string.digits + "éà "
    rng = random.Random(0)
    lines = ["".join(rng.choice(alphabet) for _ in range(MAX_PAIR_CHARS)).replace(" ", "x") for _ in range(24)]
    data = tmp_path / "mine.tsv"
    data.write_text("".join(f"{s}\t{s[::-1]}\n" for s in lines) + "a b\tb a\n", encoding="utf-8")
    out = tmp_path / "mine"
    assert cli.main(["--data", str(data), "--out", str(out), "--epochs", "1", "--emb-size", "8",
                       "--hidden-size", "8", "--num-layers", "1", "--val-size", "2"]) == 0
    model = s2s.load(str(out))  # within checkpoint.LIMITS, or load would refuse it
    assert model.config["max_source_len"] >= MAX_PAIR_CHARS + 1
    assert model.translate(lines[0]).text is not None  # a line as long as any reads
    data.write_text(data.read_text(encoding="utf-8") + "x" * (MAX_PAIR_CHARS + 1) + "\ty\n", encoding="utf-8")
    capsys.readouterr()
    assert cli.main(["--data", str(data), "--out", str(tmp_path / "longer")]) == 2
    assert f"line 26: the source has {MAX_PAIR_CHARS + 1} characters" in capsys.readouterr().err


def test_list_recipes_prints_every_recipe(capsys):
    assert cli.main(["--list-recipes"]) == 0
    out = capsys.readouterr().out
    assert all(name in out for name in recipes.RECIPES) and "reconstructed" in out


def test_recipes_never_write_into_the_bundled_folder_unless_asked(capsys, monkeypatch, tmp_path):
    # a stand-in for checkpoints/: with the guard broken, this test would retrain into the real one
    monkeypatch.setattr(checkpoint, "BUNDLED_DIR", tmp_path / "checkpoints")
    assert cli.main(["--recipe", "dates", "--out-dir", str(tmp_path / "checkpoints"), *RECIPE_TINY]) == 2
    assert "--overwrite-bundled" in capsys.readouterr().err and not (tmp_path / "checkpoints").exists()
    assert cli.main(["--recipe", "nope", "--out-dir", "x"]) == 2
    assert "recipe must be one of" in capsys.readouterr().err


@pytest.mark.slow  # trains a recipe for an epoch
def test_a_recipe_retrained_tiny_for_an_epoch_loads_and_beats_its_untrained_self(tmp_path):
    assert cli.main(["--recipe", "dates-seed", "--out-dir", str(tmp_path), *RECIPE_TINY]) == 0
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
            losses.append(sum(float(sequence_loss(model(torch.tensor([s]), torch.tensor([len(s)]),
                                                              torch.tensor([t])), torch.tensor([t])))
                              for s, t in zip(source_ids, target_ids)))
    assert losses[0] < losses[1], losses


@pytest.mark.slow  # trains two stages
def test_a_two_stage_recipe_resumes_its_first_stage(tmp_path):
    args = ["--recipe", "reverse", "--out-dir", str(tmp_path), *RECIPE_TINY, "--train-size", "200", "--num-layers", "1"]
    assert cli.main(args) == 0
    metrics = json.loads((tmp_path / "reverse" / "metrics.json").read_text())
    assert metrics["settings"]["resume"] == str(tmp_path / "reverse") and metrics["settings"]["forcing_start"] == 0.5
    assert s2s.load(str(tmp_path / "reverse"), device="cpu").translate("a b c").output_pieces


@pytest.mark.slow
def test_a_real_command_line_trains_a_checkpoint_that_loads(tmp_path):
    """`python -m s2s.cli.train` in a process of its own, as a person types it."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = tmp_path / "cli-run"
    done = subprocess.run([sys.executable, "-m", "s2s.cli.train", *TINY_RUN, "--out", str(out)], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert f"wrote {out}" in done.stderr and s2s.load(str(out)).config["task"] == "dates"
    refused = subprocess.run([sys.executable, "-m", "s2s.cli.train", *TINY_RUN, "--epochs", "0"], cwd=tmp_path,
                             env=env, capture_output=True, text=True, timeout=300)
    assert refused.returncode == 2 and refused.stderr == "error: epochs must be 1 or more; got 0\n"


def test_all_retrains_every_stage_of_every_recipe_with_the_flags_given():
    runs = cli.runs_of(["--all", "--out-dir", "again", "--epochs", "2", "--device", "cpu"])
    assert len(runs) == sum(len(stages) for stages in recipes.RECIPES.values())
    assert [run.out for run in runs] == [str(Path("again") / name) for name, stages in recipes.RECIPES.items()
                                         for _ in stages]
    assert all(run.epochs == 2 and run.device == "cpu" for run in runs)  # given: they override each recipe
    assert [run.network.hidden_size for run in runs] == [  # not given: each recipe's own
        stage["hidden_size"] for stages in recipes.RECIPES.values() for stage in stages]
    assert {run.network.hidden_size for run in runs} == {64, 96, 128}
    assert cli.runs_of(["--task", "reverse", "--epochs", "3"]) == [TrainConfig(task="reverse", epochs=3)]
