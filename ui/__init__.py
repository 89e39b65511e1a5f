"""The gradio layer: the page's layout and the wiring of its events, nothing else.

| module | what it owns |
|---|---|
| `parts` | frozen records of the components each region of the page holds |
| `layout` | the functions that build those regions, and the page's own words |
| `explore`, `compare`, `train` | each tab's events: which components go in, which come out, and the call into s2s.web |
| `api` | the one public endpoint, `translate`, on inputs that refuse a wrong type in one line |
| `events` | the event options every tab shares, and the page and address a request comes from |
| `liveplot` | the heatmap component: redrawn in place with Plotly.react |
| `serving` | how gradio serves the page to a class: queue, sessions, the guard (s2s/web/guard.py) |

What each event does is a function of s2s/web with a test that needs no server; a handler here only
reads the components' values, calls it, and puts its answer on components.
"""
