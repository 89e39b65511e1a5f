"""One translate on a Hub translation model of Helsinki-NLP/opus-mt-en-fr's size, beside a bundled LSTM checkpoint's,
in one process, interleaved round by round so that machine noise hits both alike; the figures are medians.

    python -m bench.hub_model [--rounds 7] [--threads 1] [--source 16] [--steps 20] [--no-load]

No download: the model is built from opus-mt-en-fr's own configuration (OPUS_MT_EN_FR, as its config.json has
it: 6 + 6 layers of width 512, 8 heads, feed-forward 2048, a shared vocabulary of 59,514 pieces; 75 million
parameters) with random weights, and run through s2s.marian, every head of every layer recorded, as the page
runs a real one. Random weights would stop at once or never; so that every call does the same work, </s> is made
unreachable and each translate reads `--source` pieces and writes exactly `--steps` (a sentence of about a dozen
words). Its tokenizers are small sentencepiece models trained here: they only change which ids are looked up.

Beside it: the bundled dates checkpoint (the page's default) on a date, greedy and beam 4, as bench.model times
it; and transformers' own generate() on the same model and input, which records nothing, to show what the
recording costs. With --load (the default) the model is also written as model.safetensors to a temporary folder
once and opened through s2s.hub_translation.load, as a Space does from its Hub cache after the download.

`offline_cache` puts the same model in a Hub cache as the repo bench/opus-mt-en-fr-sized, for the app to open
by that name with no Hub: `python -m bench.app --opus-sized` times it in the page and under a class's load.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import statistics
import tempfile
import time
import warnings
from pathlib import Path

import sentencepiece as spm
import torch
from huggingface_hub import constants
from transformers import MarianConfig, MarianMTModel, MarianTokenizer

from s2s import checkpoint, hub_translation
from s2s.marian import MarianTranslator
from s2s.tasks import TASKS

from .server import SENTENCES

# Helsinki-NLP/opus-mt-en-fr's config.json, the fields that shape the network (the rest are training's)
OPUS_MT_EN_FR = {
    "architectures": ["MarianMTModel"], "model_type": "marian", "activation_function": "swish", "d_model": 512,
    "encoder_layers": 6, "decoder_layers": 6, "encoder_attention_heads": 8, "decoder_attention_heads": 8,
    "encoder_ffn_dim": 2048, "decoder_ffn_dim": 2048, "vocab_size": 59514, "decoder_vocab_size": 59514,
    "max_position_embeddings": 512, "scale_embedding": True, "share_encoder_decoder_embeddings": True,
    "static_position_embeddings": True, "normalize_before": False, "pad_token_id": 59513,
    "decoder_start_token_id": 59513, "eos_token_id": 0, "forced_eos_token_id": 0, "bos_token_id": 0,
    "bad_words_ids": [[59513]], "num_beams": 4, "max_length": 512, "dropout": 0.1, "attention_dropout": 0.0,
    "activation_dropout": 0.0, "init_std": 0.02, "is_encoder_decoder": True, "use_cache": True,
}
REPO_ID = "bench/opus-mt-en-fr-sized"  # the name it goes by in the page, served from a Hub cache (offline_cache)
CARD = "---\nlanguage:\n- en\n- fr\ntags:\n- translation\n---\n# opus-mt-en-fr's size, random weights (bench)\n"


def tokenizer(folder: Path) -> MarianTokenizer:
    """A Marian tokenizer over small sentencepiece models trained here, its ids spread over the full vocabulary
    (BPE: SENTENCES' words are whole pieces, as in a real opus-mt's vocabulary, so inputs have its lengths)."""
    protos = []
    for _ in range(2):
        buffer = io.BytesIO()
        spm.SentencePieceTrainer.train(sentence_iterator=iter(SENTENCES * 20), model_writer=buffer, vocab_size=150,
                                       model_type="bpe", character_coverage=1.0, unk_id=1, bos_id=-1, eos_id=0,
                                       pad_id=-1, hard_vocab_limit=False, minloglevel=2)
        protos.append(buffer.getvalue())
    sp = spm.SentencePieceProcessor(model_proto=protos[0])
    pieces = sorted({sp.id_to_piece(i) for i in range(sp.get_piece_size())} - {"</s>", "<unk>"})
    pad, stride = OPUS_MT_EN_FR["pad_token_id"], (OPUS_MT_EN_FR["vocab_size"] - 3) // len(pieces)
    vocab = {"</s>": 0, "<unk>": 1} | {p: 2 + stride * i for i, p in enumerate(pieces)} | {"<pad>": pad}
    for name, content in (("source.spm", protos[0]), ("target.spm", protos[1]), ("vocab.json", json.dumps(vocab))):
        (folder / name).write_bytes(content if isinstance(content, bytes) else content.encode())
    with warnings.catch_warnings():  # it asks for sacremoses, a normaliser s2s.marian never uses
        warnings.filterwarnings("ignore", message="Recommended: pip install sacremoses")
        return MarianTokenizer(str(folder / "source.spm"), str(folder / "target.spm"), str(folder / "vocab.json"))


def opus_sized(folder: Path, source: int) -> tuple[MarianTranslator, str]:
    """The translator of a random model of opus-mt-en-fr's size (</s> unreachable), and an input of `source` pieces."""
    torch.manual_seed(0)
    model = MarianMTModel(MarianConfig.from_dict(OPUS_MT_EN_FR, attn_implementation="eager")).eval()
    with torch.no_grad():
        model.final_logits_bias[0, 0] = -1e4  # never </s>: every call writes exactly max_len pieces
    model.generation_config.bad_words_ids = OPUS_MT_EN_FR["bad_words_ids"]
    parameters = sum(p.numel() for p in model.parameters()) + sum(b.numel() for b in model.buffers())
    config = dict(family="marian", model="marian", repo_id=REPO_ID, max_source_len=256,
                  max_target_len=256, max_positions=512, parameters=parameters)
    translator = MarianTranslator(model, tokenizer(folder), config)
    words = " ".join(SENTENCES).split()
    text = next(" ".join(words[:n]) for n in range(1, len(words) + 1)
                if len(translator.encode_source(" ".join(words[:n]))) >= source)
    return translator, text


def load_case(translator: MarianTranslator, folder: Path) -> str:
    """Write the model as a repo holds it, then time hub_translation.load on it (what a Space does once cached)."""
    translator.model.save_pretrained(folder)
    files = tuple(name for name in (*hub_translation.REQUIRED_FILES, *hub_translation.OPTIONAL_FILES)
                  if (folder / name).is_file())
    sizes = {name: (folder / name).stat().st_size for name in files}
    plan = hub_translation.Plan(REPO_ID, "0" * 40, "local", files, sizes,
                                json.loads((folder / "config.json").read_text()), "MarianMTModel",
                                translator.config["parameters"])
    start = time.perf_counter()
    hub_translation.load(folder, plan)
    seconds = time.perf_counter() - start
    return (f"open from the cache (hub_translation.load, {sizes['model.safetensors'] / 1e6:.0f} MB of safetensors): "
            f"{seconds:.2f} s")


def offline_cache(cache_dir: Path, steps: int) -> dict[str, str]:
    """Put the random model of opus-mt-en-fr's size in a Hub cache as REPO_ID (as a download leaves a repo), and
    return the environment under which the app opens it by that name from there, with no Hub: HF_HUB_OFFLINE,
    HF_HUB_CACHE, and S2S_MT_MAX_TARGET=steps (its </s> is unreachable, so every translate writes `steps` pieces).

    This process's own huggingface_hub and s2s.hub_translation are set the same way."""
    commit = "0" * 40
    repo = cache_dir / f"models--{REPO_ID.replace('/', '--')}"
    snapshot = repo / "snapshots" / commit
    snapshot.mkdir(parents=True)
    translator, _ = opus_sized(snapshot, 1)
    translator.model.save_pretrained(snapshot)
    (snapshot / "tokenizer_config.json").write_text(json.dumps({"source_lang": "en", "target_lang": "fr"}))
    (snapshot / "README.md").write_text(CARD)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(commit)
    environment = {"HF_HUB_OFFLINE": "1", "HF_HUB_CACHE": str(cache_dir), "S2S_MT_MAX_TARGET": str(steps)}
    os.environ.update(environment)  # the servers this process starts
    constants.HF_HUB_OFFLINE, constants.HF_HUB_CACHE = True, str(cache_dir)  # read once, at import
    hub_translation.MAX_TARGET_PIECES = steps
    return environment


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.hub_model", description=" ".join(__doc__.split("\n")[:2]))
    parser.add_argument("--rounds", type=int, default=7, help="interleaved rounds (one more warms up)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (the server's S2S_THREADS is 1)")
    parser.add_argument("--source", type=int, default=16, help="source pieces of the input, </s> included")
    parser.add_argument("--steps", type=int, default=20, help="pieces each translate writes")
    parser.add_argument("--no-load", dest="load", action="store_false", help="skip timing the load from disk")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    print(f"machine: {platform.processor() or platform.machine()}, {torch.get_num_threads()} thread(s), "
          f"torch {torch.__version__}")
    with tempfile.TemporaryDirectory() as temporary:
        folder = Path(temporary)
        big, text = opus_sized(folder, args.source)
        lstm = checkpoint.load(checkpoint.BUNDLED_DIR / "dates", device="cpu")
        date = TASKS["dates"].generate(1, seed=7)[0][0]
        source = torch.tensor([big.encode_source(text)])
        print(f"opus-mt-en-fr-sized: {big.config['parameters']:,} parameters, random weights; input of "
              f"{source.shape[1]} pieces, {args.steps} written; bundled dates: {date!r}")
        calls = {
            "translate, greedy": (lambda: lstm.translate(date), lambda: big.translate(text, max_len=args.steps)),
            "translate, beam 4": (lambda: lstm.translate(date, beam_size=4),
                                  lambda: big.translate(text, max_len=args.steps, beam_size=4)),
            "generate(), greedy, nothing recorded": (None, lambda: big.model.generate(
                source, num_beams=1, do_sample=False, max_new_tokens=args.steps)),
            "generate(num_beams=4), nothing recorded": (None, lambda: big.model.generate(
                source, num_beams=4, do_sample=False, max_new_tokens=args.steps)),
        }
        times: dict[tuple[str, int], list[float]] = {}
        for i in range(args.rounds + 1):
            for name, sides in calls.items():
                for j, call in enumerate(sides):
                    if call is None:
                        continue
                    start = time.perf_counter()
                    call()
                    if i:
                        times.setdefault((name, j), []).append(time.perf_counter() - start)
        print(f"{f'{args.rounds} rounds, medians':42} {'bundled dates':>14} {'opus-mt size':>14} {'ratio':>8}")
        for name, sides in calls.items():
            big_ms = 1000 * statistics.median(times[name, 1])
            if sides[0] is None:
                print(f"{name:42} {'':>14} {big_ms:11.1f} ms")
                continue
            small_ms = 1000 * statistics.median(times[name, 0])
            print(f"{name:42} {small_ms:11.1f} ms {big_ms:11.1f} ms {big_ms / small_ms:7.1f}x")
        if args.load:
            print(load_case(big, folder))


if __name__ == "__main__":
    main()
