"""Greedy batches of the bundled checkpoints, decoded in a process of their own beside the server.

The server is one Python process: its event loop and its worker threads take turns holding one
interpreter lock. A decode is a few hundred small torch operations, and each gives that lock up
and takes it back; with the event loop waiting for it, every one of those is a hand-over between
threads, which costs more CPU than the operation itself. So the server's core did the decoding, its
own serving and those hand-overs, and its other core had little to do. Here a batch
(s2s/web/batching.py) goes to a child, `python -m s2s.web.decode_worker`, which decodes it on the
other core with no lock to share, while the server serves (`python -m bench.app --clients 100`
measures both ways; docs/speed.md has the figures).

Only bundled checkpoints go there: the child loads them itself, from the same files, and its answers
are the server's own to the last bit (tests/web/test_decode_worker.py). Hub and trained models, and
everything that is not a plain greedy batch, decode in the server as before. If the child cannot
answer (not started yet, or it died), the batch is decoded in the server and a new child is started
in the background, so a request never waits for a child to start. A checkpoint is named by its folder,
and the child decodes only those it loaded as it started: the server never gets another model's answer.

The protocol, over the child's standard streams (wire.py: values only, never a pickle): the server writes
`{"folder": ..., "mask": ..., "texts": [...]}` as one JSON line, and the child answers with one frame of the
list of translations, or of `{"error": "..."}`; its first line, `{"ready": [folders]}`, says that its
checkpoints are loaded, and which. The child stops when its stdin closes (the server stopped).
S2S_DECODE_PROCESS=0 keeps every decode in the server; it is the default on a machine with one CPU, where a
child would only take turns with the server.
"""

from __future__ import annotations

import json
import logging
import os
import select
import subprocess
import sys
import threading
import time

from .. import checkpoint, environment
from ..errors import one_line
from ..translator import Translation
from . import heap, models, wire

log = logging.getLogger(__name__)
READY = "ready"
ANSWER_S = 30.0  # a bundled batch takes milliseconds: a child this late is stuck, and is stopped
RETRY_S = 30.0  # a child that failed to start is tried again after this long, not at every batch
START_S = 300.0  # loading torch and the checkpoints takes seconds: a child not ready after this is stopped


def enabled() -> bool:
    """Whether batches decode in a child: S2S_DECODE_PROCESS (0 or 1), by default where there are 2+ CPUs (and
    the pipes can be waited on: not on Windows)."""
    if os.name == "nt":
        return False
    return environment.count("S2S_DECODE_PROCESS", 1 if (os.cpu_count() or 1) >= 2 else 0, minimum=0) > 0


class DecodeWorker:
    """The server's side: one child, started in the background, asked one batch at a time."""

    def __init__(self, command: tuple[str, ...] = (sys.executable, "-m", "s2s.web.decode_worker")):
        self._command = command  # the child's command line (a test gives another)
        self._lock = threading.Lock()  # one batch on the streams at a time
        self._child: subprocess.Popen | None = None
        self._folders: frozenset[str] = frozenset()  # the checkpoints the child holds, by folder
        self._starting = False
        self._next_start = 0.0  # a child that failed to start is not started again before this (monotonic s)

    def translate_batch(self, folder: str, mask: str, texts: list[str]) -> list[Translation] | None:
        """The child's translations of `texts` by the checkpoint in `folder`, or None where it cannot give them (no
        child ready: one is started; or it does not hold that checkpoint). A decode that failed there raises
        ValueError with its message; a child that answers anything but the batch's translations is dropped."""
        with self._lock:
            child = self._child
            if child is None or child.poll() is not None:
                self._child = None
                self._start_in_background()
                return None
            if folder not in self._folders:
                return None
            try:
                child.stdin.write(json.dumps({"folder": folder, "mask": mask, "texts": texts}).encode() + b"\n")
                child.stdin.flush()
                if not select.select([child.stdout], [], [], ANSWER_S)[0]:
                    raise OSError(f"no answer within {ANSWER_S:g} s")
                answer = wire.read_frame(child.stdout)
                if isinstance(answer, dict) and set(answer) == {"error"} and isinstance(answer["error"], str):
                    raise ValueError(answer["error"])  # the decode failed there: each text is decoded here
                if not (isinstance(answer, list) and len(answer) == len(texts)
                        and all(isinstance(t, Translation) for t in answer)):
                    raise wire.WireError("an answer that is not the batch's translations")
            except (OSError, wire.WireError) as error:  # a broken pipe, no line, or not values: it is dropped
                log.warning("the decoding process was dropped (%s): decoding in the server", one_line(str(error)))
                self._drop(child)
                self._child = None
                return None
        return answer

    def start(self) -> None:
        """Start the child now, in the background (the app calls this as it starts)."""
        with self._lock:
            self._start_in_background()

    def ready(self, seconds: float) -> bool:
        """Start the child if need be, and wait up to `seconds` for it to be ready; whether it is."""
        deadline = time.monotonic() + seconds
        while True:
            with self._lock:
                if self._child is not None and self._child.poll() is None:
                    return True
                self._start_in_background()
            if time.monotonic() > deadline:
                return False
            time.sleep(0.05)

    def close(self) -> None:
        with self._lock:
            if self._child is not None:
                self._drop(self._child)
                self._child = None

    def _start_in_background(self) -> None:
        if self._starting or time.monotonic() < self._next_start:
            return
        self._starting = True
        threading.Thread(target=self._start, name="s2s-decode-worker-start", daemon=True).start()

    def _start(self) -> None:
        """Start a child and wait for its first line (it loads torch and the checkpoints), then use it."""
        env = environment.for_child()
        child, folders = None, frozenset()
        try:
            child = subprocess.Popen(self._command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env)
            if not select.select([child.stdout], [], [], START_S)[0]:
                raise OSError(f"not ready within {START_S:g} s")
            said = wire.loads(child.stdout.readline())
            if not (isinstance(said, dict) and isinstance(said.get(READY), list)
                    and all(isinstance(folder, str) for folder in said[READY])):
                raise ValueError("it did not say it was ready")
            folders = frozenset(said[READY])
        except (OSError, ValueError) as error:
            log.warning("the decoding process did not start (%s): decoding in the server", one_line(str(error)))
            if child is not None:
                self._drop(child)
            child = None
        with self._lock:
            self._child, self._folders, self._starting = child, folders, False
            if child is None:
                self._next_start = time.monotonic() + RETRY_S

    @staticmethod
    def _drop(child: subprocess.Popen) -> None:
        if child.poll() is None:
            child.kill()
        child.wait()
        for stream in (child.stdin, child.stdout):
            try:
                stream.close()
            except OSError:  # a pipe the child closed first
                pass


def main() -> None:
    """The child: load the bundled checkpoints, say which, then answer each batch until stdin closes."""
    out = os.fdopen(os.dup(sys.stdout.fileno()), "wb")  # the answers: this process's real stdout ...
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())  # ... and whatever else prints goes to stderr
    models.prepare(threads=1)
    held = {str(loaded.folder): loaded.translator for loaded in map(models.CACHE.peek, checkpoint.list_bundled())
            if loaded is not None}
    heap.freeze_startup()  # what loading built lives as long as this process: out of the collector's walks
    try:
        out.write(wire.dumps({READY: sorted(held)}))
        out.flush()
        for line in sys.stdin.buffer:
            try:
                job = json.loads(line)
                answer = held[job["folder"]].translate_batch(job["texts"], mask=job["mask"])
            except Exception as error:  # noqa: BLE001 (the server decodes each text itself, for its own message)
                answer = {"error": one_line(str(error)) or type(error).__name__}
            out.write(wire.frame(answer))
            out.flush()
    except BrokenPipeError:  # the server has gone: nobody to answer
        pass


if __name__ == "__main__":
    main()
