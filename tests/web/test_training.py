"""Live training for the Train tab (s2s/web/training/): a run learns, is watched, limited, cancelled, exported."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import threading
import time
import zipfile

import numpy as np
import pytest

from s2s import checkpoint, tasks
from s2s.training.data import load_pairs
from s2s.web import runs, training
from s2s.web.training import Registry, TrainingRefused, TrainRequest, events, limits, live, worker
from tests.conftest import TINY_RUN

TINY = TINY_RUN


pytestmark = pytest.mark.usefixtures("quick_probes")  # tests/conftest.py


class _Run:
    """A stand-in for LiveRun: starts at once, ends when the test says (or when cancelled)."""

    def __init__(self, request, page, train_in=None):
        self.done = self.cancelled = False

    def start(self):
        return self

    def cancel(self):
        self.done = self.cancelled = True


@pytest.mark.slow  # a real run, in a process of its own
def test_a_tiny_run_is_watched_learns_and_exports_a_checkpoint_that_loads(tmp_path):
    runs = Registry(max_runs=1)
    run = runs.start("visitor-a", TrainRequest(**TINY, max_seconds=5))
    assert run.wait(30), "the run must stop at its time cap"
    p = run.progress()
    assert p.done and not p.cancelled and p.error is None, p.status
    assert p.status.startswith("Done") and p.step > 0 and p.examples_per_s > 0 and p.epoch >= 1
    probes = run.probes()
    assert len(probes) >= 3 and p.probes == len(probes)
    first, last = probes[0], probes[-1]
    assert all(r.source_text == "3 March 2021" for r in probes)
    assert first.attention.shape != last.attention.shape or not np.allclose(first.attention, last.attention), \
        "the probe's attention must change as the weights do"
    assert len(p.loss) >= 2 and p.loss[-1][1] < p.loss[0][1], p.loss
    assert [s for s, _ in p.loss] == sorted(s for s, _ in p.loss)
    assert len(p.accuracy) == len(probes)

    assert run.translator() is not None and run.translator().translate("3 March 2021").output_pieces
    folder = tmp_path / "unzipped"
    zipfile.ZipFile(io.BytesIO(run.export_zip())).extractall(folder)
    loaded = checkpoint.load(folder, device="cpu")
    assert loaded.config["task"] == "dates" and loaded.config["model"] == "attention"
    np.testing.assert_allclose(loaded.translate("3 March 2021").attention,
                               run.translator().translate("3 March 2021").attention, atol=1e-6)
    path = run.export_path("trained-0123abcd")  # named as Explore names the model (it was s2s-<task>-<random>)
    assert path.parent.parent == limits.EXPORT_DIR and path.name == "trained-0123abcd-dates.zip"
    assert zipfile.is_zipfile(path) and run.export_path("trained-0123abcd") == path  # the same model: the same file


def test_one_run_per_page_and_a_global_limit_refuse_with_a_clear_message():
    runs = Registry(max_runs=1, new_run=_Run)
    run = runs.start("page-a", TrainRequest(**TINY))
    with pytest.raises(TrainingRefused, match="already have a training run"):
        runs.start("page-a", TrainRequest(**TINY))
    with pytest.raises(training.InLine, match="training 1 model.*its limit"):
        runs.start("page-b", TrainRequest(**TINY))
    assert runs.running() == 1
    assert runs.cancel("page-a") and run.cancelled and runs.running() == 0
    assert not runs.cancel("page-a"), "nothing left to cancel"
    assert isinstance(runs.start("page-b", TrainRequest(**TINY)), _Run)  # the slot is free again, first in line


@pytest.mark.slow  # a real run, in a process of its own
def test_the_time_cap_stops_a_run():
    run = Registry(max_runs=1).start("visitor-a", TrainRequest(**TINY, max_seconds=1.0))
    started = time.monotonic()
    assert run.wait(20)
    p = run.progress()
    assert not p.cancelled and p.error is None and 1.0 <= p.seconds < 2.5, p
    assert time.monotonic() - started < 15


@pytest.mark.slow  # a real run, in a process of its own
def test_cancel_before_any_step_still_ends_cleanly():
    run = Registry(max_runs=1).start("visitor-a", TrainRequest(**TINY, max_seconds=20))
    run.cancel()
    assert run.wait(20) and run.progress().cancelled


def test_a_freed_slot_goes_to_the_first_in_line_not_to_a_script_that_asks_first(monkeypatch):
    """A script restarting a run the moment the last ended held the only slot for good (review of 2026-11-29).
    A waiting page asks again each second by itself (app.py's timer), which keeps its place."""
    now = [0.0]
    runs = Registry(max_runs=1, clock=lambda: now[0], new_run=_Run)

    def ask(visitor: str):
        try:
            return runs.start(visitor, TrainRequest(seed=len(visitor)))
        except training.InLine as waiting:
            return str(waiting)

    script = ask("script-1")
    assert "number 1 in line" in ask("student") and "number 2 in line" in ask("other")
    assert runs.waiting("student") == TrainRequest(seed=len("student"))  # what the page asks again with
    for second in range(1, 31):  # both pages keep asking, each second, for half a minute
        now[0] = second
        assert "training 1 model(s), its limit" in ask("student") and "number 2" in ask("other")
    assert "number 3 in line" in ask("script-2")  # the script, under a new session, waits its turn
    script.done = True
    assert "A training slot is free, but 1 visitor(s) asked first. You are number 2" in ask("other")
    student = ask("student")
    assert isinstance(student, _Run) and runs.waiting("student") is None
    assert runs.cancel("script-2") and runs.waiting("script-2") is None  # it leaves the line
    now[0] = 30 + limits.PLACE_KEPT_S + 1  # "other" stopped asking (its page closed): its place is dropped
    student.done = True
    assert isinstance(ask("newcomer"), _Run)


def test_one_address_holds_a_few_runs_and_places_whatever_pages_it_opens():
    """Six pages from one address got one run and five places in line, the real visitor sixth (review of issue 21).
    Now an address holds PER_ADDRESS runs and places together; another address is served as before."""
    runs = Registry(max_runs=1, new_run=_Run, per_address=2)
    first = runs.start("script-page-1", TrainRequest(**TINY), address="203.0.113.9")
    with pytest.raises(training.InLine, match="number 1 in line"):
        runs.start("script-page-2", TrainRequest(**TINY), address="203.0.113.9")
    for n in range(3, 7):
        with pytest.raises(TrainingRefused, match="Your address already has 2 training run"):
            runs.start(f"script-page-{n}", TrainRequest(**TINY), address="203.0.113.9")
    with pytest.raises(training.InLine, match="number 2 in line"):  # the real visitor: second, not sixth
        runs.start("student", TrainRequest(**TINY), address="198.51.100.7")
    first.done = True  # a run of the address ends: the address may ask again
    with pytest.raises(training.InLine):
        runs.start("script-page-3", TrainRequest(**TINY), address="203.0.113.9")


def test_the_line_has_a_size():
    runs = Registry(max_runs=1, new_run=_Run, per_address=99, max_line=3)
    runs.start("running", TrainRequest(**TINY))
    for n in range(3):
        with pytest.raises(training.InLine):
            runs.start(f"waiting-{n}", TrainRequest(**TINY), address=f"192.0.2.{n}")
    with pytest.raises(TrainingRefused, match=r"line for training is full \(3 waiting\)"):
        runs.start("one-more", TrainRequest(**TINY), address="192.0.2.99")
    with pytest.raises(training.InLine, match="number 1 in line"):  # a page in line keeps its place
        runs.start("waiting-0", TrainRequest(**TINY), address="192.0.2.0")


@pytest.mark.parametrize("fields, message", [
    (dict(probe="\x00\x00\x00"), r"control characters \(such as NUL\) in the probe"),  # accepted before (issue 21)
    (dict(probe="\ud800abc"), r"lone surrogates\) in the probe"),  # a UnicodeEncodeError before
    (dict(task="tsv", tsv="\x00\t\x00\n" * 12), "control characters .* in the pasted pairs"),
    (dict(task="tsv", tsv="a\ud800\tb\n" * 12), "lone surrogates.* in the pasted pairs"),
    (dict(task="nope"), "task must be one of dates, reverse-short, toy-fr, tsv; got 'nope'"),
    (dict(size="huge"), "size must be one of small, medium; got 'huge'"),
    (dict(family="gru"), "model family must be one of lstm, transformer; got 'gru'"),
    (dict(family=["transformer"]), "model family must be one of lstm, transformer; got \\['transformer'\\]"),
    (dict(family="transformer", size="large"), "size must be one of small, medium; got 'large'"),
    (dict(family="transformer", mask="sideways"), "mask must be one of bidirectional, causal; got 'sideways'"),
    (dict(probe="  "), "probe"),
    (dict(max_seconds=10_000), "at most"),
    (dict(train_size=10**7), "1 to"),
    (dict(task="tsv", tsv="a\tb\n" * 5), "at least 10"),
    (dict(task="tsv", tsv="a\tb\n" * (limits.MAX_TSV_LINES + 1)), "at most"),
    (dict(task="tsv", tsv="a\tb\n" * 10 + "no tab here\n"), "line 11"),
    (dict(task="tsv", tsv="a\tb\n" * 10 + "x" * 128 + "\tb\n"), "line 11: the source has 128 characters"),
    (dict(task="tsv", tsv="a\tb\n" * 10 + "a\t" + "y" * 200 + "\n"), "line 11: the target has 200"),
    (dict(probe="p" * (limits.MAX_PROBE_BYTES + 1)), "Shorten the probe"),
    (dict(probe="é" * 31), "Shorten the probe"),  # 62 bytes: 62 pieces of a model whose data had no é
])
def test_bad_requests_are_refused_before_anything_starts(fields, message):
    with pytest.raises(TrainingRefused, match=message):
        Registry().start("visitor-a", TrainRequest(**fields))
    with pytest.raises(TrainingRefused, match="session"):
        Registry().start("", TrainRequest())


@pytest.mark.slow  # a real run, in a process of its own
def test_pasted_pairs_train(tmp_path):
    tsv = "".join(f"{' '.join(w)}\t{' '.join(reversed(w))}\n" for w in ("abc", "bca", "cab", "acb", "bac", "cba") * 4)
    run = Registry().start("visitor-a", TrainRequest(task="tsv", tsv=tsv, probe="a b c", max_seconds=1.0))
    assert run.wait(20) and run.progress().error is None, run.progress().status
    assert run.translator().config["task"] == "tsv"


def _training(run, timeout: float = 30) -> int:
    """Wait until the run's child process has taken a step; its pid."""
    deadline = time.monotonic() + timeout
    while run.progress().step == 0 and not run.done:
        assert time.monotonic() < deadline, run.progress().status
        time.sleep(0.05)
    return run.worker_pid


@pytest.mark.slow  # a real run, in a process of its own
def test_a_run_trains_in_a_process_of_its_own_at_a_lower_priority():
    """So the page's requests neither wait for its interpreter lock nor for its CPU (s2s/web/training/worker.py)."""
    run = Registry(max_runs=1).start("visitor-a", TrainRequest(**TINY, max_seconds=20))
    try:
        pid = _training(run)
        assert pid is not None and pid != os.getpid()
        here = os.getpriority(os.PRIO_PROCESS, 0)
        assert os.getpriority(os.PRIO_PROCESS, pid) == min(here + worker.NICENESS, 19)
        if sys.platform == "linux":  # and it runs only on a core the server leaves idle
            assert os.sched_getscheduler(pid) == os.SCHED_IDLE
    finally:
        run.cancel()
    assert run.wait(20) and run.progress().cancelled and run.translator() is not None
    with pytest.raises(ProcessLookupError):  # the child has exited and been reaped
        os.kill(pid, 0)


@pytest.mark.slow  # a real run, in a process of its own
def test_a_child_that_dies_is_a_clear_failure_and_the_next_run_starts():
    runs = Registry(max_runs=1)
    run = runs.start("visitor-a", TrainRequest(**TINY, max_seconds=20))
    os.kill(_training(run), signal.SIGKILL)
    assert run.wait(20)
    p = run.progress()
    assert p.done and p.status == "Training failed: the training process stopped (exit code -9)"
    assert run.translator() is None
    other = runs.start("visitor-b", TrainRequest(**TINY, max_seconds=0.5))
    assert other.wait(30) and other.progress().error is None, other.progress().status


@pytest.mark.slow  # a real run, in a process of its own
def test_a_child_that_cannot_start_ends_the_run_with_a_message_and_frees_the_slot(monkeypatch):
    def cannot_start(job, time_cap):
        raise OSError("no processes left")

    runs = Registry(max_runs=1)
    with monkeypatch.context() as patch:
        patch.setattr(live, "Worker", cannot_start)
        run = runs.start("visitor-a", TrainRequest(**TINY, max_seconds=5))
        assert run.wait(10)
    assert run.progress().status == "Training failed: no processes left" and runs.running() == 0
    other = runs.start("visitor-a", TrainRequest(**TINY, max_seconds=0.5))
    assert other.wait(30) and other.progress().error is None, other.progress().status


@pytest.mark.slow  # a real run, in a process of its own
def test_an_error_in_the_child_reaches_the_page_as_one_line(monkeypatch):
    monkeypatch.setattr(TrainRequest, "check", lambda self: None)  # the server's checks let it through ...
    run = Registry(max_runs=1).start("visitor-a", TrainRequest(**TINY, encoder="sideways", max_seconds=5))
    assert run.wait(30)  # ... and the child fails building the model
    p = run.progress()
    assert p.error and p.status == f"Training failed: {p.error}" and "\n" not in p.error
    assert "encoder must be one of" in p.error and "Traceback" not in p.error and "/" not in p.error, p.error


@pytest.mark.slow  # a real run, in a process of its own
def test_a_failure_naming_a_server_folder_is_not_shown(monkeypatch):
    """"Training failed: [Errno 28] No space left on device: '/tmp/…/model.safetensors'" (review of 2026-11-29)."""
    import tempfile

    def failing(self):
        raise OSError(f"[Errno 28] No space left on device: '{tempfile.gettempdir()}/s2s-live-x/model.safetensors'")
        yield  # a generator, as the real one

    monkeypatch.setattr(training.LiveRun, "_events", failing)
    run = Registry(max_runs=1).start("visitor-a", TrainRequest(**TINY, max_seconds=5))
    assert run.wait(10)
    p = run.progress()
    assert p.status == f"Training failed: {runs.GENERIC_ERROR}" and tempfile.gettempdir() not in p.status


@pytest.mark.slow  # a real run, in a process of its own
def test_a_run_that_has_learnt_stops_before_its_time_cap():
    """Once LEARNT_PROBES probes in a row get every validation pair right the run ends, freeing the slot."""
    words = ("abc", "bca", "cab", "acb", "bac", "cba")
    tsv = "".join(f"{' '.join(w)}\t{' '.join(reversed(w))}\n" for w in words * 4)
    run = Registry(max_runs=1).start("visitor-a", TrainRequest(task="tsv", tsv=tsv, probe="a b c", max_seconds=60))
    assert run.wait(60)
    p = run.progress()
    assert p.status.startswith("Done") and not p.cancelled and p.seconds < 30, p.status
    assert events.LEARNT in p.status  # the page says why it ended before its cap
    assert [exact for _, _, exact in p.accuracy[-limits.LEARNT_PROBES:]] == [1.0] * limits.LEARNT_PROBES
    steps = [step for step, _, _ in p.accuracy]
    assert steps == sorted(set(steps)), "no second probe of the same weights at the end"
    for w in words:  # and it has learnt: every pasted pair comes out reversed
        assert run.translator().translate(" ".join(w)).text == " ".join(reversed(w))


@pytest.mark.slow  # a real run, in a process of its own
def test_nothing_to_export_before_the_end():
    run = training.LiveRun(TrainRequest(**TINY))  # never started
    assert run.translator() is None
    with pytest.raises(TrainingRefused, match="wait until the run is done"):
        run.export_zip()


@pytest.mark.slow  # a real run, in a process of its own
def test_the_module_does_not_import_gradio():
    code = "import sys, s2s.web.training; sys.exit('gradio' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0


# --- on a ZeroGPU Space: the run in a GPU worker process, its events streamed back ----------------------


def _worker(fn, args, queue) -> None:
    """The GPU worker process: every event pickled back through the queue, then None (or the error)."""
    try:
        for event in fn(*args):
            queue.put(event)
        queue.put(None)
    except Exception as error:  # noqa: BLE001 (sent to the parent, as ZeroGPU does)
        queue.put(error)


class FakeZeroGPU:
    """`spaces.GPU` as ZeroGPU runs a generator function: in another process, each yielded item pickled back.

    (ZeroGPU forks; a spawned process is used here, which is stricter: everything crosses by pickle.)
    """

    def __init__(self):
        self.durations: list[int] = []
        self.pids: list[int] = []

    def GPU(self, fn=None, duration=60):  # noqa: N802 (spaces' own name)
        def decorator(function):
            def run(*args):
                import multiprocessing

                self.durations.append(duration(*args) if callable(duration) else duration)
                context = multiprocessing.get_context("spawn")
                queue = context.Queue()
                worker = context.Process(target=_worker, args=(function, args, queue), daemon=True)
                worker.start()
                self.pids.append(worker.pid)
                while (item := queue.get(timeout=120)) is not None:
                    if isinstance(item, Exception):
                        raise item
                    yield item
                worker.join(10)
            return run
        return decorator if fn is None else decorator(fn)


@pytest.mark.slow  # a real run, in a process of its own
def test_on_zerogpu_the_run_happens_in_a_gpu_worker_and_the_page_still_watches_it(monkeypatch):
    zero = FakeZeroGPU()
    registry = Registry(max_runs=1)
    training.train_with(zero.GPU(duration=training.gpu_seconds), registry)
    request = TrainRequest(**TINY, max_seconds=4)
    run = registry.start("visitor-z", request)
    assert run.wait(120), run.progress().status
    p = run.progress()
    assert p.done and p.error is None, p.status
    assert zero.durations == [request.max_seconds + 30] and zero.pids and zero.pids[0] != __import__("os").getpid()
    probes = run.probes()
    assert len(probes) >= 3 and len(p.loss) >= 2 and p.step > 0
    # the model came back as checkpoint files: on the page's CPU it writes what the worker's last probe wrote
    here = run.translator().translate(request.probe, mask=request.mask)
    assert here.output_pieces == probes[-1].output_pieces
    np.testing.assert_allclose(here.attention, probes[-1].attention, atol=1e-6)
    assert zipfile.ZipFile(io.BytesIO(run.export_zip())).namelist()  # and exports as the local run does


def test_a_new_task_brings_its_own_probe_unless_the_visitor_typed_one():
    """Choosing reverse kept the date probe, and the probe's map was all byte pieces (walk-through of 2026-11-29)."""
    assert training.probe_for("reverse-short", training.PROBES["dates"]) == training.PROBES["reverse-short"]
    assert training.probe_for("toy-fr", "") == training.PROBES["toy-fr"]
    assert training.probe_for("reverse-short", "x y z") == "x y z"  # typed: kept
    assert training.probe_for("tsv", training.PROBES["dates"]) == training.PROBES["dates"]  # no probe of its own
    for task, probe in training.PROBES.items():  # each within the limits, and of its task's kind
        TrainRequest(task=task, probe=probe).check()
        assert probe in [source for source, _ in tasks.examples(task)] or task == "dates"


def test_exports_keep_the_newest_few_each_whole(monkeypatch, tmp_path):
    """Beyond EXPORT_KEEP the oldest export folders go, never a zip a visitor may still be downloading from a newer
    one; a folder exported again counts as new."""
    monkeypatch.setattr(limits, "EXPORT_DIR", tmp_path)
    monkeypatch.setattr(limits, "EXPORT_KEEP", 2)
    model = iter(range(100))
    monkeypatch.setattr(training.LiveRun, "export_zip", lambda self: f"PK zip of model {next(model)}".encode())
    run = object.__new__(training.LiveRun)
    run.request = TrainRequest()
    paths = []
    for n in range(4):
        paths.append(run.export_path(f"trained-{n:08x}"))
        os.utime(paths[-1].parent, (n, n))  # the order they were made in, whatever the clock's resolution
    kept = sorted(p for p in tmp_path.iterdir())
    assert kept == sorted(p.parent for p in paths[2:])
    assert [p.read_bytes() for p in paths[2:]] == [b"PK zip of model 2", b"PK zip of model 3"]


def finished_run(files: dict[str, bytes]) -> training.LiveRun:
    """A LiveRun as it is once done, without training: its files, its progress, its request."""
    run = object.__new__(training.LiveRun)
    run.request, run._files = TrainRequest(), files
    run._lock, run._finished = threading.Lock(), threading.Event()
    run._finished.set()
    run._progress = training.Progress(2, 40, 5120, 900.0, 5.7, ((20, 2.5), (40, 1.5)), ((40, 0.5, 0.25),),
                                      "Done.", True, False, None, 2)
    return run


def test_exporting_the_same_model_again_writes_nothing_new(monkeypatch, tmp_path):
    """Each zip embedded the time it was made: one finished run exported once a second made a new 1.7 MB file
    every time, in gradio's cache too, which keys its copies by content (issue 21). The same model is now the
    same bytes and the same file."""
    monkeypatch.setattr(limits, "EXPORT_DIR", tmp_path)
    config = json.dumps(dict(task="dates", model="attention", query="state", encoder="bi", bridge="hidden",
                             trained_mask="bidirectional", score="scaled_dot")).encode()
    run = finished_run({"config.json": config, "model.safetensors": b"weights"})
    first = run.export_zip()
    with monkeypatch.context() as later:
        later.setattr(time, "time", lambda: 2_000_000_000.0)  # another moment: zipfile dates entries by time.time
        later.setattr(time, "localtime", lambda *_: time.struct_time((2033, 5, 18, 3, 33, 20, 2, 138, 0)))
        assert run.export_zip() == first
    paths = {run.export_path("trained-0123456789abcdef") for _ in range(5)}
    assert len(paths) == 1 and len(list(tmp_path.rglob("*.zip"))) == 1
    names = zipfile.ZipFile(io.BytesIO(first)).namelist()
    assert names == sorted(["README.md", "config.json", "metrics.json", "model.safetensors"])
    other = finished_run({"config.json": config, "model.safetensors": b"other weights"})
    assert other.export_path("trained-0123456789abcdef") not in paths  # another model: its own file


def test_a_runs_pairs_come_from_the_one_loader():
    """The Train tab and the command line split pairs alike: toy-fr validates on held-out sentences, pasted
    pairs are shuffled by the seed with a tenth kept for validation (s2s.training.data.load_pairs)."""
    toy = TrainRequest(task="toy-fr", train_size=50, seed=3)
    pairs = training.request_pairs(toy)
    assert pairs == load_pairs(toy.config()) and len(pairs.validation) == limits.VAL_SIZE
    assert all(tasks.split_of(source) == "heldout" for source, _ in pairs.validation)
    tsv = "".join(f"w{i}\tv{i}\n" for i in range(40))
    pasted = TrainRequest(task="tsv", tsv=tsv, seed=3)
    assert training.request_pairs(pasted) == load_pairs(pasted.config(), training.pasted_pairs(tsv))
    assert len(training.request_pairs(pasted).validation) == 4


def probe_at(exact: float, tokens: float) -> training.Probe:
    return training.Probe(step=0, translation=None, token_accuracy=tokens, exact_match=exact)


def test_a_run_that_cannot_improve_stops_and_one_that_improves_goes_on():
    """22 pasted pairs reached a loss of ~0, then ran to the 120 s cap at 0% validation exact match (issue 22):
    the slot was held for nothing. The watch stops a run after STALL_PROBES probes without a gain."""
    watch = events.Watch()
    reasons = [watch.after(probe_at(0.0, 0.30)) for _ in range(limits.STALL_PROBES)]
    assert reasons[:-1] == [""] * (limits.STALL_PROBES - 1) and reasons[-1] == ""  # the first probe set the best
    assert watch.after(probe_at(0.0, 0.30 + limits.MIN_GAIN / 2)) == events.STALLED  # too small a gain

    rising = events.Watch()  # token accuracy creeping up by MIN_GAIN each probe: never stopped
    assert all(rising.after(probe_at(0.0, 0.1 + k * limits.MIN_GAIN)) == "" for k in range(5 * limits.STALL_PROBES))
    exact = events.Watch()  # exact match up, token accuracy down: still a gain
    assert all(exact.after(probe_at(k / 100, 0.9 - k / 100)) == "" for k in range(3 * limits.STALL_PROBES))


def test_a_run_stops_once_it_has_learnt():
    watch = events.Watch()
    assert [watch.after(probe_at(e, 1.0)) for e in (1.0, 0.9, 1.0, 1.0)] == ["", "", "", events.LEARNT]


def test_a_run_whose_loss_still_falls_goes_on_though_validation_sits_on_a_plateau():
    """toy-fr with the tab's defaults was stopped at 40 s, validation flat at 0% while its loss was falling."""
    plateau = events.Watch()
    assert all(plateau.after(probe_at(0.0, 0.04), loss=3.0 - k * 2 * limits.MIN_LOSS_GAIN) == ""
               for k in range(3 * limits.STALL_PROBES))
    by_heart = events.Watch()  # pairs learnt by heart: the loss at ~0 has nothing left to lose
    reasons = [by_heart.after(probe_at(0.0, 0.3), loss=0.001 / (k + 1)) for k in range(limits.STALL_PROBES + 1)]
    assert reasons[-1] == events.STALLED


def test_the_probe_of_an_untrained_model_has_as_many_rows_as_its_task_could_need():
    """Replay snapshot 1 (an untrained model) was 32 rows of one noise piece, drawn as one tall dark block."""
    request = training.TrainRequest(task="dates", train_size=200, probe="3 March 2021")
    first = next(events.train_events(request))
    pieces = len(first.translation.source_pieces)
    assert isinstance(first, events.Probe) and first.step == 0
    assert len(first.translation.output_pieces) <= 2 * pieces + 2 < 32
