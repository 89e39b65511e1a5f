"""CUDA against the CPU, on every bundled checkpoint: the check to run on a GPU machine.

    python -m s2s.gpu_check [--n 40]

Each bundled checkpoint is loaded on both devices and run on n fresh inputs of its task with greedy
decoding, beam search, its trained mask and seeded partial teacher forcing. The outputs must be the
same pieces and the attention equal within ATOL. It prints one line per checkpoint and exits 1 on any
difference, 2 when there is no CUDA device (there is nothing to compare: it says so, it does not pass).
"""

from __future__ import annotations

import argparse
import sys

import numpy as np
import torch

from . import checkpoint, hub, tasks
from .translator import Translator

ATOL = 3e-4  # attention weights: float32 kernels on two devices add up in different orders


def runs(model: Translator, texts: list[tuple[str, str]]):
    """Every setting compared, for each (source, target): (what, Translation)."""
    mask = model.config.get("trained_mask", "bidirectional")
    for source, target in texts:
        yield "greedy", model.translate(source, mask=mask)
        yield "beam 3", model.translate(source, mask=mask, beam_size=3)
        yield "forcing 0.5", model.translate(source, mask=mask, reference=target, teacher_forcing=0.5, seed=3)


def differences(a: Translator, b: Translator, texts: list[tuple[str, str]]) -> list[str]:
    """Where b does not give what a gives: different pieces, or attention further apart than ATOL."""
    found = []
    for (what, x), (_, y) in zip(runs(a, texts), runs(b, texts)):
        if x.output_tokens != y.output_tokens:
            found.append(f"{what} on {x.source_text!r}: {x.text!r} vs {y.text!r}")
        elif x.attention.shape != y.attention.shape or not np.allclose(x.attention, y.attention, atol=ATOL):
            found.append(f"{what} on {x.source_text!r}: attention differs beyond {ATOL}")
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m s2s.gpu_check", description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=40, help="fresh inputs per checkpoint")
    args = parser.parse_args(argv)
    if not torch.cuda.is_available():
        print("no CUDA device here: nothing to compare (run this on a GPU machine)", file=sys.stderr)
        return 2
    failed = False
    for name in hub.list_bundled():
        folder = hub.BUNDLED_DIR / name
        cpu, gpu = checkpoint.load(folder, device="cpu"), checkpoint.load(folder, device="cuda")
        task = cpu.config.get("task")
        texts = tasks.TASKS[task].generate(args.n, seed=321) if task in tasks.TASKS else []
        found = differences(cpu, gpu, texts)
        failed |= bool(found)
        print(f"{name}: {len(texts) * 3} runs, {len(found)} differences" + "".join(f"\n  {d}" for d in found[:5]))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
