"""What the figures read from a `Translation`: a layer's weights and scores, the masked cells,
and the checks every figure makes on the layer and the step it is asked for.

Shapes: L layers, S output steps, T source pieces.
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from ..translator import Translation

NO_ATTENTION = (
    "This model has no attention: its decoder sees only the encoder's final state, "
    "so there are no weights to show."
)


def check_layer(r: Translation, layer: int | str) -> int | str:
    """`layer` as a figure uses it: "mean" or an int in 0..L-1 (ValueError otherwise, or without attention)."""
    if r.attention_layers == 0:
        raise ValueError(NO_ATTENTION)
    if layer == "mean":
        return layer
    if isinstance(layer, bool) or not isinstance(layer, int | np.integer) or not 0 <= layer < r.attention_layers:
        raise ValueError(f"layer must be 'mean' or a whole number from 0 to {r.attention_layers - 1}; got {layer!r}")
    return int(layer)


def clamp_step(step: float, steps: int) -> int:
    """Steps outside 0..S-1 are clamped: a slider may still hold a step of a longer, earlier output."""
    if isinstance(step, bool) or not isinstance(step, numbers.Real) or not math.isfinite(step):
        raise ValueError(f"step must be a whole number; got {step!r}")
    return min(max(int(step), 0), steps - 1)


def layer_weights(r: Translation, layer: int | str) -> np.ndarray:
    """(S, T) float32, a copy (callers blank rows of it): one layer's weights, or the mean over layers (what a
    map of `layer` shows)."""
    weights = r.attention.mean(0) if layer == "mean" else r.attention[layer]
    return weights.astype(np.float32)


def layer_scores(r: Translation, layer: int | str) -> np.ndarray:
    """(k, S, T): the scores behind a figure, one layer or all of them (for the mean)."""
    return r.scores if layer == "mean" else r.scores[layer : layer + 1]


def masked_cells(r: Translation) -> np.ndarray:
    """(S, T) bool: cells the mask forbade (their logit is -inf in every layer)."""
    return np.isneginf(r.scores).any(0)
