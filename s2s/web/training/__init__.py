"""Live training for the page's Train tab, without gradio: a bounded, cancellable run in a process of its own.

A page fills a `TrainRequest` (a task or pasted TSV, the model's switches, a size, a probe sentence);
`RUNS.start(page, request)` checks it and the limits and starts a `LiveRun`: the training itself runs in
a child process at a lower CPU priority (in a thread of the server it slowed everybody's requests),
and a thread of the server applies what it sends. The page then polls, every second or so,
`run.progress()` (a frozen `Progress`: epoch, step, examples/s, the loss and validation points, a
status line, done / cancelled / error) and `run.probes()` (the probe sentence translated with the
weights of each moment, every PROBE_EVERY_S seconds of training). `run.cancel()` stops it at the next
batch; when it is done, `run.translator()` is the trained model and `run.export_path()` its checkpoint
as a zip. A refusal is a `TrainingRefused` (a ValueError) whose message the page shows as it is.

| module | what it owns |
|---|---|
| `limits` | what a run may ask for and cost (one place), and the refusals |
| `request` | `TrainRequest`, its checks, and the pairs it trains on (through s2s.training.data's one loader) |
| `events` | `train_events`: a run as a stream of plain events (probes, epochs, losses, the trained files) |
| `worker` | the child process a run trains in, at a lower CPU priority: `python -m s2s.web.training.worker` |
| `wire` | the events as JSON lines from that process to the server (values only, never a pickle) |
| `live` | `LiveRun`: one page's run as the page reads it, its model and its export |
| `registry` | `Registry`: one run per page, MAX_RUNS at once, a line for the rest; `RUNS`, the app's |
"""

from .events import Epoch, Event, Failed, Loss, Probe, Trained, gpu_seconds, train_events
from .limits import (
    EXPORT_DIR,
    FAMILIES,
    MAX_SECONDS,
    PROBES,
    REACHES,
    SIZES,
    TASK_CHOICES,
    InLine,
    TrainingRefused,
)
from .live import LiveRun, Progress
from .registry import RUNS, Registry, train_with
from .request import TrainRequest, pasted_pairs, probe_for, request_pairs

__all__ = [
    "EXPORT_DIR", "FAMILIES", "MAX_SECONDS", "PROBES", "REACHES", "RUNS", "SIZES", "TASK_CHOICES", "Epoch", "Event",
    "Failed", "InLine", "LiveRun", "Loss", "Probe", "Progress", "Registry", "Trained", "TrainRequest",
    "TrainingRefused", "gpu_seconds", "pasted_pairs", "probe_for", "request_pairs", "train_events", "train_with",
]
