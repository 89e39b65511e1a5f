"""s2s/__init__.py: the bundled checkpoints list and load with no network; listing them asks nothing of the Hub."""

import ast

import pytest

import s2s
from s2s import checkpoint, hub
from s2s.tasks import TASKS

EXPECTED = {"dates", "dates-seed", "dates-causal", "reverse", "reverse-causal", "reverse-noattn", "toy-fr"}


def test_every_bundled_checkpoint_is_there_and_loads_offline(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert EXPECTED <= set(s2s.list_checkpoints())
    for name in EXPECTED:
        model = s2s.load(name, device="cpu")
        assert model.config["task"] in TASKS and model.translate("3 March 2021").output_pieces


def test_listing_is_a_folder_listing_that_needs_no_hub_client(monkeypatch, tmp_path):
    """s2s.list_checkpoints went through s2s.hub, which imports huggingface_hub, to list a folder."""
    for name in dir(hub):
        if not name.startswith("__"):
            monkeypatch.setattr(hub, name, None)  # the whole Hub module unusable
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "config.json").write_text("{}")
    monkeypatch.setattr(checkpoint, "BUNDLED_DIR", tmp_path)
    assert s2s.list_checkpoints() == ["mine"]
    tree = ast.parse(open(checkpoint.__file__).read())
    imported = {node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)} | {
        alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    assert not any("huggingface_hub" in name or name == "hub" for name in imported), imported


@pytest.mark.parametrize("spec", ["dates", str(checkpoint.BUNDLED_DIR / "reverse")])
def test_a_bundled_name_and_a_folder_load_alike(spec):
    assert s2s.load(spec, device="cpu").config["task"] in TASKS
