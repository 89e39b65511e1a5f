"""s2s/hub_push.py against a fake Hub on 127.0.0.1: huggingface_hub's real upload code runs."""

import json
from pathlib import Path

import pytest
from huggingface_hub import ModelCard

from s2s import checkpoint, hub, hub_push
from s2s.errors import CheckpointError
from tests.conftest import build_checkpoint
from tests.fake_hub import TOKEN, hub_files, version


def loadable(folder: Path, version: str = "v1") -> dict[str, bytes]:
    """The files of a real (tiny) checkpoint, which push and pull load to check; `version` marks its config."""
    build_checkpoint(folder)
    config = json.loads((folder / "config.json").read_text()) | {"version": version}
    return {name: (folder / name).read_bytes() for name in checkpoint.REQUIRED_FILES} | {
        "config.json": json.dumps(config).encode()}


def push_folder(tmp_path: Path) -> Path:
    """A checkpoint folder to push: a loadable checkpoint, its metrics and card, and a file that is not its."""
    folder = tmp_path / "ckpt"
    folder.mkdir()
    for name, content in (loadable(tmp_path / "built") | {"notes.txt": b"not for the Hub"}).items():
        (folder / name).write_bytes(content)
    (folder / "metrics.json").write_text(json.dumps({"exact_match": 0.93}))
    (folder / "README.md").write_text("# Dates\n\nReads dates.\n")
    return folder


def test_push_uploads_the_checkpoint_with_its_model_card(fake_hub, monkeypatch, tmp_path):
    folder = push_folder(tmp_path)
    monkeypatch.setenv("HF_TOKEN", TOKEN)

    commit = hub_push.push(folder, "org/new", private=True)
    repo = fake_hub.repos["org/new"]
    assert commit == repo.refs["main"]
    assert repo.private
    files = repo.commits[commit]
    assert sorted(files) == sorted([".gitattributes", *checkpoint.REQUIRED_FILES, *checkpoint.OPTIONAL_FILES])
    card = ModelCard(files["README.md"].decode())
    assert card.data.library_name == "s2s-attention-explorer"
    assert {"seq2seq", "attention", "lstm"} <= set(card.data.tags)
    assert card.data.s2s == {"task": "dates", "model": "attention", "score": "scaled_dot", "query": "state",
                             "trained_mask": "bidirectional", "emb_size": 16, "hidden_size": 32, "num_layers": 2,
                             "metrics": {"exact_match": 0.93}}
    assert "Reads dates." in card.text

    assert version(hub.resolve(f"org/new@{commit}")) == "v1"  # what was pushed loads back
    again = hub_push.push(folder, "org/new")  # the repo exists now: a new commit on it
    assert again == repo.refs["main"] != commit


def test_model_card_keeps_existing_front_matter(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({"task": "reverse", "score": "additive", "other": 1}))
    (tmp_path / "README.md").write_text("---\nlicense: mit\ntags: [toy]\n---\n# Reverse\n")
    card = ModelCard(hub_push.model_card(tmp_path, "org/reverse"))
    assert card.data.license == "mit"
    assert card.data.tags == ["toy", "seq2seq", "attention", "lstm", "s2s-attention-explorer"]
    assert card.data.s2s == {"task": "reverse", "score": "additive"}
    assert card.text.strip() == "# Reverse"


def test_a_folder_without_a_card_gets_a_short_one(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({"task": "dates", "model": "edm"}))
    card = ModelCard(hub_push.model_card(tmp_path, "org/plain"))
    assert card.data.s2s == {"task": "dates", "model": "edm"} and "license" not in card.data.to_dict()
    assert card.text.startswith("# org/plain") and 's2s.load("org/plain")' in card.text


def test_a_card_whose_front_matter_is_not_a_mapping_is_refused(fake_hub, monkeypatch, tmp_path):
    folder = push_folder(tmp_path)
    (folder / "README.md").write_text("---\n- front matter that is a list\n---\n")
    monkeypatch.setenv("HF_TOKEN", TOKEN)
    with pytest.raises(ValueError, match="front matter"):
        hub_push.push(folder, "org/new")
    assert "org/new" not in fake_hub.repos


def test_push_refuses_a_folder_that_is_not_a_checkpoint(tmp_path):
    with pytest.raises(CheckpointError, match="model.safetensors"):
        hub_push.push(tmp_path, "org/new")


def test_8_push_refuses_a_symlinked_file(fake_hub, monkeypatch, tmp_path):
    folder = tmp_path / "ckpt"
    folder.mkdir()
    for name, content in hub_files().items():
        (folder / name).write_bytes(content)
    secret = tmp_path / "secret.txt"
    secret.write_text("a server's secret")
    (folder / "README.md").symlink_to(secret)
    monkeypatch.setenv("HF_TOKEN", TOKEN)
    with pytest.raises(CheckpointError, match=r"README.md is a symbolic link.*cp -L"):
        hub_push.push(folder, "org/new")
    assert fake_hub.requests == [] and "org/new" not in fake_hub.repos

    (folder / "README.md").unlink()
    (folder / "model.safetensors").rename(tmp_path / "weights")
    (folder / "model.safetensors").symlink_to(tmp_path / "weights")
    with pytest.raises(CheckpointError, match="model.safetensors is a symbolic link"):
        hub_push.push(folder, "org/new")
