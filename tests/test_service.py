"""The app's logic without the page: handlers take plain values, return plain values, and never raise on bad input."""

from __future__ import annotations

import json
import logging
import os
import shutil
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from s2s import checkpoint, hub, service, viz
from s2s.errors import InvalidCheckpointName
from tests.conftest import build_checkpoint, make_bundled
from tests.fake_hub import FakeHub, use_fake_hub


@pytest.fixture(scope="session")
def bundled_dir(tmp_path_factory) -> Path:
    return make_bundled(tmp_path_factory.mktemp("checkpoints"))


@pytest.fixture(autouse=True)
def bundled(bundled_dir, monkeypatch) -> Path:
    """Each test sees only the tiny checkpoints, with an empty model cache and no Hub list."""
    monkeypatch.setattr(hub, "BUNDLED_DIR", bundled_dir)
    monkeypatch.setattr(service, "MODELS", service.ModelCache(service.CACHE_SIZE, service._load))
    monkeypatch.delenv("S2S_HUB_CHECKPOINTS", raising=False)
    return bundled_dir


def settings(text: str = "3 March 2021", **changes) -> service.Settings:
    return service.Settings(text, changes.pop("checkpoint", "dates"), **changes)


# --- checkpoints ------------------------------------------------------------------------------------


def test_checkpoint_choices_are_the_bundled_ones_then_the_hub_list(monkeypatch):
    assert service.checkpoint_choices() == ["dates", "dates-causal", "reverse", "reverse-noattn"]
    monkeypatch.setenv("S2S_HUB_CHECKPOINTS", "org/a, org/b@v1, ../bad, dates")
    assert service.checkpoint_choices() == ["dates", "dates-causal", "reverse", "reverse-noattn", "org/a", "org/b@v1"]
    assert service.default_checkpoint() == "dates"


@pytest.mark.parametrize("spec", ["../../etc", "/etc", "/etc/passwd", "~/x", "..", "a/b/c", "", "  ", None, 3,
                                  "org/name@../x", "dates/../../etc"])
def test_web_spec_refuses_paths_and_malformed_names(spec):
    with pytest.raises(InvalidCheckpointName):
        service.web_spec(spec)


def test_web_spec_accepts_bundled_names_and_hub_ids():
    assert service.web_spec(" dates ") == "dates"
    assert service.web_spec("org/name") == "org/name"
    assert service.web_spec("org/name@v1.0") == "org/name@v1.0"


def test_a_checkpoint_folder_on_the_server_is_never_loaded_by_path(bundled, monkeypatch, tmp_path):
    with pytest.raises(InvalidCheckpointName):
        service.get_model(str(bundled / "dates"))  # an absolute path to a real checkpoint
    # "org/name" is also a relative path: when such a folder exists, it must still be asked of the Hub
    build_checkpoint(tmp_path / "org" / "name")
    monkeypatch.chdir(tmp_path)
    asked = []
    monkeypatch.setattr(hub, "download", lambda repo_id, revision=None: asked.append(repo_id) or bundled / "dates")
    service.get_model("org/name")
    assert asked == ["org/name"]


def test_a_hub_checkpoint_loads_and_has_a_card(bundled, monkeypatch, tmp_path):
    files = {path.name: path.read_bytes() for path in (bundled / "dates").iterdir()}
    with FakeHub() as server:
        use_fake_hub(monkeypatch, server.url, tmp_path / "hf-cache")
        server.add_commit("org/tiny", files)
        loaded = service.get_model("org/tiny")
        assert loaded.folder.is_relative_to(tmp_path / "hf-cache")
        assert "**org/tiny**" in service.model_card("org/tiny")
        assert "exact match | 50.0% of 50" in service.model_card("org/tiny")
        problem = service.model_card("org/missing")
    assert "org/missing" in problem and "s2s-problem" in problem


def test_model_card_lists_the_settings_and_metrics_and_escapes_what_the_folder_says(bundled, tmp_path, monkeypatch):
    card = service.model_card("dates")
    for text in ("task *dates*", "scaled_dot", "trained mask | bidirectional", "hidden 32", "2 layers",
                 "encoder | uni: reads the source left to right", "bridge | final: the decoder starts from",
                 "exact match | 50.0% of 50", "2 epochs"):
        assert text in card
    assert "token accuracy" not in card  # not in this metrics.json
    hostile = tmp_path / "checkpoints"
    folder = build_checkpoint(hostile / "dates")
    config = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps(config | {"task": "<img src=x onerror=alert(1)>"}))
    (folder / "metrics.json").write_text('{"exact_match": "<b>1</b>", "epochs": [1]}')
    monkeypatch.setattr(hub, "BUNDLED_DIR", hostile)
    monkeypatch.setattr(service, "MODELS", service.ModelCache(2, service._load))
    card = service.model_card("dates")
    assert "&lt;img src=x onerror=alert(1)&gt;" in card and "<img" not in card
    assert "exact match" not in card and "epochs" not in card  # not numbers: left out


def test_model_card_of_a_bad_name_is_a_message():
    card = service.model_card("../../etc")
    assert "s2s-problem" in card and "not a checkpoint this app can load" in card


def test_layer_choices_follow_the_checkpoint():
    assert service.layer_choices("dates") == [("mean of layers", "mean"), ("layer 0", "0"), ("layer 1", "1")]
    assert service.layer_choices("nope/nope@../") == [("mean of layers", "mean")]


# --- the model cache ----------------------------------------------------------------------------------


def test_cache_keeps_the_most_recently_used_models_only():
    loads = []
    cache = service.ModelCache(2, lambda spec: loads.append(spec) or spec.upper())
    for spec in ("a", "b", "a", "c"):  # a is used again before c arrives, so b is evicted
        cache.get(spec)
    assert cache.loaded() == ["a", "c"]
    assert cache.get("b") == "B"
    assert loads == ["a", "b", "c", "b"]
    assert cache.loaded() == ["c", "b"]


def test_concurrent_requests_for_one_spec_load_it_once():
    loads = []
    started = threading.Event()

    def slow_load(spec):
        loads.append(spec)
        started.set()
        time.sleep(0.3)
        return object()

    cache = service.ModelCache(4, slow_load)
    with ThreadPoolExecutor(8) as pool:
        models = list(pool.map(cache.get, ["x"] * 8))
    assert loads == ["x"]
    assert all(model is models[0] for model in models)


def test_a_failed_load_is_shared_then_retried():
    calls = []

    def flaky(spec):
        calls.append(spec)
        time.sleep(0.2)
        if len(calls) == 1:
            raise ValueError("not yet")
        return spec

    cache = service.ModelCache(4, flaky)
    with ThreadPoolExecutor(4) as pool:
        futures = [pool.submit(cache.get, "x") for _ in range(4)]
        errors = [future.exception() for future in futures]
    assert len(calls) == 1 and all(isinstance(error, ValueError) for error in errors)
    assert cache.get("x") == "x" and len(calls) == 2


def test_prepare_loads_the_default_checkpoint():
    service.prepare(threads=1)
    assert service.MODELS.loaded() == ["dates"]


# --- explore ------------------------------------------------------------------------------------------


def test_explore_returns_the_output_the_figure_and_the_result():
    explored = service.explore(settings())
    r = explored.result
    assert explored.output == r.text and isinstance(explored.output, str)
    assert explored.status == ""  # run with the mask it was trained with, no forcing: nothing to say
    xaxis = explored.figure.layout.xaxis
    assert list(xaxis.ticktext) == [viz.display_piece(p) for p in r.source_tokens]
    assert r.attention.shape == (2, len(r.output_tokens), len(r.source_tokens))


def test_a_mask_the_checkpoint_was_not_trained_with_is_pointed_out():
    assert "Mask mismatch" in service.explore(settings(mask="causal")).status
    note = service.explore(settings(checkpoint="dates-causal")).status
    assert "trained <b>causal</b> and is run <b>bidirectional</b>" in note
    assert service.explore(settings(checkpoint="dates-causal", mask="causal")).status == ""
    assert service.mask_note("bidirectional", "bidirectional") == ""
    assert "hides positions, not information" not in service.explore(settings(mask="causal")).status


def test_causal_mask_over_a_bidirectional_encoder_is_explained(bundled, tmp_path, monkeypatch):
    folder = build_checkpoint(bundled / "dates-bi", encoder="bi")
    try:
        monkeypatch.setattr(service, "MODELS", service.ModelCache(service.CACHE_SIZE, service._load))
        assert "hides positions, not information" in service.explore(settings(checkpoint="dates-bi",
                                                                              mask="causal")).status
        assert "hides positions" not in service.explore(settings(checkpoint="dates-bi")).status
        compared = service.compare(settings(checkpoint="dates-bi"), settings(checkpoint="dates-bi", mask="causal"))
        assert compared.summary.count("hides positions, not information") == 1
    finally:
        shutil.rmtree(folder)


@pytest.mark.parametrize(("changes", "message"), [
    (dict(text=""), "The input is empty"),
    (dict(text="   "), "The input is empty"),
    (dict(text=None), "The input is empty"),
    (dict(text="x" * (service.MAX_TEXT_CHARS + 1)), "too long"),
    (dict(text="1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5"), "too long"),  # > 48 pieces, < 500 chars
    (dict(mask="sideways"), "Unknown mask"),
    (dict(forcing=True, ratio=1.5, reference="2021-03-03"), "Teacher forcing must be a number from 0 to 1"),
    (dict(forcing=True, ratio=float("nan"), reference="2021-03-03"), "Teacher forcing must be a number"),
    (dict(forcing=True, ratio=1.0, reference=""), "needs a reference"),
    (dict(forcing=True, ratio=0.5, reference="2021-03-03", beam_size=3), "Beam search decodes freely"),
    (dict(seed=1.5), "The seed must be a whole number"),
    (dict(beam_size=0), "The beam size must be a whole number from 1 to 16"),
    (dict(beam_size=2.5), "The beam size must be a whole number"),
    (dict(checkpoint="../../etc"), "not a checkpoint this app can load"),
    (dict(checkpoint="nothere"), "not a checkpoint this app can load"),
])
def test_bad_values_become_a_message_not_an_exception(changes, message):
    explored = service.explore(settings(**{"text": "3 March 2021", **changes}))
    assert message in explored.status and "s2s-problem" in explored.status
    assert explored.result is None and explored.figure is None and explored.output == ""


def test_a_bug_becomes_a_generic_message_and_a_log_line(monkeypatch, caplog):
    def broken(*args, **kwargs):
        raise RuntimeError("secret internals")

    monkeypatch.setattr(service, "_infer", broken)
    with caplog.at_level(logging.ERROR, logger="s2s.service"):
        explored = service.explore(settings())
    assert service.GENERIC_ERROR in explored.status and "secret" not in explored.status
    assert any("secret internals" in str(record.exc_info[1]) for record in caplog.records)


def test_messages_are_html_escaped():
    status = service.explore(settings(checkpoint="<img src=x onerror=alert(1)>")).status
    assert "<img" not in status and "&lt;img" in status


def test_the_seed_may_be_empty_or_a_whole_float():
    a = service.explore(settings(forcing=True, ratio=0.5, reference="2021-03-03", seed=None)).result
    b = service.explore(settings(forcing=True, ratio=0.5, reference="2021-03-03", seed=0.0)).result
    assert a.seed == b.seed == 0 and np.array_equal(a.forced, b.forced)


def test_forcing_is_off_unless_ticked_whatever_the_ratio():
    r = service.explore(settings(forcing=False, ratio=1.0, reference="2021-03-03")).result
    assert r.teacher_forcing == 0 and not r.forced.any() and r.reference_tokens is None
    r = service.explore(settings(forcing=True, ratio=1.0, reference="2021-03-03")).result
    assert r.forced[1:].all()


# --- re-plotting a kept result ---------------------------------------------------------------------


@pytest.fixture
def result():
    return service.run(settings())


def test_step_reveals_rows_up_to_it_and_the_last_step_shows_everything(result):
    last = len(result.output_tokens) - 1
    z = np.array(service.figure(result, step=0).data[0].z, dtype=float)
    assert not np.isnan(z[0]).any() and np.isnan(z[1:]).all()
    assert len(service.figure(result, step=0).layout.shapes) == 1  # the current step's outline
    whole = service.figure(result, step=last)
    assert not np.isnan(np.array(whole.data[0].z, dtype=float)).any() and not whole.layout.shapes
    assert len(service.figure(result, step=99).layout.shapes) == 0  # a slider left over from a longer output


def test_layer_choice_changes_the_plotted_weights(result):
    mean = np.array(service.figure(result, layer="mean").data[0].z, dtype=float)
    first = np.array(service.figure(result, layer="0").data[0].z, dtype=float)
    assert np.allclose(first, result.attention[0]) and np.allclose(mean, result.attention.mean(0))
    assert np.allclose(np.array(service.figure(result, layer="7").data[0].z, dtype=float), mean)  # no layer 7


def test_step_math_follows_the_step_and_layer(result):
    assert "Step 0 of" in service.step_math(result, step=0)
    assert "layer 1" in service.step_math(result, layer="1", step=0)
    assert "mean of 2 layers" in service.step_math(result, layer="mean", step=0)
    last = len(result.output_tokens) - 1
    assert f"Step {last} of {last}" in service.step_math(result)


def test_steps_rows_and_ranks_of_a_greedy_and_a_beam_result():
    greedy = service.run(settings())
    assert service.ranks(greedy) == ["1"] and len(service.nbest_rows(greedy)) == 1
    assert service.last_step(greedy) == len(greedy.output_tokens) - 1
    assert len(service.forcing_rows(greedy)) == len(greedy.output_tokens)
    beam = service.run(settings(beam_size=3))
    assert len(beam.hypotheses) > 1
    assert service.ranks(beam) == [str(i) for i in range(1, len(beam.hypotheses) + 1)]
    assert [row[1] for row in service.nbest_rows(beam)] == [h.text for h in beam.hypotheses]
    assert service.ranks(None) == ["1"] and service.last_step(None) == 0
    assert service.forcing_rows(None) == [] and service.nbest_rows(None) == []


def test_choosing_a_hypothesis_plots_it():
    beam = service.run(settings(beam_size=3))
    second = beam.hypotheses[1]
    fig = service.figure(beam, "2")
    assert list(fig.layout.yaxis.ticktext) == [viz.display_piece(p) for p in second.output_tokens]
    assert "hypothesis 2 of" in service.hypothesis_note(beam, "2") and second.text in service.hypothesis_note(beam, "2")
    assert "Beam search kept" in service.hypothesis_note(beam, "1")
    assert service.hypothesis_note(service.run(settings()), "1") == ""
    assert service.last_step(beam, "2") == len(second.output_tokens) - 1
    assert len(service.forcing_rows(beam, "2")) == len(second.output_tokens)
    assert service.hypothesis(beam, 99) is beam.hypotheses[-1] and service.hypothesis(beam, "x") is beam.hypotheses[0]


def test_play_yields_every_step_in_order(result):
    frames = list(service.play(result, delay=0))
    assert [step for _, step, _ in frames] == list(range(len(result.output_tokens)))
    assert all(f"Step {step} of" in math for _, step, math in frames)
    assert list(service.play(None)) == []


def test_grid_and_figure_of_nothing_are_nothing(result):
    assert service.figure(None) is None and service.grid(None) is None and service.step_math(None) == ""
    assert len(service.grid(result).data) >= 3  # two layers and their mean


def test_presenter_mode_changes_the_figure(result):
    plain, big = service.figure(result), service.figure(result, presenter=True)
    assert big.layout.font.size > plain.layout.font.size


# --- the API ------------------------------------------------------------------------------------------


def test_translate_returns_text_and_figure_and_raises_a_message_on_bad_values():
    text, fig = service.translate("3 March 2021", "dates", "bidirectional", 0, "", 0, 1)
    assert isinstance(text, str) and fig.layout.xaxis.ticktext
    text, _ = service.translate("3 March 2021", "dates", "causal", 1.0, "2021-03-03", 0, 1.0)
    assert isinstance(text, str)
    with pytest.raises(ValueError, match="needs a reference"):
        service.translate("3 March 2021", "dates", "bidirectional", 0.5, None, 0, 1)
    with pytest.raises(ValueError, match="not a checkpoint this app can load"):
        service.translate("3 March 2021", "/etc", "bidirectional", 0, "", 0, 1)
    assert service.user_message(ValueError("shown")) == "shown"
    assert service.user_message(KeyError("hidden")) == service.GENERIC_ERROR


def test_a_gpu_decorator_wraps_the_model_call(monkeypatch):
    wrapped = []

    def decorator(fn):
        def run(*args, **kwargs):
            wrapped.append(fn.__name__)
            return fn(*args, **kwargs)
        return run

    monkeypatch.setattr(service, "_infer", service._infer)
    service.run_models_with(decorator)
    service.run(settings())
    assert wrapped == ["_translate"]


# --- examples, presets, compare, export -----------------------------------------------------------


def test_examples_cover_each_task_with_its_own_checkpoint():
    rows = service.examples()
    assert {row[2] for row in rows} == {"dates", "reverse"}  # toy-fr: no checkpoint, no examples
    assert ["3 March 2021", "2021-03-03", "dates"] in rows
    assert all(len(row) == 3 and row[0] and row[1] for row in rows)
    assert [row[2] for row in rows[:4]] == ["dates", "reverse", "dates", "reverse"]  # the tasks take turns


def test_an_example_is_found_by_its_source():
    assert service.example("3 March 2021") == ["3 March 2021", "2021-03-03", "dates"]
    with pytest.raises(ValueError, match="not installed"):
        service.example("le chat noir")


def test_examples_prefer_a_checkpoint_with_attention(bundled, tmp_path, monkeypatch):
    only = tmp_path / "checkpoints"
    for name in ("reverse-noattn", "reverse-x"):
        (only / name).mkdir(parents=True)
        (only / name / "config.json").write_text((bundled / "reverse" / "config.json").read_text())
    monkeypatch.setattr(hub, "BUNDLED_DIR", only)
    assert {row[2] for row in service.examples()} == {"reverse-x"}


def test_presets():
    mask = service.preset("mask", settings(mask="causal"))
    assert (mask.a.mask, mask.b.mask, mask.a.checkpoint, mask.b.checkpoint) == ("bidirectional", "causal", "dates",
                                                                                "dates")
    forcing = service.preset("forcing", settings(reference=""))
    assert forcing.reference == "2021-03-03" and forcing.a.forcing and forcing.a.ratio == 1.0
    assert not forcing.b.forcing
    attention = service.preset("attention", settings())
    assert (attention.a.checkpoint, attention.b.checkpoint) == ("reverse", "reverse-noattn")
    assert attention.text == "l e a r n i n g t o a l i g n a n d t r a n s l a t e"
    with pytest.raises(ValueError, match="Unknown comparison"):
        service.preset("nope", settings())


def test_the_attention_preset_says_what_is_missing(monkeypatch, bundled, tmp_path):
    only = tmp_path / "checkpoints"
    (only / "dates").mkdir(parents=True)
    (only / "dates" / "config.json").write_text((bundled / "dates" / "config.json").read_text())
    monkeypatch.setattr(hub, "BUNDLED_DIR", only)
    with pytest.raises(ValueError, match="reverse and reverse-noattn are not installed"):
        service.preset("attention", settings())


def test_compare_plots_both_runs_and_their_difference():
    compared = service.compare(settings(), settings(mask="causal"))
    ra, rb = compared.kept.results
    assert compared.kept.names == ("dates", "dates")
    diff = np.array(compared.difference.data[0].z, dtype=float)
    expected = _padded(ra.attention.mean(0), len(diff)) - _padded(rb.attention.mean(0), len(diff))
    assert np.allclose(diff, expected, equal_nan=True, atol=1e-6)
    assert compared.labels == ("A: dates, bidirectional", "B: dates, causal")
    assert ra.text in compared.summary and "Mask mismatch" in compared.summary
    view = service.compare_view(compared.kept, presenter=True)
    assert view.a.layout.font.size > compared.a.layout.font.size


def _padded(weights: np.ndarray, steps: int) -> np.ndarray:
    out = np.full((steps, weights.shape[1]), np.nan)
    out[: len(weights)] = weights
    return out


def test_compare_says_which_run_failed_and_handles_a_model_without_attention():
    failed = service.compare(settings(), settings(checkpoint="nothere"))
    assert failed.kept is None and failed.a is None and "Run B" in failed.summary
    noattn = service.compare(settings("a b c", checkpoint="reverse"), settings("a b c", checkpoint="reverse-noattn"))
    assert noattn.a is not None and noattn.difference is not None  # a message figure: nothing to compare
    assert "reverse-noattn" in noattn.summary


def test_export_writes_csv_json_and_html(result, tmp_path, monkeypatch):
    monkeypatch.setattr(service, "EXPORT_DIR", tmp_path / "exports")
    paths, message = service.export(result, layer="0")
    assert message == "" and [Path(p).name for p in paths] == ["attention.csv", "attention.json", "heatmap.html"]
    csv_text, json_text, page = (Path(p).read_text(encoding="utf-8") for p in paths)
    assert csv_text.splitlines()[0].split(",")[1:] == result.source_tokens
    assert json.loads(json_text)["output_tokens"] == result.output_tokens
    assert "<html>" in page and "plotly" in page
    assert service.export(None)[1].startswith("Nothing to export")


def test_export_of_a_model_without_attention_is_a_message(tmp_path, monkeypatch):
    monkeypatch.setattr(service, "EXPORT_DIR", tmp_path / "exports")
    r = service.run(settings("a b c", checkpoint="reverse-noattn"))
    paths, message = service.export(r)
    assert paths == [] and "no attention" in message


def test_old_exports_are_deleted(result, tmp_path, monkeypatch):
    monkeypatch.setattr(service, "EXPORT_DIR", tmp_path / "exports")
    old = tmp_path / "exports" / "old"
    old.mkdir(parents=True)
    past = time.time() - service.EXPORT_TTL_S - 10
    os.utime(old, (past, past))
    service.export(result)
    assert not old.exists()


def test_a_checkpoint_that_cannot_load_is_a_message(bundled, tmp_path, monkeypatch):
    broken = tmp_path / "checkpoints"
    build_checkpoint(broken / "dates")
    (broken / "dates" / checkpoint.WEIGHTS).write_bytes(b"not safetensors")
    monkeypatch.setattr(hub, "BUNDLED_DIR", broken)
    explored = service.explore(settings())
    assert "corrupt" in explored.status and explored.result is None
