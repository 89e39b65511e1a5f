"""Seq2Seq Attention Explorer: type a sentence, watch an LSTM encoder-decoder's attention as a heatmap.

    python app.py        # http://127.0.0.1:7860 (GRADIO_SERVER_NAME / GRADIO_SERVER_PORT override)

This file builds the page from the gradio layer in ui/ (layout in ui/layout.py, each tab's events in
ui/explore.py, ui/compare.py, ui/train.py) and launches it; what each event does is in s2s/web, which
uses no gradio. The same file runs as a Hugging Face Space (it binds 0.0.0.0 there). The one public
API endpoint is `translate`; every other event is private.
"""

import logging
import os
from pathlib import Path

if os.environ.get("SPACES_ZERO_GPU"):  # a ZeroGPU Space: `spaces` must come before anything touches CUDA
    import spaces

import gradio as gr  # noqa: E402

from s2s import environment  # noqa: E402
from s2s.web import export, runs, training, views  # noqa: E402
from ui.api import wire_api  # noqa: E402
from ui.compare import wire_compare, wire_lessons  # noqa: E402
from ui.explore import wire_explore, wire_load, wire_presenter  # noqa: E402
from ui.layout import TITLE, layout  # noqa: E402
from ui.serving import Serving  # noqa: E402
from ui.train import wire_train  # noqa: E402

if os.environ.get("SPACES_ZERO_GPU"):  # training gets the GPU for as long as its request allows; typing, the CPU
    training.train_with(spaces.GPU(duration=training.gpu_seconds))

ASSETS = Path(__file__).resolve().parent / "assets"
SERVING = Serving.from_env()  # queue, sessions and per-client limits (ui/serving.py)


def build_demo() -> gr.Blocks:
    """The whole page, with the default checkpoint loaded and a first example already translated."""
    runs.prepare()  # the bundled checkpoints loaded, the decoding process starting
    start = views.opening()
    # gradio's copies of downloads are cleared on the exports' own schedule (s2s/web/export.py)
    every = export.EXPORT_TTL_S
    with gr.Blocks(title=TITLE, delete_cache=(every, every), analytics_enabled=False) as demo:
        page = layout(start)
        wire_explore(page)
        wire_compare(page)
        wire_lessons(page)
        wire_train(page, demo)
        wire_presenter(page)
        wire_load(page, demo)
        wire_api(page, start.default)
    SERVING.queue(demo)
    return demo


def looks() -> dict:
    """demo.launch's theme and stylesheet (gradio 6 takes them there)."""
    return dict(theme=gr.themes.Soft(primary_hue="indigo", secondary_hue="pink"), css_paths=[ASSETS / "style.css"])


def launch_options(demo: gr.Blocks) -> dict:
    """What demo.launch needs besides the address: the looks and the limits for a class."""
    return dict(looks(), **SERVING.launch_options(demo))


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    server_name = os.environ.get("GRADIO_SERVER_NAME") or ("0.0.0.0" if environment.on_a_space() else "127.0.0.1")
    demo = build_demo()
    SERVING.launch(demo, server_name=server_name, **looks())  # until the server stops


if __name__ == "__main__":
    main()
