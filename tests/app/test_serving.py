"""How the app is served: gradio's sessions made cheap to create, with the same content when read."""

from __future__ import annotations

import time

import gradio as gr
import pytest
from gradio import state_holder

from ui import serving


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
