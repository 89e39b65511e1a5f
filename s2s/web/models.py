"""The models the web app serves: one copy of each, shared by every visitor, and what a visitor may name.

Visitors name checkpoints: a bundled name or a Hub repo "org/name[@revision]", never a path on the
server (`web_spec`). Loaded models hold no per-request state, so one copy serves everyone (`CACHE`):
- every bundled checkpoint is loaded at start (`prepare`) and never evicted (they are small), so a
  class moving between them never waits for a reload;
- Hub checkpoints share a small LRU (`HUB_CACHE_SIZE` models), keyed by the commit a spec names now
  (`hub.resolve_commit`), so "Org/Name", "org/name@main" and "org/name@<sha>" load one copy;
- a Hub checkpoint loads in its own small pool of threads (`HUB_WORKERS`), off the request path: a
  request waits at most `HUB_WAIT_S` for it and otherwise gets "still loading, try again", so a
  slow or hostile Hub never holds the worker slots that requests for bundled checkpoints use.
The menus the page offers (checkpoints, layers) come from here too.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field, replace
from pathlib import Path

import torch
from huggingface_hub import constants

from .. import checkpoint, environment, hub, hub_translation
from ..errors import CheckpointFileNotFound, HubBusy, HubTimeout, HubUnreachable, InvalidCheckpointName, S2SError
from ..translator import Translator
from .trained import TrainedModels, is_trained_name

log = logging.getLogger(__name__)

# Hub models kept loaded, besides the bundled ones
HUB_CACHE_SIZE = environment.count("S2S_HUB_MODELS", 3)
HUB_WORKERS = 2  # Hub checkpoints resolved, downloaded and loaded at once
HUB_MAX_PENDING = 8  # Hub loads waiting or running; more are refused at once
HUB_WAIT_S = environment.number("S2S_HUB_WAIT_S", 2.0)  # how long a request waits for a Hub load
RESULTS_PER_MODEL = 64  # recent results kept per loaded model (a few MB in all)
DEFAULT_PREFERENCE = ("dates", "reverse", "toy-fr")
# Where the page's models run (S2S_DEVICE overrides): the CPU, even on a GPU machine. The page decodes one
# short sequence at a time (or a few, batched), where a GPU only adds launches and waits (a single translate is
# slower on CUDA than on the same machine's CPU: docs/speed.md).
# Batched work that pays on a GPU (evaluation, training, the Train tab) places itself.
SERVE_DEVICE = "cpu"


class Recent:
    """The `size` most recently asked results of one model, by the settings that made them (thread-safe)."""

    def __init__(self, size: int):
        self.size = size
        self._items: OrderedDict = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key):
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
        return None

    def put(self, key, value) -> None:
        with self._lock:
            self._items[key] = value
            while len(self._items) > self.size:
                self._items.popitem(last=False)


@dataclass(frozen=True)
class Loaded:
    """A loaded checkpoint, the name it was asked by, the folder it came from (README.md, metrics.json), and
    its recent results: decoding is deterministic, so a class asking for a lesson's input again gets the
    result without a model run; they go when the model goes."""

    spec: str
    folder: Path
    translator: Translator
    results: Recent = field(default_factory=lambda: Recent(RESULTS_PER_MODEL), compare=False, repr=False)


class ModelCache:
    """A thread-safe cache of loaded models: pinned ones stay, the `size` most recently used others too.

    Several visitors asking for the same spec at once start one load and share its result; a
    failed load is not cached, so the next request tries again. Entries that share one model (two
    spellings of one Hub commit) count once against `size` and are evicted together.
    """

    def __init__(self, size: int, loader: Callable[[str], object], pinned: Callable[[str], bool] = lambda spec: False):
        self.size = size
        self._loader = loader
        self._pinned = pinned
        self._lock = threading.Lock()
        self._models: OrderedDict[str, object] = OrderedDict()
        self._loading: dict[str, Future] = {}

    def peek(self, spec: str):
        """The loaded model of `spec`, or None; never loads."""
        with self._lock:
            if spec in self._models:
                self._models.move_to_end(spec)
                return self._models[spec]
        return None

    def get(self, spec: str):
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
            self._evict()
        future.set_result(loaded)
        return loaded

    def _evict(self) -> None:
        """Drop the least recently used unpinned models (with every entry sharing them) beyond `size`."""
        def model_of(value):
            return getattr(value, "translator", value)

        while True:
            unpinned = [spec for spec in self._models if not self._pinned(spec)]
            models = list(dict.fromkeys(id(model_of(self._models[spec])) for spec in unpinned))
            if len(models) <= self.size:
                return
            oldest = models[0]
            for spec in unpinned:
                if id(model_of(self._models[spec])) == oldest:
                    del self._models[spec]

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
    if checkpoint.is_bundled(spec) or is_trained_name(spec):
        return spec
    try:
        hub.parse_repo_spec(spec)
    except InvalidCheckpointName:
        bundled = ", ".join(checkpoint.list_bundled()) or "none installed"
        raise InvalidCheckpointName(
            f"{spec!r} is not a checkpoint this app can load: choose a bundled one ({bundled}) or give a Hub "
            f"repo as {hub.HUB_FORM}."
        ) from None
    return spec


def is_bundled(spec: str) -> bool:
    return checkpoint.is_bundled(spec)


def load(spec: str) -> Loaded:
    """Load a spec that passed web_spec, bypassing the cache (the cache's loader).

    A Hub spec is first resolved to its commit; the model of that commit is loaded once, under the
    key "repo@commit", and every spelling that names it gets the same model.
    """
    if not is_bundled(spec):
        repo_id, commit = _resolve(spec)
        key = f"{repo_id}@{commit}"
        if key != spec:
            loaded = replace(CACHE.get(key), spec=spec)
            _remember_revision(spec, repo_id, commit)
            return loaded
    device = os.environ.get("S2S_DEVICE") or SERVE_DEVICE
    started = time.perf_counter()
    if is_bundled(spec):
        folder = checkpoint.BUNDLED_DIR / spec
        translator = checkpoint.load(folder, device=device)
    else:
        folder, translator = _load_from_hub(spec, device)
    log.info("loaded %s in %.1f s", spec, time.perf_counter() - started)
    return Loaded(spec, folder, translator)


def _remember_revision(spec: str, repo_id: str, commit: str) -> None:
    """Record in the Hub cache that the spec's branch or tag is `commit`: its files were fetched pinned to the
    commit, which records no branch, and offline (HF_HUB_OFFLINE) a branch is found only through that record."""
    revision = hub.parse_repo_spec(spec)[1] or constants.DEFAULT_REVISION
    if revision != commit:
        hub.remember_ref(constants.HF_HUB_CACHE, repo_id, revision, commit)


# What this project's own Hub lookup raises when the repo may still be a translation model: its files are not
# ours, or the Hub cannot be asked and none of ours is cached (a translation model may be: offline, pinned)
NOT_OURS = (CheckpointFileNotFound, HubUnreachable, HubTimeout)


def _resolve(spec: str) -> tuple[str, str]:
    """(repo id, commit) of a Hub spec: this project's checkpoint, or else a translation model transformers reads."""
    try:
        return hub.resolve_commit(spec)
    except NOT_OURS as ours:
        plan = _translation_plan(spec, ours)
        return plan.repo_id, plan.commit


def _translation_plan(spec: str, ours: Exception) -> hub_translation.Plan:
    """The checked plan of a translation model at `spec`, where this project's lookup raised `ours`; `ours` again
    if it is not one either (or cannot be reached and is not cached): say what this project's checkpoint needs."""
    try:
        return hub_translation.inspect(spec)
    except NOT_OURS:
        raise ours from None


def _load_from_hub(spec: str, device: str):
    """(folder, translator) of a Hub repo: one of this project's checkpoints, or else a translation model that
    transformers reads (MarianMT: s2s/hub_translation.py, which checks it as strictly before loading it)."""
    try:
        folder = hub.download(*hub.parse_repo_spec(spec))
    except NOT_OURS as ours:  # not this project's files (or not cached): perhaps a real translation model
        plan = _translation_plan(spec, ours)
        folder = hub_translation.download(plan)
        return folder, hub_translation.load(folder, plan, device=device)
    return folder, checkpoint.load(folder, device=device)


def new_cache() -> ModelCache:
    """An empty cache with the app's rules: bundled checkpoints pinned, HUB_CACHE_SIZE Hub models besides."""
    return ModelCache(HUB_CACHE_SIZE, load, pinned=is_bundled)


CACHE = new_cache()
_HUB_POOL = ThreadPoolExecutor(HUB_WORKERS, thread_name_prefix="s2s-hub")
_hub_pending: dict[str, Future] = {}
_hub_lock = threading.Lock()


TRAINED = TrainedModels()  # models trained in the page's Train tab, each kept for its own page (web/trained.py)


def add_trained(page: str, translator: Translator, folder: Path) -> str:
    """Make a model trained in the Train tab usable in Explore and Compare by its page; returns the name it goes by
    (a fresh one: the page's previous model goes). StoreFull (a ValueError) when every place is taken."""
    return TRAINED.add(page, Loaded("", folder, translator))


def loading(spec: object) -> bool:
    """True while the checkpoint is a Hub model still loading (what is shown of it waits for it), else False:
    loaded, or failed (each view says why)."""
    try:
        get_model(spec)
    except HubBusy:
        return True
    except Exception:
        return False
    return False


def get_model(spec: object) -> Loaded:
    """The loaded checkpoint a visitor named (checked by web_spec); loads it if need be.

    A bundled one loads here (from local disk, once). A Hub one loads in the Hub pool: this waits at
    most HUB_WAIT_S, then raises HubBusy ("still loading, try again") while the load goes on.
    """
    spec = web_spec(spec)
    if is_bundled(spec):
        return CACHE.get(spec)
    if is_trained_name(spec):
        kept = TRAINED.get(spec)
        if kept is None:
            raise InvalidCheckpointName(f"{spec} is no longer kept: train it again in the Train tab.")
        return replace(kept, spec=spec)
    ready = CACHE.peek(spec)
    if ready is not None:
        return ready
    with _hub_lock:
        future = _hub_pending.get(spec)
        if future is None:
            if len(_hub_pending) >= HUB_MAX_PENDING:
                raise HubBusy("Too many Hub checkpoints are loading right now: use a bundled one, or try again in "
                              "a minute.")
            future = _hub_pending[spec] = _HUB_POOL.submit(CACHE.get, spec)
            future.add_done_callback(lambda _, spec=spec: _forget_pending(spec))
    try:
        return future.result(timeout=HUB_WAIT_S)
    except FutureTimeout:
        raise HubBusy(f"{spec} is still loading from the Hub: try again in a few seconds.") from None


def _forget_pending(spec: str) -> None:
    with _hub_lock:
        _hub_pending.pop(spec, None)


FAMILY_ORDER = {"attention": 0, "edm": 1, "transformer": 2}  # the menu: LSTMs with attention, without, Transformers


def checkpoint_choices() -> list[str]:
    """What the checkpoint menu offers, by family: the bundled LSTMs with attention, those without, the
    Transformers (config.json's "model"; gradio's menu has no group headers), then S2S_HUB_CHECKPOINTS."""
    bundled = sorted(checkpoint.list_bundled(), key=_family_rank)  # stable: by name within a family
    return list(dict.fromkeys([*bundled, *hub.hub_checkpoints()]))


def _family_rank(name: str) -> int:
    try:
        return FAMILY_ORDER.get(checkpoint.read_config(checkpoint.BUNDLED_DIR / name).get("model"), 0)
    except S2SError:
        return 0


def default_checkpoint() -> str | None:
    """The checkpoint the page opens with: dates if installed, else the first available."""
    choices = checkpoint_choices()
    return next((name for name in DEFAULT_PREFERENCE if name in choices), choices[0] if choices else None)


def trained_mask(spec: object) -> str | None:
    """The mask a checkpoint was trained with, or None if it cannot load."""
    try:
        return get_model(spec).translator.config.get("trained_mask", "bidirectional")
    except Exception:
        return None


def layer_choices(spec: object) -> list[tuple[str, str]]:
    """The layer menu for a checkpoint: the mean, then each layer that attends ("mean" alone if it cannot load,
    or if it has no attention: an EDM's layers record none)."""
    choices = [("mean of layers", "mean")]
    try:
        config = get_model(spec).translator.config  # config.json's: every family names its layers and model
    except Exception:
        return choices
    layers = config["num_layers"] if config["model"] != "edm" else 0  # an EDM records no attention
    return choices + [(f"layer {i}", str(i)) for i in range(layers)]


def layer_menu(spec: object, layer: object) -> tuple[list[tuple[str, str]], str]:
    """The layer menu for a checkpoint, and its value: `layer` if the checkpoint has it, else the mean."""
    choices = layer_choices(spec)
    return choices, layer if layer in dict(choices).values() else "mean"


def prepare(threads: int | None = None) -> None:
    """Get ready to serve: set torch's threads and load every bundled checkpoint, so no request waits for one.

    One thread per request by default (S2S_THREADS): these models run one short sequence at a time,
    where more threads mostly wait on each other, and requests from a class run side by side.
    """
    torch.set_num_threads(threads or environment.count("S2S_THREADS", 1))
    for name in checkpoint.list_bundled():
        try:
            CACHE.get(name)
        except Exception:  # the page still opens, and says what is wrong when the checkpoint is used
            log.exception("could not preload %s", name)
