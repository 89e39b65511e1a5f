"""Training and evaluation commands, and the bars the bundled checkpoints must clear."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

import s2s
from s2s import evaluate, train
from s2s.tasks import TASKS

BARS = {"dates": 0.99, "reverse": 0.97, "toy-fr": 0.97}  # exact match on fresh examples (the bars)
EXPECTED = {"dates", "dates-seed", "dates-causal", "reverse", "reverse-causal", "reverse-noattn", "toy-fr"}
TINY_RUN = ["--task", "dates", "--train-size", "200", "--val-size", "10", "--epochs", "1", "--emb-size", "8",
            "--hidden-size", "8", "--num-layers", "1", "--seed", "2", "--threads", "1"]


def test_tiny_training_run_writes_a_checkpoint_that_loads(tmp_path):
    out = tmp_path / "tiny-dates"
    code = train.main(["--task", "dates", "--out", str(out), "--train-size", "300", "--val-size", "40",
                       "--epochs", "2", "--emb-size", "16", "--hidden-size", "24", "--source-vocab", "330",
                       "--batch-size", "32", "--mask", "causal", "--bridge", "hidden", "--seed", "3"])
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
            "--hidden-size", "8", "--num-layers", "1", "--seed", "5"]
    for name in ("a", "b"):
        assert train.main([*args, "--out", str(tmp_path / name)]) == 0
    assert (tmp_path / "a" / "model.safetensors").read_bytes() == (tmp_path / "b" / "model.safetensors").read_bytes()


def test_bad_training_arguments_are_one_line_errors(tmp_path, capsys):
    with pytest.raises(SystemExit) as refused:  # argparse lists the tasks
        train.main(["--task", "nope", "--out", str(tmp_path / "x")])
    assert refused.value.code == 2 and "invalid choice: 'nope'" in capsys.readouterr().err
    bad = tmp_path / "bad.tsv"
    bad.write_text("no tab here\n")
    assert train.main(["--data", str(bad), "--out", str(tmp_path / "y")]) == 2
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
    assert train.main([*flags, "--out", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err
    assert said in err and "Traceback" not in err and "config.json" not in err and not (tmp_path / "x").exists()


def test_a_run_never_writes_into_the_bundled_folder_unless_told(tmp_path, capsys, monkeypatch):
    """--out defaulted to checkpoints/dates: `--task reverse` replaced the bundled dates (review of 2026-11-29)."""
    from s2s import hub

    bundled = tmp_path / "checkpoints"
    (bundled / "dates").mkdir(parents=True)
    (bundled / "dates" / "config.json").write_text("{}")
    monkeypatch.setattr(hub, "BUNDLED_DIR", bundled)
    monkeypatch.chdir(tmp_path)
    for argv in (["--out", str(bundled / "dates")], ["--out", str(bundled)], ["--out", str(bundled / "dates" / "v2")],
                 ["--recipe", "dates", "--out", str(bundled / "dates")], ["--recipe", "dates", "--out-dir",
                 str(bundled)]):
        assert train.main([*TINY_RUN, *argv]) == 2
        assert "--overwrite-bundled" in capsys.readouterr().err
    assert (bundled / "dates" / "config.json").read_text() == "{}" and len(list(bundled.rglob("*"))) == 2
    assert train.main([*TINY_RUN, "--task", "reverse"]) == 0  # no --out: trained/<task>, beside, not inside
    assert s2s.load(str(tmp_path / "trained" / "reverse")).config["task"] == "reverse"
    train.check_out(train.TrainConfig(out=str(bundled / "dates")), allowed=True)  # told: no refusal


def test_resuming_keeps_the_task_and_mask_the_checkpoint_records(tmp_path, capsys):
    """--resume kept config.json as it was: a dates checkpoint resumed on reverse with a causal mask still said
    dates and bidirectional, so the app ran it with the wrong mask (review of 2026-11-29)."""
    first = tmp_path / "first"
    assert train.main([*TINY_RUN, "--out", str(first)]) == 0
    for other in (["--task", "reverse"], ["--mask", "causal"]):
        assert train.main([*TINY_RUN, *other, "--resume", str(first), "--out", str(tmp_path / "x")]) == 2
        assert "trained on dates with the bidirectional mask" in capsys.readouterr().err
    assert train.main([*TINY_RUN, "--resume", str(first), "--out", str(tmp_path / "again")]) == 0
    assert s2s.load(str(tmp_path / "again")).config["task"] == "dates"


def test_a_tsv_checkpoint_from_before_tsv_was_a_task_resumes(tmp_path):
    """Such checkpoints recorded the file's name as their task ("pairs"); resuming them on their data still works."""
    data = tmp_path / "pairs.tsv"
    data.write_text("".join(f"{w}\t{w[::-1]}\n" for w in ("abc", "de", "fgh", "ij", "klm", "no", "pqr", "st")))
    small = ["--epochs", "1", "--emb-size", "8", "--hidden-size", "8", "--num-layers", "1"]
    assert train.main(["--data", str(data), "--out", str(tmp_path / "old"), *small]) == 0
    config = tmp_path / "old" / "config.json"
    config.write_text(json.dumps(json.loads(config.read_text()) | {"task": "pairs"}))  # as it was recorded then
    assert train.main(["--data", str(data), "--resume", str(tmp_path / "old"), "--out", str(tmp_path / "new"),
                       *small]) == 0


def test_your_own_pairs_never_pass_for_a_built_in_task(tmp_path):
    """A TSV named dates.tsv recorded the task "dates", and evaluate then scored the model on generated dates."""
    data = tmp_path / "dates.tsv"
    data.write_text("".join(f"{w}\t{w[::-1]}\n" for w in ("abc", "de", "fgh", "ij", "klm", "no", "pqr", "st")))
    assert train.main(["--data", str(data), "--out", str(tmp_path / "mine"), "--epochs", "1", "--emb-size", "8",
                       "--hidden-size", "8", "--num-layers", "1"]) == 0
    assert s2s.load(str(tmp_path / "mine")).config["task"] == "tsv"
    assert "trained on the pairs of `dates.tsv`" in (tmp_path / "mine" / "README.md").read_text()


@pytest.mark.parametrize("schedule, epochs_run", [("plateau-token", 6), ("plateau-exact", 3)])
def test_early_stopping_waits_while_token_accuracy_rises(tmp_path, monkeypatch, schedule, epochs_run):
    """Exact match scripted at 0 for 6 epochs while token accuracy rises: plateau-token runs them all; plateau-exact
    (the bundled recipes') stops once patience (2) epochs pass without a better exact match: 1 + 2 epochs."""
    figures = iter([{"exact_match": 0.0, "token_accuracy": 0.1 * k} for k in range(1, 7)])
    measured = train.Trainer.validate
    monkeypatch.setattr(train.Trainer, "validate", lambda self, alignment=False: measured(self, alignment) | next(
        figures, {"exact_match": 0.0, "token_accuracy": 0.6}))
    cfg = train.parse_args([*TINY_RUN, "--epochs", "6", "--patience", "2", "--schedule", schedule,
                            "--out", str(tmp_path / "x")])
    assert train.train(cfg)["epochs"] == epochs_run


def test_the_time_cap_ends_the_epoch_under_way(tmp_path):
    """--max-minutes was checked at the end of each epoch: 0.1 minutes trained for 0.5. Now after every batch:
    a cap already passed after the first batch ends the run there, with that batch's examples only."""
    assert train.main([*TINY_RUN, "--batch-size", "16", "--max-minutes", "1e-9", "--epochs", "3",
                       "--out", str(tmp_path / "x")]) == 0
    history = json.loads((tmp_path / "x" / "metrics.json").read_text())["history"]
    assert len(history) == 1 and 1 <= history[0]["examples"] <= 16  # one batch (a block's last may be short), of 200


def test_evaluate_refuses_what_it_cannot_score_in_one_line(tmp_path, capsys):
    """A missing file, and one source longer than the checkpoint reads, were tracebacks (review of 2026-11-29)."""
    assert evaluate.main(["dates", "--data", str(tmp_path / "missing.tsv")]) == 2
    assert "No such file" in capsys.readouterr().err
    data = tmp_path / "long.tsv"
    data.write_text("3 March 2021\t2021-03-03\n" + "1 " * 60 + "\t2021-03-03\n")  # within the TSV limit
    assert evaluate.main(["dates", "--data", str(data)]) == 2
    err = capsys.readouterr().err
    assert "long.tsv, pair 2 ('1 1 1 1 1 1 1 1 1 1 '...): The input is too long" in err and "Traceback" not in err
    with pytest.raises(SystemExit):
        evaluate.main(["dates", "--n", "-5"])  # was "0.0% on 0 examples"
    assert "--n must be 1 or more" in capsys.readouterr().err


def test_metrics():
    assert evaluate.exact_match(["a", "b", "c"], ["a", "x", "c"]) == pytest.approx(2 / 3)
    assert evaluate.token_accuracy([[1, 2, 3], [4]], [[1, 9, 3], [4, 5]]) == pytest.approx(3 / 5)
    assert [evaluate.bucket_of(n) for n in (3, 5, 6, 30, 31, 99)] == ["1-5", "1-5", "6-10", "26-30", "31-40", "61+"]


class FakeTranslation:
    def __init__(self, source_tokens, output_tokens, attention):
        self.source_tokens, self.output_tokens, self.attention = source_tokens, output_tokens, attention
        self.num_layers = attention.shape[0]


def test_alignment_is_checked_against_the_known_positions():
    src, out = ["a", "▁b", "▁c", "</s>"], ["c", "▁b", "▁a", "</s>"]
    anti = np.zeros((1, 4, 4), dtype=np.float32)
    for t, j in enumerate([2, 1, 0, 3]):
        anti[0, t, j] = 1
    assert evaluate.aligned_positions(FakeTranslation(src, out, anti), "reverse") == [(0, 2), (1, 1), (2, 0)]
    assert evaluate.alignment_hits(FakeTranslation(src, out, anti), "reverse").all()
    diagonal = np.eye(4, dtype=np.float32)[None]
    assert evaluate.alignment_hits(FakeTranslation(src, out, diagonal), "reverse").mean() < 0.5
    date_src = ["3", "▁March", "▁", "2", "0", "2", "1", "</s>"]
    date_out = ["2", "0", "2", "1", "-", "0", "3", "-", "0", "3", "</s>"]
    pairs = evaluate.aligned_positions(FakeTranslation(date_src, date_out, np.zeros((1, 11, 8))), "dates")
    assert pairs == [(0, 3), (1, 4), (2, 5), (3, 6)]


def test_compare_table_lists_each_checkpoint_by_length():
    results = [{"exact_match": 0.5, "by_length": {"1-5": {"n": 2, "exact_match": 1.0}}},
               {"exact_match": 1.0, "by_length": {"1-5": {"n": 2, "exact_match": 1.0},
                                                  "6-10": {"n": 2, "exact_match": 0.0}}}]
    table = evaluate.format_comparison(["noattn", "attn"], results)
    lines = table.splitlines()
    assert "noattn" in lines[0] and "attn" in lines[0]
    assert lines[3].split() == ["6-10", "-", "0.0%"] and lines[-1].split() == ["all", "50.0%", "100.0%"]


def test_every_bundled_checkpoint_is_there_and_loads_offline(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert EXPECTED <= set(s2s.list_checkpoints())
    for name in EXPECTED:
        model = s2s.load(name, device="cpu")
        assert model.config["task"] in TASKS and model.translate("3 March 2021").output_tokens


@pytest.mark.parametrize("name", sorted(BARS))
def test_bundled_checkpoint_clears_its_bar(name):
    model = s2s.load(name, device="cpu")
    task = model.config["task"]
    pairs = TASKS[task].generate(300, evaluate.DEFAULT_SEED, split="heldout" if task == "toy-fr" else None)
    result = evaluate.evaluate(model, pairs, alignment=False)
    assert result["exact_match"] >= BARS[name], f"{name}: {result['exact_match']:.1%} < {BARS[name]:.0%}"


def test_attention_beats_no_attention_on_long_reversals():
    long_pairs = [p for p in TASKS["reverse"].generate(400, evaluate.DEFAULT_SEED) if len(p[0].split()) >= 21][:100]
    scores = {name: evaluate.evaluate(s2s.load(name, device="cpu"), long_pairs, alignment=False)["exact_match"]
              for name in ("reverse", "reverse-noattn")}
    assert scores["reverse"] > scores["reverse-noattn"] + 0.3, scores


def test_alignment_one_piece_to_the_right_is_counted_apart():
    src, out = ["a", "▁b", "▁c", "</s>"], ["c", "▁b", "▁a", "</s>"]
    shifted = np.zeros((1, 4, 4), dtype=np.float32)
    for t, j in enumerate([3, 2, 1, 0]):
        shifted[0, t, j] = 1
    r = FakeTranslation(src, out, shifted)
    assert not evaluate.alignment_hits(r, "reverse").any()
    assert evaluate.alignment_hits(r, "reverse", offset=1).all()


def test_batch_size_and_learning_rate_follow_the_device():
    import torch

    cfg = train.TrainConfig()
    assert train.batch_size_for(cfg, torch.device("cpu")) == train.DEFAULT_BATCH["cpu"]
    assert train.batch_size_for(train.TrainConfig(batch_size=32), torch.device("cuda")) == 32
    assert train.scaled_lr(cfg, 64) == pytest.approx(3e-3) and train.scaled_lr(cfg, 256) == pytest.approx(6e-3)
    assert train.scaled_lr(train.TrainConfig(lr_scaling="linear"), 256) == pytest.approx(1.2e-2)
    assert train.scaled_lr(train.TrainConfig(lr_scaling="none"), 256) == pytest.approx(3e-3)
    with pytest.raises(ValueError, match="schedule"):
        train.TrainConfig(schedule="cosine")



def test_amp_runs_the_encoder_in_bfloat16_on_the_cpu_too_and_metrics_record_what_ran(tmp_path):
    assert train.main([*TINY_RUN, "--out", str(tmp_path / "plain"), "--device", "cpu"]) == 0
    assert train.main([*TINY_RUN, "--out", str(tmp_path / "amp"), "--device", "cpu", "--amp"]) == 0
    weights = [load_file(tmp_path / name / "model.safetensors") for name in ("plain", "amp")]
    assert weights[0].keys() == weights[1].keys()
    assert all(w.dtype == torch.float32 for w in weights[1].values())  # bfloat16 computes; the weights stay float32
    assert any(not torch.equal(weights[0][k], weights[1][k]) for k in weights[0])
    assert json.loads((tmp_path / "amp" / "metrics.json").read_text())["settings"]["amp"] is True
    metrics = json.loads((tmp_path / "plain" / "metrics.json").read_text())
    settings = metrics["settings"]
    assert settings["batch_size"] == train.DEFAULT_BATCH["cpu"] and settings["emb_size"] == 8  # resolved, flat
    assert metrics["lr_used"] == pytest.approx(train.scaled_lr(train.TrainConfig(), settings["batch_size"]))
    assert {"loss", "lr", "examples_per_s"} <= set(metrics["history"][0])


def test_asking_for_cuda_without_it_is_a_one_line_error(tmp_path, capsys, monkeypatch):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)  # the same on a machine that has one
    assert train.main([*TINY_RUN, "--out", str(tmp_path / "x"), "--device", "cuda"]) == 2
    assert "no CUDA device is present" in capsys.readouterr().err


def test_a_settings_record_trains_the_same_run_again(tmp_path):
    """metrics.json's settings, fed back as flags, give the same weights (what recipes rely on)."""
    assert train.main([*TINY_RUN, "--out", str(tmp_path / "a"), "--batch-size", "16"]) == 0
    settings = json.loads((tmp_path / "a" / "metrics.json").read_text())["settings"]
    assert train.train(train.config_from_flags(settings | {"out": str(tmp_path / "b")}))
    assert (tmp_path / "a" / "model.safetensors").read_bytes() == (tmp_path / "b" / "model.safetensors").read_bytes()


def test_your_own_data_at_its_longest_lines_and_widest_alphabet_trains_a_checkpoint_that_loads(tmp_path, capsys):
    """Lines of MAX_PAIR_CHARS characters, with upper and lower case and digits (65 characters with the
    space and accents: more than a 320-piece vocabulary had room for), train a checkpoint this app loads
    (its lengths within checkpoint.LIMITS), and one character more is refused before any training."""
    import random
    import string

    from s2s.tasks import MAX_PAIR_CHARS

    alphabet = string.ascii_letters + string.digits + "éà "
    rng = random.Random(0)
    lines = ["".join(rng.choice(alphabet) for _ in range(MAX_PAIR_CHARS)).replace(" ", "x") for _ in range(24)]
    data = tmp_path / "mine.tsv"
    data.write_text("".join(f"{s}\t{s[::-1]}\n" for s in lines) + "a b\tb a\n", encoding="utf-8")
    out = tmp_path / "mine"
    assert train.main(["--data", str(data), "--out", str(out), "--epochs", "1", "--emb-size", "8",
                       "--hidden-size", "8", "--num-layers", "1", "--val-size", "2"]) == 0
    model = s2s.load(str(out))  # within checkpoint.LIMITS, or load would refuse it
    assert model.config["max_source_len"] >= MAX_PAIR_CHARS + 1
    assert model.translate(lines[0]).text is not None  # a line as long as any reads
    data.write_text(data.read_text(encoding="utf-8") + "x" * (MAX_PAIR_CHARS + 1) + "\ty\n", encoding="utf-8")
    capsys.readouterr()
    assert train.main(["--data", str(data), "--out", str(tmp_path / "longer")]) == 2
    assert f"line 26: the source has {MAX_PAIR_CHARS + 1} characters" in capsys.readouterr().err


def test_a_validation_pair_longer_than_every_training_pair_is_read_whole():
    """Lengths came from the training pairs alone, so a longer validation pair failed the run at its first check
    ("The input is too long: 101 pieces, and this checkpoint reads at most 64"; review of 2026-11-29)."""
    long = ("cdefghijklmnopqrstuvwxyz" * 5)[:100]  # letters the training pairs lack: read as their bytes
    short = [(w, w[::-1]) for w in ("ab", "ba", "abab", "bab") * 5]
    cfg = train.TrainConfig(network=train.ModelConfig(0, 0, emb_size=8, hidden_size=8, num_layers=1))
    start = train.build_or_resume(cfg, short, "cpu", [(long, long)])
    source_tok, config = start.source_tok, start.config
    pieces = len(source_tok.encode(long)) + 1  # and </s>
    assert pieces > 64 and config["max_source_len"] >= pieces
