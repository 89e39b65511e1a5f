"""Independent oracles: the model's arithmetic written out by hand (numpy loops over its parameters, a plain
step-by-step torch reference), and the small random models and batches the tests build them on.

Nothing here calls the library's own arithmetic: a test compares the library with these.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import torch

from s2s.model import ModelConfig, build_model
from s2s.tokenizer import BOS_ID, PAD_ID
from s2s.translator import Translation

SCORES = ("dot", "scaled_dot", "general", "additive")
QUERIES = ("input", "state")
IN_VOCAB, OUT_VOCAB, EMB, HIDDEN, LAYERS = 13, 11, 5, 6, 2


def tiny_model(seed: int = 0, **settings):
    torch.manual_seed(seed)
    fields = dict(emb_size=EMB, hidden_size=HIDDEN, num_layers=LAYERS) | settings
    return build_model(ModelConfig(IN_VOCAB, OUT_VOCAB, **fields)).eval()


def padded_batch(lengths, vocab=IN_VOCAB, seed=0):
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(4, vocab, (len(lengths), max(lengths)), generator=g)
    for i, n in enumerate(lengths):
        ids[i, n:] = PAD_ID
    return ids, torch.tensor(lengths)


def random_model(seed=0, **settings):
    torch.manual_seed(seed)
    fields = dict(input_vocab_size=50, output_vocab_size=40, emb_size=8, hidden_size=16, num_layers=2) | settings
    return build_model(ModelConfig(**fields)).eval()


def batch(lengths, vocab=50, seed=0):
    """A padded batch of random ids (no specials) with the given lengths."""
    g = torch.Generator().manual_seed(seed)
    width = max(lengths)
    ids = torch.randint(4, vocab, (len(lengths), width), generator=g)
    for i, n in enumerate(lengths):
        ids[i, n:] = PAD_ID
    return ids, torch.tensor(lengths)


def np_(tensor) -> np.ndarray:
    return tensor.detach().double().numpy()


# --- the score functions and a whole forward pass, written out in numpy ---------------------------


def score_formula(model, layer: int, q: np.ndarray, k: np.ndarray) -> float:
    """The score functions of docs/model.md: a query q (H,) against an encoder state k (H,), decoder layer `layer`."""
    kind = model.config.score
    if kind == "dot":
        return float(q @ k)
    if kind == "scaled_dot":
        return float(q @ k) / math.sqrt(model.config.hidden_size)
    if kind == "general":  # q^T W k
        return float(q @ np_(model.score_weight[layer]) @ k)
    # additive: v^T tanh(W q + U k)
    w, u, v = np_(model.query_weight[layer]), np_(model.key_weight[layer]), np_(model.score_vector[layer])
    return float(v @ np.tanh(w @ q + u @ k))


def hand_softmax(scores: np.ndarray, allowed: np.ndarray) -> np.ndarray:
    """Softmax over the allowed positions; the others get exactly 0."""
    out = np.zeros_like(scores)
    top = scores[allowed].max()
    e = np.exp(scores[allowed] - top)
    out[allowed] = e / e.sum()
    return out


def np_lstm_step(x, h, c, w_ih, w_hh, b_ih, b_hh):
    gates = w_ih @ x + b_ih + w_hh @ h + b_hh
    i, f, g, o = np.split(gates, 4)
    sigmoid = lambda z: 1 / (1 + np.exp(-z))  # noqa: E731
    c = sigmoid(f) * c + sigmoid(i) * np.tanh(g)
    return sigmoid(o) * np.tanh(c), c


def hand_forward(model, ids: list[int], target: list[int], mask: str) -> np.ndarray:
    """Teacher forcing 1.0 for a left-to-right encoder, one token, one layer, one position at a time."""
    x_seq = [np_(model.encoder.embedding.weight)[i] for i in ids]
    values, hs, cs = [], [], []
    for lstm in model.encoder.layers:
        h = c = np.zeros(HIDDEN)
        outs = []
        for x in x_seq:
            h, c = np_lstm_step(x, h, c, np_(lstm.weight_ih_l0), np_(lstm.weight_hh_l0), np_(lstm.bias_ih_l0),
                             np_(lstm.bias_hh_l0))
            outs.append(h)
        values.append(outs)
        hs.append(h)
        cs.append(c)
        x_seq = outs
    logits = []
    for t in range(len(target)):
        token = BOS_ID if t == 0 else target[t - 1]
        embedded = np_(model.decoder_emb.weight)[token]
        x = embedded
        for layer, cell in enumerate(model.decoder_cells):
            if model.config.query == "input":
                q = np_(model.projection.weight) @ embedded + np_(model.projection.bias)
            else:
                q = hs[layer]
            visible = [j for j in range(len(ids)) if mask == "bidirectional" or j <= t]
            scores = np.array([score_formula(model, layer, q, values[layer][j]) for j in visible])
            weights = np.exp(scores - scores.max())
            weights /= weights.sum()
            context = sum(w * values[layer][j] for w, j in zip(weights, visible))
            hs[layer], cs[layer] = np_lstm_step(x, context, cs[layer], np_(cell.weight_ih), np_(cell.weight_hh),
                                             np_(cell.bias_ih), np_(cell.bias_hh))
            x = hs[layer]
        logits.append(np_(model.lm.weight) @ x + np_(model.lm.bias))
    return np.stack(logits)


def softmax_rows(logits: torch.Tensor) -> np.ndarray:
    z = np_(logits)
    e = np.exp(z - z.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def hand_loss(logits: np.ndarray, target: np.ndarray) -> float:
    """Mean over non-PAD positions of -log softmax(logits[b, t])[target[b, t]], written out."""
    total, count = 0.0, 0
    for b in range(target.shape[0]):
        for t in range(target.shape[1]):
            if target[b, t] == PAD_ID:
                continue
            z = logits[b, t]
            log_norm = z.max() + math.log(np.exp(z - z.max()).sum())
            total += log_norm - z[target[b, t]]
            count += 1
    return total / count


# --- a plain step-by-step torch reference, written from the equations ------------------------------


def lstm_step(x, h, c, w_ih, w_hh, b_ih, b_hh):
    i, f, g, o = (x @ w_ih.T + b_ih + h @ w_hh.T + b_hh).chunk(4, dim=-1)
    c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
    return torch.sigmoid(o) * torch.tanh(c), c


def reference_encoder(model, ids):
    """One token at a time, one layer at a time: per-layer states (L, T, H) and final (h, c)."""
    x = model.encoder.embedding(ids)  # (T, E)
    states, finals = [], []
    for lstm in model.encoder.layers:
        h = c = torch.zeros(lstm.hidden_size)
        outs = []
        for x_t in x:
            h, c = lstm_step(x_t, h, c, lstm.weight_ih_l0, lstm.weight_hh_l0, lstm.bias_ih_l0, lstm.bias_hh_l0)
            outs.append(h)
        x = torch.stack(outs)
        states.append(x)
        finals.append((h, c))
    return torch.stack(states), finals


def reference_forward(model, ids, target):
    """Teacher forcing 1.0, written out: scores q.k/sqrt(H), explicit weighted sums."""
    values, finals = reference_encoder(model, ids)
    hs, cs = [h for h, _ in finals], [c for _, c in finals]
    size = model.config.hidden_size
    logits = []
    for t in range(len(target)):
        token = BOS_ID if t == 0 else int(target[t - 1])
        x = model.decoder_emb.weight[token]
        for layer, cell in enumerate(model.decoder_cells):
            scores = torch.stack([hs[layer] @ v / math.sqrt(size) for v in values[layer]])
            weights = torch.softmax(scores, dim=0)
            context = sum(w * v for w, v in zip(weights, values[layer]))
            hs[layer], cs[layer] = lstm_step(x, context, cs[layer], cell.weight_ih, cell.weight_hh,
                                             cell.bias_ih, cell.bias_hh)
            x = hs[layer]
        logits.append(model.lm(x))
    return torch.stack(logits)


def same(a, b) -> bool:
    """Equal, field by field, arrays by their dtype, shape and values (NaN and -inf included); a translation's
    hypotheses are the same translations, the best (itself) first."""
    if isinstance(a, Translation):
        if not isinstance(b, Translation) or len(a.hypotheses) != len(b.hypotheses):
            return False
        fields = [f.name for f in dataclasses.fields(a) if f.name != "hypotheses"]
        return (all(same(getattr(a, name), getattr(b, name)) for name in fields)
                and all((h is a) == (g is b) and (h is a or same(h, g)) for h, g in zip(a.hypotheses, b.hypotheses)))
    if dataclasses.is_dataclass(a):
        return type(a) is type(b) and all(same(getattr(a, f.name), getattr(b, f.name)) for f in dataclasses.fields(a))
    if isinstance(a, np.ndarray):
        return (isinstance(b, np.ndarray) and a.dtype == b.dtype and a.shape == b.shape
                and np.array_equal(a, b, equal_nan=a.dtype.kind == "f"))
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list | tuple):
        return isinstance(b, list) and len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    return type(a) is type(b) and a == b
