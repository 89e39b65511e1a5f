"""How the app is served to a class: queue, sessions, request limits. One source of truth for app.py and the
load benchmark's no-op server, so both run under the same rules.

Sized from `python -m bench.app --clients 100` on a 2-CPU machine (figures: docs/speed.md):
- `concurrency`: requests computed at once. The work is short (a few ms of model and figure) and holds
  the GIL much of the time, so threads beyond the cores do not compute faster; but requests running at
  once decode their texts in one batch (s2s/web/batching.py), so 16 at once answer about twice as many
  requests a second as 2.
- `queue_size`: requests waiting. Large enough that a class never sees "queue is full" (100 students,
  a request every 3 s each, is ~33 requests/s against a capacity of more); a flood from one client is
  stopped earlier by its rate limit (`guard`), not by the queue.
- `sessions`: gradio keeps per-session state (every API call is a session) for up to this many sessions,
  least recently used first out; gradio's default, 10,000, is over a GB. A page that
  has been idle while more than this many other sessions were used loses its kept result (it then
  works as if freshly loaded).
- uploads: the page has none, so the largest upload allowed is 1 byte (and `guard` refuses the route).
Each can be set from the environment (S2S_CONCURRENCY, S2S_QUEUE_SIZE, S2S_SESSIONS).
`Serving.launch` launches with these rules, then freezes what start-up built out of the garbage collector's
walks once the server is up (s2s/web/heap.py), and serves until the server stops.

This is the one module of s2s/web that knows gradio (its queue, its launch options, its sessions).
"""

from __future__ import annotations

import importlib.util
import inspect
import os
import sys
from copy import copy
from dataclasses import dataclass
from pathlib import Path

import gradio
from gradio import state_holder
from gradio.state_holder import SessionState as GradioSession  # taken before lazy_session_configs replaces it
from gradio.utils import get_upload_folder
from starlette.middleware import Middleware

from s2s import environment
from s2s.web import export, heap
from s2s.web.guard import Guard, Limits


@dataclass(frozen=True)
class Serving:
    concurrency: int = 16
    queue_size: int = 512
    sessions: int = 500
    limits: Limits = Limits()

    @classmethod
    def from_env(cls) -> Serving:
        count = environment.count
        return cls(concurrency=count("S2S_CONCURRENCY", cls.concurrency), queue_size=count("S2S_QUEUE_SIZE",
                   cls.queue_size), sessions=count("S2S_SESSIONS", cls.sessions), limits=Limits.from_env())

    def queue(self, demo):
        """demo.queue(...) with these settings. gradio's queue also recomputes a pandas summary of every
        event's timing after each event unless told otherwise (~10% of a request here): once per 1,000 will do."""
        os.environ.setdefault("GRADIO_ANALYTICS_CACHE_FREQUENCY", "1000")
        heap.return_freed_memory()
        lazy_session_configs()
        absent_matplotlib_known()
        return demo.queue(default_concurrency_limit=self.concurrency, max_size=self.queue_size)

    def launch_options(self, demo) -> dict:
        """demo.launch(**...): sessions, no uploads, and the guard in front of every request."""
        guard = Middleware(Guard, limits=self.limits, queue=QueueView(demo), endpoints=public_endpoints(demo))
        return dict(state_session_capacity=self.sessions, max_file_size=1, app_kwargs=dict(middleware=[guard]))

    def launch(self, demo, **options) -> None:
        """demo.launch(**options) with these settings, then what start-up built frozen out of the garbage
        collector's sight (s2s/web/heap.py) once the server is up; returns when the server stops."""
        demo.launch(prevent_thread_lock=True, **self.launch_options(demo), **options)
        heap.freeze_startup()
        demo.block_thread()


def prune_downloads(folder: str | None = None) -> None:
    """Bound gradio's copies of downloads by size as well as age: it copies every file a page downloads into its
    upload folder (a folder per file's digest) and clears them by age only (`delete_cache`). Called at each
    download, the oldest go first beyond export.DOWNLOADS_BUDGET_BYTES."""
    root = Path(folder or get_upload_folder())
    export.prune_folder(root, export.EXPORT_TTL_S, export.DOWNLOADS_BUDGET_BYTES)


def public_endpoints(demo) -> dict[str, tuple[str, ...]]:
    """Each public endpoint's /gradio_api/call/ path -> the names of the values it takes, one per input: its
    function's parameters, or "value 1", "value 2", ... where they cannot be named (a function of *args)."""
    found = {}
    for fn in demo.fns.values():
        if fn.api_visibility != "public" or not fn.api_name or fn.fn is None:
            continue
        named = [p.name for p in inspect.signature(fn.fn).parameters.values()
                 if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
        count = len(fn.inputs)
        found[f"/gradio_api/call/{fn.api_name}"] = tuple(named if len(named) == count else
                                                         (f"value {i + 1}" for i in range(count)))
    return found


@dataclass(frozen=True)
class QueueView:
    """What the guard asks of gradio's queue (gradio 6 keeps its events by id and by session; the
    browser tests and tests/app/test_app.py run it against a real queue)."""

    demo: object

    def waiting(self, session: str) -> int:
        """Events of `session` waiting or running."""
        queue = getattr(self.demo, "_queue", None)
        return len(getattr(queue, "pending_event_ids_session", {}).get(session, ()))

    def pending(self, event_id: str) -> bool:
        """Whether the event is still waiting or running."""
        queue = getattr(self.demo, "_queue", None)
        return event_id in getattr(queue, "event_ids_to_events", {})


def absent_matplotlib_known() -> bool:
    """gradio wraps every event in a matplotlib backend guard that imports matplotlib, twice; where it is not
    installed (this app draws with plotly) each failed import searched sys.path again, ~4% of a /translate
    call under load (py-spy). Marked absent in sys.modules, the import fails at once. True if marked."""
    if "matplotlib" in sys.modules or importlib.util.find_spec("matplotlib") is not None:
        return False
    sys.modules["matplotlib"] = None  # `import matplotlib` now raises ImportError without a search
    return True


# --- gradio's sessions, made cheap to create ----------------------------------------------------------
# Every API call without a session is a new session to gradio, and gradio 6.31 builds each new session a
# copy of every component's config (for deep links) at once: for this page (~150 components) that was
# the largest single cost of a /translate call, measured with py-spy. Only deep links read that copy,
# so LazySession builds it when first read. It is installed for the gradio version it was written
# against (requirements.txt pins it); tests/app/test_serving.py checks that it gives what gradio's does.

GRADIO_VERSION = "6.31.0"


def lazy_session_configs() -> bool:
    """Make gradio build a session's config copy on first use; True if installed (the pinned gradio)."""
    if gradio.__version__ != GRADIO_VERSION:
        return False
    state_holder.SessionState = LazySession
    return True


class LazySession(GradioSession):
    """gradio's SessionState, whose per-component config copy is built a component at a time, when read."""

    def __init__(self, blocks):
        self.blocks_config = copy(blocks.default_config)
        ids = [k for k in self.blocks_config.blocks if k in blocks.blocks]
        self.config_values = LazyConfigs(self.blocks_config, ids)
        self.state_data = {}
        self._state_ttl = {}
        self.is_closed = False
        self.STATE_TTL_WHEN_CLOSED = 1 if os.getenv("GRADIO_IS_E2E_TEST", None) else 3600


class LazyConfigs(dict):
    """{component id: its config}, each entry made from the session's blocks the first time it is read."""

    def __init__(self, blocks_config, ids: list[int]):
        super().__init__()
        self._blocks_config, self._ids = blocks_config, dict.fromkeys(ids)

    def _fill(self, key) -> None:
        if not dict.__contains__(self, key) and key in self._ids:
            dict.__setitem__(self, key, self._blocks_config.config_for_block(key, [], self._blocks_config.blocks[key]))

    def __contains__(self, key) -> bool:
        return dict.__contains__(self, key) or key in self._ids

    def __getitem__(self, key):
        self._fill(key)
        return dict.__getitem__(self, key)

    def get(self, key, default=None):
        return self[key] if key in self else default

    def _ordered(self) -> dict:
        """Every entry, in the components' order (as gradio's eager copy has them)."""
        for key in self._ids:
            self._fill(key)
        keys = [*self._ids, *dict.keys(self)]
        return {key: dict.__getitem__(self, key) for key in keys if dict.__contains__(self, key)}

    def items(self):
        return self._ordered().items()

    def values(self):
        return self._ordered().values()

    def __iter__(self):
        return iter(self._ordered())

    def __len__(self) -> int:
        return len(self._ordered())
