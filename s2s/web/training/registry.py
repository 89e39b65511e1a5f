"""The server's live runs, by page: one run per page and MAX_RUNS at once, a line for the rest."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator

from .events import Event, train_events
from .limits import MAX_FINISHED, MAX_LINE, MAX_RUNS, PER_ADDRESS, PLACE_KEPT_S, InLine, TrainingRefused
from .live import LiveRun
from .request import TrainRequest


class Registry:
    """The server's live runs, by page: one running run per page and MAX_RUNS running in all.

    When every slot is taken, a visitor who asks gets a place in line (`InLine`) with its request; the page
    asks again every second on its own (`waiting` gives the request back), which keeps the place, and a
    place not asked for in PLACE_KEPT_S (a page closed) is dropped. A slot that frees goes to the first in
    line, not to whoever asks first (a script restarting its run the moment it ended held the only slot).
    """

    def __init__(self, max_runs: int = MAX_RUNS, clock: Callable[[], float] = time.monotonic,
                 new_run: Callable[..., LiveRun] = LiveRun, per_address: int = PER_ADDRESS, max_line: int = MAX_LINE):
        """clock: when a page last asked for its place; new_run: makes a run (LiveRun; tests pass a stand-in)."""
        self.max_runs, self.per_address, self.max_line = max_runs, per_address, max_line
        self.clock = clock
        self.new_run = new_run
        # where runs train: None, a child process each (worker.py); on ZeroGPU, its GPU worker (`train_with`)
        self.train_in: Callable[[TrainRequest], Iterator[Event]] | None = None
        self._runs: dict[str, LiveRun] = {}
        # pages refused for a full server, first come first -> (when they last asked, what they asked for)
        self._line: dict[str, tuple[float, TrainRequest]] = {}
        self._addresses: dict[str, str] = {}  # page -> the address it asked from (runs going and places in line)
        self._lock = threading.Lock()

    def start(self, page: str, request: TrainRequest, address: str = "") -> LiveRun:
        """Check the request and the limits, then start a run; TrainingRefused says why not.

        address: the visitor's (as the guard reads it): one address holds at most PER_ADDRESS runs and places
        in line together, whatever the pages it opens, and the line holds at most MAX_LINE places.
        """
        if not page:
            raise TrainingRefused("No session: reload the page and try again.")
        request.check()
        with self._lock:
            mine = self._runs.get(page)
            if mine is not None and not mine.done:
                raise TrainingRefused("You already have a training run going: wait for it to finish, or cancel it.")
            running = sum(not run.done for run in self._runs.values())
            now = self.clock()
            self._drop_stale_places(now)
            if address and self._held_by(address, besides=page) >= self.per_address:
                raise TrainingRefused(f"Your address already has {self.per_address} training run(s) going or "
                                      "waiting: wait for one to end (a class behind one address: the lecturer "
                                      "trains, the students watch).")
            if page not in self._line and len(self._line) >= self.max_line:
                raise TrainingRefused(f"The line for training is full ({self.max_line} waiting): try again in a few "
                                      "minutes.")
            self._addresses[page] = address
            ahead = list(self._line).index(page) if page in self._line else len(self._line)
            if running + ahead >= self.max_runs:
                self._line[page] = (now, request)  # joins the line, or keeps its place
                busy = (f"The server is training {running} model(s), its limit" if running >= self.max_runs
                        else f"A training slot is free, but {ahead} visitor(s) asked first")
                raise InLine(f"{busy}. You are number {ahead + 1} in line: your run starts by itself when its turn "
                             "comes (keep this page open).")
            self._line.pop(page, None)
            run = self.new_run(request, page, self.train_in)
            self._runs.pop(page, None)
            self._runs[page] = run
            self._forget_finished()
            return run.start()

    def get(self, page: str) -> LiveRun | None:
        with self._lock:
            return self._runs.get(page)

    def waiting(self, page: str) -> TrainRequest | None:
        """What the visitor asked for, while it has a place in line (the page then asks again with it)."""
        with self._lock:
            self._drop_stale_places(self.clock())
            kept = self._line.get(page)
            return kept[1] if kept is not None else None

    def _held_by(self, address: str, besides: str) -> int:
        """Runs going and places in line of other pages from `address`; the lock is held."""
        going = [page for page, run in self._runs.items() if not run.done]
        return sum(self._addresses.get(page) == address for page in [*going, *self._line] if page != besides)

    def _drop_stale_places(self, now: float) -> None:
        """Forget the places not asked for in PLACE_KEPT_S (their pages have closed); the lock is held."""
        self._line = {visitor: kept for visitor, kept in self._line.items() if now - kept[0] <= PLACE_KEPT_S}

    def cancel(self, page: str) -> bool:
        """Cancel the visitor's run, or its place in line; False when it has neither."""
        with self._lock:
            left = self._line.pop(page, None) is not None
        run = self.get(page)
        if run is None or run.done:
            return left
        run.cancel()
        return True

    def running(self) -> int:
        with self._lock:
            return sum(not run.done for run in self._runs.values())

    def _forget_finished(self) -> None:
        finished = [key for key, run in self._runs.items() if run.done]
        for key in finished[: max(0, len(finished) - MAX_FINISHED)]:  # dicts keep insertion order: oldest first
            del self._runs[key]
        self._addresses = {page: address for page, address in self._addresses.items()
                           if page in self._runs or page in self._line}


RUNS = Registry()  # the app's registry


def train_with(decorator: Callable[[Callable], Callable], registry: Registry = RUNS) -> None:
    """Train every run of `registry` through `decorator`: app.py passes spaces.GPU(duration=gpu_seconds) on ZeroGPU."""
    registry.train_in = decorator(train_events)
