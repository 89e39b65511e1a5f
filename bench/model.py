"""Benchmarks, each side by side in one process, interleaved round by round so that machine noise
hits both sides alike; the figures are medians.

    python -m bench.model [--rounds 15] [--threads 1] [--case all|model|inference|training] [--device cpu|cuda]

model: this project's model against a faithful copy of the seed notebook's, at the same sizes
(emb 64, hidden 256, 2 layers, vocabulary 1000) on the same inputs; the ratios are seed / ours.
One thread by default: the seed's per-call set-up spins threads and makes two-thread figures swing.

inference: the bundled dates and reverse checkpoints, loaded on the CPU and (--device cuda) on the GPU:
a single `translate` (dates greedy and beam 4, 30 letters reversed), as one visitor's keystroke asks
for it, and `translate_batch` of 256 dates, as evaluation and the Train tab's probes do; the devices
take turns call by call; the ratios are each device's time over the CPU's (above 1: slower).

training: examples per second of `python -m s2s.cli.train --task dates` at its default sizes (emb 64,
hidden 128, 2 layers), the loop as it was (`OldLoop`: Python lists padded per batch, batches of 64,
the loss read every batch for the progress bar, Adam's default implementation) against
`s2s.training.trainer.Trainer` (tensors tokenised once on the device, the device's batch size, the loss read
every 50 batches, fused Adam; with its decoder pass fused (s2s/fused.py, the default), with autograd
through the model's forward, and fused with --amp (the encoder in bfloat16)), teacher forcing 0.75
(--forcing; coins at every step, as in most epochs), at the device's default batch and at each
--train-batch (256 unless given), and beside them a Transformer at the bundled dates-transformer's sizes
(hidden 64, 4 heads, feed-forward 128, 2 layers: s2s/transformer.py, one parallel pass at forcing 1, two
below it) at the default batch and each --train-batch. Larger batches give more examples/s but learn less per
example (see s2s/training/config.py's docstring): the figures are throughput, not time to a trained model.
With --device cuda every loop also runs on the GPU, beside the CPU.
"""

from __future__ import annotations

import argparse
import dataclasses
import platform
import random
import statistics
import sys
import time
from collections.abc import Callable

import torch
from tqdm import tqdm

from s2s import checkpoint
from s2s.decode import greedy
from s2s.model import ModelConfig, build_model
from s2s.tasks import TASKS
from s2s.tokenizer import PAD_ID
from s2s.training.config import TrainConfig
from s2s.training.data import encode_pairs, load_pairs
from s2s.training.trainer import Trainer, sequence_loss

VOCAB, EMB, HIDDEN, LAYERS, TOKENS = 1000, 64, 256, 2, 30


class SeedAttentionEDM(torch.nn.Module):
    """The seed notebook's AttentionEDM, copied as it is (defects included) to measure against."""

    def __init__(self, input_vs, output_vs, emb_size, hidden_size, num_layers, dropout=0, teacher_forcing_ratio=0.5):
        super().__init__()
        self.encoder_emb = torch.nn.Embedding(input_vs, emb_size)
        self.encoder_lstm = torch.nn.LSTM(emb_size, hidden_size, num_layers, dropout=dropout, batch_first=True)
        self.decoder_emb = torch.nn.Embedding(output_vs, emb_size)
        self.projection = torch.nn.Linear(emb_size, hidden_size)
        self.decoder_lstm = torch.nn.LSTM(emb_size, hidden_size, num_layers, dropout=dropout, batch_first=True)
        self.lm = torch.nn.Linear(hidden_size, output_vs)
        self.num_layers = num_layers
        self.teacher_forcing_ratio = torch.tensor(teacher_forcing_ratio)

    def forward(self, source: torch.Tensor, target: torch.Tensor):
        embed_source: torch.Tensor = self.encoder_emb(source)
        encoder_hiddens = []
        state = None
        for x in embed_source.unbind(1):
            _, (hidden, cell) = self.encoder_lstm(x.unsqueeze(1), state)
            state = (hidden, cell)
            encoder_hiddens.append(hidden)
        encoded = torch.stack(encoder_hiddens, dim=-2)
        encoded_trans = torch.transpose(encoded, -2, -1)
        sqrtT: float = encoded_trans.size(-1) ** 0.5
        embed_target: torch.Tensor = self.decoder_emb(target)
        x = embed_target[:, 0].unsqueeze(1)
        outputs = []
        for time_step, target_t in enumerate(embed_target.unbind(1)):  # noqa: B007 (the seed, verbatim)
            scores = self.projection(x).unsqueeze(0) @ encoded_trans
            scores = torch.softmax(scores / sqrtT, dim=-1)
            hidden = scores @ encoded
            output, (hidden, cell) = self.decoder_lstm(x, (hidden.squeeze(-2), cell))
            output = self.lm(output)
            outputs.append(output)
            if torch.rand(1) < self.teacher_forcing_ratio:
                x = target_t.unsqueeze(1)
            else:
                x = self.decoder_emb(torch.argmax(output, dim=-1))
        return torch.cat(outputs, 1)


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


TRAIN_RATIO = 0.75  # teacher forcing in the training case by default: below 1, so every step flips coins
TRAIN_EXAMPLES = 8_000  # dates pairs the training case cycles through
TRANSFORMER = ModelConfig(0, 0, model="transformer", hidden_size=64, heads=4, ff_size=128, dropout=0.1)


class OldLoop:
    """The training loop of s2s.training as it was before tensors were tokenised once, copied to measure against:
    per batch, Python lists are padded into new tensors, and the loss is read (a host sync) for the bar."""

    def __init__(self, examples, model, device, batch_size: int = 64, lr: float = 3e-3, seed: int = 0,
                 forcing: float = TRAIN_RATIO):
        self.examples, self.model, self.device, self.batch_size = examples, model, torch.device(device), batch_size
        self.forcing = forcing
        self.optimizer = torch.optim.Adam(model.parameters(), lr=lr)
        self.rng, self.coins = random.Random(seed), torch.Generator().manual_seed(seed)

    @staticmethod
    def batches(examples, batch_size: int, rng: random.Random, device):
        by_length: dict[int, list[int]] = {}
        for i, (source, _) in enumerate(examples):
            by_length.setdefault(len(source), []).append(i)
        chunks = []
        for group in by_length.values():
            rng.shuffle(group)
            chunks += [group[i : i + batch_size] for i in range(0, len(group), batch_size)]
        rng.shuffle(chunks)
        for chunk in chunks:
            sources, targets = [examples[i][0] for i in chunk], [examples[i][1] for i in chunk]
            yield (OldLoop.pad(sources).to(device), torch.tensor([len(s) for s in sources]),
                   OldLoop.pad(targets).to(device))

    @staticmethod
    def pad(rows: list[list[int]]) -> torch.Tensor:
        width = max(len(r) for r in rows)
        return torch.tensor([r + [PAD_ID] * (width - len(r)) for r in rows])

    def epoch(self):
        """Yield after each batch, as the old loop stepped (tqdm bar, loss.item() every batch)."""
        self.model.train()
        bar = tqdm(self.batches(self.examples, self.batch_size, self.rng, self.device), file=sys.stderr,
                   leave=False, mininterval=10, disable=True)
        seen, tick = 0, time.time()
        for source, lengths, target in bar:
            logits = self.model(source, lengths, target, teacher_forcing=self.forcing, mask="bidirectional",
                                generator=self.coins)
            loss = sequence_loss(logits, target)
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), 1.0)
            self.optimizer.step()
            seen += len(lengths)
            bar.set_postfix(loss=f"{loss.item():.3f}", ex_per_s=f"{seen / (time.time() - tick):.0f}")
            yield len(lengths)


def new_loop(trainer: Trainer, log_every: int = 50):
    """Yield after each batch, as training.trainer.train steps: the loss summed on the device, read every log_every."""
    epoch = 0
    while True:
        total, count = torch.zeros((), device=trainer.device), 0
        for batch, (size, loss) in enumerate(trainer.steps(epoch), 1):
            total += loss * size
            count += size
            if batch % log_every == 0:
                total.item()
            yield size
        epoch += 1


def cycle(make_epoch: Callable):
    while True:
        yield from make_epoch()


def examples_per_second(stream, seconds: float, device: torch.device) -> float:
    """Run batches from `stream` for about `seconds` (whole batches, the device drained) -> examples / s."""
    count, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        count += next(stream)
    if device.type == "cuda":
        torch.cuda.synchronize()
    return count / (time.perf_counter() - start)


def training_sides(device: torch.device, batch_sizes: list[int], forcing: float = TRAIN_RATIO) -> dict[str, object]:
    """The old loop, and the new one at the device's default batch and at each of `batch_sizes`, on `device`,
    from the same data, tokenizers and initial weights."""
    cfg = TrainConfig(train_size=TRAIN_EXAMPLES, val_size=8, forcing_start=forcing,
                                   forcing_end=forcing, device=device.type)
    trainer = Trainer(cfg)
    examples = encode_pairs(load_pairs(cfg)[0], trainer.source_tok, trainer.target_tok)
    old_model = build_model(trainer.model.config).to(device)
    old_model.load_state_dict(trainer.model.state_dict())
    reference = Trainer(dataclasses.replace(cfg, fused=False))  # autograd through the model's forward
    sides = {"old, batch 64": cycle(OldLoop(examples, old_model, device, forcing=forcing).epoch),
             f"new, batch {reference.batch_size}, autograd decoder": new_loop(reference),
             f"new, batch {trainer.batch_size} (default), fused decoder": new_loop(trainer),
             f"new, batch {trainer.batch_size}, fused, --amp (bf16 encoder)": new_loop(
                 Trainer(dataclasses.replace(cfg, amp=True)))}
    for size in sorted(set(batch_sizes) - {trainer.batch_size}):
        sides[f"new, batch {size}"] = new_loop(Trainer(dataclasses.replace(cfg, batch_size=size)))
    for size in [0, *sorted(set(batch_sizes))]:  # 0: the device's default
        transformer = Trainer(dataclasses.replace(cfg, network=TRANSFORMER, batch_size=size))
        sides[f"transformer, batch {transformer.batch_size}"] = new_loop(transformer)
    return sides


def training_case(devices: list[torch.device], rounds: int, seconds: float, batch_sizes: list[int],
                  forcing: float = TRAIN_RATIO) -> list[str]:
    """The training loops, interleaved, on each device: examples / s (medians) and each against the old loop."""
    sides = {d.type: training_sides(d, batch_sizes, forcing) for d in devices}
    for d in devices:  # warm-up
        for stream in sides[d.type].values():
            examples_per_second(stream, min(1.0, seconds), d)
    figures = {(d.type, name): [] for d in devices for name in sides[d.type]}
    for _ in range(rounds):
        for d in devices:
            for name, stream in sides[d.type].items():
                figures[d.type, name].append(examples_per_second(stream, seconds, d))
    lines = [f"{f'training, dates sizes (emb 64, hidden 128, 2 layers), forcing {forcing:g}':68} {'examples/s':>10} "
             f"{'vs old':>7}"]
    for d in devices:
        device = torch.cuda.get_device_name(d) if d.type == "cuda" else "CPU"
        old = statistics.median(figures[d.type, "old, batch 64"])
        for name in sides[d.type]:
            speed = statistics.median(figures[d.type, name])
            lines.append(f"{f'{device}: {name}':68} {speed:10.0f} {speed / old:6.2f}x")
    return lines


TRANSFORMER_NAME = "dates-transformer"  # the bundled Transformer the inference case times beside the LSTMs
INFERENCE_BATCH = 256  # examples greedy-decoded in one batch, as evaluation and the Train tab's probes do


def inference_calls(inputs: dict[str, list[str]]) -> dict[str, Callable]:
    """What the inference case times: one call on translators {"dates": ..., "reverse": ..., "dates-transformer":
    ...}, the i-th input."""
    dates, letters, batch = inputs["dates"], inputs["reverse"], inputs["batch"]
    return {"translate, dates, greedy": lambda t, i: t["dates"].translate(dates[i % len(dates)]),
            "translate, reverse, 30 letters, greedy": lambda t, i: t["reverse"].translate(letters[i % len(letters)]),
            "translate, dates, beam 4": lambda t, i: t["dates"].translate(dates[i % len(dates)], beam_size=4),
            "translate, dates-transformer, greedy": lambda t, i: t[TRANSFORMER_NAME].translate(dates[i % len(dates)]),
            "translate, dates-transformer, beam 4":
                lambda t, i: t[TRANSFORMER_NAME].translate(dates[i % len(dates)], beam_size=4),
            f"translate_batch, dates, {INFERENCE_BATCH} inputs, greedy": lambda t, i: t["dates"].translate_batch(batch)}


def inference_inputs() -> dict[str, list[str]]:
    """Fresh dates, and strings of 30 letters for reverse (its longest), from fixed seeds."""
    rng = random.Random(11)
    letters = [" ".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(30)) for _ in range(20)]
    return {"dates": [s for s, _ in TASKS["dates"].generate(20, seed=7)], "reverse": letters,
            "batch": [s for s, _ in TASKS["dates"].generate(INFERENCE_BATCH, seed=8)]}


def inference_case(devices: list[torch.device], rounds: int) -> list[str]:
    """The bundled dates, reverse and dates-transformer checkpoints on each device: a single `translate` (one
    visitor's keystroke) and a batch; every call of every device in turn, round by round; medians, and each device
    against the CPU."""
    translators = [{name: checkpoint.load(checkpoint.BUNDLED_DIR / name, device=d)
                    for name in ("dates", "reverse", TRANSFORMER_NAME)} for d in devices]
    calls, times = inference_calls(inference_inputs()), {}
    for i in range(rounds + 1):  # the first round warms up
        for name, call in calls.items():
            for j, on_device in enumerate(translators):
                start = time.perf_counter()
                call(on_device, i)  # its results are on the host: the device has finished
                if i:
                    times.setdefault((name, j), []).append(time.perf_counter() - start)
    names = [torch.cuda.get_device_name(d) if d.type == "cuda" else "CPU" for d in devices]
    lines = [f"{f'inference, bundled checkpoints, {rounds} rounds, medians':52} " + "  ".join(f"{n:>14}" for n in names)
             + "".join(f"  {'vs CPU':>7}" for _ in devices[1:])]
    for name in calls:
        ms = [1000 * statistics.median(times[name, j]) for j in range(len(devices))]
        lines.append(f"{name:52} " + "  ".join(f"{m:11.2f} ms" for m in ms)
                     + "".join(f"  {m / ms[0]:6.2f}x" for m in ms[1:]))
    return lines


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.model", description=" ".join(__doc__.split("\n")[:2]))
    parser.add_argument("--rounds", type=int, default=15, help="model and inference cases: interleaved rounds")
    parser.add_argument("--threads", type=int, default=1, help="torch threads")
    parser.add_argument("--case", choices=["all", "model", "inference", "training"], default="all")
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cpu",
                        help="cuda: the inference and training cases also run on the GPU, beside the CPU figures")
    parser.add_argument("--seconds", type=float, default=3.0, help="training case: seconds per side per round")
    parser.add_argument("--train-rounds", type=int, default=5, help="training case: interleaved rounds")
    parser.add_argument("--forcing", type=float, default=TRAIN_RATIO,
                        help="training case: teacher forcing (1: every step fed the reference, as in a first epoch)")
    parser.add_argument("--train-batch", type=int, action="append", default=None,
                        help="training case: also time the new loop at this batch size (repeatable; default 256)")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    print(f"machine: {platform.processor() or platform.machine()}, {torch.get_num_threads()} thread(s), "
          f"torch {torch.__version__}")
    devices = [torch.device("cpu")]
    if args.device == "cuda":
        if torch.cuda.is_available():
            devices.append(torch.device("cuda"))
        else:
            print("--device cuda: no CUDA device is present here; CPU figures only")
    if args.case in ("all", "model"):
        model_case(args.rounds)
    if args.case in ("all", "inference"):
        print("\n".join(inference_case(devices, args.rounds)))
    if args.case in ("all", "training"):
        print(f"{args.train_rounds} interleaved rounds of {args.seconds:g} s per side, medians")
        batch_sizes = args.train_batch if args.train_batch is not None else [256]
        print("\n".join(training_case(devices, args.train_rounds, args.seconds, batch_sizes, args.forcing)))


def model_case(rounds: int) -> None:
    """This project's model against the seed notebook's: inference and one training step."""
    seed_model = SeedAttentionEDM(VOCAB, VOCAB, EMB, HIDDEN, LAYERS)
    ours = build_model(ModelConfig(VOCAB, VOCAB, query="input", score="scaled_dot", emb_size=EMB,
                                   hidden_size=HIDDEN, num_layers=LAYERS))
    source1, target1 = torch.randint(4, VOCAB, (1, TOKENS)), torch.randint(4, VOCAB, (1, TOKENS))
    source64, target64 = torch.randint(4, VOCAB, (64, TOKENS)), torch.randint(4, VOCAB, (64, TOKENS))
    lengths1, lengths64 = torch.full((1,), TOKENS), torch.full((64,), TOKENS)
    seed_opt, our_opt = torch.optim.Adam(seed_model.parameters()), torch.optim.Adam(ours.parameters())

    def seed_infer():  # the seed has no inference path: its forward, feeding its own predictions
        seed_model.teacher_forcing_ratio = torch.tensor(0.0)
        with torch.no_grad():
            seed_model(source1, target1)

    def our_infer():  # exactly 30 steps, every step recorded (scores, weights, query, context)
        greedy(ours, source1, lengths1, max_len=TOKENS, reference=target1, teacher_forcing=0.0)

    def train_step(model, optimizer, forward):
        model.train()
        logits = forward()
        loss = torch.nn.functional.cross_entropy(logits.flatten(0, 1), target64.flatten())
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    def seed_train():
        seed_model.teacher_forcing_ratio = torch.tensor(1.0)
        train_step(seed_model, seed_opt, lambda: seed_model(source64, target64))

    def our_train():
        train_step(ours, our_opt, lambda: ours(source64, lengths64, target64, teacher_forcing=1.0))

    cases = {"inference, batch 1, 30 -> 30 tokens": (seed_infer, our_infer),
             "training step, batch 64, 30 tokens, forcing 1.0": (seed_train, our_train)}
    for seed_fn, our_fn in cases.values():  # warm-up
        seed_fn(), our_fn()
    times = {name: ([], []) for name in cases}
    for _ in range(rounds):
        for name, (seed_fn, our_fn) in cases.items():
            times[name][0].append(timed(seed_fn))
            times[name][1].append(timed(our_fn))

    print(f"model: {rounds} interleaved rounds, medians")
    print(f"{'case':52} {'seed':>10} {'ours':>10} {'speed-up':>9}")
    for name, (seed_times, our_times) in times.items():
        seed_ms, our_ms = 1000 * statistics.median(seed_times), 1000 * statistics.median(our_times)
        print(f"{name:52} {seed_ms:8.2f}ms {our_ms:8.2f}ms {seed_ms / our_ms:8.1f}x")


if __name__ == "__main__":
    main()
