"""python -m bench.hub_model: a Hub translation model and a bundled checkpoint side by side (here at a small size)."""

from __future__ import annotations

import re

import pytest
import torch

from bench import hub_model


@pytest.fixture(autouse=True)
def small(monkeypatch):
    """opus-mt-en-fr's configuration, shrunk: the same code, a second instead of a minute."""
    config = dict(hub_model.OPUS_MT_EN_FR, d_model=32, encoder_layers=1, decoder_layers=1, encoder_ffn_dim=64,
                  decoder_ffn_dim=64, vocab_size=1000, decoder_vocab_size=1000, pad_token_id=999,
                  decoder_start_token_id=999, bad_words_ids=[[999]])
    monkeypatch.setattr(hub_model, "OPUS_MT_EN_FR", config)
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


@pytest.mark.slow  # builds a model, trains two tokenizers and writes safetensors: seconds on a busy machine
def test_both_sides_print_their_time_and_the_ratio(capsys):
    hub_model.main(["--rounds", "1", "--steps", "3", "--source", "6"])
    out = capsys.readouterr().out
    rows = {line[:42].strip(): line[42:].split() for line in out.splitlines() if line.startswith(("translate", "gen"))}
    assert set(rows) == {"translate, greedy", "translate, beam 4", "generate(), greedy, nothing recorded",
                         "generate(num_beams=4), nothing recorded"}
    assert rows["translate, greedy"][-1].endswith("x") and rows["translate, beam 4"][-1].endswith("x")
    pieces = int(re.search(r"input of (\d+) pieces, 3 written", out).group(1))
    assert pieces >= 6  # the shortest run of whole words with at least --source pieces
    assert "open from the cache (hub_translation.load" in out
