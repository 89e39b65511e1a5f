"""Benchmark: the memory one request costs the server, on a checkpoint at the limits, with glibc's default
allocator settings (the baseline) and with the server's (`s2s.web.heap.return_freed_memory`), side by side.

    python -m bench.memory [--hidden 160] [--layers 4]

Each case runs in a process of its own (an allocator setting holds for a whole process): it loads the
checkpoint, then translates a source at the longest the checkpoint reads, decoding to its longest output,
greedily and then with beam search, and prints the resident memory before, at its peak (sampled every 2 ms)
and after each request, beside what the server counts before it runs the request (s2s/budget.py).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import torch

from s2s import budget, checkpoint
from s2s.model import ModelConfig, build_model
from s2s.tokenizer import Tokenizer
from s2s.web.heap import return_freed_memory

from .server import ROOT, machine

SOURCE = "3 March 2021 " * 40  # cut to the longest the checkpoint reads


def rss_mb() -> float:
    return int(Path("/proc/self/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def peak_during(call) -> tuple[float, float, float]:
    """(resident MB before, at the peak of, and after `call`)."""
    before, peak, going = rss_mb(), [rss_mb()], [True]

    def watch():
        while going[0]:
            peak[0] = max(peak[0], rss_mb())
            time.sleep(0.002)

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        call()
    finally:
        going[0] = False
        watcher.join()
    return before, peak[0], rss_mb()


def build(folder: Path, hidden: int, layers: int) -> Path:
    """A checkpoint at the limits' lengths (256 pieces each way): random weights, small tokenizers."""
    sources = [f"{d} March {y}" for d in range(1, 29) for y in range(1990, 2030)]
    source, target = Tokenizer.train(sources, 300), Tokenizer.train([s[::-1] for s in sources], 300)
    torch.manual_seed(0)
    model = build_model(ModelConfig(source.vocab_size, target.vocab_size, emb_size=64, hidden_size=hidden,
                                    num_layers=layers))
    extra = dict(task="dates", trained_mask="bidirectional", max_source_len=256, max_target_len=256)
    return checkpoint.save(folder, model, source, target, extra, card="# at the limits\n")


def case(folder: str, returned: bool) -> dict:
    """One process's measurements: greedy, then beam 4, then greedy again."""
    if returned:
        return_freed_memory()
    torch.set_num_threads(1)
    model = checkpoint.load(folder, device="cpu")
    text = SOURCE
    while len(model.source_tokenizer.encode(text)) >= 256:
        text = text[:-5]  # as long as the checkpoint reads
    found, source_len = {}, len(model.encode_source(text))
    for name, beam in (("greedy", 1), ("beam 4", 4), ("greedy again", 1)):
        measured = peak_during(lambda beam=beam: model.translate(text, beam_size=beam))
        found[name] = (*measured, budget.request_bytes(model.config, source_len, beam) / budget.MB)
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.memory", description=__doc__.split("\n\n")[0])
    parser.add_argument("--hidden", type=int, default=160)
    parser.add_argument("--layers", type=int, default=4)
    parser.add_argument("--case", help=argparse.SUPPRESS)  # a child: FOLDER:returned
    args = parser.parse_args(argv)
    if args.case:
        folder, returned = args.case.rsplit(":", 1)
        print(json.dumps(case(folder, returned == "1")))
        return 0
    print(f"machine: {machine()}")
    with tempfile.TemporaryDirectory() as tmp:
        folder = build(Path(tmp) / "limits", args.hidden, args.layers)
        print(f"checkpoint: hidden {args.hidden}, {args.layers} layers, 256 pieces each way; one torch thread")
        results = {}
        for label, returned in (("glibc's defaults (baseline)", "0"), ("the server's setting", "1")):
            out = subprocess.run([sys.executable, "-m", "bench.memory", "--case", f"{folder}:{returned}"], cwd=ROOT,
                                 capture_output=True, text=True, check=True).stdout
            results[label] = json.loads(out.strip().splitlines()[-1])
    for label, found in results.items():
        print(label)
        for name, (before, peak, after, counted) in found.items():
            print(f"  {name:<13} before {before:6.0f} MB   peak +{peak - before:5.0f} MB"
                  f"   kept +{after - before:5.0f} MB   counted before it ran {counted:5.0f} MB")
    base, ours = (found["beam 4"] for found in results.values())
    print(f"beam 4 peak, baseline / the server's: {(base[1] - base[0]) / max(ours[1] - ours[0], 1):.1f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
