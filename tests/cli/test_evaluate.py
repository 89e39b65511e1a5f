"""python -m s2s.cli.evaluate: reports, the side-by-side table, and every refusal in one line."""

import pytest

from s2s.cli import evaluate as cli


def test_evaluate_refuses_what_it_cannot_score_in_one_line(tmp_path, capsys):
    """A missing file, and one source longer than the checkpoint reads, were tracebacks (review of 2026-11-29)."""
    assert cli.main(["dates", "--data", str(tmp_path / "missing.tsv")]) == 2
    assert "No such file" in capsys.readouterr().err
    data = tmp_path / "long.tsv"
    data.write_text("3 March 2021\t2021-03-03\n" + "1 " * 60 + "\t2021-03-03\n")  # within the TSV limit
    assert cli.main(["dates", "--data", str(data)]) == 2
    err = capsys.readouterr().err
    assert "long.tsv, pair 2 ('1 1 1 1 1 1 1 1 1 1 '...): The input is too long" in err and "Traceback" not in err
    with pytest.raises(SystemExit):
        cli.main(["dates", "--n", "-5"])  # was "0.0% on 0 examples"
    assert "--n must be 1 or more" in capsys.readouterr().err


def test_a_report_and_a_comparison_of_bundled_checkpoints(capsys):
    assert cli.main(["reverse", "--n", "30"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("reverse: exact match ") and "on 30 examples, mask bidirectional" in out
    assert "most-attended piece is the aligned one: layer 0" in out
    assert cli.main(["reverse-noattn", "reverse", "--n", "30", "--compare", "--mask", "causal"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["length", "reverse-noattn", "reverse"] and lines[-1].startswith("all")


def test_a_checkpoint_of_your_own_pairs_needs_data(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(cli, "load", lambda name: type("Loaded", (), {"config": {"task": "tsv"}})())
    assert cli.main(["mine"]) == 2
    assert "task 'tsv' is not built in; pass --data" in capsys.readouterr().err
