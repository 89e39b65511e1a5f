"""Benchmark: this project's model against a faithful copy of the seed notebook's, in one process.

    python -m s2s.bench [--rounds 15] [--threads 1]

Both sides run at the same sizes (emb 64, hidden 256, 2 layers, vocabulary 1000) on the same
inputs, interleaved round by round so that machine noise hits both alike; the figures are
medians and the ratios are seed / ours. One thread by default: the seed's per-call set-up
spins threads and makes two-thread figures swing.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time

import torch

from .decode import greedy
from .model import ModelConfig, build_model

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


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m s2s.bench", description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)

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
    for _ in range(args.rounds):
        for name, (seed_fn, our_fn) in cases.items():
            times[name][0].append(timed(seed_fn))
            times[name][1].append(timed(our_fn))

    print(f"machine: {platform.processor() or platform.machine()}, {torch.get_num_threads()} thread(s), "
          f"torch {torch.__version__}, {args.rounds} interleaved rounds, medians")
    print(f"{'case':52} {'seed':>10} {'ours':>10} {'speed-up':>9}")
    for name, (seed_times, our_times) in times.items():
        seed_ms, our_ms = 1000 * statistics.median(seed_times), 1000 * statistics.median(our_times)
        print(f"{name:52} {seed_ms:8.2f}ms {our_ms:8.2f}ms {seed_ms / our_ms:8.1f}x")


if __name__ == "__main__":
    main()
