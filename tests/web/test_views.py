"""s2s.web.views and s2s.web.export: a kept result re-plotted, tabulated, played and exported without running again."""

from __future__ import annotations

import html
import json
import os
import shutil
import time
from pathlib import Path

import numpy as np
import pytest

from s2s import viz
from s2s.web import examples, export, models, notes, runs, views
from tests.conftest import web_settings

pytestmark = pytest.mark.usefixtures("bundled")  # tiny checkpoints only (tests/conftest.py)
settings = web_settings


def test_the_page_opens_on_the_default_checkpoint_with_its_first_example_run():
    start = views.opening()
    assert start.default == "dates" and start.choices[0] == "dates"
    assert [start.text, start.reference, "dates"] == start.examples[0]
    assert start.explored.result is not None and start.explored.output == start.explored.result.text
    assert "**dates**" in start.card and start.layers[-1] == ("layer 1", "1")


def _notes(text: str, checkpoint: str) -> str:
    return views.explore(settings(text, checkpoint=checkpoint)).status


@pytest.mark.parametrize("text", ["abcd", "hello world", "a b cd"])
def test_words_given_to_a_reversal_checkpoint_get_a_note(text):
    """Only a run of letters without spaces got the note: "hello world" (words) went by unremarked."""
    assert "reverses letters separated by spaces" in _notes(text, "reverse")


@pytest.mark.parametrize("text", ["a b c d", " x  y ", "q"])
def test_letters_given_to_a_reversal_checkpoint_get_no_note(text):
    assert "reverses letters" not in _notes(text, "reverse")


def test_input_outside_training_is_pointed_out():
    assert "separated by spaces" not in _notes("abcd", "dates")  # a dates checkpoint reads text as it is
    assert "byte by byte" in _notes("3 March 2021 \U0001f600", "dates")  # the tiny vocabulary has no emoji
    assert "longer than anything" in _notes("3 March " + "1" * 40, "dates")
    assert "s2s-note" not in _notes("3 March 2021", "dates")
    assert "years from 1900 to 2099 only; 1776" in _notes("July 4th, 1776", "dates")  # the task's own note


def test_the_hint_says_how_much_the_checkpoint_reads():
    """The box said "at most 500 characters" where a checkpoint reads fewer pieces (dates: 63)."""
    hint = notes.input_hint("dates")
    limit = models.get_model("dates").translator.config["max_source_len"] - 1  # its </s> aside
    assert f"at most {limit} pieces" in hint
    assert "too long" not in _notes("1" * limit, "dates") and "too long" in _notes("1" * (limit + 1), "dates")


# --- re-plotting a kept result ---------------------------------------------------------------------


@pytest.fixture
def result():
    return runs.run(settings())


def test_step_reveals_rows_up_to_it_and_the_last_step_shows_everything(result):
    last = len(result.output_pieces) - 1
    z = np.array(views.figure(result, step=0).data[0].z, dtype=float)
    assert not np.isnan(z[0]).any() and np.isnan(z[1:]).all()
    assert len(views.figure(result, step=0).layout.shapes) == 1  # the current step's outline
    whole = views.figure(result, step=last)
    assert not np.isnan(np.array(whole.data[0].z, dtype=float)).any() and not whole.layout.shapes
    assert len(views.figure(result, step=99).layout.shapes) == 0  # a slider left over from a longer output


def _rows_before(r, step: int) -> tuple:
    """What steps 0..step-1 were fed, and their attention in every layer."""
    return r.decoder_inputs[:step], np.round(r.attention[:, :step], 6).tolist()


@pytest.mark.parametrize("shown", ["beam hypothesis 2", "teacher-forced"])
def test_feeding_another_piece_keeps_the_shown_runs_rows_before_the_change(shown):
    """The change used to be built on hypothesis 1's outputs whatever hypothesis was on screen, and on the
    model's outputs where forcing had fed the reference (review of 2026-11-29): the rows before it differed."""
    if shown == "beam hypothesis 2":
        run = settings(beam_size=4)
        result, rank = runs.run(run), 2
        on_screen = views.hypothesis(result, rank)
        assert on_screen is result.hypotheses[1]
    else:
        run = settings(forcing=True, ratio=0.5, reference="2021-04-05", seed=3)
        result, rank = runs.run(run), 1
        on_screen = result
    at = len(on_screen.output_pieces) - 1
    assert on_screen.decoder_inputs[1:at] != result.hypotheses[0].output_pieces[: at - 1] if shown.startswith("beam") \
        else on_screen.decoder_inputs[1:at] != on_screen.output_pieces[: at - 1]  # the case differs from the old rule
    changed = views.intervene(run, result, at, "7", rank=rank)
    assert changed.result is not None, changed.status
    fed = changed.result.decoder_inputs
    assert fed[:at] == on_screen.decoder_inputs[:at] and fed[at] == "7"
    assert _rows_before(changed.result, at) == _rows_before(on_screen, at)  # the same rows up to the change
    assert f"<code>{html.escape(on_screen.decoder_inputs[at])}</code> (▸)" in changed.status  # fed there before


def test_a_piece_typed_as_the_tables_spell_it_is_that_piece():
    """A piece already fed there was reported as a change ("fed ▁f instead of ▁f"), though the rows after it
    change for another reason (walk-through of 2026-11-29); the spelling of pieces: tests/web/test_lessons.py."""
    run = settings(forcing=True, ratio=1.0, reference="2021-04-05")
    result = runs.run(run)
    at = 3
    kept = result.decoder_inputs[at]
    for typed in (viz.display_piece(kept, escape=False), kept):
        same = views.intervene(run, result, at, typed)
        assert same.result is not None and same.result.decoder_inputs[: at + 1] == result.decoder_inputs[: at + 1]
        assert f"Step {at} was already fed <code>{viz.display_piece(kept)}</code>" in same.status
        assert "no teacher forcing" in same.status  # why the rows after it change all the same
    table = viz.forcing_table(same.result)
    assert [row[2] for row in table[1 : at + 1]] == ["given"] * at and table[at + 1][2] == "no"
    legend = views.figure(same.result).layout.annotations[0].text
    assert "fed as given" in legend and "teacher forcing" not in legend


def test_layer_choice_changes_the_plotted_weights(result):
    mean = np.array(views.figure(result, layer="mean").data[0].z, dtype=float)
    first = np.array(views.figure(result, layer="0").data[0].z, dtype=float)
    assert np.allclose(first, result.attention[0]) and np.allclose(mean, result.attention.mean(0))
    assert np.allclose(np.array(views.figure(result, layer="7").data[0].z, dtype=float), mean)  # no layer 7


def test_step_math_follows_the_step_and_layer(result):
    assert "Step 0 of" in views.step_math(result, step=0)
    assert "layer 1" in views.step_math(result, layer="1", step=0)
    assert "mean of 2 layers" in views.step_math(result, layer="mean", step=0)
    last = len(result.output_pieces) - 1
    assert f"Step {last} of {last}" in views.step_math(result)


def test_steps_rows_and_ranks_of_a_greedy_and_a_beam_result():
    greedy = runs.run(settings())
    assert views.ranks(greedy) == ["1"] and len(views.nbest_rows(greedy)) == 1
    assert views.last_step(greedy) == len(greedy.output_pieces) - 1
    assert len(views.forcing_rows(greedy)) == len(greedy.output_pieces)
    beam = runs.run(settings(beam_size=3))
    assert len(beam.hypotheses) > 1
    assert views.ranks(beam) == [str(i) for i in range(1, len(beam.hypotheses) + 1)]
    assert [row[1] for row in views.nbest_rows(beam)] == [h.text for h in beam.hypotheses]
    assert views.ranks(None) == ["1"] and views.last_step(None) == 0
    assert views.forcing_rows(None) == [] and views.nbest_rows(None) == []


def test_choosing_a_hypothesis_plots_it():
    beam = runs.run(settings(beam_size=3))
    second = beam.hypotheses[1]
    fig = views.figure(beam, "2")
    assert list(fig.layout.yaxis.ticktext) == [viz.display_piece(p) for p in second.output_pieces]
    assert "hypothesis 2 of" in views.hypothesis_note(beam, "2") and second.text in views.hypothesis_note(beam, "2")
    assert "Beam search kept" in views.hypothesis_note(beam, "1")
    assert views.hypothesis_note(runs.run(settings()), "1") == ""
    assert views.last_step(beam, "2") == len(second.output_pieces) - 1
    assert len(views.forcing_rows(beam, "2")) == len(second.output_pieces)
    assert views.hypothesis(beam, 99) is beam.hypotheses[-1] and views.hypothesis(beam, "x") is beam.hypotheses[0]


def test_play_yields_every_step_in_order(result):
    frames = list(views.play(result, layer="1", delay=0))
    assert [frame.step for frame in frames] == list(range(len(result.output_pieces)))
    assert all(f"Step {frame.step} of" in frame.math for frame in frames)
    assert all(f"step {frame.step} · layer 1" in frame.arithmetic.layout.title.text for frame in frames)
    assert list(views.play(None)) == []


def test_grid_and_figure_of_nothing_are_nothing(result):
    assert views.figure(None) is None and views.grid(None) is None and views.step_math(None) == ""
    assert len(views.grid(result).data) >= 3  # two layers and their mean


def test_presenter_mode_changes_the_figure(result):
    plain, big = views.figure(result), views.figure(result, presenter=True)
    assert big.layout.font.size > plain.layout.font.size



# --- export ---------------------------------------------------------------------------------------


def test_export_writes_csv_json_and_a_small_html_page_with_a_shared_plotly(result, tmp_path, monkeypatch):
    monkeypatch.setattr(export, "EXPORT_DIR", tmp_path / "exports")
    paths, message = export.export(result, layer="0")
    assert message == "" and [Path(p).name for p in paths] == ["attention.csv", "attention.json", "heatmap.html",
                                                               export.PLOTLY_JS]
    csv_text, json_text, page = (Path(p).read_text(encoding="utf-8") for p in paths[:3])
    assert csv_text.splitlines()[0].split(",")[1:] == [viz.display_piece(p, escape=False) for p in result.source_pieces]
    assert json.loads(json_text)["output_pieces"] == result.output_pieces
    assert "<html>" in page and f'src="{export.PLOTLY_JS}"' in page
    assert sum(Path(p).stat().st_size for p in paths[:3]) < 200_000  # was 4.8 MB, plotly.js inlined
    assert Path(paths[3]).stat().st_size > 1_000_000 and "Plotly" in Path(paths[3]).read_text()[:5000]
    assert export.export(None)[1].startswith("Nothing to export")


def test_the_exported_page_draws_the_map_as_the_page_shows_it(result, tmp_path, monkeypatch):
    """"Scale each row" was left out of heatmap.html (walk-through of 2026-11-29)."""
    monkeypatch.setattr(export, "EXPORT_DIR", tmp_path / "exports")
    plain, scaled = (Path(export.export(result, display=d).paths[2]).read_text(encoding="utf-8")
                     for d in ([], [views.SCALE_ROWS]))
    assert "row max" in scaled and "row max" not in plain  # the colour bar's title (viz.ROW_SCALED_TITLE)


def test_the_same_export_twice_is_stored_once(result, tmp_path, monkeypatch):
    monkeypatch.setattr(export, "EXPORT_DIR", tmp_path / "exports")
    first, again, other = export.export(result), export.export(result), export.export(result, layer="0")
    assert first.paths == again.paths and first.paths[0] != other.paths[0]
    assert first.paths[3] == other.paths[3]  # one plotly.js for all
    assert len([f for f in (tmp_path / "exports").iterdir() if f.is_dir()]) == 2


def test_a_class_exporting_the_same_result_at_once_each_gets_every_file(result, tmp_path, monkeypatch):
    """The requests used to share one temporary folder, renamed away while others wrote (review of 2026-11-29)."""
    import threading

    monkeypatch.setattr(export, "EXPORT_DIR", tmp_path / "exports")
    answers, barrier = [], threading.Barrier(8)

    def export_at_once():
        barrier.wait()
        try:
            answers.append(export.export(result))
        except Exception as error:  # noqa: BLE001 (what failed is the finding)
            answers.append(error)

    for _ in range(5):
        shutil.rmtree(tmp_path / "exports", ignore_errors=True)
        threads = [threading.Thread(target=export_at_once) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert len(answers) == 40 and not [a for a in answers if isinstance(a, Exception)], answers[:2]
    assert all(a.message == "" and all(Path(p).is_file() for p in a.paths) for a in answers)
    assert not list((tmp_path / "exports").glob(".*"))  # no temporary file or folder is left behind


def test_exports_beyond_the_budget_go_oldest_first(result, tmp_path, monkeypatch):
    monkeypatch.setattr(export, "EXPORT_DIR", tmp_path / "exports")
    folders = [Path(export.export(result, layer=layer).paths[0]).parent for layer in ("mean", "0", "1")]
    for age, folder in zip((30, 20, 10), folders):
        os.utime(folder, (time.time() - age, time.time() - age))
    size = sum(f.stat().st_size for f in folders[0].iterdir())
    monkeypatch.setattr(export, "EXPORT_BUDGET_BYTES", int(2.5 * size))
    export.prune()
    assert [folder.is_dir() for folder in folders] == [False, True, True]
    export.prune(now=time.time() + export.EXPORT_TTL_S + 60)  # past their lifetime: all go
    assert not any(folder.is_dir() for folder in folders)
    assert (tmp_path / "exports" / export.PLOTLY_JS).is_file()


def test_export_of_a_model_without_attention_is_a_message(tmp_path, monkeypatch):
    monkeypatch.setattr(export, "EXPORT_DIR", tmp_path / "exports")
    r = runs.run(settings("a b c", checkpoint="reverse-noattn"))
    paths, message = export.export(r)
    assert paths == [] and "no attention" in message


def test_old_exports_are_deleted(result, tmp_path, monkeypatch):
    monkeypatch.setattr(export, "EXPORT_DIR", tmp_path / "exports")
    old = tmp_path / "exports" / "old"
    old.mkdir(parents=True)
    past = time.time() - export.EXPORT_TTL_S - 10
    os.utime(old, (past, past))
    export.export(result)
    assert not old.exists()


def test_each_results_tab_draws_only_its_own_parts():
    """tab_contents names the parts of the tab on screen, and what it gives each is what that part's view draws."""
    result = runs.run(web_settings())
    parts = {name: set(views.tab_contents(name, result)) for name in
             (views.HEATMAP, views.GRID, views.FED, views.NBEST, views.EXPORT)}
    assert parts == {views.HEATMAP: {"math", "step_plot"}, views.GRID: {"grid"}, views.FED: {"forcing_table"},
                     views.NBEST: {"nbest"}, views.EXPORT: set()}
    assert views.tab_contents(views.FED, result)["forcing_table"] == views.forcing_rows(result)
    assert views.tab_contents(views.HEATMAP, result, step=1)["math"] == views.step_math(result, step=1)
    assert views.tab_contents(views.NBEST, None) == {"nbest": views.nbest_rows(None)}  # no result yet: no error


class Vocabulary:
    def __init__(self, *pieces):
        self.ids = {piece: i for i, piece in enumerate(pieces)}

    def piece_id(self, piece):
        return self.ids.get(piece)


@pytest.mark.parametrize(("typed", "piece"), [
    ("blanc", "▁blanc"),  # a word typed plainly: `blanc` was refused on toy-fr (issue 22)
    ("·blanc", "▁blanc"), ("▁blanc", "▁blanc"),  # as the tables spell it, as sentencepiece does
    ("es", "es"),  # a piece inside a word is taken as typed before the word-start guess
    ("·", "·"),  # a vocabulary with a real "·" keeps it
    ("zzz", "zzz"),  # nothing matches: left as typed, and the run says it is no piece of the checkpoint
])
def test_a_typed_piece_is_the_piece_the_visitor_means(typed, piece):
    vocabulary = Vocabulary("▁blanc", "es", "▁es", "·")
    assert examples.typed_piece(typed, vocabulary) == piece


@pytest.mark.parametrize("steps", [1, 2, 39, 40, 41, 97, 256])
def test_a_play_through_sends_a_bounded_number_of_frames_ending_on_the_last_step(steps):
    """Play sent a frame per step, 256 of ~3 MB on a long output, all held by gradio for a client that stopped
    reading (issue 21)."""
    shown = views.played_steps(steps)
    assert len(shown) == min(steps, views.MAX_PLAY_FRAMES) and shown == sorted(set(shown))
    assert shown[0] == 0 and shown[-1] == steps - 1 and all(0 <= s < steps for s in shown)
    gaps = [b - a for a, b in zip(shown, shown[1:])]
    assert not gaps or max(gaps) - min(gaps) <= 1  # spread evenly



def test_all_layers_scales_each_row_when_the_display_says_so(result):
    """Issue 22: the All layers tab ignored "scale each row" (on by default elsewhere), so its maps were pale."""
    def panels(display) -> list[np.ndarray]:
        data = views.tab_contents(views.GRID, result, display=display)["grid"].data
        return [np.array(t.z, dtype=float) for t in data if t.hovertemplate]

    raw, scaled = panels(()), panels([views.SCALE_ROWS])
    weights = [result.attention[layer] for layer in range(result.attention_layers)] + [result.attention.mean(0)]
    for got, plain, w in zip(scaled, raw, weights):
        np.testing.assert_allclose(plain, w, atol=1e-6)
        np.testing.assert_allclose(got, w / w.max(1, keepdims=True), atol=1e-6)  # each row's peak is 1
