"""Everything the web app does except the page: models, checks, figures and messages, with no gradio.

app.py lays out the page and wires each event to one function here. The functions take the plain
values the page's components hold and return plain values and plotly figures. Those called by the
page never raise: a bad value, a checkpoint that cannot load, or a bug becomes a message for the
page (bugs are also logged with their traceback), so the app keeps serving. `translate`, the API
endpoint, raises instead, and the app turns `user_message(error)` into an error for the client.

Visitors name checkpoints: a bundled name or a Hub repo "org/name[@revision]", never a path on the
server (`web_spec`). Loaded models live in a small LRU cache shared by every visitor (`MODELS`).
A result (`Translation`) is kept by the page, so moving the step slider, choosing a layer, a
hypothesis or presenter mode re-plots it without running the model again.
"""

from __future__ import annotations

import html
import itertools
import json
import logging
import math
import os
import shutil
import tempfile
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from dataclasses import dataclass, replace
from pathlib import Path

import plotly.graph_objects as go
import torch

from . import checkpoint, hub, tasks, viz
from .errors import InvalidCheckpointName, S2SError
from .translator import Translation, Translator

log = logging.getLogger(__name__)

MAX_TEXT_CHARS = 500  # longer text is refused before it reaches a tokenizer; every checkpoint reads fewer pieces
CACHE_SIZE = 4  # models kept loaded; a class shares them
EXPORT_TTL_S = 3600  # exported files older than this are deleted at the next export
EXPORT_DIR = Path(tempfile.gettempdir()) / "s2s-exports"
PLAY_SECONDS = 6.0  # a play-through of the decoding takes about this long...
PLAY_DELAY_S = (0.15, 0.7)  # ...with at least/at most this pause between steps
GENERIC_ERROR = "Something went wrong on the server (it has been logged). Try again, or change the settings."
DEFAULT_PREFERENCE = ("dates", "reverse", "toy-fr")
ENCODER_NOTES = {"uni": "reads the source left to right", "bi": "reads it both ways, half of each state per direction"}
BRIDGE_NOTES = {"final": "the decoder starts from the encoder's final (h, c)",
                "hidden": "the decoder starts from the encoder's final h, its cell empty"}
PRESETS = {
    "forcing": "Teacher forcing on vs off",
    "mask": "Bidirectional vs causal mask",
    "attention": "reverse vs reverse-noattn, long input",
}


# --- models -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Loaded:
    """A loaded checkpoint and the folder it came from (its README.md and metrics.json)."""

    spec: str
    folder: Path
    translator: Translator


class ModelCache:
    """A thread-safe LRU cache of loaded models: the `size` most recently used are kept.

    Several visitors asking for the same spec at once start one load and share its result; a
    failed load is not cached, so the next request tries again.
    """

    def __init__(self, size: int, loader: Callable[[str], Loaded]):
        self.size = size
        self._loader = loader
        self._lock = threading.Lock()
        self._models: OrderedDict[str, Loaded] = OrderedDict()
        self._loading: dict[str, Future] = {}

    def get(self, spec: str) -> Loaded:
        with self._lock:
            if spec in self._models:
                self._models.move_to_end(spec)
                return self._models[spec]
            future = self._loading.get(spec)
            owner = future is None
            if owner:
                future = self._loading[spec] = Future()
        if not owner:
            return future.result()
        try:
            loaded = self._loader(spec)
        except BaseException as error:
            with self._lock:
                del self._loading[spec]
            future.set_exception(error)
            raise
        with self._lock:
            del self._loading[spec]
            self._models[spec] = loaded
            while len(self._models) > self.size:
                self._models.popitem(last=False)
        future.set_result(loaded)
        return loaded

    def loaded(self) -> list[str]:
        """Specs in the cache, least recently used first."""
        with self._lock:
            return list(self._models)


def web_spec(spec: object) -> str:
    """A checkpoint name a visitor may ask for: a bundled name or a Hub repo id, never a server path.

    hub.resolve also accepts folders, so a visitor's "../../etc" or "checkpoints/dates" must be
    refused here, before anything looks at the disk. Raises InvalidCheckpointName (a ValueError).
    """
    if not isinstance(spec, str) or not spec.strip():
        raise InvalidCheckpointName("Choose a checkpoint: a bundled name or a Hub repo 'org/name'.")
    spec = spec.strip()
    if spec in hub.list_bundled():
        return spec
    try:
        hub.parse_repo_spec(spec)
    except InvalidCheckpointName:
        bundled = ", ".join(hub.list_bundled()) or "none installed"
        raise InvalidCheckpointName(
            f"{spec!r} is not a checkpoint this app can load: choose a bundled one ({bundled}) or give a Hub "
            f"repo as {hub.HUB_FORM}."
        ) from None
    return spec


def checkpoint_folder(spec: str) -> Path:
    """The folder of a spec that passed web_spec: bundled, or downloaded from the Hub (cached)."""
    if spec in hub.list_bundled():
        return hub.BUNDLED_DIR / spec
    return hub.download(*hub.parse_repo_spec(spec))


def _load(spec: str) -> Loaded:
    folder = checkpoint_folder(spec)
    device = os.environ.get("S2S_DEVICE") or None  # default: CUDA when there is one (a ZeroGPU Space)
    started = time.perf_counter()
    translator = checkpoint.load(folder, device=device)
    log.info("loaded %s from %s in %.1f s", spec, folder, time.perf_counter() - started)
    return Loaded(spec, folder, translator)


MODELS = ModelCache(CACHE_SIZE, _load)


def get_model(spec: object) -> Loaded:
    """The loaded checkpoint a visitor named (checked by web_spec); loads it if need be."""
    return MODELS.get(web_spec(spec))


def checkpoint_choices() -> list[str]:
    """What the checkpoint menu offers: the bundled checkpoints, then those in S2S_HUB_CHECKPOINTS."""
    return list(dict.fromkeys([*hub.list_bundled(), *hub.hub_checkpoints()]))


def default_checkpoint() -> str | None:
    """The checkpoint the page opens with: dates if installed, else the first available."""
    choices = checkpoint_choices()
    return next((name for name in DEFAULT_PREFERENCE if name in choices), choices[0] if choices else None)


def prepare(threads: int | None = None) -> None:
    """Get ready to serve: set torch's threads and load the default checkpoint, so the first keystroke is fast.

    One thread per request by default (S2S_THREADS): these models run one short sequence at a time,
    where more threads mostly wait on each other, and requests from a class run side by side.
    """
    torch.set_num_threads(threads or int(os.environ.get("S2S_THREADS", "1")))
    default = default_checkpoint()
    if default is not None:
        try:
            get_model(default)
        except Exception:  # the page still opens, and says what is wrong when the checkpoint is used
            log.exception("could not preload %s", default)


# --- inference --------------------------------------------------------------------------------------


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


def _translate(spec: str, text: str, **options) -> Translation:
    """The one function that runs a model. It takes and returns plain, picklable values: on a ZeroGPU
    Space it runs in a GPU worker process, which finds the model in its copy of MODELS."""
    return MODELS.get(spec).translator.translate(text, **options)


_infer: Callable[..., Translation] = _translate


def run_models_with(decorator: Callable[[Callable], Callable]) -> None:
    """Run every model call through `decorator`: app.py passes spaces.GPU on a ZeroGPU Space."""
    global _infer
    _infer = decorator(_translate)


def _whole(value: object, what: str) -> int:
    """A whole number from a form field (gradio sends 3.0 for 3); ValueError otherwise."""
    if value is None or value == "":
        raise ValueError(f"The {what} is empty: give a whole number.")
    if isinstance(value, bool) or not isinstance(value, int | float) or not float(value).is_integer():
        raise ValueError(f"The {what} must be a whole number; got {value!r}.")
    return int(value)


def run(settings: Settings) -> Translation:
    """Translate with the settings, checking each value. Raises ValueError/S2SError with a message."""
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
    beam_size = _whole(settings.beam_size, "beam size")
    spec = get_model(settings.checkpoint).spec  # loads it here, so that a GPU worker finds it in the cache
    return _infer(spec, text, reference=reference or None, teacher_forcing=ratio,
                  mask=settings.mask, beam_size=beam_size, seed=seed)


def user_message(error: BaseException) -> str:
    """What to tell the visitor: an expected error's own message, else a generic one (and log the bug)."""
    if isinstance(error, ValueError | S2SError):
        return str(error)
    log.error("unexpected error", exc_info=error)
    return GENERIC_ERROR


def translate(text: str, checkpoint: str, mask: str, teacher_forcing: float, reference: str | None, seed: int | float,
              beam_size: int | float) -> tuple[str, go.Figure]:
    """The API endpoint: output text and heatmap. teacher_forcing is the ratio (0: off). Raises on bad values."""
    settings = Settings(text, checkpoint, mask, forcing=True, ratio=teacher_forcing, reference=reference or "",
                        seed=seed, beam_size=beam_size)
    result = run(settings)
    return result.text, viz.heatmap(result)


# --- what the page shows ----------------------------------------------------------------------------


@dataclass
class Explored:
    """One run for the Explore tab: the result (None after an error) and what to show right away."""

    result: Translation | None
    output: str
    figure: go.Figure | None
    status: str  # Markdown: the error, or notes such as a mask mismatch


def _problem(message: str) -> str:
    return f'<div class="s2s-problem">{html.escape(message)}</div>'


def explore(settings: Settings, layer: str = "mean", presenter: bool = False) -> Explored:
    """Run the model for the Explore tab and plot the whole result; errors become the status."""
    try:
        result = run(settings)
        figure = viz.heatmap(result, _layer(layer, result), presenter=presenter)
    except Exception as error:
        return Explored(None, "", None, _problem(user_message(error)))
    return Explored(result, result.text, figure, _notes(result))


def _notes(r: Translation) -> str:
    notes = mask_notes(r)
    if r.teacher_forcing > 0:
        notes.append(f"Teacher forcing at {r.teacher_forcing:g}: {int(r.forced.sum())} of {len(r.forced)} steps "
                     "were fed the reference (▸) instead of the model's own previous output.")
    if r.beam_size > 1:
        notes.append(f"Beam search kept {r.beam_size} hypotheses per step; the best is shown. "
                     "The n-best tab lists them all.")
    return "\n\n".join(note for note in notes if note)


def mask_notes(r: Translation) -> list[str]:
    """What the mask means for this run: a mismatch with training, and a causal mask that cannot hide much."""
    notes = [mask_note(r.trained_mask, r.mask)]
    if r.mask == "causal" and r.encoder == "bi":
        notes.append("This checkpoint's encoder reads the source both ways, so the states at pieces 0…t have "
                     "already read the pieces after t right to left: the causal mask hides positions, not "
                     "information. Compare with `reverse-causal`, whose encoder reads left to right only.")
    return [note for note in notes if note]


def mask_note(trained_mask: str, mask: str) -> str:
    """Markdown pointing out that the model runs with a mask it was not trained with, or ""."""
    if mask == trained_mask:
        return ""
    if mask == "causal":
        what = ("now output step t may only look at source pieces 0…t, which it never had to do in training: "
                "watch the attention squeeze into the allowed triangle, and the output go wrong")
    else:
        what = ("now every step may look at the whole source, including pieces it never saw at that step in "
                "training: the weights can land on pieces that carry no meaning for it")
    return (f'<div class="s2s-note"><b>Mask mismatch</b>: this checkpoint was trained '
            f"<b>{html.escape(trained_mask)}</b> and is run <b>{html.escape(mask)}</b>; {what}. "
            "That mismatch is the lesson.</div>")


def hypothesis(result: Translation, rank: object = 1) -> Translation:
    """Beam search's hypothesis of rank `rank` (1 = best); the result itself for a greedy one."""
    hypotheses = result.hypotheses or [result]
    try:
        index = int(rank) - 1
    except (TypeError, ValueError):
        index = 0
    return hypotheses[min(max(index, 0), len(hypotheses) - 1)]


def _layer(value: object, r: Translation) -> int | str:
    """A layer menu value ("mean" or "0", "1", …) as viz takes it; a layer the model lacks falls back to the mean."""
    if value in (None, "", "mean"):
        return "mean"
    try:
        layer = int(value)
    except (TypeError, ValueError):
        return "mean"
    return layer if 0 <= layer < r.num_layers else "mean"


def _step(step: object, r: Translation) -> int | None:
    """The step to reveal up to, or None (the whole map, no outline) at the last step."""
    if step is None or isinstance(step, bool) or not isinstance(step, int | float) or math.isnan(step):
        return None
    step = int(step)
    return None if step >= len(r.output_tokens) - 1 else max(step, 0)


def figure(result: Translation | None, rank: object = 1, layer: object = "mean", step: object = None,
           presenter: bool = False) -> go.Figure | None:
    """Re-plot a kept result (no model run): one hypothesis, one layer, revealed up to `step`."""
    if result is None:
        return None
    r = hypothesis(result, rank)
    return viz.heatmap(r, _layer(layer, r), _step(step, r), presenter=presenter)


def hypothesis_note(result: Translation | None, rank: object = 1) -> str:
    """The status while hypothesis `rank` is plotted: the run's notes, and which hypothesis unless the best."""
    if result is None:
        return ""
    r = hypothesis(result, rank)
    if not result.hypotheses or r is result.hypotheses[0]:
        return _notes(result)
    return (f"Showing hypothesis {result.hypotheses.index(r) + 1} of {len(result.hypotheses)}: "
            f"<code>{html.escape(r.text)}</code> (mean log p {r.score:.3f}; the best scored {result.score:.3f}).")


def grid(result: Translation | None, rank: object = 1, presenter: bool = False) -> go.Figure | None:
    """Every layer side by side, and their mean."""
    return None if result is None else viz.layer_grid(hypothesis(result, rank), presenter=presenter)


def step_math(result: Translation | None, rank: object = 1, layer: object = "mean", step: object = None) -> str:
    """The arithmetic of one step (Markdown); for the mean of layers it explains layer 0."""
    if result is None:
        return ""
    r = hypothesis(result, rank)
    last = len(r.output_tokens) - 1
    chosen = _layer(layer, r)
    shown = 0 if chosen == "mean" else chosen
    step = last if _step(step, r) is None else _step(step, r)
    text = viz.step_math(r, step, shown if r.num_layers else 0)
    if chosen == "mean" and r.num_layers > 1:
        text = (f"*The heatmap shows the mean of {r.num_layers} layers; each layer does its own arithmetic. "
                "This is layer 0's (choose a layer to see another).*\n\n" + text)
    return text


def last_step(result: Translation | None, rank: object = 1) -> int:
    """The last step of the shown hypothesis: the step slider runs from 0 to it."""
    return 0 if result is None else len(hypothesis(result, rank).output_tokens) - 1


def ranks(result: Translation | None) -> list[str]:
    """The hypothesis menu's choices: "1" (the best) to the number beam search kept."""
    count = len(result.hypotheses) if result is not None and result.hypotheses else 1
    return [str(rank) for rank in range(1, count + 1)]


def forcing_rows(result: Translation | None, rank: object = 1) -> list[list]:
    """Fed token, forced or not, prediction and reference per step (viz.FORCING_COLUMNS)."""
    return [] if result is None else viz.forcing_table(hypothesis(result, rank))


def nbest_rows(result: Translation | None) -> list[list]:
    """Beam search's hypotheses, best first (viz.NBEST_COLUMNS)."""
    return [] if result is None else viz.nbest_table(result)


def play(result: Translation | None, rank: object = 1, layer: object = "mean", presenter: bool = False,
         delay: float | None = None) -> Iterator[tuple[go.Figure, int, str]]:
    """Decode again on screen: yields (figure revealed up to step k, k, step math) for k = 0…S-1."""
    if result is None:
        return
    steps = len(hypothesis(result, rank).output_tokens)
    if delay is None:
        delay = min(max(PLAY_SECONDS / steps, PLAY_DELAY_S[0]), PLAY_DELAY_S[1])
    for step in range(steps):
        started = time.perf_counter()
        yield figure(result, rank, layer, step, presenter), step, step_math(result, rank, layer, step)
        if step < steps - 1:
            time.sleep(max(0.0, delay - (time.perf_counter() - started)))


def layer_choices(spec: object) -> list[tuple[str, str]]:
    """The layer menu for a checkpoint: the mean, then each layer ("mean" alone if it cannot load)."""
    choices = [("mean of layers", "mean")]
    try:
        layers = get_model(spec).translator.model.config.num_layers
    except Exception:
        return choices
    return choices + [(f"layer {i}", str(i)) for i in range(layers)]


def model_card(spec: object) -> str:
    """Markdown describing a checkpoint: task, architecture, sizes, and metrics.json's numbers if present.

    Loading the model first means a Hub checkpoint's files are fetched and checked. Every value read
    from the folder is HTML-escaped: a Hub checkpoint's files are whatever its author wrote.
    """
    try:
        loaded = get_model(spec)
    except Exception as error:
        return _problem(user_message(error))
    config = loaded.translator.config
    metrics = _metrics(loaded.folder)
    e = _escaped
    task = config.get("task", "unknown")
    about = tasks.TASKS[task].description if task in tasks.TASKS else "a custom task"
    model = ("LSTM encoder-decoder with attention" if config["model"] == "attention"
             else "plain LSTM encoder-decoder, no attention")
    rows = [
        ("model", f"{e(config['model'])}: {model}"),
        ("score function", e(config["score"])),
        ("query", e(config["query"])),
        ("trained mask", e(config.get("trained_mask", "bidirectional"))),
        ("encoder", _explained(config.get("encoder", "uni"), ENCODER_NOTES)),
        ("bridge", _explained(config.get("bridge", "final"), BRIDGE_NOTES)),
        ("sizes", f"embedding {e(config['emb_size'])}, hidden {e(config['hidden_size'])}, "
                  f"{e(config['num_layers'])} layers, vocabulary {e(config['input_vocab_size'])} → "
                  f"{e(config['output_vocab_size'])}"),
        ("reads at most", f"{e(config['max_source_len'])} source pieces, writes {e(config['max_target_len'])}"),
    ]
    if _number(metrics.get("exact_match")):
        n = f" of {e(metrics['n'])} held-out examples" if _number(metrics.get("n")) else ""
        rows.append(("exact match", f"{100 * metrics['exact_match']:.1f}%{n}"))
    if _number(metrics.get("token_accuracy")):
        rows.append(("token accuracy", f"{100 * metrics['token_accuracy']:.1f}%"))
    if _number(metrics.get("epochs")):
        minutes = f", {metrics['train_seconds'] / 60:.1f} min" if _number(metrics.get("train_seconds")) else ""
        rows.append(("training", f"{e(metrics['epochs'])} epochs{minutes}"))
    table = "\n".join(f"| {name} | {value} |" for name, value in rows)
    return f"**{e(loaded.spec)}**: task *{e(task)}*, {e(about)}\n\n| | |\n|---|---|\n{table}"


def _explained(value: object, notes: dict[str, str]) -> str:
    return f"{_escaped(value)}: {notes[value]}" if value in notes else _escaped(value)


def _escaped(value: object) -> str:
    return html.escape(str(value))


def _number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _metrics(folder: Path) -> dict:
    try:
        metrics = json.loads((folder / checkpoint.METRICS).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return metrics if isinstance(metrics, dict) else {}


# --- examples and presets ---------------------------------------------------------------------------


def _bundled_tasks() -> dict[str, str]:
    """Bundled checkpoint -> its task, from config.json (a checkpoint that cannot be read is skipped)."""
    found = {}
    for name in hub.list_bundled():
        try:
            found[name] = checkpoint.read_config(hub.BUNDLED_DIR / name).get("task", "")
        except S2SError:
            continue
    return found


def _checkpoint_for(task: str, found: dict[str, str]) -> str | None:
    """The checkpoint that shows a task best: the one named after it, else the first with attention."""
    names = [name for name, t in found.items() if t == task]
    if task in names:
        return task
    plain = [name for name in names if not name.endswith(("-noattn", "-causal"))]
    return (plain or names or [None])[0]


def examples() -> list[list[str]]:
    """One-click examples for every task a bundled checkpoint was trained on: [source, reference, checkpoint].

    The tasks take turns (a dates example, a reverse one, a toy-fr one, a dates one, ...), so that the
    first few, all a small screen shows at once, cover every task.
    """
    found = _bundled_tasks()
    per_task = [[[source, target, name] for source, target in tasks.examples(task)]
                for task in tasks.TASKS if (name := _checkpoint_for(task, found)) is not None]
    return [row for turn in itertools.zip_longest(*per_task) for row in turn if row is not None]


def example(source: object) -> list[str]:
    """The example [source, reference, checkpoint] whose source is `source`."""
    for row in examples():
        if row[0] == source:
            return row
    raise ValueError("That example's checkpoint is not installed any more: reload the page.")


@dataclass(frozen=True)
class Preset:
    """Settings for a side-by-side comparison: the text, run A (the Explore tab's) and run B."""

    text: str
    reference: str
    a: Settings
    b: Settings


def preset(name: str, current: Settings) -> Preset:
    """The comparison `name` (a key of PRESETS), starting from the Explore tab's settings. ValueError if impossible."""
    text, reference = current.text, current.reference
    if name == "attention":
        missing = [n for n in ("reverse", "reverse-noattn") if n not in hub.list_bundled()]
        if missing:
            raise ValueError(f"This comparison needs the bundled checkpoints reverse and reverse-noattn; "
                             f"{' and '.join(missing)} {'is' if len(missing) == 1 else 'are'} not installed yet.")
        text, reference = max(tasks.examples("reverse"), key=lambda pair: len(pair[0]))
        a = Settings(text, "reverse", "bidirectional", False, 1.0, reference, current.seed, 1)
        return Preset(text, reference, a, replace(a, checkpoint="reverse-noattn"))
    spec = web_spec(current.checkpoint)
    if name == "forcing":
        if not (reference or "").strip():
            task = _bundled_tasks().get(spec)
            if task not in tasks.TASKS:
                raise ValueError("Type a reference first (the target text): teacher forcing feeds it to the decoder.")
            text, reference = tasks.examples(task)[0]
        a = Settings(text, spec, current.mask, True, 1.0, reference, current.seed, 1)
        return Preset(text, reference, a, replace(a, forcing=False, ratio=0.0))
    if name == "mask":
        a = Settings(text, spec, "bidirectional", False, current.ratio, reference, current.seed, current.beam_size)
        return Preset(text, reference, a, replace(a, mask="causal", beam_size=1))
    raise ValueError(f"Unknown comparison {name!r}: choose one of {', '.join(PRESETS)}.")


# --- compare ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Kept:
    """Both results of a comparison, with the checkpoint each came from."""

    names: tuple[str, str]
    results: tuple[Translation, Translation]


@dataclass
class Compared:
    kept: Kept | None  # the page keeps it to re-plot without running again
    a: go.Figure | None
    b: go.Figure | None
    difference: go.Figure | None
    summary: str  # Markdown: both outputs, notes, or what went wrong
    labels: tuple[str, str] = ("A", "B")  # what each run was: "A: dates, causal"


def _describe(r: Translation, name: str) -> str:
    forcing = f", forcing {r.teacher_forcing:g}" if r.teacher_forcing else ""
    beam = f", beam {r.beam_size}" if r.beam_size > 1 else ""
    return f"{name}, {r.mask}{forcing}{beam}"


def compare(a: Settings, b: Settings, layer: object = "mean", presenter: bool = False) -> Compared:
    """Run A and B on the same text; plot each and the difference of their weights (A − B)."""
    results = []
    for name, settings in (("A", a), ("B", b)):
        try:
            results.append(run(settings))
        except Exception as error:
            return Compared(None, None, None, None, _problem(f"Run {name}: {user_message(error)}"))
    kept = Kept((web_spec(a.checkpoint), web_spec(b.checkpoint)), (results[0], results[1]))
    return compare_view(kept, layer, presenter)


def compare_view(kept: Kept | None, layer: object = "mean", presenter: bool = False) -> Compared:
    """Plot a kept comparison (no model run): A, B, A − B, and a summary of both outputs."""
    if kept is None:
        return Compared(None, None, None, None, "")
    ra, rb = kept.results
    da, db = _describe(ra, kept.names[0]), _describe(rb, kept.names[1])
    try:
        fig_a = viz.heatmap(ra, _layer(layer, ra), presenter=presenter)
        fig_b = viz.heatmap(rb, _layer(layer, rb), presenter=presenter)
    except Exception as error:
        return Compared(None, None, None, None, _problem(user_message(error)))
    same = "the same output" if ra.text == rb.text else "**different outputs**"
    lines = [f"**A** ({html.escape(da)}): <code>{html.escape(ra.text)}</code>  \n"
             f"**B** ({html.escape(db)}): <code>{html.escape(rb.text)}</code>  \n→ {same}."]
    lines += mask_notes(ra) + mask_notes(rb)
    shared = _layer(layer, ra) if _layer(layer, ra) == _layer(layer, rb) else "mean"
    try:
        diff = viz.difference(ra, rb, shared, labels=("A", "B"), presenter=presenter)
    except Exception as error:
        diff = None
        lines.append(_problem(user_message(error)))
    return Compared(kept, fig_a, fig_b, diff, "\n\n".join(lines), (f"A: {da}", f"B: {db}"))


# --- export ----------------------------------------------------------------------------------------


def export(result: Translation | None, rank: object = 1, layer: object = "mean",
           presenter: bool = False) -> tuple[list[str], str]:
    """Write attention.csv, attention.json and heatmap.html of the shown result; returns (paths, message)."""
    if result is None:
        return [], "Nothing to export yet: translate something first."
    r = hypothesis(result, rank)
    try:
        chosen = _layer(layer, r)
        files = {
            "attention.csv": viz.attention_csv(r, chosen),
            "attention.json": viz.attention_json(r),
            "heatmap.html": viz.figure_html(viz.heatmap(r, chosen, presenter=presenter)),
        }
    except Exception as error:
        return [], user_message(error)
    _prune_exports()
    folder = EXPORT_DIR / uuid.uuid4().hex
    folder.mkdir(parents=True)
    for name, text in files.items():
        (folder / name).write_text(text, encoding="utf-8")
    return [str(folder / name) for name in files], ""


def _prune_exports() -> None:
    """Delete exports older than EXPORT_TTL_S (the page has copied them into its own cache long before)."""
    if not EXPORT_DIR.is_dir():
        return
    cutoff = time.time() - EXPORT_TTL_S
    for folder in EXPORT_DIR.iterdir():
        try:
            if folder.stat().st_mtime < cutoff:
                shutil.rmtree(folder, ignore_errors=True)
        except OSError:
            continue
