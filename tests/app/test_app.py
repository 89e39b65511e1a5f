"""End to end: the app served on a free local port, called the way a script would, with gradio_client."""

from __future__ import annotations

import asyncio
import importlib
import json
import sys
import types
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import gradio as gr
import httpx
import pytest
from gradio_client import Client
from gradio_client.exceptions import AppError

import ui.api
from s2s import checkpoint, viz
from s2s.web import models, runs, training, views
from tests.conftest import make_bundled, served_app
from ui.compare import on_preset
from ui.explore import on_intervene
from ui.layout import layout

pytestmark = pytest.mark.filterwarnings("ignore::pandas.errors.Pandas4Warning")  # raised inside gradio's queue


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """The app on tiny random-weight checkpoints (trained quality is not under test): (url, client)."""
    with served_app(make_bundled(tmp_path_factory.mktemp("checkpoints"))) as url:
        yield url, Client(url, verbose=False)


def source_labels(text: str, spec: str = "dates") -> list[str]:
    return [viz.display_piece(p) for p in models.get_model(spec).translator.translate(text).source_pieces]


@pytest.mark.slow  # the app served on a local port
def test_translate_returns_the_output_and_the_heatmap(served):
    _, client = served
    output, plot = client.predict("3 March 2021", "dates", "bidirectional", 0, "", 0, 1, api_name="/translate")
    expected = runs.run(runs.Settings("3 March 2021", "dates"))
    assert output == expected.text
    assert plot["type"] == "plotly"
    figure = json.loads(plot["plot"])
    assert figure["layout"]["xaxis"]["ticktext"] == source_labels("3 March 2021")
    assert len(figure["layout"]["yaxis"]["ticktext"]) == len(expected.output_pieces)
    assert "frames" not in figure or not figure["frames"]


@pytest.mark.slow  # the app served on a local port
def test_translate_takes_forcing_a_reference_a_seed_and_a_beam(served):
    _, client = served
    forced, plot = client.predict("3 March 2021", "dates", "causal", 1.0, "2021-03-03", 3, 1, api_name="/translate")
    r = runs.run(runs.Settings("3 March 2021", "dates", "causal", True, 1.0, "2021-03-03", 3, 1))
    assert forced == r.text
    rows = json.loads(plot["plot"])["layout"]["yaxis"]["ticktext"]
    assert len(rows) == len(r.output_pieces) and "▸" in rows[1]  # the forced steps are marked
    beam, _ = client.predict("3 March 2021", "dates", "bidirectional", 0, "", 0, 4, api_name="/translate")
    assert beam == runs.run(runs.Settings("3 March 2021", "dates", beam_size=4)).text


@pytest.mark.slow  # the app served on a local port
@pytest.mark.parametrize(("args", "message"), [
    (("", "dates", "bidirectional", 0, "", 0, 1), "The input is empty"),
    (("3 March 2021", "../../etc", "bidirectional", 0, "", 0, 1), "not a checkpoint this app can load"),
    (("3 March 2021", "dates", "bidirectional", 0.5, "", 0, 1), "needs a reference"),
    (("3 March 2021", "dates", "sideways", 0, "", 0, 1), "Unknown mask 'sideways'"),
    (("3 March 2021", "dates", "bidirectional", 2, "2021", 0, 1), "teacher_forcing must be from 0 to 1; got 2"),
    (("3 March 2021", "dates", "bidirectional", 0, "", 0, 17), "beam_size must be from 1 to 16; got 17"),
    (("3 March 2021", "dates", "bidirectional", "x", "", 0, 1), "teacher_forcing must be a number; got 'x'"),
    ((["3 March 2021"], "dates", "bidirectional", 0, "", 0, 1), r"text must be text; got \['3 March 2021'\]"),
    (("3 March 2021", "dates", "bidirectional", 0.5, "2021-03-03", 0, 4), "Beam search decodes freely"),
])
def test_bad_values_are_errors_with_a_message_and_the_app_keeps_serving(served, args, message, capfd):
    _, client = served
    capfd.readouterr()
    with pytest.raises(AppError, match=message):
        client.predict(*args, api_name="/translate")
    assert "Traceback" not in capfd.readouterr().err  # a visitor's mistake is no bug: ~1.9 KB of log each
    output, _ = client.predict("3 March 2021", "dates", "bidirectional", 0, "", 0, 1, api_name="/translate")
    assert output == runs.run(runs.Settings("3 March 2021", "dates")).text


@pytest.mark.slow  # the app served on a local port
def test_only_translate_is_public(served):
    _, client = served
    api = client.view_api(print_info=False, return_format="dict")
    assert list(api["named_endpoints"]) == ["/translate"] and not api["unnamed_endpoints"]
    names = [p["parameter_name"] for p in api["named_endpoints"]["/translate"]["parameters"]]
    assert names == ["text", "checkpoint", "mask", "teacher_forcing", "reference", "seed", "beam_size"]


@pytest.mark.slow  # the app served on a local port
def test_a_class_at_once(served):
    url, _ = served
    texts = [f"{day} March 2021" for day in range(1, 9)]

    def call(text):
        return Client(url, verbose=False).predict(text, "dates", "bidirectional", 0, "", 0, 1,
                                                  api_name="/translate")[0]

    with ThreadPoolExecutor(8) as pool:
        outputs = list(pool.map(call, texts))
    assert outputs == [runs.run(runs.Settings(text, "dates")).text for text in texts]


def test_the_page_opens_with_no_checkpoint_installed(tmp_path, monkeypatch):
    import app

    monkeypatch.setattr(checkpoint, "BUNDLED_DIR", tmp_path)
    monkeypatch.setattr(models, "CACHE", models.new_cache())
    monkeypatch.delenv("S2S_HUB_CHECKPOINTS", raising=False)
    demo = app.build_demo()
    status = next(block for block in demo.blocks.values() if getattr(block, "elem_id", None) == "status")
    assert "No checkpoints are installed" in status.value


@pytest.mark.slow  # the app served on a local port
def test_on_a_zerogpu_space_typing_stays_off_the_gpu_and_training_asks_for_it(served, monkeypatch):
    """SPACES_ZERO_GPU set: app.py imports `spaces`; the model calls of typing never go through spaces.GPU
    (a keystroke must not wait in ZeroGPU's queue), training does, with a duration from its request."""
    import app

    calls = []

    def gpu(fn=None, duration=60):
        def decorator(function):
            calls.append((function.__name__, duration))
            return function
        return decorator if fn is None else decorator(fn)

    fake = types.ModuleType("spaces")
    fake.GPU = gpu
    monkeypatch.setitem(sys.modules, "spaces", fake)
    monkeypatch.setenv("SPACES_ZERO_GPU", "1")
    monkeypatch.setattr(training.RUNS, "train_in", None)  # put back afterwards
    importlib.reload(app)
    try:
        text, _ = ui.api.translate("29 March 2023", "dates", "bidirectional", 0, "", 0, 1)
    finally:
        monkeypatch.delenv("SPACES_ZERO_GPU")
        importlib.reload(app)
    assert calls == [("train_events", training.gpu_seconds)]
    assert text == runs.run(runs.Settings("29 March 2023", "dates")).text
    assert models.CACHE.get("dates").translator.device.type == "cpu"


@pytest.mark.slow  # builds the whole page
def test_a_preset_names_what_it_sets_and_a_failed_one_sets_nothing(tmp_path_factory, monkeypatch):
    monkeypatch.setattr(checkpoint, "BUNDLED_DIR", make_bundled(tmp_path_factory.mktemp("checkpoints")))
    monkeypatch.setattr(models, "CACHE", models.new_cache())
    monkeypatch.delenv("S2S_HUB_CHECKPOINTS", raising=False)
    with gr.Blocks():
        page = layout(views.opening())
    e, c = page.explore, page.compare
    controls = ["3 March 2021", "dates", "causal", False, 1.0, "", 0, "beam", 4]  # ExploreControls.settings
    updates = on_preset(page, "mask", *controls)
    assert set(updates) <= set(e.settings + c.settings + [e.reference_source])  # the preset event's outputs
    assert (updates[e.mask], updates[c.mask_b], updates[e.decoding], updates[e.beam_size]) == (
        "bidirectional", "causal", "beam", 4)
    assert e.seed not in updates  # left as it is
    with pytest.warns(UserWarning, match="Unknown comparison"):
        assert all(isinstance(value, type(gr.skip())) for value in on_preset(page, "nope", *controls).values())


@pytest.mark.slow  # builds the whole page
def test_a_refused_intervention_keeps_the_translation_on_screen(tmp_path_factory, monkeypatch):
    """It used to blank the output and the heatmap, and the step slider and export then had nothing (2026-11-29)."""
    monkeypatch.setattr(checkpoint, "BUNDLED_DIR", make_bundled(tmp_path_factory.mktemp("checkpoints")))
    monkeypatch.setattr(models, "CACHE", models.new_cache())
    with gr.Blocks():
        page = layout(views.opening())
    r = page.results
    controls = ["3 March 2021", "dates", "bidirectional", False, 1.0, "", 0, "greedy", 1]  # ExploreControls.settings
    kept = runs.run(runs.Settings("3 March 2021", "dates"))
    for step, piece, message in ((50, "7", "Choose a step from 1 to"), (1, "Ω", "not a piece this checkpoint writes")):
        updates = on_intervene(r, *controls, kept, 1, step, piece, "mean", False, [], "cross", "mean")
        assert message in updates[r.status]
        assert all(isinstance(updates[c], type(gr.skip())) for c in (r.output, r.plot, r.result))
    changed = on_intervene(r, *controls, kept, 1, 1, "7", "mean", False, [], "cross", "mean")
    assert changed[r.result].decoder_inputs[1] == "7" and changed[r.output] == changed[r.result].text


@pytest.mark.slow  # the app served on a local port
def test_the_served_endpoint_refuses_a_wrong_number_of_values_in_one_line(served, capfd):
    """The guard is given translate's parameters by the page itself (ui/serving.public_endpoints)."""
    url, _ = served
    capfd.readouterr()
    refused = httpx.post(f"{url}gradio_api/call/translate", json={"data": ["3 March 2021"]}, timeout=30)
    assert refused.status_code == 422 and refused.json()["error"].startswith("translate takes 7 values, in this "
                                                                             "order: text, checkpoint, mask,")
    assert "Traceback" not in capfd.readouterr().err


def test_no_event_reads_or_writes_a_layout_that_holds_the_page(tmp_path, monkeypatch):
    """gradio's page refreshes the loading status of every component inside every input and output an event has
    ever had, on every later event. A lesson's output was the page's Tabs (142 components inside): every keystroke
    after a lesson then took longer to reach its heatmap (`python -m bench.app --browser --lesson aligns`). Tabs are
    opened by the page's script instead (ui/events.py); a small row may still be shown."""
    import app

    monkeypatch.setattr(checkpoint, "BUNDLED_DIR", tmp_path)
    monkeypatch.setattr(models, "CACHE", models.new_cache())
    monkeypatch.delenv("S2S_HUB_CHECKPOINTS", raising=False)
    config = app.build_demo().get_config_file()
    inside: dict[int, int] = {}

    def count(node) -> int:
        inside[node["id"]] = sum(1 + count(child) for child in node.get("children", []))
        return inside[node["id"]]

    count(config["layout"])
    types_ = {c["id"]: c["type"] for c in config["components"]}
    touched = {i for dependency in config["dependencies"] for i in dependency["inputs"] + dependency["outputs"]}
    assert {types_[i] for i in touched} >= {"textbox", "html", "row"}  # the check sees the page's events
    crowded = {(types_[i], inside[i]) for i in touched if inside.get(i, 0) > 3}
    assert not crowded


@pytest.mark.slow  # builds the whole page
def test_every_answer_of_the_head_click_is_one_of_its_outputs(monkeypatch):
    """gradio refuses an answer naming a component the event does not output: a click it cannot read (a stale
    or forged value) must change nothing, not fail (its outputs lost the results' Tabs, opened by its script)."""
    import app

    # the real bundled checkpoints (a Transformer has heads), whatever this module's served app has set
    monkeypatch.setattr(checkpoint, "BUNDLED_DIR", Path(app.__file__).resolve().parent / "checkpoints")
    monkeypatch.setattr(models, "CACHE", models.new_cache())
    monkeypatch.delenv("S2S_HUB_CHECKPOINTS", raising=False)
    demo = app.build_demo()
    clicked = next(b for b in demo.blocks.values() if getattr(b, "elem_id", None) == "heads-clicked")
    handler = next(f for f in demo.fns.values() if clicked in f.inputs and f.fn is not None)
    kept = runs.run(runs.Settings("3 March 2021", "dates-transformer"))
    for value in ("0,1@17", "junk", "9,9@1", None):
        answer = handler.fn(value, kept)
        assert set(answer) <= set(handler.outputs), value
    assert handler.fn("1,2@5", kept) == {handler.outputs[0]: "1", handler.outputs[1]: "2"}


@pytest.mark.slow  # builds the whole page
def test_translate_runs_in_one_worker_thread_and_answers_as_gradios_own_processing_would(monkeypatch):
    """gradio hands each input's preprocess and each output's postprocess to a worker thread of its own; /translate
    does them in its endpoint's thread (ui.api.in_one_thread). Its answer must be what gradio's own processing
    gives: the text, and the heatmap as gradio's gr.Plot sends it."""
    import anyio.to_thread

    import app

    monkeypatch.setattr(checkpoint, "BUNDLED_DIR", Path(app.__file__).resolve().parent / "checkpoints")
    monkeypatch.setattr(models, "CACHE", models.new_cache())
    monkeypatch.delenv("S2S_HUB_CHECKPOINTS", raising=False)
    demo = app.build_demo()
    translate = next(f for f in demo.fns.values() if f.api_name == "translate")
    hops = []
    real_run_sync = anyio.to_thread.run_sync

    async def counted(function, *args, **kwargs):
        hops.append(function)
        return await real_run_sync(function, *args, **kwargs)

    monkeypatch.setattr(anyio.to_thread, "run_sync", counted)
    args = ["3 March 2021", "dates", "bidirectional", 0, "", 0, 4]
    answer = asyncio.run(demo.process_api(translate, list(args)))
    assert len(hops) == 1  # the endpoint's own call; before, 1 + 7 inputs + 2 outputs
    text, figure = runs.api_translate(*args)
    assert answer["data"] == [text, gr.Plot().postprocess(figure).model_dump()]
    with pytest.raises(gr.Error, match="teacher_forcing must be a number; got 'x'"):
        asyncio.run(demo.process_api(translate, ["3 March 2021", "dates", "bidirectional", "x", "", 0, 1]))
