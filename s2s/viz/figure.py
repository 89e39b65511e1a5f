"""`Figure`: a plotly figure kept as its finished dict, and `message`, a figure that only says something.

Figures are sent to the browser on every keystroke, so they stay small and cheap: built as plain dicts
and wrapped once without plotly.py's validation, no plotly template, float32 arrays (encoded as base64),
no frames. Building them object by object (go.Heatmap, update_layout, add_shape) validated every
attribute and cost more than the model's own call (`python -m bench.viz` times both). Validation is what
the tests do instead: tests/viz/ passes every figure's dict through a validating go.Figure. So the
weights stay float32 arrays (plotly writes them as base64 "f4", smaller than decimals and exact), every
other number is a plain list, and colour scales are explicit stops (`style.colour_stops`). Figures also
avoid attributes newer than plotly.js 3 (the app's browser bundle is plotly.js 3.3.1: title.font, never
titlefont).
"""

from __future__ import annotations

import base64
import html
import textwrap

import numpy as np
import plotly.graph_objects as go
import plotly.io
from _plotly_utils.utils import to_typed_array_spec

from .style import TEMPLATE, style_for


class Figure:
    """A plotly figure kept as its finished dict; plotly's objects are made only if something asks for them.

    gradio's Plot sends a plotly figure as `figure.to_json()`, which here writes the dict straight out,
    arrays as plotly's base64 typed arrays: the same JSON as `go.Figure(d).to_json()` (tests/viz/test_figure.py
    checks every figure), without building and copying plotly's object tree on every request. Anything else
    (`.layout`, `.data`, `.to_dict()`, `.to_html()`, `.update_layout()`) is the plotly `go.Figure` made from
    the dict on first use.
    """

    def __init__(self, figure: dict):
        self._dict = figure
        self._plotly: go.Figure | None = None

    @property
    def plotly(self) -> go.Figure:
        """The figure as plotly's objects (made once, then used by every later call, changes included)."""
        if self._plotly is None:
            self._plotly = go.Figure(self._dict, _validate=False)
        return self._plotly

    def to_json(self) -> str:
        if self._plotly is not None:  # made, and perhaps changed since: plotly writes it
            return self._plotly.to_json()
        return plotly.io.to_json(_typed_arrays(self._dict), validate=False)

    def __getattr__(self, name: str):
        if name.startswith("__") or name in ("_dict", "_plotly"):  # copy and pickle look for these: not plotly's
            raise AttributeError(name)
        return getattr(self.plotly, name)

    def _repr_html_(self) -> str:  # a notebook shows it as it shows plotly's
        return self.plotly._repr_html_()

    def _repr_mimebundle_(self, *args, **kwargs):
        return self.plotly._repr_mimebundle_(*args, **kwargs)


def _typed_arrays(figure: dict) -> dict:
    """The figure with its traces' numpy arrays as plotly.js typed arrays, as plotly.py writes them.

    Arrays are only ever a trace's own attributes here (z), never deeper, so only those are looked at:
    tests/viz/test_figure.py compares every figure with plotly.py's own JSON.
    """
    data = [{k: _typed_array(v) if isinstance(v, np.ndarray) else v for k, v in trace.items()}
            for trace in figure["data"]]
    return dict(figure, data=data)


def _typed_array(v: np.ndarray) -> dict | np.ndarray:
    """plotly's typed-array spec of v, written directly for float32 (every map's weights): plotly.py first makes
    a validated, read-only copy of the array on every call, which cost more than the rest of the JSON."""
    if v.dtype != np.float32 or v.size == 0:
        return to_typed_array_spec(v)
    spec = {"dtype": "f4", "bdata": base64.b64encode(np.ascontiguousarray(v)).decode("ascii")}
    if v.ndim > 1:
        spec["shape"] = str(v.shape)[1:-1]
    return spec


def make_figure(data: list[dict], layout: dict) -> Figure:
    """The one place a figure is made: from finished dicts, without plotly.py's validation."""
    return Figure(dict(data=data, layout=layout))


def message(text: str, presenter: bool = False) -> Figure:
    """A figure holding only a centred message (a model without attention, nothing to compare)."""
    style = style_for(presenter)
    layout = dict(template=TEMPLATE, height=220, margin=dict(l=10, r=10, t=10, b=10), xaxis=dict(visible=False),
                  yaxis=dict(visible=False),
                  annotations=[dict(text="<br>".join(textwrap.wrap(html.escape(text, quote=False), 40)), x=0.5,
                                    y=0.5, xref="paper", yref="paper",
                                    showarrow=False, font=dict(size=style.font))])
    return make_figure([], layout)
