"""The Train tab's events for one page (s2s/web/train_tab.py), against a registry of fake runs: no process starts."""

from __future__ import annotations

from dataclasses import dataclass, field
from types import SimpleNamespace

import numpy as np
import pytest

import s2s
from s2s import viz
from s2s.web import models, train_tab, training


@dataclass
class FakeRun:
    """A run as train_tab reads it: its progress, its probe maps, its model once finished."""

    probes_made: list = field(default_factory=list)
    done: bool = False
    model: object = None
    request: object = field(default_factory=lambda: SimpleNamespace(probe="the probe", mask="causal"))

    def progress(self):
        return SimpleNamespace(status="step 40", step=40, loss=[(10, 2.0), (40, 1.0)], accuracy=[(40, 0.5, 0.1)],
                               done=self.done)

    def probes(self):
        return self.probes_made

    def translator(self):
        return self.model

    def export_path(self, name):
        return f"/exports/{name}.zip"


class FakeRegistry:
    def __init__(self, runs=None, waiting=None, refusal=None):
        self.runs, self.queued, self.cancelled, self.refusal, self.asked = (dict(runs or {}), dict(waiting or {}), [],
                                                                             refusal, [])

    def start(self, page, request, address=""):
        self.asked.append((page, request))
        if self.refusal is not None:
            raise self.refusal
        return FakeRun()

    def get(self, page):
        return self.runs.get(page)

    def waiting(self, page):
        return self.queued.get(page)

    def cancel(self, page):
        self.cancelled.append(page)
        return page in self.runs


@pytest.fixture
def probe(tiny_checkpoint_dir):
    return s2s.load(str(tiny_checkpoint_dir)).translate("3 March 2021")


def test_poll_shows_the_latest_probe_and_stops_polling_once_done(monkeypatch, probe):
    run = FakeRun(probes_made=[probe, probe])
    monkeypatch.setattr(training, "RUNS", FakeRegistry({"page": run}))
    polled = train_tab.poll("page")
    assert (polled.status, polled.snapshots, polled.polling) == ("step 40", 2, True)
    assert "after 40 steps" in polled.probe.layout["title"]["text"]
    run.done = True
    assert train_tab.poll("page").polling is False
    assert train_tab.poll("another page") is None  # a page without a run stops its timer


def test_poll_before_the_first_probe_has_curves_and_no_map(monkeypatch):
    monkeypatch.setattr(training, "RUNS", FakeRegistry({"page": FakeRun()}))
    polled = train_tab.poll("page")
    assert polled.probe is None and polled.snapshots == 0 and isinstance(polled.curves, viz.Figure)


def test_a_page_waiting_in_line_asks_again_and_keeps_polling(monkeypatch):
    registry = FakeRegistry(waiting={"page": "its request"}, refusal=training.InLine("You are second in line."))
    monkeypatch.setattr(training, "RUNS", registry)
    assert train_tab.poll("page") == train_tab.Asked("You are second in line.", True)
    assert registry.asked == [("page", "its request")]


def test_a_refused_request_stops_polling_and_says_why(monkeypatch):
    monkeypatch.setattr(training, "RUNS", FakeRegistry(refusal=training.TrainingRefused("Paste at least 2 pairs.")))
    asked = train_tab.ask("page", None)
    assert asked.polling is False and "Paste at least 2 pairs." in asked.status
    monkeypatch.setattr(training, "RUNS", FakeRegistry())
    assert train_tab.ask("page", None) == train_tab.Asked("Starting…", True)


@pytest.mark.parametrize(("snapshot", "shown"), [(0, 1), (1, 2), (2, 3), (99, 3), (-5, 1), (None, 1), ("1", 2)])
def test_replay_clamps_the_snapshot_to_those_the_run_has(monkeypatch, probe, snapshot, shown):
    monkeypatch.setattr(training, "RUNS", FakeRegistry({"page": FakeRun(probes_made=[probe] * 3)}))
    figure = train_tab.replay("page", snapshot)
    assert f"snapshot {shown} of 3" in figure.layout["title"]["text"]


def test_replay_without_a_run_or_a_probe_draws_nothing(monkeypatch):
    monkeypatch.setattr(training, "RUNS", FakeRegistry({"page": FakeRun()}))
    assert train_tab.replay("page", 0) is None and train_tab.replay("nobody", 0) is None


def test_use_registers_the_finished_model_under_the_pages_name(monkeypatch):
    added = []
    monkeypatch.setattr(models, "add_trained", lambda page, translator, folder: added.append((page, translator))
                        or f"trained-{page}")
    monkeypatch.setattr(training, "RUNS", FakeRegistry({"page": FakeRun(model="a translator"), "busy": FakeRun()}))
    assert train_tab.use("page") == train_tab.Used("trained-page", "the probe", "causal")
    assert added == [("page", "a translator")]
    for page in ("busy", "nobody"):  # still training, or never trained
        with pytest.raises(ValueError, match="No trained model yet"):
            train_tab.use(page)


def test_export_and_cancel_speak_of_this_page_only(monkeypatch):
    registry = FakeRegistry({"page": FakeRun()})
    monkeypatch.setattr(training, "RUNS", registry)
    assert train_tab.export("page") == "/exports/trained.zip"  # not used in Explore yet: no name
    with pytest.raises(ValueError, match="no trained model to export"):
        train_tab.export("nobody")
    assert (train_tab.cancel("page"), train_tab.cancel("nobody")) == ("Cancelling…", "No run going.")
    assert registry.cancelled == ["page", "nobody"]


def test_pairs_too_few_to_generalise_from_are_said_up_front_and_while_the_run_goes(monkeypatch):
    """Issue 22: 22 pasted word<TAB>WORD pairs reached a loss of ~0, then ran to the cap at 0% validation exact
    match, with no word of warning."""
    words = ["lecture", "table", "chair", "window", "door", "floor", "light", "paper", "pencil", "board", "clock",
             "screen", "student", "teacher", "lesson", "book", "desk", "wall", "map", "bag", "pen", "cup"]
    few = training.TrainRequest(task="tsv", tsv="\n".join(f"{w}\t{w.upper()}" for w in words), probe="lecture")
    many = training.TrainRequest(task="tsv", tsv="\n".join(f"{w}{n}\t{w.upper()}{n}" for n in range(14)
                                                        for w in words), probe="lecture")
    assert "Only 22 pairs" in few.caution() and "learn them by heart" in few.caution()
    assert many.caution() == "" and training.TrainRequest(task="dates").caution() == ""
    monkeypatch.setattr(training, "RUNS", FakeRegistry())
    assert "Only 22 pairs" in train_tab.ask("page", few).status
    monkeypatch.setattr(training, "RUNS", FakeRegistry({"page": FakeRun(request=few)}))
    assert "Only 22 pairs" in train_tab.poll("page").status


def test_a_transformers_probe_map_is_its_cross_attention_mean_of_heads_and_layers(monkeypatch, make_checkpoint):
    """Issue 23: the Train tab's map of a Transformer shows what Explore's map shows by default, cross-attention
    averaged over heads and layers (here row-scaled), and says so."""
    folder = make_checkpoint(model="transformer", hidden_size=32, heads=4, ff_size=32, num_layers=2)
    probe = s2s.load(str(folder)).translate("3 March 2021")
    monkeypatch.setattr(training, "RUNS", FakeRegistry({"page": FakeRun(probes_made=[probe, probe])}))
    for figure in (train_tab.poll("page").probe, train_tab.replay("page", 0)):
        assert "cross-attention, mean of 4 heads and 2 layers" in figure.layout["title"]["text"]
        mean = probe.heads["cross"].mean(axis=(0, 1))  # (L, NH, S, T) -> (S, T), written out
        np.testing.assert_allclose(np.array(figure.data[0].z, dtype=float), mean / mean.max(1, keepdims=True),
                                   atol=1e-6)


def test_an_lstms_probe_map_keeps_its_title(monkeypatch, probe):
    monkeypatch.setattr(training, "RUNS", FakeRegistry({"page": FakeRun(probes_made=[probe])}))
    assert train_tab.poll("page").probe.layout["title"]["text"] == "the probe after 40 steps"


def test_the_pasted_pairs_box_is_shown_for_the_tsv_task_only():
    assert [train_tab.pairs_shown(task) for task in training.TASK_CHOICES] == [False, False, False, True]


def test_the_lstms_own_switches_are_hidden_for_a_transformer():
    assert train_tab.lstm_settings("lstm") == (True, True, True)
    assert train_tab.lstm_settings("transformer") == (False, False, False)


def test_the_tab_states_what_each_family_reaches(monkeypatch):
    said = train_tab.promise()
    assert said.endswith(": LSTM with attention: dates 95%, reverse-short 90%, toy-fr 50%; "
                         "Transformer: dates 95%, reverse-short 90%, toy-fr 60%.")
    monkeypatch.setattr(training, "REACHES", {"lstm": {"dates": 0.95}, "transformer": {"dates": 0.95}})
    assert train_tab.promise().endswith(": dates 95% (either model).")  # both state the same
    monkeypatch.setattr(training, "REACHES", {"lstm": {"dates": 0.95, "toy-fr": 0.6}, "transformer": {"dates": 0.9}})
    assert train_tab.promise().endswith(": LSTM with attention: dates 95%, toy-fr 60%; Transformer: dates 90%.")
