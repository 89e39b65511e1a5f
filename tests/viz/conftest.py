"""Results and helpers shared by the tests of s2s/viz: `from tests.viz.conftest import DATE, z_of, ...`."""

from __future__ import annotations

import base64
import dataclasses

import numpy as np
import plotly.graph_objects as go
import pytest

import s2s
from s2s.translator import Translation

DATE = "3 March 2021"
HOSTILE = "<img src=x onerror=alert(1)>"


@pytest.fixture(scope="module")
def forced(tiny) -> Translation:
    """Fed the reference at every step but the first (which is fed ⟨bos⟩)."""
    return tiny.translate(DATE, reference="2021-03-03", teacher_forcing=1.0)


@pytest.fixture(scope="module")
def after_end(tiny) -> Translation:
    """Forced on past the model's own </s>: the model ends at step 4, the reference runs to step 10."""
    r = tiny.translate(DATE, reference="2021-03-03", teacher_forcing=0.5, seed=1)
    outputs = [p if p != "</s>" else "0" for p in r.output_pieces]
    outputs[4] = "</s>"
    return dataclasses.replace(r, output_pieces=outputs)


@pytest.fixture(scope="module")
def trained() -> Translation:
    """The bundled `dates` checkpoint's result: trained, so its step has top pieces and ends in </s>."""
    return s2s.load("dates").translate(DATE)


def synthetic(steps: int = 20, width: int = 20, layers: int = 2, hidden: int = 8) -> Translation:
    """A Translation of any size with random attention (the tiny checkpoint outputs at most 16 steps)."""
    rng = np.random.default_rng(0)
    scores = rng.normal(size=(layers, steps, width)).astype(np.float32)
    weights = np.exp(scores) / np.exp(scores).sum(-1, keepdims=True)
    zeros = np.zeros((layers, steps, hidden), np.float32)
    return Translation(
        source_text="x", source_pieces=[f"▁s{j}" for j in range(width)],
        decoder_inputs=["<s>"] + [f"o{i}" for i in range(steps - 1)], output_pieces=[f"o{i}" for i in range(steps)],
        text="", attention=weights, scores=scores, probs=np.ones(steps, np.float32), forced=np.zeros(steps, bool),
        queries=zeros, contexts=zeros.copy(), encoder_states=np.zeros((layers, width, hidden), np.float32),
        log_prob=0.0,
        mask="bidirectional", teacher_forcing=0.0, seed=0, beam_size=1, score_function="scaled_dot", query="state",
        trained_mask="bidirectional",
    )


def strings(node) -> list[str]:
    """Every string in decoded JSON: what the browser gets (to_json writes "<" as \\u003c)."""
    if isinstance(node, str):
        return [node]
    if isinstance(node, dict):
        return [s for value in node.values() for s in strings(value)]
    if isinstance(node, list):
        return [s for value in node for s in strings(value)]
    return []


def validated(fig) -> go.Figure:
    """The figure's dict through plotly.py's validation (the figures skip it when they are built)."""
    return go.Figure(fig.to_dict())


def z_of(fig, trace: int = 0) -> np.ndarray:
    """A trace's z as float64, from an array or the typed-array spec ({"dtype", "bdata", "shape"}) to_dict writes."""
    z = fig.data[trace].z
    if isinstance(z, dict):
        shape = [int(n) for n in str(z["shape"]).split(",")]
        z = np.frombuffer(base64.b64decode(z["bdata"]), dtype=z["dtype"]).reshape(shape)
    return np.asarray(z, dtype=np.float64)
