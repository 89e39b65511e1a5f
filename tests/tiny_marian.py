"""A tiny random MarianMT model and its sentencepiece tokenizers, built in memory as a Hub repo holds them.

The files are what a Helsinki-NLP opus-mt repo has (config.json, generation_config.json, model.safetensors,
source.spm, target.spm, vocab.json, tokenizer_config.json, README.md), only small: two layers of two heads,
16 wide, a vocabulary of a few dozen pieces trained on a handful of English and French sentences. The model's
weights are random; a bias on </s> makes some of its outputs end within a few pieces, as a trained model's do.

    fake_hub.add_commit("Helsinki-NLP/opus-mt-en-fr", tiny_marian_files())
"""

from __future__ import annotations

import functools
import io
import json
import tempfile
from pathlib import Path

import sentencepiece as spm
import torch
from transformers import MarianConfig, MarianMTModel

SOURCES = ["the European Economic Area", "the cat sat on the mat", "a dog runs in the green park",
           "the agreement was signed in August", "my house is red and small"]
TARGETS = ["la zone économique européenne", "le chat était assis sur le tapis", "un chien court dans le parc vert",
           "l'accord a été signé en août", "ma maison est rouge et petite"]
CARD = b"---\nlanguage:\n- en\n- fr\ntags:\n- translation\nlicense: apache-2.0\n---\n# a tiny random opus-mt\n"
EOS_BIAS = 2.0  # added to </s>'s logit: with INIT_STD and SEED, some outputs end within a few pieces, others run on
INIT_STD = 0.3  # random weights this wide make the pieces' probabilities differ (0.02, the default, does not)
SEED = 2


def _sentencepiece(lines: list[str], size: int) -> bytes:
    buffer = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(lines * 4), model_writer=buffer, vocab_size=size, model_type="unigram",
        character_coverage=1.0, unk_id=1, bos_id=-1, eos_id=0, pad_id=-1, hard_vocab_limit=False, minloglevel=2)
    return buffer.getvalue()


@functools.cache
def _built(seed: int) -> tuple[tuple[str, bytes], ...]:
    source, target = _sentencepiece(SOURCES, 60), _sentencepiece(TARGETS, 60)
    processors = [spm.SentencePieceProcessor(model_proto=proto) for proto in (source, target)]
    pieces = sorted({p.id_to_piece(i) for p in processors for i in range(p.get_piece_size())} - {"</s>", "<unk>"})
    vocabulary = {piece: i for i, piece in enumerate(["</s>", "<unk>", *pieces, "<pad>"])}
    pad = vocabulary["<pad>"]
    config = MarianConfig(
        vocab_size=len(vocabulary), decoder_vocab_size=len(vocabulary), d_model=16, encoder_layers=2,
        decoder_layers=2, encoder_attention_heads=2, decoder_attention_heads=2, encoder_ffn_dim=32,
        decoder_ffn_dim=32, max_position_embeddings=256, pad_token_id=pad, decoder_start_token_id=pad,
        eos_token_id=0, forced_eos_token_id=0, bos_token_id=0, activation_function="swish", scale_embedding=True,
        init_std=INIT_STD, architectures=["MarianMTModel"])
    torch.manual_seed(seed)
    model = MarianMTModel(config).eval()
    with torch.no_grad():
        model.final_logits_bias[0, 0] = EOS_BIAS
    model.generation_config.bad_words_ids = [[pad]]
    with tempfile.TemporaryDirectory() as folder:
        model.save_pretrained(folder)
        files = {name: (Path(folder) / name).read_bytes()
                 for name in ("config.json", "generation_config.json", "model.safetensors")}
    files |= {"source.spm": source, "target.spm": target, "vocab.json": json.dumps(vocabulary).encode(),
              "tokenizer_config.json": json.dumps({"source_lang": "en", "target_lang": "fr",
                                                   "separate_vocabs": False}).encode(),
              "README.md": CARD}
    return tuple(files.items())


def tiny_marian_files(seed: int = SEED, **changes: bytes | None) -> dict[str, bytes]:
    """The repo's files; `changes` replace some (bytes) or leave them out (None)."""
    files = dict(_built(seed))
    for name, content in changes.items():
        name = name.replace("__", ".")  # model__safetensors= for "model.safetensors"
        if content is None:
            files.pop(name, None)
        else:
            files[name] = content
    return files


def tiny_config(**changes) -> bytes:
    """config.json of the tiny model with some values changed."""
    return json.dumps(json.loads(dict(_built(SEED))["config.json"]) | changes).encode()
