"""The one public endpoint, `translate`, on inputs of its own.

gradio's own number inputs answer a value of the wrong type (`"x"` for the forcing ratio) with no message
at all, and print a traceback into the log for every such call. The endpoint's numbers are `ApiNumber`s
instead, which refuse a wrong type in one line the client reads; the checks of what the values mean are
`runs.api_translate`'s. A call with the wrong number of values is refused by the guard (s2s/web/guard.py).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable

import gradio as gr

from s2s.web import runs

from .parts import Page


def client_errors(endpoint: Callable) -> Callable:
    """An API endpoint whose errors reach the client as their runs.user_message (a bug's never does)."""

    @functools.wraps(endpoint)  # gradio reads the parameters and description of the endpoint itself
    def call(*args):
        try:
            return endpoint(*args)
        except Exception as error:
            # a visitor's mistake is answered, not logged as a traceback (a bug is logged by user_message)
            raise gr.Error(runs.user_message(error), print_exception=False) from None

    return call


translate = client_errors(runs.api_translate)  # the public endpoint


def in_one_thread(endpoint: Callable, inputs: list, outputs: list) -> Callable:
    """`endpoint` for an event with preprocess=False and postprocess=False: each input's preprocess and each
    output's postprocess run here, in the endpoint's own worker thread, where gradio would hand every value to
    a worker thread of its own (for /translate, nine thread hops on every call: CPU a busy server lacks; the
    capacity run of `python -m bench.app --clients 100` measures it). Only for inputs and outputs whose
    component no event ever updates: gradio would use a session's updated copy (a Dropdown's new choices)."""

    @functools.wraps(endpoint)  # gradio reads the endpoint's parameters and description, as before
    def call(*payloads):
        values = [component.preprocess(payload) for component, payload in zip(inputs, payloads, strict=True)]
        answers = endpoint(*values)
        return [served(component, value) for component, value in zip(outputs, answers, strict=True)]

    return call


def served(component: gr.components.Component, value: object) -> object:
    """What gradio's postprocess sends for `value`: the component's postprocess, its data model as plain data."""
    value = component.postprocess(value)
    return value.model_dump() if hasattr(value, "model_dump") else value


def _refuse(label: str, kind: str, payload: object) -> None:
    shown = repr(payload) if len(repr(payload)) <= 40 else repr(payload)[:40] + "…"
    raise gr.Error(f"{label} must be {kind}; got {shown}.", print_exception=False)


class ApiNumber(gr.Number):
    """A hidden number input of the public API: a value that is not a number is refused in one line."""

    def preprocess(self, payload):
        if payload is not None and (isinstance(payload, bool) or not isinstance(payload, int | float)):
            _refuse(self.label, "a number", payload)
        low = -math.inf if self.minimum is None else self.minimum
        high = math.inf if self.maximum is None else self.maximum
        if payload is not None and not low <= payload <= high:
            _refuse(self.label, f"from {low:g} to {high:g}", payload)
        return super().preprocess(payload)


class ApiText(gr.Textbox):
    """A hidden text input of the public API: a value that is not text is refused in one line (a mask or a
    checkpoint outside its choices is refused by runs.api_translate, also in one line)."""

    def preprocess(self, payload):
        if payload is not None and not isinstance(payload, str):
            _refuse(self.label, "text", payload)
        return super().preprocess(payload)


def wire_api(page: Page, default_checkpoint: str | None) -> None:
    """`translate`: inputs of its own (hidden), in the order of its parameters, with the page's defaults."""
    inputs = [ApiText("", label="text", visible=False), ApiText(default_checkpoint, label="checkpoint", visible=False),
              ApiText("bidirectional", label="mask", visible=False),
              ApiNumber(0.0, minimum=0, maximum=1, label="teacher_forcing", visible=False),
              ApiText("", label="reference", visible=False), ApiNumber(0, precision=0, label="seed", visible=False),
              ApiNumber(1, precision=0, minimum=1, maximum=16, label="beam_size", visible=False)]
    outputs = [page.results.output, page.api_plot]
    page.api.click(in_one_thread(translate, inputs, outputs), inputs, outputs, api_name="translate", preprocess=False,
                   postprocess=False)
