"""A Transformer through the checkpoint folder and the Translator, and the bundled Transformer checkpoints
measured on inputs generated here, fresh (slow)."""

from __future__ import annotations

import json
import random
import string

import numpy as np
import pytest
import torch

import s2s
from s2s import checkpoint, hub_push, viz
from s2s.errors import CheckpointError
from s2s.evaluate import evaluate, forced_figures
from s2s.tasks import TASKS
from s2s.training import cards
from s2s.translator import ATTENTION_KINDS
from tests.conftest import build_checkpoint
from tests.fake_hub import TOKEN

TINY = dict(model="transformer", hidden_size=16, heads=4, ff_size=24)
BUNDLED = ("dates-transformer", "dates-transformer-unmasked", "reverse-transformer", "toy-fr-transformer")


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return build_checkpoint(tmp_path_factory.mktemp("transformer"), seed=3, **TINY)


@pytest.fixture(scope="module")
def tiny(folder):
    return checkpoint.load(folder, device="cpu")


def test_the_config_names_the_family_and_an_lstm_config_without_its_fields_still_loads(folder):
    config = json.loads((folder / "config.json").read_text())
    assert (config["model"], config["heads"], config["ff_size"], config["decoder_mask"]) == (
        "transformer", 4, 24, "causal")
    lstm = json.loads((checkpoint.BUNDLED_DIR / "dates" / "config.json").read_text())
    assert "heads" not in lstm and "decoder_mask" not in lstm
    r = s2s.load("dates").translate("3 March 2021")
    assert r.family == "lstm" and r.heads == {} and r.head_queries is None


def test_a_round_trip_gives_the_same_translation_and_heads(folder, tiny, tmp_path):
    again = checkpoint.load(checkpoint.save(tmp_path / "again", tiny.model, tiny.source_tokenizer,
                                            tiny.target_tokenizer, tiny.config), device="cpu")
    assert not list((tmp_path / "again").glob("*.bin")) and not list((tmp_path / "again").glob("*.pt"))
    a, b = tiny.translate("21 September 1999", beam_size=3), again.translate("21 September 1999", beam_size=3)
    assert a.output_pieces == b.output_pieces
    for kind in ATTENTION_KINDS:
        np.testing.assert_array_equal(a.heads[kind], b.heads[kind])
    np.testing.assert_array_equal(a.head_values, b.head_values)


@pytest.mark.parametrize("changes, message", [
    (dict(heads=5), "heads must divide its hidden_size"),
    (dict(heads=32), "heads must be a whole number from 1 to 16"),
    (dict(ff_size=0), "ff_size must be a whole number"),
    (dict(decoder_mask="sideways"), "decoder_mask"),
])
def test_a_transformer_config_out_of_bounds_is_refused(folder, tmp_path, changes, message):
    config = json.loads((folder / "config.json").read_text()) | changes
    with pytest.raises(CheckpointError, match=message):
        checkpoint.validate_config(config)


def test_a_translation_names_its_family_and_holds_each_kind_layers_by_heads(tiny):
    r = tiny.translate("3 March 2021", mask="causal")
    steps, width = len(r.output_pieces), len(r.source_pieces)
    assert r.family == "transformer" and tuple(r.heads) == tuple(r.head_scores) == ATTENTION_KINDS
    assert r.heads["cross"].shape == (2, 4, steps, width) and r.heads["decoder_self"].shape == (2, 4, steps, steps)
    assert r.heads["encoder_self"].shape == (2, 4, width, width)
    assert r.head_queries.shape == (2, 4, steps, 4) and r.head_keys.shape == r.head_values.shape == (2, 4, width, 4)
    assert r.queries.shape == r.contexts.shape == (2, steps, 16) and r.encoder_states.shape == (2, width, 16)
    np.testing.assert_allclose(r.attention, r.heads["cross"].mean(1), atol=1e-7)
    np.testing.assert_allclose(r.attention.sum(-1), 1, atol=1e-5)


def test_forcing_with_a_ratio_and_a_seed_draws_the_lstms_coins(tiny):
    """Coin t (one torch.rand from a generator seeded with the seed) decides whether step t + 1 is fed the
    reference, as for the LSTM models; the same seed gives the same run."""
    reference = "1999-09-21"
    for seed in (0, 1, 7):
        r = tiny.translate("21 September 1999", reference=reference, teacher_forcing=0.5, seed=seed)
        coins = torch.Generator().manual_seed(seed)
        expected = [False] + [bool(torch.rand(1, generator=coins) < 0.5) for _ in range(len(r.forced) - 1)]
        assert r.forced.tolist() == expected
        again = tiny.translate("21 September 1999", reference=reference, teacher_forcing=0.5, seed=seed)
        np.testing.assert_array_equal(r.heads["decoder_self"], again.heads["decoder_self"])
    piece = tiny.target_tokenizer.sp.id_to_piece(7)
    fed = tiny.translate("21 September 1999", prefix=[piece]).decoder_inputs
    assert fed[1] == piece


def test_the_forced_figures_are_the_reference_probabilities_of_step_by_step_forcing(tiny):
    pairs = TASKS["dates"].generate(6, seed=5)
    figures = forced_figures(tiny, pairs)
    runs = [tiny.translate(s, reference=t, teacher_forcing=1.0) for s, t in pairs]
    log_probs = np.concatenate([np.log(r.reference_probs) for r in runs])
    assert figures["forced_loss"] == pytest.approx(-log_probs.mean(), rel=1e-4)
    hits = [np.array([top[0] == ref for top, ref in zip(r.top_pieces, r.reference_pieces)]) for r in runs]
    assert figures["forced_token_accuracy"] == pytest.approx(np.concatenate(hits).mean())
    assert figures["forced_exact_match"] == pytest.approx(np.mean([h.all() for h in hits]))


def fresh_reversals(n: int, seed: int) -> list[tuple[str, str]]:
    rng = random.Random(seed)
    letters = ["".join(rng.choices(string.ascii_lowercase, k=rng.randint(20, 30))) for _ in range(n)]
    return [(" ".join(w), " ".join(reversed(w))) for w in letters]


@pytest.mark.slow
@pytest.mark.parametrize("name, pairs, least", [
    ("dates-transformer", lambda: TASKS["dates"].generate(1000, seed=2026), 1.0),
    ("reverse-transformer", lambda: fresh_reversals(500, seed=2026), 0.99),
    ("toy-fr-transformer", lambda: TASKS["toy-fr"].validation_pairs(1000, seed=2026), 1.0),
])
def test_each_bundled_transformer_reaches_its_accuracy_on_fresh_inputs(name, pairs, least):
    """Dates and reversals drawn from a seed no run used; toy-fr's held-out sentences (never in training)."""
    found = evaluate(s2s.load(name), pairs(), alignment=False)
    assert found["exact_match"] >= least, (name, found["exact_match"])


@pytest.mark.slow
def test_the_unmasked_decoder_is_near_perfect_forced_and_fails_on_its_own():
    model, pairs = s2s.load("dates-transformer-unmasked"), TASKS["dates"].generate(500, seed=2026)
    forced, free = forced_figures(model, pairs), evaluate(model, pairs, alignment=False)
    assert forced["forced_loss"] < 0.05 and forced["forced_token_accuracy"] > 0.99
    assert free["exact_match"] < 0.2
    # forced, in one pass as in training: it reads the future
    r = model.translate(pairs[0][0], reference=pairs[0][1], teacher_forcing=1.0)
    steps = len(r.output_pieces)
    assert r.heads["decoder_self"][..., np.triu(np.ones((steps, steps), bool), 1)].max() > 0.1


@pytest.mark.slow
def test_wider_beams_never_rank_below_greedy_on_the_bundled_dates_transformer():
    model = s2s.load("dates-transformer")
    for source, _ in TASKS["dates"].generate(60, seed=77):
        greedy = model.translate(source)
        for beam_size in (2, 4):
            assert model.translate(source, beam_size=beam_size).mean_log_prob >= greedy.mean_log_prob - 1e-6


def test_the_json_export_carries_every_heads_map(tiny):
    r = tiny.translate("3 March 2021")
    data = json.loads(viz.attention_json(r))
    assert data["family"] == "transformer" and set(data["heads"]) == set(ATTENTION_KINDS)
    for kind in ATTENTION_KINDS:
        np.testing.assert_allclose(np.array(data["heads"][kind]), r.heads[kind], rtol=1e-6)
    assert json.loads(viz.attention_json(s2s.load("dates").translate("3 March 2021")))["heads"] == {}


def test_what_a_request_records_is_bounded_by_the_checkpoints_lengths(tiny):
    """max_len may not pass max_target_len for a Transformer (its decoder_self maps grow as S^2); every map is
    then at most (L, NH, max_target_len, max(max_target_len, max_source_len))."""
    limit = tiny.config["max_target_len"]
    with pytest.raises(ValueError, match=f"max_len must be a whole number from 1 to {limit}"):
        tiny.translate("3 March 2021", max_len=limit + 1)
    r = tiny.translate("3 March 2021", max_len=limit, beam_size=2)
    for h in r.hypotheses:
        assert h.heads["decoder_self"].shape[2] <= limit and h.heads["cross"].shape[2] <= limit


def test_a_transformer_goes_to_the_hub_and_back_with_a_card_that_names_its_family(folder, fake_hub, monkeypatch,
                                                                                  tmp_path):
    """push (huggingface_hub's real upload code, to a fake Hub on 127.0.0.1), then s2s.load("org/name")."""
    monkeypatch.setenv("HF_TOKEN", TOKEN)
    commit = hub_push.push(folder, "class/tiny-transformer")
    card = cards.read_card(fake_hub.repos["class/tiny-transformer"].commits[commit]["README.md"].decode())
    assert "transformer" in card.front["tags"] and card.front["s2s"]["heads"] == 4
    pulled = s2s.load(f"class/tiny-transformer@{commit}")
    here, there = checkpoint.load(folder, device="cpu").translate("3 March 2021"), pulled.translate("3 March 2021")
    assert there.family == "transformer" and there.output_pieces == here.output_pieces
    np.testing.assert_array_equal(there.heads["cross"], here.heads["cross"])
