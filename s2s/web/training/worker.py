"""A Train-tab run in a process of its own, at a lower CPU priority than the page's requests.

Trained in a thread of the server, a run took the class's time (`python -m bench.app --clients 100
--train` measures it; docs/speed.md): the training thread's Python held the interpreter lock the server's
threads wait for, and took a core. Here `training.train_events` runs in a child, `python -m s2s.web.training.worker`:
the server's threads never wait for its lock, and at niceness NICENESS, and on Linux in the SCHED_IDLE class,
the operating system gives the page's requests the CPU first (the run gets what they leave, a whole core when
the class is quiet).

The protocol, over the child's standard streams: the server writes the `Job` as one JSON line on its stdin,
and a second line (or stdin closing, as when the server stops) cancels the run; the child writes each event
to its stdout as one JSON line (wire.py: values only, never a pickle), then exits. The trained model itself
crosses inside `Trained` as checkpoint files (safetensors, JSON, sentencepiece). The child's own prints go to
its stderr, so nothing else reaches that stream.
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass

from ... import environment
from ...errors import one_line
from . import wire
from .events import Failed, train_events
from .request import TrainRequest

NICENESS = 10  # added to the child's: where both want a core, Linux gives the server about 9 parts in 10 of it
GRACE_S = 60.0  # beyond the run's own time cap (making the data, probes, the export) before it is stopped


@dataclass(frozen=True)
class Job:
    """What the child needs: the visitor's request, and the server's own setting of the probe interval."""

    request: dict  # a TrainRequest's fields
    probe_every_s: float


class Worker:
    """One run's child process, started at once: `events()` streams what it sends, `cancel()` stops it early."""

    def __init__(self, job: Job, time_cap: float):
        env = environment.for_child()
        self._child = subprocess.Popen([sys.executable, "-m", "s2s.web.training.worker"], stdin=subprocess.PIPE,
                                       stdout=subprocess.PIPE, env=env)
        self._lock = threading.Lock()  # cancel() comes from the page's thread, the job line from the run's
        self._send(json.dumps(dataclasses.asdict(job)))
        # a child that outlives its time (stuck, or a machine far slower than expected) is stopped
        self._watchdog = threading.Timer(time_cap + GRACE_S, self._child.kill)
        self._watchdog.daemon = True
        self._watchdog.start()

    @property
    def pid(self) -> int:
        return self._child.pid

    def events(self) -> Iterator:
        """The child's events until it exits; a run that raised there, or a child that died, raises here."""
        try:
            while True:
                line = self._child.stdout.readline()
                try:
                    event = wire.decode(line)
                except wire.WireError:  # the end (no line), or a child killed as it wrote one
                    break
                if isinstance(event, Failed):
                    raise RuntimeError(event.message)
                yield event
            code = self._child.wait()
            if code != 0:
                raise RuntimeError(f"the training process stopped (exit code {code})")
        finally:
            self.close()

    def cancel(self) -> None:
        """Ask the run to stop at its next batch; it still sends its last probe and the model so far."""
        self._send("cancel")

    def close(self) -> None:
        self._watchdog.cancel()
        if self._child.poll() is None:
            self._child.kill()
        self._child.wait()
        for stream in (self._child.stdin, self._child.stdout):
            try:
                stream.close()
            except OSError:  # a pipe the child closed first
                pass

    def _send(self, line: str) -> None:
        with self._lock:
            try:
                self._child.stdin.write(line.encode() + b"\n")
                self._child.stdin.flush()
            except (OSError, ValueError):  # the child has exited (its stdin closed)
                pass


def main() -> None:
    """The child: read the job, train at a lower priority, send each event, cancel on a second line."""
    out = os.fdopen(os.dup(sys.stdout.fileno()), "wb")  # the event stream: this process's real stdout ...
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())  # ... and whatever else prints goes to stderr
    job = Job(**json.loads(sys.stdin.readline()))
    stop = threading.Event()
    threading.Thread(target=lambda: (sys.stdin.readline(), stop.set()), daemon=True).start()
    if hasattr(os, "nice"):
        os.nice(NICENESS)
    if hasattr(os, "sched_setscheduler"):  # Linux: run only on a core the server leaves idle (threads inherit it)
        try:
            os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
        except OSError:  # not allowed here: the niceness alone
            pass
    try:
        try:
            for event in train_events(TrainRequest(**job.request), stop.is_set, job.probe_every_s):
                out.write(wire.encode(event))
                out.flush()
        except Exception as error:  # noqa: BLE001 (the page shows it; the server goes on)
            out.write(wire.encode(Failed(one_line(str(error)) or type(error).__name__)))
        out.close()
    except BrokenPipeError:  # the server has gone: nobody to tell
        pass


if __name__ == "__main__":
    main()
