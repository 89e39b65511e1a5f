"""The models the web app serves: a small cache shared by every visitor, and what a visitor may name.

Visitors name checkpoints: a bundled name or a Hub repo "org/name[@revision]", never a path on the
server (`web_spec`). Loaded models live in a small LRU cache shared by every visitor (`MODELS`):
a class asks for the same few checkpoints, and each holds no per-request state, so one copy serves
everyone. The menus the page offers (checkpoints, layers) come from here too.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path

import torch

from .. import checkpoint, hub
from ..errors import InvalidCheckpointName
from ..translator import Translator

log = logging.getLogger(__name__)

CACHE_SIZE = 4  # models kept loaded; a class shares them
DEFAULT_PREFERENCE = ("dates", "reverse", "toy-fr")


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


def load(spec: str) -> Loaded:
    """Load a spec that passed web_spec, bypassing the cache (the cache's loader)."""
    folder = checkpoint_folder(spec)
    device = os.environ.get("S2S_DEVICE") or None  # default: CUDA when there is one (a ZeroGPU Space)
    started = time.perf_counter()
    translator = checkpoint.load(folder, device=device)
    log.info("loaded %s from %s in %.1f s", spec, folder, time.perf_counter() - started)
    return Loaded(spec, folder, translator)


MODELS = ModelCache(CACHE_SIZE, load)


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


def layer_choices(spec: object) -> list[tuple[str, str]]:
    """The layer menu for a checkpoint: the mean, then each layer ("mean" alone if it cannot load)."""
    choices = [("mean of layers", "mean")]
    try:
        layers = get_model(spec).translator.model.config.num_layers
    except Exception:
        return choices
    return choices + [(f"layer {i}", str(i)) for i in range(layers)]


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
