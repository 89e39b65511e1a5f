"""The Train tab's limits, in one place: what a run may ask for and cost, and the refusals that say so.

Each limit that a deployment may want to change is read from the environment (S2S_TRAIN_MAX_RUNS,
S2S_TRAIN_MAX_SECONDS, S2S_TRAIN_THREADS); docs/deploying.md lists them.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import torch

from ... import environment

TASK_CHOICES = ("dates", "reverse-short", "toy-fr", "tsv")  # reverse-short: a reversal learnt within the cap
# what each task reaches with the tab's defaults within MAX_SECONDS on 2 CPUs, by model family (FAMILIES): the least
# validation exact match (tests/web/test_train_defaults.py trains each; docs/training.md gives the figures measured)
REACHES = {"lstm": {"dates": 0.95, "reverse-short": 0.9, "toy-fr": 0.5},
           "transformer": {"dates": 0.95, "reverse-short": 0.9, "toy-fr": 0.6}}
# the probe a task opens with (a pasted TSV keeps whatever the visitor typed)
PROBES = {"dates": "the 21st of June, 1999", "reverse-short": "s e q u e n c e",
          "toy-fr": "the black cat does not see the white mouse"}
SIZES = {  # the network of each size; small trains to a readable heatmap in about a minute on 2 CPUs
    "small": dict(emb_size=32, hidden_size=64, num_layers=1),
    "medium": dict(emb_size=64, hidden_size=128, num_layers=2),
}
# the model families the tab trains: the notebook's LSTM encoder-decoder (with attention, or without) and the
# Transformer of s2s/transformer.py, its decoder causal (decoder_mask "causal"); the page's words for each
FAMILIES = {"lstm": "LSTM with attention", "transformer": "Transformer"}
TRANSFORMER_SIZES = {  # a Transformer's network of each size (hidden_size: every block's width, each head's is / heads)
    "small": dict(hidden_size=64, heads=4, ff_size=128, num_layers=2),
    "medium": dict(hidden_size=128, heads=4, ff_size=256, num_layers=2),
}
TRANSFORMER_LR = 3e-3  # Adam's rate for a Transformer's batch of BATCH_SIZE (pre-LayerNorm: no warm-up needed)
MAX_TSV_LINES = 5_000
FEW_PAIRS = 300  # pasted pairs below this are learnt by heart, not generalised from: the tab says so up front
MAX_TRAIN_SIZE = 40_000  # generated pairs a run may ask for
DEFAULT_TRAIN_SIZE = 20_000
VAL_SIZE = 200  # validation pairs, measured at every probe
BATCH_SIZE = 128  # small enough for many updates in a minute, large enough to use the CPU well
PROBE_EVERY_S = 3.0
# the probe's UTF-8 bytes: a character the data lacks is read as its bytes (byte fallback), and a trained model
# reads at least 64 pieces, its </s> included (s2s.training.trainer.build_or_resume)
MAX_PROBE_BYTES = 60
LEARNT_PROBES = 2  # a run stops once this many probes in a row get every validation pair right
STALL_PROBES = 10  # ... or once this many in a row (about 30 s) improve neither validation nor the loss
MIN_GAIN = 0.005  # a gain in validation token accuracy smaller than this is no gain
MIN_LOSS_GAIN = 0.02  # nats a token: a fall of the training loss below its lowest smaller than this is no gain
MAX_POINTS = 400  # loss points kept in a snapshot (older ones thinned out)
MAX_FINISHED = 32  # finished runs kept for their visitors (model, export), oldest dropped first
PLACE_KEPT_S = 10.0  # a place in line is kept this long after its page last asked (a waiting page asks each second)
MAX_RUNS = environment.count("S2S_TRAIN_MAX_RUNS", 4 if torch.cuda.is_available() else 1)
# one address: its runs going and places in line together (a class behind one NAT address: see docs/deploying.md)
PER_ADDRESS = environment.count("S2S_TRAIN_PER_ADDRESS", 2)
MAX_LINE = 8  # places in line: beyond, a request is refused (each keeps its request in memory)
MAX_SECONDS = environment.number("S2S_TRAIN_MAX_SECONDS", 120.0, minimum=1)
TRAIN_THREADS = environment.count("S2S_TRAIN_THREADS", 1)
EXPORT_DIR = Path(tempfile.gettempdir()) / "s2s-training"
EXPORT_KEEP = 16  # exported zips kept in EXPORT_DIR, newest first


class TrainingRefused(ValueError):
    """A run was not started; the message says why and what to do."""


class InLine(TrainingRefused):
    """Every slot is taken (or kept for visitors ahead): the visitor has a place in line (Registry)."""
