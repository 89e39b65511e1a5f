"""A Hub translation model (MarianMT) through s2s.hub_translation and s2s.marian, against transformers itself.

A tiny random Marian model and its sentencepiece tokenizers (tests/tiny_marian.py) are served by the fake Hub and
opened through the same code as a real repo. Parity is independent: what we record is compared with what a
model transformers loads on its own returns (output_attentions=True, generate()), never with our own code.
"""

from __future__ import annotations

import threading

import numpy as np
import pytest
import torch
from huggingface_hub import constants
from transformers import MarianMTModel, MarianTokenizer

from s2s import hub_translation
from s2s.decode import TOP_K
from s2s.translator import ATTENTION_KINDS
from tests.fake_hub import downloads, serving
from tests.tiny_marian import TARGETS, tiny_config, tiny_marian_files

REPO = "Helsinki-NLP/opus-mt-en-fr"
TEXTS = ["the cat sat on the mat", "a dog runs", "the agreement was signed", "my house is red", "green park",
         "the European Economic Area", "small cat", "August", "the dog sat in the house", "red and green"]
MAX_LEN = 12
pytestmark = pytest.mark.usefixtures("one_torch_thread")  # tiny models: one thread, far faster on 2 busy cores


@pytest.fixture(scope="module")
def opened(tmp_path_factory):
    """(translator, the snapshot folder, a model transformers loads itself from that folder), opened once."""
    with pytest.MonkeyPatch.context() as monkeypatch, serving(monkeypatch, tmp_path_factory.mktemp("hf")) as hub:
        hub.add_commit(REPO, tiny_marian_files())
        plan = hub_translation.inspect(REPO)
        folder = hub_translation.download(plan)
        translator = hub_translation.load(folder, plan)
    reference = MarianMTModel.from_pretrained(folder, attn_implementation="eager").eval()
    reference.generation_config.forced_eos_token_id = None  # generate() forces </s> at its last step; we do not
    return translator, folder, reference


def ids(translator, pieces: list[str]) -> list[int]:
    return [translator.target_tokenizer.piece_id(piece) for piece in pieces]


def test_a_repo_opens_by_id_with_only_its_files_downloaded(fake_hub):
    commit = fake_hub.add_commit(REPO, tiny_marian_files(**{"pytorch_model.bin": b"pickle", "notes.py": b"x"}))
    translator = hub_translation.open_model(REPO)
    assert sorted(downloads(fake_hub)) == sorted(hub_translation.REQUIRED_FILES + hub_translation.OPTIONAL_FILES[
        :2] + ("README.md",))  # never the pickle, never code
    c = translator.config
    assert (c["repo_id"], c["commit"], c["family"], c["languages"]) == (REPO, commit, "marian", ["en", "fr"])
    assert (c["source_lang"], c["target_lang"], c["num_layers"], c["heads"], c["hidden_size"]) == ("en", "fr", 2, 2, 16)
    assert c["max_source_len"] == hub_translation.MAX_SOURCE_PIECES and c["parameters"] == sum(
        p.numel() for p in translator.model.parameters()) + sum(b.numel() for b in translator.model.buffers())
    assert translator.model.config._attn_implementation == "eager"

    fake_hub.requests.clear()
    fake_hub.stop()  # pinned to its commit and cached: no request at all
    again = hub_translation.open_model(f"{REPO}@{commit}")
    assert again.config["commit"] == commit and fake_hub.requests == []


@pytest.mark.filterwarnings("ignore:Recommended. pip install sacremoses")
def test_pieces_are_the_model_tokenizers(opened):
    translator, folder, _ = opened
    tokenizer = MarianTokenizer.from_pretrained(folder)
    for text, target in zip(TEXTS, TARGETS * 2):
        assert translator.encode_source(text) == tokenizer(text)["input_ids"]
        assert translator.encode_reference(target) == tokenizer(text_target=target)["input_ids"]
        ids_ = tokenizer(text_target=target)["input_ids"]
        assert translator.target_tokenizer.decode(ids_) == tokenizer.decode(ids_, skip_special_tokens=True)
        assert translator.target_tokenizer.pieces(ids_) == tokenizer.convert_ids_to_tokens(ids_)


def what_the_model_returns(reference, source: torch.Tensor, fed: torch.Tensor, causal: bool):
    """({kind: L arrays (1, NH, rows, cols)}, logits (S, V)) from transformers' own output_attentions=True, in one
    pass over the fed pieces; with a causal source mask, cross-attention row t masked to source pieces 0..t (a 4D
    mask, which transformers applies as given) over an encoder that read the whole source."""
    with torch.no_grad():
        encoded = reference.get_encoder()(input_ids=source, output_attentions=True)
        mask = None
        if causal:
            steps, width = fed.shape[1], source.shape[1]
            blocked = torch.arange(width)[None, :] > torch.arange(steps)[:, None]  # (S, T)
            mask = torch.zeros(1, 1, steps, width).masked_fill(blocked, torch.finfo(torch.float32).min)
        out = reference(encoder_outputs=encoded, attention_mask=mask, decoder_input_ids=fed, output_attentions=True)
    return {"cross": out.cross_attentions, "decoder_self": out.decoder_attentions,
            "encoder_self": encoded.attentions}, out.logits[0]


@pytest.mark.parametrize("settings", [dict(), dict(reference=TARGETS[0], teacher_forcing=1.0),
                                      dict(reference=TARGETS[2], teacher_forcing=0.5, seed=4),
                                      dict(prefix=["▁l", "a"]), dict(mask="causal"), dict(beam_size=3)], ids=str)
def test_every_head_of_every_layer_is_what_the_model_returns(opened, settings):
    """The recorded attention equals output_attentions=True on the same decoder inputs, for each kind, layer, head;
    softmax of the recorded scores is the recorded weights; probabilities and alternatives are the model's."""
    translator, _, reference = opened
    results = translator.translate(TEXTS[0], max_len=MAX_LEN, **settings)
    for r in results.hypotheses or [results]:
        source = torch.tensor([translator.encode_source(TEXTS[0])])
        fed = torch.tensor([ids(translator, r.decoder_inputs)])
        kinds, logits = what_the_model_returns(reference, source, fed, settings.get("mask") == "causal")
        steps, width = fed.shape[1], source.shape[1]
        assert set(r.heads) == set(r.head_scores) == set(ATTENTION_KINDS)
        for kind in ATTENTION_KINDS:
            expected = torch.stack([a[0] for a in kinds[kind]]).numpy()  # (L, NH, rows, cols)
            np.testing.assert_allclose(r.heads[kind], expected, atol=1e-5, err_msg=kind)
            scores = torch.from_numpy(r.head_scores[kind])
            np.testing.assert_allclose(torch.softmax(scores, -1).numpy(), r.heads[kind], atol=1e-5, err_msg=kind)
        assert r.heads["cross"].shape == (2, 2, steps, width) and r.heads["encoder_self"].shape == (2, 2, width, width)
        np.testing.assert_allclose(r.attention, r.heads["cross"].mean(1), atol=1e-6)
        assert np.isneginf(r.head_scores["decoder_self"][:, :, 0, 1:]).all()  # step 0 reads only what it was fed
        logits[:, translator.banned] = float("-inf")
        probs = torch.softmax(logits, -1)
        np.testing.assert_allclose(r.probs, probs[range(steps), ids(translator, r.output_pieces)].numpy(), rtol=1e-4)
        top = probs.topk(TOP_K, -1)
        np.testing.assert_allclose(r.top_probs, top.values.numpy(), rtol=1e-4)
        assert [ids(translator, pieces) for pieces in r.top_pieces] == top.indices.tolist()
        assert r.queries.shape == r.contexts.shape == (2, steps, 16) and r.encoder_states.shape == (2, width, 16)
        assert r.family == "marian" and "<pad>" not in {p for row in r.top_pieces for p in row}


def test_each_heads_scores_are_its_q_and_k(opened):
    """head_scores["cross"][l, h, t] = head_keys[l, h] @ head_queries[l, h, t] / sqrt(dh), and the context is the
    weights @ head_values."""
    r = opened[0].translate(TEXTS[0], max_len=MAX_LEN)
    size = r.head_keys.shape[-1]
    scores = np.einsum("lhtd,lhsd->lhst", r.head_keys, r.head_queries) / np.sqrt(size)
    np.testing.assert_allclose(scores, r.head_scores["cross"], rtol=1e-4, atol=1e-5)
    contexts = np.einsum("lhst,lhtd->lshd", r.heads["cross"], r.head_values).reshape(r.contexts.shape)
    np.testing.assert_allclose(contexts, r.contexts, rtol=1e-4, atol=1e-5)


def test_greedy_is_generate(opened):
    translator, _, reference = opened
    for text in TEXTS:
        source = torch.tensor([translator.encode_source(text)])
        generated = reference.generate(source, num_beams=1, do_sample=False, max_new_tokens=MAX_LEN)[0].tolist()
        r = translator.translate(text, max_len=MAX_LEN)
        assert [translator.start_id] + ids(translator, r.output_pieces) == generated, text
        assert ids(translator, r.decoder_inputs) == generated[: len(r.decoder_inputs)]


def test_beam_is_generate_where_their_rules_agree(opened):
    """Both rank hypotheses by mean log-probability per written piece (length_penalty=1) and, with
    early_stopping="never", stop when no live one can win. They differ at max_len: generate() ranks an unfinished
    hypothesis beside finished ones, ours only fills a place no finished one took. Where generate's best ended in
    </s>, the two agree; with generate's default early_stopping=False, its heuristic stops sooner (docs/hub.md)."""
    translator, _, reference = opened
    compared = 0
    for text in TEXTS:
        source = torch.tensor([translator.encode_source(text)])
        generated = reference.generate(source, num_beams=4, do_sample=False, max_new_tokens=MAX_LEN,
                                       length_penalty=1.0, early_stopping="never")[0].tolist()
        r = translator.translate(text, max_len=MAX_LEN, beam_size=4)
        if generated[-1] != translator.eos_id:
            assert len(generated) == MAX_LEN + 1  # ran to its limit unfinished: ranked by generate's rule only
            continue
        compared += 1
        assert [translator.start_id] + ids(translator, r.output_pieces) == generated, text
    assert compared >= len(TEXTS) // 2
    r = translator.translate(TEXTS[0], max_len=MAX_LEN, beam_size=4)
    assert len(r.hypotheses) == 4 and r.hypotheses[0] is r
    assert [h.mean_log_prob for h in r.hypotheses] == sorted((h.mean_log_prob for h in r.hypotheses), reverse=True)


def test_forcing_feeds_the_reference_by_the_seeds_coins(opened):
    translator, _, _ = opened
    full = translator.translate(TEXTS[1], reference=TARGETS[1], teacher_forcing=1.0)
    assert full.decoder_inputs == ["<pad>", *full.reference_pieces[:-1]] and full.forced[1:].all()
    half = translator.translate(TEXTS[1], reference=TARGETS[1], teacher_forcing=0.5, seed=7)
    generator = torch.Generator().manual_seed(7)
    coins = [bool(torch.rand(1, generator=generator)[0] < 0.5) for _ in range(len(half.forced) - 1)]
    assert half.forced.tolist() == [False, *coins] and 0 < sum(coins) < len(coins)
    for t in range(1, len(half.forced)):
        wanted = half.reference_pieces[t - 1] if half.forced[t] else half.output_pieces[t - 1]
        assert half.decoder_inputs[t] == wanted
    assert translator.translate(TEXTS[1], reference=TARGETS[1], teacher_forcing=0.5, seed=7).forced.tolist() == \
        half.forced.tolist()
    fed = translator.translate(TEXTS[1], prefix=["▁l", "a"], max_len=MAX_LEN)
    assert fed.decoder_inputs[1:3] == ["▁l", "a"] and fed.forced[1:3].all() and not fed.forced[3:].any()


def test_causal_mask_hides_the_source_after_each_step(opened):
    translator, _, _ = opened
    r = translator.translate(TEXTS[5], mask="causal", max_len=MAX_LEN)
    for t in range(len(r.output_pieces)):
        assert not r.heads["cross"][:, :, t, t + 1 :].any()
        assert np.isneginf(r.head_scores["cross"][:, :, t, t + 1 :]).all()


def test_requests_at_once_on_one_model_record_their_own(opened):
    translator, _, _ = opened
    alone = {text: translator.translate(text, max_len=MAX_LEN) for text in TEXTS[:4]}
    results, errors = [], []

    def run(text):
        try:
            for _ in range(3):
                results.append((text, translator.translate(text, max_len=MAX_LEN)))
        except Exception as error:  # pragma: no cover - reported below
            errors.append(error)

    threads = [threading.Thread(target=run, args=(text,)) for text in TEXTS[:4]]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors and len(results) == 12
    for text, r in results:
        assert r.output_pieces == alone[text].output_pieces
        np.testing.assert_array_equal(r.heads["cross"], alone[text].heads["cross"])


def test_bad_settings_and_long_input_are_refused_with_a_message(opened, monkeypatch):
    translator, _, _ = opened
    with pytest.raises(ValueError, match="too long"):
        translator.translate("the cat " * 200)
    with pytest.raises(ValueError, match="reference"):
        translator.translate("the cat", teacher_forcing=0.5)
    with pytest.raises(ValueError, match="not a piece"):
        translator.translate("the cat", prefix=["nope-not-a-piece"])
    with pytest.raises(ValueError, match="beam size"):
        translator.translate("the cat", beam_size=0)
    with pytest.raises(ValueError, match=f"from 1 to {translator.config['max_target_len']}"):
        translator.translate("the cat", max_len=translator.config["max_target_len"] + 1)
    assert [r.text for r in translator.translate_batch(TEXTS[:2], max_len=MAX_LEN)] == [
        translator.translate(t, max_len=MAX_LEN).text for t in TEXTS[:2]]


def test_config_json_bans_are_kept_without_a_generation_config(fake_hub, opened):
    """Older opus-mt repos keep bad_words_ids ([[<pad>]]) in config.json alone; transformers 5 drops it there."""
    fake_hub.add_commit(REPO, tiny_marian_files(generation_config__json=None, config__json=tiny_config(
        bad_words_ids=[[opened[0].start_id]])))
    assert hub_translation.open_model(REPO).banned == [opened[0].start_id]


@pytest.mark.filterwarnings("ignore:Recommended. pip install sacremoses")
def test_a_model_without_eager_attention_is_refused(opened):
    translator, folder, _ = opened
    sdpa = MarianMTModel.from_pretrained(folder, attn_implementation="sdpa")
    with pytest.raises(ValueError, match="eager"):
        type(translator)(sdpa, MarianTokenizer.from_pretrained(folder), translator.config)


def test_offline_opens_only_a_cached_copy(fake_hub, monkeypatch):
    fake_hub.add_commit(REPO, tiny_marian_files())
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(hub_translation.HubUnreachable, match="HF_HUB_OFFLINE"):
        hub_translation.open_model(REPO)
    assert fake_hub.requests == []
