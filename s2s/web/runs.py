"""One run of a model for the web app: a visitor's settings, their checks, the model call, and messages.

`run` is the only function in the web app that runs a model: the Explore tab, the Compare tab and
the public API all go through it. It checks every value a visitor sent before anything is paid for
(text length, a checkpoint name that is not a server path, whole numbers), loads the checkpoint, then
decodes on the CPU: a few short sequences at a time are fastest there, even where there is a GPU
(s2s/web/models.py places the models), so a ZeroGPU Space never queues a keystroke for its GPU. Greedy
batches of a bundled checkpoint decode in a process beside the server (decode_worker.py), the rest here.
`api_translate` adapts `run` to the public `translate` endpoint's parameters.

What a visitor can act on is a ValueError or an S2SError; `user_message` turns any error into what
to tell them (a bug becomes a generic message, and its traceback is logged).
"""

# No `from __future__ import annotations` here: gradio reads the endpoint's type hints on every call, and
# hints kept as strings are parsed again each time (~0.1 ms a request; evaluated once at import instead).
import html
import logging
import re
import sys
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path
from typing import NamedTuple

from .. import budget, viz
from ..errors import S2SError, one_line
from ..translator import Translation, Translator, check_seed
from . import batching, decode_worker, models

log = logging.getLogger(__name__)
# Folders of this server that a message must never show (the code, Python's packages, temporary files, home).
SERVER_PLACES = tuple({str(Path(__file__).resolve().parents[2]), sys.prefix, sys.base_prefix, tempfile.gettempdir(),
                       str(Path.home())} - {"", "/"})

MAX_HUB_BEAM = 4  # beam search on a checkpoint of unknown size costs up to beam x its decode: bounded
MAX_TEXT_CHARS = 500  # longer text is refused before it reaches a tokenizer; every checkpoint reads fewer pieces
CODE_SPAN = re.compile(r"`([^`]+)`")  # a Markdown code span in a message
GENERIC_ERROR = "Something went wrong on the server (it has been logged). Try again, or change the settings."


@dataclass(frozen=True)
class Settings:
    """One run, as the page's controls hold it (values not yet checked)."""

    text: str
    checkpoint: str
    mask: str = "bidirectional"
    forcing: bool = False
    ratio: float = 1.0
    reference: str = ""
    seed: int | float | None = 0
    beam_size: int | float = 1
    prefix: tuple[str, ...] = ()  # pieces fed at steps 1, 2, … whatever the model wrote (an intervention)


def settings_from(text, checkpoint, mask, forcing, ratio, reference, seed, decoding, beam_size) -> Settings:
    """The Explore tab's controls as one run's settings: the beam size counts only where decoding is "beam"."""
    return Settings(text, checkpoint, mask, bool(forcing), ratio, reference or "", seed,
                    beam_size if decoding == "beam" else 1)


@dataclass(frozen=True)
class Checked:
    """One run's values after the checks: plain values (a frozen record), what the decoding code reads.

    The mask, the ratio's range, a reference for forcing and the beam size's range are checked by
    the translator itself, with the same messages as in the library.
    """

    spec: str
    text: str
    mask: str
    teacher_forcing: float
    reference: str | None
    seed: int
    beam_size: int
    prefix: tuple[str, ...] = ()


def _whole(value: object, what: str) -> int:
    """A whole number from a form field (gradio sends 3.0 for 3); ValueError otherwise."""
    if value is None or value == "":
        raise ValueError(f"The {what} is empty: give a whole number.")
    if isinstance(value, bool) or not isinstance(value, int | float) or not float(value).is_integer():
        raise ValueError(f"The {what} must be a whole number; got {value!r}.")
    return int(value)


def check(settings: Settings) -> Checked:
    """The settings' values, checked in the order a visitor fixes them. Raises ValueError with a message."""
    text = settings.text if isinstance(settings.text, str) else ""
    if len(text) > MAX_TEXT_CHARS:
        raise ValueError(f"The input is too long: {len(text)} characters, at most {MAX_TEXT_CHARS} here.")
    if not text.strip():
        raise ValueError("The input is empty: type something to translate.")
    ratio = settings.ratio if settings.forcing else 0.0
    reference = settings.reference if isinstance(settings.reference, str) else ""
    if len(reference) > MAX_TEXT_CHARS:
        raise ValueError(f"The reference is too long: {len(reference)} characters, at most {MAX_TEXT_CHARS} here.")
    seed = 0 if settings.seed in (None, "") else _whole(settings.seed, "seed")
    check_seed(seed)  # here too: a greedy run joins a batch (s2s/web/batching.py), which takes no seed
    beam_size = _whole(settings.beam_size, "beam size")
    spec = models.web_spec(settings.checkpoint)
    prefix = tuple(settings.prefix) if isinstance(settings.prefix, list | tuple) else ()
    if not all(isinstance(piece, str) for piece in prefix):
        raise ValueError("The pieces to feed must be text.")
    return Checked(spec, text, settings.mask, ratio, reference or None, seed, beam_size, prefix)


class BatchKey(NamedTuple):
    """What texts must share to be decoded in one batch: the model and the mask."""

    translator: Translator
    mask: str
    bundled: str | None  # a bundled checkpoint's folder (decoded in the decoding process), or None


def _decode(checked: Checked, loaded: models.Loaded, bundled: bool) -> Translation:
    """The model call itself, with the checkpoint's loaded translator.

    A plain greedy decode (no forcing, beam or fed pieces) joins the requests decoding with the same model
    and mask at the same moment, in one batch (s2s/web/batching.py), decoded in the decoding process for a
    bundled checkpoint (s2s/web/decode_worker.py); the rest run alone, here.
    """
    if checked.teacher_forcing == 0 and checked.beam_size == 1 and not checked.prefix:
        key = BatchKey(loaded.translator, checked.mask, str(loaded.folder) if bundled else None)
        result = _BATCHER.translate(key, checked.text)
        return replace(result, seed=checked.seed)  # the seed drives only forcing; it is reported as sent
    return loaded.translator.translate(
        checked.text, reference=checked.reference, teacher_forcing=checked.teacher_forcing, mask=checked.mask,
        beam_size=checked.beam_size, seed=checked.seed, prefix=list(checked.prefix) or None)


def _decode_batch(key: BatchKey, texts: list[str]) -> list[Translation]:
    if _WORKER is not None and key.bundled:
        answer = _WORKER.translate_batch(key.bundled, key.mask, texts)
        if answer is not None:  # None: no child ready (one is starting), or not one that holds it: decoded here
            return answer
    return key.translator.translate_batch(texts, mask=key.mask)


def _decode_alone(key: BatchKey, text: str) -> Translation:
    return key.translator.translate(text, mask=key.mask)


_BATCHER = batching.Batcher(_decode_batch, _decode_alone)
_WORKER = decode_worker.DecodeWorker() if decode_worker.enabled() else None


def prepare() -> None:
    """Get ready to serve: every bundled checkpoint loaded (models.prepare), and the decoding process starting."""
    models.prepare()
    if _WORKER is not None:
        _WORKER.start()


def decode_here() -> None:
    """Decode every batch in this process from now on (a benchmark timing the work in process, say)."""
    global _WORKER
    if _WORKER is not None:
        _WORKER.close()
    _WORKER = None


def run(settings: Settings) -> Translation:
    """Run the model with a visitor's settings: the one entry point. Raises ValueError/S2SError with a message.

    The checkpoint is loaded first (a Hub one in the Hub pool: see models.get_model), and the request's memory
    is counted against its budget (s2s/budget.py) before anything is decoded. Decoding is
    deterministic for its settings (the seed drives forcing), so a result asked for again, as a class does
    with a lesson's input, is served from the model's recent results (models.Loaded.results) without
    running the model again.
    """
    checked = check(settings)
    loaded = models.get_model(checked.spec)
    found = loaded.results.get(checked)
    if found is not None:
        return found
    bundled = models.is_bundled(checked.spec)
    if checked.beam_size > MAX_HUB_BEAM and not bundled:
        raise ValueError(f"Beam search on a Hub checkpoint keeps at most {MAX_HUB_BEAM} hypotheses here "
                         "(its size is not known in advance): choose a smaller beam.")
    source_len = len(loaded.translator.encode_source(checked.text))
    budget.check_request(loaded.translator.config, source_len, checked.beam_size)  # before anything is decoded
    result = _decode(checked, loaded, bundled)
    loaded.results.put(checked, result)
    return result


def api_translate(text: str, checkpoint: str, mask: str, teacher_forcing: float, reference: str | None,
                  seed: int | float, beam_size: int | float) -> tuple[str, viz.Figure]:
    """Translate `text` with a checkpoint; returns the output text and the attention heatmap.

    teacher_forcing is the ratio of steps fed the reference (0 = off; the reference may then be empty).
    """
    # raises ValueError/S2SError on bad values: app.py turns them into errors for the client (this docstring is
    # the API's description)
    settings = Settings(text, checkpoint, mask, forcing=True, ratio=teacher_forcing, reference=reference or "",
                        seed=seed, beam_size=beam_size)
    result = run(settings)
    return result.text, viz.heatmap(result)


def user_message(error: BaseException) -> str:
    """What to tell the visitor: an expected error's own message, else a generic one (and log the bug).

    A ValueError raised inside a library may name a file of this server: that one is logged, not shown.
    """
    if isinstance(error, ValueError | S2SError):
        return visible(str(error))
    log.error("unexpected error", exc_info=error)
    return GENERIC_ERROR


def visible(message: str) -> str:
    """`message` as a visitor may see it: itself, or GENERIC_ERROR if it names a folder of this server (then
    logged, in one line: it may quote what the visitor typed, so it is no bug and gets no traceback)."""
    if not any(place in message for place in SERVER_PLACES):
        return message
    log.warning("a message naming a server folder was not shown: %s", one_line(message))
    return GENERIC_ERROR


def problem(message: str) -> str:
    """A message for the page's Markdown, shown as a problem (HTML-escaped: it may repeat what a visitor typed).

    Markdown is not read inside the HTML block, so `code` spans are made <code> here (they showed as backticks)."""
    shown = CODE_SPAN.sub(r"<code>\1</code>", html.escape(message))
    return f'<div class="s2s-problem">{shown}</div>'
