"""CUDA against the CPU, on every bundled checkpoint: the check to run on a GPU machine.

    python -m bench.gpu_check [--n 40]

Each bundled checkpoint is loaded on both devices and run on n fresh inputs of its task with greedy
decoding, beam search, its trained mask and seeded partial teacher forcing. The outputs must be the
same pieces and the attention equal within ATOL. Then, on the GPU, training's fused decoder pass
(s2s/fused.py) must give every parameter the gradient autograd gives through the model's forward, within
GRAD_RTOL. It prints one line per checkpoint and exits 1 on any difference, 2 when there is no CUDA
device (there is nothing to compare: it says so, it does not pass).
"""

from __future__ import annotations

import argparse
import copy
import sys

import numpy as np
import torch

from s2s import checkpoint, fused, tasks
from s2s.training.data import encode_pairs, to_blocks
from s2s.training.trainer import sequence_loss
from s2s.translator import Translator

ATOL = 3e-4  # attention weights: float32 kernels on two devices add up in different orders
GRAD_RTOL = 1e-4  # a gradient's distance from autograd's, relative to its size


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
        if x.output_pieces != y.output_pieces:
            found.append(f"{what} on {x.source_text!r}: {x.text!r} vs {y.text!r}")
        elif x.attention.shape != y.attention.shape or not np.allclose(x.attention, y.attention, atol=ATOL):
            found.append(f"{what} on {x.source_text!r}: attention differs beyond {ATOL}")
    return found


def training_differences(model: Translator, texts: list[tuple[str, str]], device: str) -> list[str]:
    """The fused training pass against autograd through the model's forward, on `device`: one batch of the
    texts, forcing 0.5 with one seed, dropout off, the trained mask. Parameters whose gradients differ."""
    network = copy.deepcopy(model.model).to(device).train()
    for module in network.modules():
        if isinstance(module, torch.nn.Dropout):
            module.p = 0.0  # both passes must compute the same function
    block = to_blocks(encode_pairs(texts, model.source_tokenizer, model.target_tokenizer), device)[0]
    width = int(block.target_lengths[:16].max())
    source, target = block.sources[:16], block.targets[:16, :width]
    lengths = torch.full((len(source),), source.shape[1])
    mask = model.config.get("trained_mask", "bidirectional")

    def gradients(forward) -> dict[str, torch.Tensor]:
        network.zero_grad(set_to_none=True)
        coins = torch.Generator(device=device).manual_seed(5)
        sequence_loss(forward(source, lengths, target, teacher_forcing=0.5, mask=mask, generator=coins),
                            target).backward()
        return {n: p.grad for n, p in network.named_parameters() if p.grad is not None}

    want = gradients(network)
    got = gradients(lambda *a, **k: fused.forward(network, *a, **k))
    return [f"training: the gradient of {name} differs" for name in want if name not in got
            or (got[name] - want[name]).norm() > GRAD_RTOL * want[name].norm().clamp_min(1e-12)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.gpu_check", description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=40, help="fresh inputs per checkpoint")
    args = parser.parse_args(argv)
    if not torch.cuda.is_available():
        print("no CUDA device here: nothing to compare (run this on a GPU machine)", file=sys.stderr)
        return 2
    failed = False
    for name in checkpoint.list_bundled():
        folder = checkpoint.BUNDLED_DIR / name
        cpu, gpu = checkpoint.load(folder, device="cpu"), checkpoint.load(folder, device="cuda")
        task = cpu.config.get("task")
        texts = tasks.TASKS[task].generate(args.n, seed=321) if task in tasks.TASKS else []
        found = differences(cpu, gpu, texts) + (training_differences(gpu, texts, "cuda") if texts else [])
        failed |= bool(found)
        print(f"{name}: {len(texts) * 3} runs and a training pass, {len(found)} differences"
              + "".join(f"\n  {d}" for d in found[:5]))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
