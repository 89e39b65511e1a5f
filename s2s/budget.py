"""What one request may cost the server's memory, counted from sizes before it runs.

A Space serves a whole class from one process, so the memory of the requests decoding at once adds up,
and a checkpoint from the Hub may sit at every limit of s2s/checkpoint.py. The limits bound a request's
time (MAX_DECODE_WORK); this bounds its memory. Decoding records, for every step of every hypothesis
(beam search keeps one row per hypothesis), the output distribution and what attention did in each
layer; each result then keeps its own copies as a `Translation`. In float32 (4 bytes):

    recorded  = S * N * (V + L * (2T + 2H))        every step's logits, scores, weights, query and context
    results   = S * N * (L * (2T + 2H) + 2K + 2)   each hypothesis's Translation (n-best = N of them)
    encoder   = L * T * H                          the states attention reads
    bytes     = 4 * (recorded + results + encoder) + OVERHEAD

A model with NH heads a layer (a Transformer, a Hub translation model) records, besides, every head's cross and
decoder self weights and scores at each step, and its encoder's self-attention once:

    per step  + L * NH * 2 (T + S)                 each head's cross (T) and decoder self (S) weights and scores
    encoder   + 2 * L_enc * NH * T * T             each encoder head's weights and scores, source by source

A Hub translation model keeps only the K most likely pieces of each step, not its logits (V counts 0).

S output steps (the checkpoint's max_target_len: a decode may run that long), N the beam width, V the
output vocabulary, L the attention layers (0 for the plain EDM), T source pieces, H hidden size, K the
alternatives kept per step. OVERHEAD covers the small tensors of each step and the allocator's slack.
`python -m bench.memory` measures the resident memory a request adds beside this count.
"""

from __future__ import annotations

import math

from . import environment
from .decode import TOP_K
from .translator import WITH_HEADS

FLOAT_BYTES = 4
OVERHEAD = 8 * 2**20
MB = 2**20
KEEPS_TOP_K_ONLY = ("marian",)  # families whose decoding keeps the K best pieces of a step, not its logits
REQUEST_BYTES = environment.count("S2S_REQUEST_MB", 128) * MB  # what one request may use; see docs/deploying.md


class RequestTooLarge(ValueError):
    """A request whose memory, counted before it runs, is above the budget; the message says what to change."""


def request_bytes(config: dict, source_len: int, beam_size: int) -> int:
    """Bytes one translation may use at most: the count in the module's docstring, from the checkpoint's config."""
    layers = config["num_layers"] if config.get("model") != "edm" else 0
    hidden, steps, rows, width = config["hidden_size"], config["max_target_len"], beam_size, source_len
    vocab = 0 if config.get("family") in KEEPS_TOP_K_ONLY else config["output_vocab_size"]
    heads = config.get("heads", 0) if config.get("model") in WITH_HEADS else 0  # an LSTM's config may say 4
    per_step = layers * (2 * width + 2 * hidden) + layers * heads * 2 * (width + steps)
    recorded = steps * rows * (vocab + per_step)
    results = steps * rows * (per_step + 2 * TOP_K + 2)
    encoder = layers * width * hidden + 2 * config.get("encoder_layers", layers) * heads * width * width
    return FLOAT_BYTES * (recorded + results + encoder) + OVERHEAD


def check_request(config: dict, source_len: int, beam_size: int, budget: int | None = None) -> None:
    """RequestTooLarge if the request may need more than `budget` bytes (REQUEST_BYTES): said before it runs."""
    budget = REQUEST_BYTES if budget is None else budget
    need = request_bytes(config, source_len, beam_size)
    if need <= budget:
        return
    beam = f"beam {beam_size} × " if beam_size > 1 else ""
    smaller = "choose a smaller beam or a shorter input" if beam_size > 1 else "shorten the input"
    raise RequestTooLarge(
        f"This translation may need {math.ceil(need / MB)} MB on the server ({beam}up to "
        f"{config['max_target_len']} steps over {source_len} source pieces, every step's attention recorded), "
        f"above the {budget / MB:.0f} MB one request may use here: {smaller}.")
