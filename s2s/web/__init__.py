"""The web service without gradio: what the page does, as plain functions over plain values.

The gradio layer (app.py and ui/) lays out the page and wires each event to a function here. These
functions take the values the page's components hold and return plain values, named records, Markdown
and plotly figures; none imports gradio.
Those the page calls never raise: a bad value, a checkpoint that cannot load or a bug becomes a
message for the page (bugs are also logged with their traceback), so the app keeps serving.

| module | what it owns |
|---|---|
| `models` | the shared models (bundled pinned, Hub ones by commit in their own pool, trained in the page); names |
| `runs` | one run's `Settings`, their checks, `run` (the only function that runs a model), the API adapter, messages |
| `batching`, `decode_worker` | greedy decodes arriving together run as one batch (bundled: in a process of their own) |
| `wire` | values crossing from a child process to the server (JSON lines and frames, never a pickle) |
| `heap` | a serving process's heap: start-up frozen out of the garbage collector's walks, freed memory given back |
| `views` | what the Explore tab shows of a kept result: notes, hypotheses, figures, step math, tables, play |
| `cards` | the model card shown in the page |
| `examples` | the one-click examples, drawn from the installed checkpoints' tasks |
| `compare` | the Compare tab: presets, two runs and their difference |
| `export` | the files a visitor downloads, and their clean-up |
| `lessons`, `by_length` | the six lessons as data; quality by input length, measured on demand |
| `training/` | bounded, cancellable training runs for the Train tab, each in a process of its own (its own table) |
| `train_tab` | what each of the Train tab's events does for one page: ask, poll, replay, cancel, use, export |
| `trained` | the models trained in the page, each kept for its own page under a random name |
| `guard` | what one visitor may cost, before gradio sees a request: an ASGI middleware (body size, uploads, rate) |
| `ordering` | latest wins: an answer a newer run of the same page has overtaken is dropped |

A result (`Translation`) is kept by the page, so moving the step slider, choosing a layer, a
hypothesis or presenter mode re-plots it without running the model again.
"""
