"""The Train tab's Transformer (issue 23): the request builds one, its run is watched, used in Explore and exported."""

from __future__ import annotations

import dataclasses
import io
import json
import zipfile

import numpy as np
import pytest
import torch

from s2s import checkpoint
from s2s.model import Transformer
from s2s.training.trainer import Trainer, forcing_ratio
from s2s.web import heads, models, runs, trained, views
from s2s.web.training import Registry, TrainRequest, limits, worker
from tests.conftest import TINY_RUN

TINY = TINY_RUN


pytestmark = pytest.mark.usefixtures("quick_probes")  # tests/conftest.py


@pytest.mark.parametrize("size", ["small", "medium"])
def test_a_transformer_request_trains_a_transformer_with_a_causal_decoder_in_one_forced_pass(size):
    cfg = TrainRequest(family="transformer", size=size, mask="causal").config()
    net, wanted = cfg.network, limits.TRANSFORMER_SIZES[size]
    assert (net.model, net.decoder_mask, net.dropout) == ("transformer", "causal", 0.0)
    assert (net.hidden_size, net.heads, net.ff_size, net.num_layers) == (
        wanted["hidden_size"], wanted["heads"], wanted["ff_size"], wanted["num_layers"])
    assert cfg.mask == "causal"  # the mask control still acts: on cross- and encoder self-attention
    # forcing held at 1 in every epoch a run may reach: one parallel pass a batch, never scheduled sampling
    assert [forcing_ratio(epoch, cfg) for epoch in range(cfg.epochs)] == [1.0] * cfg.epochs
    assert (cfg.lr, cfg.lr_scaling, cfg.batch_size) == (limits.TRANSFORMER_LR, "none", limits.BATCH_SIZE)


def test_the_lstm_request_is_what_it_was():
    cfg = TrainRequest().config()
    assert (cfg.network.model, cfg.network.hidden_size, cfg.network.num_layers) == ("attention", 64, 1)
    assert forcing_ratio(4, cfg) == 0.5 and cfg.lr_scaling == "sqrt"
    assert TrainRequest(attention=False).config().network.model == "edm"


def test_a_transformer_request_builds_a_transformer_that_learns():
    trainer = Trainer(TrainRequest(**TINY, family="transformer").config())
    assert isinstance(trainer.model, Transformer) and trainer.config["model"] == "transformer"
    assert trainer.model.config.heads == limits.TRANSFORMER_SIZES["small"]["heads"]
    torch.manual_seed(0)
    losses = [loss.item() for _, loss in trainer.steps(0)]  # one epoch of 400 pairs
    assert len(losses) > 1 and losses[-1] < losses[0]


def test_the_family_crosses_to_the_training_process():
    """A run's request goes to its child process as JSON (worker.Job): the family must arrive."""
    request = TrainRequest(**TINY, family="transformer")
    job = worker.Job(dataclasses.asdict(request), limits.PROBE_EVERY_S)
    arrived = TrainRequest(**worker.Job(**json.loads(json.dumps(dataclasses.asdict(job)))).request)
    assert arrived == request and arrived.config().network.model == "transformer"


@pytest.mark.slow  # a real run, in a process of its own
def test_a_trained_transformer_is_watched_then_works_in_explore_and_as_an_export(tmp_path, monkeypatch):
    request = TrainRequest(**TINY, family="transformer", max_seconds=5)
    run = Registry(max_runs=1).start("visitor-t", request)
    assert run.wait(60), "the run must stop at its time cap"
    p = run.progress()
    assert p.done and p.error is None and p.step > 0, p.status
    size = limits.TRANSFORMER_SIZES["small"]
    layers, nh = size["num_layers"], size["heads"]
    probes = run.probes()
    assert len(probes) >= 3 and all(r.family == "transformer" for r in probes)
    for r in probes:  # each snapshot keeps every head's cross-attention; its mean is what the map shows
        assert r.heads["cross"].shape[:2] == (layers, nh)
        np.testing.assert_allclose(r.attention, r.heads["cross"].mean(axis=1), atol=1e-6)
    model = run.translator()
    assert (model.config["model"], model.config["decoder_mask"], model.config["heads"]) == ("transformer",
                                                                                          "causal", nh)
    # the export is the same Transformer
    folder = tmp_path / "unzipped"
    zipfile.ZipFile(io.BytesIO(run.export_zip())).extractall(folder)
    loaded = checkpoint.load(folder, device="cpu")
    assert loaded.config["model"] == "transformer" and "Transformer" in (folder / "README.md").read_text()
    ours, theirs = model.translate(request.probe), loaded.translate(request.probe)
    for kind in ("cross", "decoder_self", "encoder_self"):
        np.testing.assert_allclose(theirs.heads[kind], ours.heads[kind], atol=1e-6)
    # Use it in Explore: the layer menu lists its layers, the map and the Heads tab draw it
    monkeypatch.setattr(models, "TRAINED", trained.TrainedModels())
    name = models.add_trained("visitor-t", model, tmp_path)
    assert models.layer_choices(name) == [("mean of layers", "mean"), *((f"layer {i}", str(i))
                                                                        for i in range(layers))]
    assert heads.head_choices(name) == [("mean of heads", heads.MEAN), *((f"head {h}", str(h)) for h in range(nh))]
    explored = views.explore(runs.Settings(request.probe, name))
    assert explored.result is not None and explored.result.family == "transformer", explored.status
    for kind in ("cross", "decoder_self", "encoder_self"):
        figure = heads.figure(explored.result, kind)
        drawn = [trace for trace in figure.data if trace.hovertemplate]
        assert len(drawn) == layers * nh, kind  # every head of every layer
        np.testing.assert_allclose(np.array(drawn[-1].z, dtype=float), explored.result.heads[kind][-1, -1],
                                   atol=1e-6)
