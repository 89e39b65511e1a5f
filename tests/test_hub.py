"""s2s.hub against a fake Hub on 127.0.0.1: huggingface_hub's real download, cache and upload code runs."""

import json
import logging
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from huggingface_hub import ModelCard, constants

from s2s import hub
from s2s.errors import (
    CheckpointError,
    CheckpointFileNotFound,
    HubTimeout,
    HubUnreachable,
    InvalidCheckpointName,
    RepoNotFound,
    RevisionNotFound,
)
from tests.conftest import build_checkpoint
from tests.fake_hub import TOKEN, FakeHub, use_fake_hub

ROOT = Path(__file__).resolve().parent.parent


def checkpoint(version: str = "v1", **extra: bytes) -> dict[str, bytes]:
    """The files of a checkpoint; hub.py never parses them, so any bytes do."""
    return {
        "config.json": json.dumps({"task": "dates", "model": "attention", "version": version}).encode(),
        "model.safetensors": f"weights {version}".encode() * 100,
        "source.model": b"source pieces",
        "target.model": b"target pieces",
        **extra,
    }


def loadable(folder: Path, version: str = "v1") -> dict[str, bytes]:
    """The files of a real (tiny) checkpoint, which push and pull load to check; `version` marks its config."""
    build_checkpoint(folder)
    config = json.loads((folder / "config.json").read_text()) | {"version": version}
    return {name: (folder / name).read_bytes() for name in hub.REQUIRED_FILES} | {
        "config.json": json.dumps(config).encode()}


def version(folder: Path) -> str:
    return json.loads((folder / "config.json").read_text())["version"]


@pytest.fixture
def fake_hub(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    with FakeHub() as server:
        use_fake_hub(monkeypatch, server.url, tmp_path / "hf-cache")
        yield server


def downloads(server: FakeHub) -> list[str]:
    return [r.path.rsplit("/", 1)[-1] for r in server.requests if r.method == "GET" and "/resolve/" in r.path]


def test_first_resolve_downloads_the_checkpoint_files_into_the_cache(fake_hub, tmp_path):
    commit = fake_hub.add_commit("org/dates", checkpoint(**{"README.md": b"# Dates\n", "notes.txt": b"x"}))
    folder = hub.resolve("org/dates")
    assert folder.is_relative_to(tmp_path / "hf-cache") and folder.name == commit
    assert sorted(downloads(fake_hub)) == sorted([*hub.REQUIRED_FILES, "README.md"])  # not notes.txt
    assert (folder / "model.safetensors").read_bytes() == checkpoint()["model.safetensors"]
    assert not (folder / "metrics.json").exists()  # optional, absent from the repo: fine


def test_second_resolve_uses_the_cache_offline_or_with_the_hub_gone(fake_hub, monkeypatch):
    fake_hub.add_commit("org/dates", checkpoint())
    folder = hub.resolve("org/dates")
    fake_hub.requests.clear()

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    assert hub.resolve("org/dates") == folder
    assert fake_hub.requests == []

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    fake_hub.stop()
    start = time.monotonic()
    assert hub.resolve("org/dates") == folder
    assert time.monotonic() - start < 3


def test_hub_that_never_answers_falls_back_to_the_cache(fake_hub):
    fake_hub.add_commit("org/dates", checkpoint())
    folder = hub.resolve("org/dates")
    fake_hub.hang = True
    start = time.monotonic()
    assert hub.resolve("org/dates", timeout=0.5) == folder
    assert time.monotonic() - start < 3


def test_offline_without_a_cached_copy_fails_at_once(fake_hub, monkeypatch):
    fake_hub.add_commit("org/dates", checkpoint())
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    start = time.monotonic()
    with pytest.raises(HubUnreachable, match="HF_HUB_OFFLINE"):
        hub.resolve("org/dates")
    assert time.monotonic() - start < 2
    assert fake_hub.requests == []


def test_unreachable_hub_without_a_cached_copy_fails_fast(fake_hub):
    fake_hub.stop()  # the port is closed: connections are refused
    start = time.monotonic()
    with pytest.raises(HubUnreachable, match="Cannot reach the Hub"):
        hub.resolve("org/dates")
    assert time.monotonic() - start < 3


def test_hub_that_never_answers_times_out_after_the_configured_time(fake_hub, monkeypatch):
    monkeypatch.setattr(hub, "TIMEOUT", 1.0)
    fake_hub.hang = True
    start = time.monotonic()
    with pytest.raises(HubTimeout, match="within 1 s"):
        hub.resolve("org/dates")
    assert 0.9 < time.monotonic() - start < 4
    assert len(fake_hub.requests) == 1


def test_revisions_get_their_own_files(fake_hub):
    first = fake_hub.add_commit("org/dates", checkpoint("v1"))
    fake_hub.add_commit("org/dates", checkpoint("v2"))
    fake_hub.add_commit("org/dates", checkpoint("v3"), ref="dev")
    assert version(hub.resolve("org/dates")) == "v2"
    assert version(hub.resolve("org/dates@dev")) == "v3"
    assert version(hub.resolve(f"org/dates@{first}")) == "v1"

    fake_hub.requests.clear()
    assert version(hub.resolve(f"org/dates@{first}")) == "v1"
    assert fake_hub.requests == []  # a commit never changes: the cached copy is used without asking


def test_branch_resolved_online_is_found_offline(fake_hub, monkeypatch):
    fake_hub.add_commit("org/dates", checkpoint("v1"))
    fake_hub.add_commit("org/dates", checkpoint("v3"), ref="dev")
    hub.resolve("org/dates@dev")
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    assert version(hub.resolve("org/dates@dev")) == "v3"
    with pytest.raises(HubUnreachable):
        hub.resolve("org/dates")  # main was never downloaded


def test_unknown_repo(fake_hub):
    with pytest.raises(RepoNotFound, match="HF_TOKEN"):
        hub.resolve("org/nothing-here")


def test_unknown_revision(fake_hub):
    fake_hub.add_commit("org/dates", checkpoint())
    with pytest.raises(RevisionNotFound, match="'v9'"):
        hub.resolve("org/dates@v9")


def test_missing_required_file_is_named_before_anything_is_downloaded(fake_hub):
    files = checkpoint()
    del files["target.model"]
    fake_hub.add_commit("org/dates", files)
    with pytest.raises(CheckpointFileNotFound, match="target.model"):
        hub.resolve("org/dates")
    assert downloads(fake_hub) == []


@pytest.mark.parametrize("spec", ["../../etc", "foo/../../x", "a/b/c", "org/na me", "", "org/name@",
                                  "org/name@../x", "org--x/name", "-org/name", "org/name.git", "/etc/passwd"])
def test_malformed_names_are_refused_before_any_request(fake_hub, spec, monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)  # an existing folder is a local checkpoint: keep "../../etc" from being one
    with pytest.raises(InvalidCheckpointName, match="org/name@revision"):
        hub.resolve(spec)
    assert fake_hub.requests == []


def test_parse_repo_spec():
    commit = "0123456789abcdef0123456789abcdef01234567"
    assert hub.parse_repo_spec("org/name") == ("org/name", None)
    assert hub.parse_repo_spec("Org-1/name_2.v3@v1.0") == ("Org-1/name_2.v3", "v1.0")
    assert hub.parse_repo_spec(f"org/name@{commit}") == ("org/name", commit)
    with pytest.raises(InvalidCheckpointName):
        hub.parse_repo_spec("name-without-org")


def test_bundled_names_and_local_folders_need_no_hub(fake_hub, monkeypatch, tmp_path):
    bundled = tmp_path / "bundled"
    (bundled / "dates").mkdir(parents=True)
    (bundled / "dates" / "config.json").write_text("{}")
    (bundled / "half-copied").mkdir()
    monkeypatch.setattr(hub, "BUNDLED_DIR", bundled)
    assert hub.list_bundled() == ["dates"]
    assert hub.resolve("dates") == bundled / "dates"

    local = tmp_path / "org" / "mine"
    local.mkdir(parents=True)
    monkeypatch.chdir(tmp_path)
    assert hub.resolve(str(local)) == local
    assert hub.resolve("org/mine") == local  # an existing folder comes before a Hub repo of the same name
    assert fake_hub.requests == []


def test_hub_checkpoints_from_the_environment(monkeypatch, caplog):
    monkeypatch.setenv("S2S_HUB_CHECKPOINTS", " org/a , ,org/b@v1,../../etc,org/a,")
    with caplog.at_level(logging.WARNING, logger="s2s.hub"):
        assert hub.hub_checkpoints() == ["org/a", "org/b@v1"]
    assert "../../etc" in caplog.text
    monkeypatch.delenv("S2S_HUB_CHECKPOINTS")
    assert hub.hub_checkpoints() == []


def test_token_reaches_the_hub_and_opens_private_repos(fake_hub, monkeypatch):
    fake_hub.add_commit("org/secret", checkpoint(), private=True)
    with pytest.raises(RepoNotFound, match="none is set"):
        hub.resolve("org/secret")

    monkeypatch.setenv("HF_TOKEN", TOKEN)
    fake_hub.requests.clear()
    assert version(hub.resolve("org/secret")) == "v1"
    assert fake_hub.requests
    assert all(r.headers.get("authorization") == f"Bearer {TOKEN}" for r in fake_hub.requests)


def test_push_uploads_the_checkpoint_with_its_model_card(fake_hub, monkeypatch, tmp_path, capsys):
    folder = tmp_path / "ckpt"
    for name, content in (loadable(tmp_path / "built") | {"notes.txt": b"not for the Hub"}).items():
        folder.mkdir(exist_ok=True)
        (folder / name).write_bytes(content)
    (folder / "metrics.json").write_text(json.dumps({"exact_match": 0.93}))
    (folder / "README.md").write_text("# Dates\n\nReads dates.\n")
    monkeypatch.setenv("HF_TOKEN", TOKEN)

    assert hub.main(["push", str(folder), "org/new", "--private"]) == 0
    repo = fake_hub.repos["org/new"]
    commit = repo.refs["main"]
    assert capsys.readouterr().out.strip() == f"org/new@{commit}"
    assert repo.private
    files = repo.commits[commit]
    assert sorted(files) == sorted([".gitattributes", *hub.REQUIRED_FILES, *hub.OPTIONAL_FILES])
    card = ModelCard(files["README.md"].decode())
    assert card.data.library_name == "s2s-attention-explorer"
    assert {"seq2seq", "attention", "lstm"} <= set(card.data.tags)
    assert card.data.s2s == {"task": "dates", "model": "attention", "score": "scaled_dot", "query": "state",
                             "trained_mask": "bidirectional", "emb_size": 16, "hidden_size": 32, "num_layers": 2,
                             "metrics": {"exact_match": 0.93}}
    assert "Reads dates." in card.text

    assert version(hub.resolve(f"org/new@{commit}")) == "v1"  # what was pushed loads back
    assert hub.main(["push", str(folder), "org/new"]) == 0  # the repo exists now: a new commit on it
    assert capsys.readouterr().out.strip() == f"org/new@{repo.refs['main']}" != f"org/new@{commit}"


def test_model_card_keeps_existing_front_matter(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({"task": "reverse", "score": "additive", "other": 1}))
    (tmp_path / "README.md").write_text("---\nlicense: mit\ntags: [toy]\n---\n# Reverse\n")
    card = ModelCard(hub.model_card(tmp_path, "org/reverse"))
    assert card.data.license == "mit"
    assert card.data.tags == ["toy", "seq2seq", "attention", "lstm", "s2s-attention-explorer"]
    assert card.data.s2s == {"task": "reverse", "score": "additive"}
    assert card.text.strip() == "# Reverse"


def test_cli_pull_prints_the_folder_and_errors_in_one_line(fake_hub, capsys, tmp_path):
    fake_hub.add_commit("org/dates", loadable(tmp_path / "built"))
    assert hub.main(["pull", "org/dates"]) == 0
    assert version(Path(capsys.readouterr().out.strip())) == "v1"

    assert hub.main(["pull", "org/missing"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1

    assert hub.main(["push", str(ROOT), "org/new"]) == 1  # not a checkpoint folder
    assert "config.json" in capsys.readouterr().err


def test_push_errors_in_one_line(fake_hub, tmp_path, capsys):
    for name, content in loadable(tmp_path / "built").items():
        (tmp_path / name).write_bytes(content)
    assert hub.main(["push", str(tmp_path), "org/new"]) == 1
    err = capsys.readouterr().err
    assert "HF_TOKEN" in err and err.count("\n") == 1
    assert "org/new" not in fake_hub.repos

    (tmp_path / "README.md").write_text("---\n- front matter that is a list\n---\n")
    assert hub.main(["push", str(tmp_path), "org/new"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1


def test_push_refuses_a_folder_that_is_not_a_checkpoint(tmp_path):
    with pytest.raises(CheckpointError, match="model.safetensors"):
        hub.push(tmp_path, "org/new")


def test_command_line_errors_without_a_traceback():
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-m", "s2s.hub", "pull", "../../etc"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert done.stderr.startswith("error: ") and "Traceback" not in done.stderr


def test_is_bundled_sees_checkpoints_come_and_go_and_never_takes_a_path(tmp_path, monkeypatch):
    monkeypatch.setattr(hub, "BUNDLED_DIR", tmp_path / "checkpoints")
    (tmp_path / "checkpoints").mkdir()
    assert not hub.is_bundled("late")
    (tmp_path / "checkpoints" / "late").mkdir()
    assert not hub.is_bundled("late")  # a folder without its config is not a checkpoint yet
    (tmp_path / "checkpoints" / "late" / "config.json").write_text("{}")
    assert hub.is_bundled("late")
    shutil.rmtree(tmp_path / "checkpoints" / "late")
    assert not hub.is_bundled("late")
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "config.json").write_text("{}")
    assert not hub.is_bundled("../elsewhere") and not hub.is_bundled(str(tmp_path / "elsewhere"))


def test_a_checkpoint_that_would_not_load_is_neither_pushed_nor_pulled_as_ready(fake_hub, tmp_path, capsys,
                                                                                 monkeypatch):
    """A config.json whose hidden_size does not match the weights was pushed and pulled with exit 0, and failed
    only at s2s.load, in the lecture (review of 2026-11-29)."""
    files = loadable(tmp_path / "built")
    tampered = files | {"config.json": json.dumps(json.loads(files["config.json"]) | {"hidden_size": 64}).encode()}
    folder = tmp_path / "tampered"
    folder.mkdir()
    for name, content in tampered.items():
        (folder / name).write_bytes(content)
    monkeypatch.setenv("HF_TOKEN", TOKEN)
    assert hub.main(["push", str(folder), "org/tampered"]) == 1
    assert "does not match config.json" in capsys.readouterr().err and "org/tampered" not in fake_hub.repos
    fake_hub.add_commit("org/tampered", tampered)  # published by other means
    assert hub.main(["pull", "org/tampered"]) == 1
    err = capsys.readouterr().err
    assert "does not match config.json" in err and err.count("\n") == 1
