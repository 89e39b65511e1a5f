"""Models trained in the Train tab, kept for the page that trained them.

A model's name is drawn at random when its page adds it: `trained-` and 16 hex digits (64 bits), so no
page can name another's model, and two pages never share a name (the name used to be 8 hex digits of
a hash of the page's id: 32 bits in one namespace, where two colliding ids were found in a fraction of
a second, and the second page's model then replaced the first's).

What is kept, and for how long:
- a page keeps one model, its latest: adding another drops the page's own previous one;
- a model is dropped KEEP_S after its page last used it (translated with it, or added it), and at once when
  its page closes (`drop`: nobody else can name it, so nobody else could use it);
- at most CAPACITY models are kept in all. When that many are kept and none has expired, a new one is
  refused with the time until a place frees, instead of dropping another page's model: another
  visitor's runs can never take a page's model away.
"""

from __future__ import annotations

import math
import re
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from .. import environment

PREFIX = "trained-"
NAME = re.compile(re.escape(PREFIX) + "[0-9a-f]{16}")
CAPACITY = environment.count("S2S_TRAINED_MODELS", 32)  # small models: a few MB each
KEEP_S = environment.number("S2S_TRAINED_KEEP_S", 3600.0, minimum=60)


class StoreFull(ValueError):
    """Every place is taken by a model another page used recently; the message says when one frees."""


@dataclass
class _Kept:
    page: str
    model: object  # what the page's cache holds for it (models.Loaded)
    used: float  # when its page last used it (the store's clock)


class TrainedModels:
    """The kept trained models, by name; thread-safe."""

    def __init__(self, capacity: int = CAPACITY, keep_s: float = KEEP_S, clock: Callable[[], float] = time.monotonic):
        self.capacity, self.keep_s, self.clock = capacity, keep_s, clock
        self._kept: dict[str, _Kept] = {}
        self._lock = threading.Lock()

    def add(self, page: str, model: object) -> str:
        """Keep `model` for `page` under a fresh name (the page's previous model goes); StoreFull if no place."""
        if not page:
            raise ValueError("No page: reload the page and try again.")
        with self._lock:
            now = self.clock()
            self._drop_expired(now)
            self._kept = {name: kept for name, kept in self._kept.items() if kept.page != page}
            if len(self._kept) >= self.capacity:
                frees = min(kept.used for kept in self._kept.values()) + self.keep_s - now
                raise StoreFull(f"The server keeps {self.capacity} trained models, each for its own visitor, and "
                                f"all are in use: try again in {math.ceil(frees / 60)} min, or export your model "
                                "and load it on your own machine.")
            name = PREFIX + secrets.token_hex(8)
            self._kept[name] = _Kept(page, model, now)
            return name

    def get(self, name: str) -> object | None:
        """The model of that name, if it is still kept (using it keeps it longer)."""
        with self._lock:
            now = self.clock()
            self._drop_expired(now)
            kept = self._kept.get(name)
            if kept is None:
                return None
            kept.used = now
            return kept.model

    def name_of(self, page: str) -> str | None:
        """The name of the page's model, if it has one kept."""
        with self._lock:
            self._drop_expired(self.clock())
            return next((name for name, kept in self._kept.items() if kept.page == page), None)

    def drop(self, page: str) -> bool:
        """Forget the page's model (its page has closed); False when it had none."""
        with self._lock:
            kept = len(self._kept)
            self._kept = {name: k for name, k in self._kept.items() if k.page != page}
            return len(self._kept) < kept

    def __len__(self) -> int:
        with self._lock:
            return len(self._kept)

    def _drop_expired(self, now: float) -> None:
        """The lock is held."""
        self._kept = {name: kept for name, kept in self._kept.items() if now - kept.used < self.keep_s}


def is_trained_name(spec: str) -> bool:
    return NAME.fullmatch(spec) is not None
