"""How the app is served: gradio's sessions made cheap to create, with the same content when read."""

from __future__ import annotations

import os
import time
from types import SimpleNamespace

import gradio as gr
import pytest
from gradio import state_holder

from s2s.web import export
from ui import explore, serving


@pytest.mark.slow  # builds the whole page
def test_a_new_session_builds_its_config_copy_only_when_read_and_the_same_as_gradios():
    assert serving.lazy_session_configs()
    assert state_holder.SessionState is serving.LazySession
    with gr.Blocks() as demo:
        boxes = [gr.Textbox(f"value {i}", label=f"box {i}") for i in range(150)]
        gr.Button().click(lambda x: x, boxes[0], boxes[1])
    started = time.perf_counter()
    sessions = [state_holder.SessionState(demo) for _ in range(50)]
    lazy_ms = (time.perf_counter() - started) / 50 * 1000
    started = time.perf_counter()
    eager = [serving.GradioSession(demo) for _ in range(50)]
    eager_ms = (time.perf_counter() - started) / 50 * 1000
    print(f"a new session: {lazy_ms:.2f} ms lazily, {eager_ms:.2f} ms as gradio builds it")
    assert dict.__len__(sessions[0].config_values) == 0  # nothing built yet
    sessions[0].config_values[boxes[3]._id]  # one read builds one entry
    assert dict.__len__(sessions[0].config_values) == 1
    assert list(sessions[0].components) == list(eager[0].components)  # ...and the same when read
    sessions[1][boxes[2]._id] = gr.Textbox("changed")  # an update before the first read
    eager[1][boxes[2]._id] = gr.Textbox("changed")
    assert sessions[1].config_values[boxes[2]._id] == eager[1].config_values[boxes[2]._id]


def test_the_guard_is_told_each_public_endpoints_values_by_its_inputs():
    """The load benchmark's no-op endpoint (a function of *args) was refused every call: its names were read from
    a signature that has one parameter for seven inputs."""
    def named(text, checkpoint):
        return text

    with gr.Blocks() as demo:
        boxes = [gr.Textbox() for _ in range(3)]
        gr.Button().click(lambda text, *rest: text, boxes, boxes[0], api_name="starred")
        gr.Button().click(named, boxes[:2], boxes[0], api_name="named")
        gr.Button().click(named, boxes[:2], boxes[0], api_name="hidden", api_visibility="private")
    assert serving.public_endpoints(demo) == {"/gradio_api/call/starred": ("value 1", "value 2", "value 3"),
                                              "/gradio_api/call/named": ("text", "checkpoint")}


def test_gradio_s_copies_of_downloads_are_bounded_by_size_as_well_as_age(tmp_path, monkeypatch):
    """Issue 21: gradio copies each download into its own folder (a folder per file's digest) and cleared them by
    age only: one finished run exported once a second added 54 MB a minute. At each download the oldest copies
    beyond DOWNLOADS_BUDGET_BYTES now go."""
    cache = tmp_path / "gradio"
    for n in range(6):  # six downloads of 1 MB, oldest first, as gradio lays them out
        copy = cache / f"{n:064x}"
        copy.mkdir(parents=True)
        (copy / "trained-model.zip").write_bytes(b"z" * 2**20)
        os.utime(copy, (time.time() - 60 + n, time.time() - 60 + n))
    monkeypatch.setattr(export, "DOWNLOADS_BUDGET_BYTES", int(3.5 * 2**20))
    monkeypatch.setattr(serving, "get_upload_folder", lambda: str(cache))
    explore.on_export(None, 1, "mean", False, (), "cross", "mean")  # any download prunes first (here nothing to export)
    assert sorted(p.name for p in cache.iterdir()) == [f"{n:064x}" for n in (3, 4, 5)]
    export.prune_folder(cache, export.EXPORT_TTL_S, export.DOWNLOADS_BUDGET_BYTES, now=time.time() + 3600)
    assert not list(cache.iterdir())  # and by age, as gradio's own clearing does


def test_the_server_freezes_what_start_up_built_once_it_is_up_and_then_serves(monkeypatch):
    """Serving.launch (app.py and the load benchmark's no-op server): launched without blocking, with the serving
    rules, then start-up's objects frozen out of the collector's walks (s2s/web/heap.py), then serving."""
    done = []
    monkeypatch.setattr(serving.heap, "freeze_startup", lambda: done.append("frozen") or 1)

    class Demo:
        fns = {}

        def launch(self, **options):
            done.append(("launched", options["prevent_thread_lock"], options["server_port"],
                         options["state_session_capacity"]))

        def block_thread(self):
            done.append("serving")

    rules = serving.Serving(sessions=7)
    rules.launch(Demo(), server_port=1234)
    assert done == [("launched", True, 1234, 7), "frozen", "serving"]


def test_the_app_is_launched_by_its_serving_rules(monkeypatch):
    import app

    launched = []
    demo = object()
    monkeypatch.setattr(app, "build_demo", lambda: demo)
    monkeypatch.setattr(app, "SERVING", SimpleNamespace(launch=lambda d, **options: launched.append((d, options))))
    monkeypatch.setenv("GRADIO_SERVER_NAME", "127.0.0.1")
    app.main()
    [(used, options)] = launched
    assert used is demo and options["server_name"] == "127.0.0.1" and "theme" in options
