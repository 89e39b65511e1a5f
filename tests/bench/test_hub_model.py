"""python -m bench.hub_model: a Hub translation model and a bundled checkpoint side by side (here at a small size)."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
import torch
from huggingface_hub import constants

from bench import app as bench_app
from bench import hub_model
from bench import load as bench_load
from bench.server import sentence
from s2s import hub_translation
from s2s.web import models, runs


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


@pytest.mark.slow  # trains two tokenizers and writes safetensors
def test_the_offline_cache_opens_in_the_page_by_name_with_no_hub(monkeypatch, tmp_path):
    """bench.app --opus-sized: the app opens the model by its name from the Hub cache made here, offline, through
    the page's own path (s2s.web.models, as for a real repo), and every translate writes --steps pieces."""
    for name in ("HF_HUB_OFFLINE", "HF_HUB_CACHE", "S2S_MT_MAX_TARGET"):  # offline_cache sets them: restored after
        monkeypatch.setenv(name, os.environ.get(name, ""))
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", constants.HF_HUB_OFFLINE)
    monkeypatch.setattr(constants, "HF_HUB_CACHE", constants.HF_HUB_CACHE)
    monkeypatch.setattr(hub_translation, "MAX_TARGET_PIECES", hub_translation.MAX_TARGET_PIECES)
    monkeypatch.setattr(models, "CACHE", models.new_cache())
    monkeypatch.setattr(models, "HUB_WAIT_S", 60.0)
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")  # nothing there: any request to a Hub would fail
    environment = hub_model.offline_cache(tmp_path, 7)
    assert environment == {"HF_HUB_OFFLINE": "1", "HF_HUB_CACHE": str(tmp_path), "S2S_MT_MAX_TARGET": "7"}
    assert {name: os.environ[name] for name in environment} == environment  # what the servers started here inherit
    r = runs.run(runs.Settings(sentence(0), hub_model.REPO_ID))
    assert r.family == "marian" and len(r.output_pieces) == 7
    assert r.source_pieces[:4] == ["▁The", "▁European", "▁Economic", "▁Area"]  # whole words, as opus-mt's pieces
    config = models.get_model(hub_model.REPO_ID).translator.config
    assert config["languages"] == ["en", "fr"] and config["hidden_size"] == 32  # the shrunk configuration


@pytest.mark.slow  # trains two tokenizers and writes safetensors
def test_the_app_benchmark_hands_the_opus_sized_model_to_the_load_run(monkeypatch):
    """python -m bench.app --opus-sized --clients N: the load run gets the model's name, and the servers it starts
    meanwhile the offline cache's environment."""
    for name in ("HF_HUB_OFFLINE", "HF_HUB_CACHE", "S2S_MT_MAX_TARGET"):
        monkeypatch.setenv(name, os.environ.get(name, ""))
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", constants.HF_HUB_OFFLINE)
    monkeypatch.setattr(constants, "HF_HUB_CACHE", constants.HF_HUB_CACHE)
    monkeypatch.setattr(hub_translation, "MAX_TARGET_PIECES", hub_translation.MAX_TARGET_PIECES)
    seen = []

    def run(args):
        cache = Path(os.environ["HF_HUB_CACHE"])
        seen.append((args.hub_model, os.environ["HF_HUB_OFFLINE"], os.environ["S2S_MT_MAX_TARGET"],
                     (cache / "models--bench--opus-mt-en-fr-sized" / "refs" / "main").is_file()))
        return 0

    monkeypatch.setattr(bench_load, "run", run)
    assert bench_app.main(["--opus-sized", "--steps", "5", "--clients", "3", "--seconds", "2"]) == 0
    assert seen == [(hub_model.REPO_ID, "1", "5", True)]
