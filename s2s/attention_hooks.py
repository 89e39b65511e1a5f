"""What every attention head of a `transformers` encoder-decoder did, read by forward hooks on its attention modules.

The model runs its own eager attention (`attn_implementation="eager"`), which returns each head's weights
with its output; a hook on every attention module records them. The eager path does not return what softmax
saw, so the hook computes it again from the module's own parts, the way the module did:

    q = W_Q x    K = the keys the module read (the cache's, or W_K of its input)    scores = q K^T * scaling

with the mask the module was given (its masked positions -inf). tests/test_hub_translation.py checks that
softmax(scores) is the weights the module returned, head by head. The hook also keeps each head's query and
context (weights @ V, before the output projection), heads side by side, and the keys and values it read.

Hooks are installed once per model (`install`) and record only inside `recording()`: the recorder lives in a
ContextVar, so requests decoding on one shared model at once, each in its own thread, never see each other's
records, and a forward pass outside `recording()` (generate(), a test's own call) costs a lookup per module.

Shapes: B batch (rows), NH heads, Q query positions in this call, K key positions, dh a head's size,
H = NH dh the model size.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass, field

import torch
from torch import nn

_ACTIVE: ContextVar[Recorder | None] = ContextVar("s2s_head_recorder", default=None)


@dataclass
class Call:
    """One call of one attention module."""

    kind: str  # "cross", "decoder_self" or "encoder_self" (translator.ATTENTION_KINDS)
    layer: int
    scores: torch.Tensor  # (B, NH, Q, K) what softmax saw: q K^T * scaling, masked positions -inf
    weights: torch.Tensor  # (B, NH, Q, K) what the module returned
    query: torch.Tensor  # (B, Q, H) each head's q, side by side
    context: torch.Tensor  # (B, Q, H) weights @ V of each head, side by side (before the output projection)
    keys: torch.Tensor  # (B, NH, K, dh) the keys the module read
    values: torch.Tensor  # (B, NH, K, dh) the values the module read


@dataclass
class Recorder:
    """The calls made while recording, in order."""

    calls: list[Call] = field(default_factory=list)

    def take(self, kind: str) -> list[Call]:
        """The calls of `kind` since the last take, layer by layer, and forget them."""
        taken = [call for call in self.calls if call.kind == kind]
        self.calls = [call for call in self.calls if call.kind != kind]
        return sorted(taken, key=lambda call: call.layer)

    def clear(self) -> None:
        self.calls = []


@contextlib.contextmanager
def recording() -> Iterator[Recorder]:
    """Record the attention calls made in this context (this thread), and only those."""
    recorder = Recorder()
    token = _ACTIVE.set(recorder)
    try:
        yield recorder
    finally:
        _ACTIVE.reset(token)


def install(modules: dict[nn.Module, tuple[str, int]]) -> None:
    """Hook each attention module (module -> (kind, layer)) once; idempotent for a module already hooked."""
    for module, (kind, layer) in modules.items():
        if getattr(module, "_s2s_heads_hooked", False):
            continue
        module.register_forward_hook(_hook(kind, layer), with_kwargs=True)
        module._s2s_heads_hooked = True


def _hook(kind: str, layer: int):
    def record(module: nn.Module, args: tuple, kwargs: dict, output) -> None:
        recorder = _ACTIVE.get()
        if recorder is None:
            return
        hidden = args[0] if args else kwargs["hidden_states"]  # (B, Q, H)
        source = kwargs.get("key_value_states")  # cross-attention reads the encoder's output
        with torch.no_grad():
            cache = kwargs.get("past_key_values", kwargs.get("cache"))  # renamed "cache" after transformers 5.20
            keys, values = _keys_and_values(module, hidden if source is None else source, cache,
                                            cross=source is not None)
            batch, length, _ = hidden.shape
            q = module.q_proj(hidden).view(batch, length, -1, module.head_dim).transpose(1, 2)  # (B, NH, Q, dh)
            scores = torch.matmul(q, keys.transpose(2, 3)) * module.scaling  # (B, NH, Q, K)
            scores = _masked(scores, kwargs.get("attention_mask"))
            weights = output[1]
            context = torch.matmul(weights, values)  # (B, NH, Q, dh)
            recorder.calls.append(Call(kind, layer, scores, weights.detach(), side_by_side(q),
                                       side_by_side(context), keys, values))

    return record


def _keys_and_values(module: nn.Module, states: torch.Tensor, cache, *, cross: bool):
    """(B, NH, K, dh) keys and values the module attended with: its cache's after the call, else W_K, W_V of states."""
    if cache is not None and hasattr(cache, "cross_attention_cache"):  # an EncoderDecoderCache
        layers = (cache.cross_attention_cache if cross else cache.self_attention_cache).layers
        return layers[module.layer_idx].keys, layers[module.layer_idx].values
    batch, length, _ = states.shape
    shape = (batch, length, -1, module.head_dim)
    return (module.k_proj(states).view(shape).transpose(1, 2), module.v_proj(states).view(shape).transpose(1, 2))


def _masked(scores: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    """scores with the module's mask applied: its masked positions -inf, any finite bias added."""
    if mask is None:
        return scores
    mask = mask[..., : scores.shape[-1]]
    if mask.dtype == torch.bool:
        return scores.masked_fill(~mask, float("-inf"))
    blocked = mask <= torch.finfo(mask.dtype).min / 2  # transformers' additive masks hold the dtype's minimum
    return (scores + mask.masked_fill(blocked, 0.0)).masked_fill(blocked, float("-inf"))


def side_by_side(heads: torch.Tensor) -> torch.Tensor:
    """(B, NH, Q, dh) -> (B, Q, NH dh): head h is columns h dh .. (h + 1) dh."""
    batch, count, length, size = heads.shape
    return heads.transpose(1, 2).reshape(batch, length, count * size)
