"""A plotly figure that a new value redraws in place: one `Plotly.react` on a div that stays.

gradio 6.31's `gr.Plot` keys its plotly component on the figure's JSON, so every new value re-creates
the component: a fresh `Plotly.newPlot` and then a resize redraw, most of a keystroke's time (docs/speed.md:
`python -m bench.app --browser` times both). `LivePlot` is a `gr.HTML` whose template is one empty div that never
changes (gradio's HTML diffs its template, so the div and plotly's state on it are kept); a script
watches the value and hands each figure to `Plotly.react`, which updates the drawn plot: the whole
map is not laid out and drawn twice. The value is the figure's JSON, the same string gr.Plot sends.
A title wider than the plot (on a phone) gets a smaller font rather than being cut at both sides, and a
map taller than the window is drawn as tall as the window (its rows thinner), so one scroll shows all of it.

plotly.js is the copy gradio ships (its plotly module sets `window.Plotly`): the page's other plots
load it, and if none has yet, the script imports that module itself, from beside gradio's own main
script, so nothing is fetched from elsewhere and it works offline.

gradio writes a typing stub (liveplot.pyi) beside any module that defines a component class; git ignores it.
"""

from __future__ import annotations

import functools
from pathlib import Path

import gradio as gr

from s2s import viz


@functools.cache  # one gradio release per process; gradio makes a LivePlot anew for some of its updates
def gradio_plotly_module() -> str:
    """The file name of gradio's bundled plotly module (hashed per gradio release), or "" if not found."""
    assets = Path(gr.__file__).parent / "templates" / "frontend" / "assets"
    found = sorted(assets.glob("PlotlyPlot-*.js"))
    return found[0].name if found else ""


# Runs once when the component is mounted (`element`, `props` and `watch` are gradio's): draws the
# current value, then every new one. A value already drawn is not drawn again (gradio re-sends it on
# some updates), and a new value while plotly is still loading is drawn once it is there.
DRAW_JS = """
const div = element.querySelector('.s2s-live-plot');
// where a click on a trace is written: a text box with this plot's elem_id and "-clicked" (see `clicked`)
const clickedBox = () => {
  for (let e = element; e; e = e.parentElement) {  // the elem_id is on a block around the element
    const box = e.id && document.querySelector(`#${e.id}-clicked textarea, #${e.id}-clicked input`);
    if (box) return box;
  }
  return null;
};
const MIN_HEIGHT = 240, ROOM = 72;  // px: the smallest map, and what is left above it for its label
let drawn = null;
const load = () => {
  if (window.Plotly || !props.plotly_module) return Promise.resolve();
  const main = document.querySelector('script[type=module][src*="/assets/index-"]');
  if (!main) return Promise.resolve();
  return import(new URL(props.plotly_module, main.src).href).catch(() => {});
};
const draw = () => {
  const value = props.value || '';
  if (value === drawn) return;
  if (!window.Plotly) { load().then(() => setTimeout(draw, window.Plotly ? 0 : 200)); return; }
  drawn = value;
  if (!value) { window.Plotly.purge(div); return; }
  const figure = JSON.parse(value);
  const layout = Object.assign({}, figure.layout, {autosize: true});
  // a map never taller than the window (a 720 px projector): its rows get thinner, its title stays on screen
  if (layout.height) layout.height = Math.min(layout.height, Math.max(MIN_HEIGHT, window.innerHeight - ROOM));
  layout.margin = Object.assign({}, layout.margin, {autoexpand: true});
  // three tools, not plotly's twelve: its toolbar, shown on hover at the top right, covered the map's title
  const config = Object.assign({responsive: true, displaylogo: false,
                                modeBarButtons: [['zoom2d', 'resetScale2d', 'toImage']]}, figure.config);
  window.Plotly.react(div, figure.data, layout, config).then(() => {
    // after every redraw, a resize (presenter mode) included, not only after a new value
    if (!div._fitsTitle) {
      div.on('plotly_afterplot', fitTitle);
      new ResizeObserver(() => setTimeout(fitTitle, 50)).observe(div);
      div.on('plotly_click', clicked);
      div._fitsTitle = true;
    }
    fitTitle();
  });
};
// A title wider than the plot (a phone: "bidirectional · mean of 2 layers · no teacher forcing") is cut at
// both sides by plotly, which never wraps it: its font is made smaller until it fits, centred between the
// toolbar's width at either side (the toolbar is at the top right; on a phone it is hidden, 0 wide).
const fitTitle = () => {
  const title = div.querySelector('.gtitle'), bar = div.querySelector('.modebar');
  const barWidth = bar ? bar.getBoundingClientRect().width : 0;
  const room = div.clientWidth - 2 * barWidth - 8, width = title ? title.getBoundingClientRect().width : 0;
  if (div.clientWidth === 0 || width === 0 || width <= room) return;  // a hidden tab measures 0: nothing to fit
  const size = (div.layout.title && div.layout.title.font && div.layout.title.font.size) || 14;
  const smaller = Math.max(8, Math.floor(size * room / width));
  if (smaller < size) window.Plotly.relayout(div, {'title.font.size': smaller});
};
// A plot with a text box "<its elem_id>-clicked" on the page (the heads grid) writes the clicked trace's name
// into it, as if typed: the page's Python then acts on it (enlarges the head clicked). Read from the page,
// not from `props`: a tab's plot mounts when the tab is opened, and gradio's updates replace `props` by then.
const clicked = (event) => {
  const name = event.points && event.points[0] && event.points[0].data.name;
  const box = clickedBox();
  if (!name || !box) return;
  box.value = `${name}@${Date.now()}`;  // a new value each click, so clicking one head twice acts twice
  box.dispatchEvent(new Event('input', {bubbles: true}));
};
watch('value', draw);
draw();
"""


class LivePlot(gr.HTML):
    """A heatmap output for values that change often (typing, a step slider, a play-through)."""

    def __init__(self, value: viz.Figure | None = None, **kwargs):
        super().__init__(value, html_template='<div class="s2s-live-plot"></div>', js_on_load=DRAW_JS,
                         elem_classes=["s2s-live"], plotly_module=gradio_plotly_module(), **kwargs)

    def postprocess(self, value) -> str:
        """A figure (viz.Figure or plotly's) -> its JSON; None -> "" (nothing drawn)."""
        if value is None:
            return ""
        return value if isinstance(value, str) else value.to_json()

    def api_info(self) -> dict:
        return {"type": "string", "description": "the figure as plotly JSON"}
