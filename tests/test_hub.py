"""s2s/hub.py against a fake Hub on 127.0.0.1: huggingface_hub's real download and cache code runs.

A Hub repo is untrusted: its file list and sizes are checked before anything is downloaded, only the
checkpoint's files are fetched, each spelling of a commit is one cache entry, an allow-list limits what
may be loaded at all, and no message names a server path.
"""

import logging
import time
from pathlib import Path

import pytest
from huggingface_hub import constants

from s2s import checkpoint, hub
from s2s.errors import (
    CheckpointError,
    CheckpointFileNotFound,
    HubError,
    HubFileTooLarge,
    HubTimeout,
    HubUnreachable,
    InvalidCheckpointName,
    RepoNotAllowed,
    RepoNotFound,
    RevisionNotFound,
)
from tests.conftest import one_line_without_paths
from tests.fake_hub import TOKEN, downloads, hub_files, version


def test_first_resolve_downloads_the_checkpoint_files_into_the_cache(fake_hub, tmp_path):
    commit = fake_hub.add_commit("org/dates", hub_files(**{"README.md": b"# Dates\n", "notes.txt": b"x"}))
    folder = hub.resolve("org/dates")
    assert folder.is_relative_to(tmp_path / "hf-cache") and folder.name == commit
    assert sorted(downloads(fake_hub)) == sorted([*checkpoint.REQUIRED_FILES, "README.md"])  # not notes.txt
    assert (folder / "model.safetensors").read_bytes() == hub_files()["model.safetensors"]
    assert not (folder / "metrics.json").exists()  # optional, absent from the repo: fine


def test_second_resolve_uses_the_cache_offline_or_with_the_hub_gone(fake_hub, monkeypatch):
    fake_hub.add_commit("org/dates", hub_files())
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


@pytest.mark.slow  # waits out the Hub's timeout
def test_hub_that_never_answers_falls_back_to_the_cache(fake_hub):
    fake_hub.add_commit("org/dates", hub_files())
    folder = hub.resolve("org/dates")
    fake_hub.hang = True
    start = time.monotonic()
    assert hub.resolve("org/dates", timeout=0.5) == folder
    assert time.monotonic() - start < 3


def test_offline_without_a_cached_copy_fails_at_once(fake_hub, monkeypatch):
    fake_hub.add_commit("org/dates", hub_files())
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


@pytest.mark.slow  # waits out the Hub's timeout
def test_hub_that_never_answers_times_out_after_the_configured_time(fake_hub, monkeypatch):
    monkeypatch.setattr(hub, "TIMEOUT", 1.0)
    fake_hub.hang = True
    start = time.monotonic()
    with pytest.raises(HubTimeout, match="within 1 s"):
        hub.resolve("org/dates")
    assert 0.9 < time.monotonic() - start < 4
    assert len(fake_hub.requests) == 1


def test_revisions_get_their_own_files(fake_hub):
    first = fake_hub.add_commit("org/dates", hub_files("v1"))
    fake_hub.add_commit("org/dates", hub_files("v2"))
    fake_hub.add_commit("org/dates", hub_files("v3"), ref="dev")
    assert version(hub.resolve("org/dates")) == "v2"
    assert version(hub.resolve("org/dates@dev")) == "v3"
    assert version(hub.resolve(f"org/dates@{first}")) == "v1"

    fake_hub.requests.clear()
    assert version(hub.resolve(f"org/dates@{first}")) == "v1"
    assert fake_hub.requests == []  # a commit never changes: the cached copy is used without asking


def test_branch_resolved_online_is_found_offline(fake_hub, monkeypatch):
    fake_hub.add_commit("org/dates", hub_files("v1"))
    fake_hub.add_commit("org/dates", hub_files("v3"), ref="dev")
    hub.resolve("org/dates@dev")
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    assert version(hub.resolve("org/dates@dev")) == "v3"
    with pytest.raises(HubUnreachable):
        hub.resolve("org/dates")  # main was never downloaded


def test_unknown_repo(fake_hub):
    with pytest.raises(RepoNotFound, match="HF_TOKEN"):
        hub.resolve("org/nothing-here")


def test_unknown_revision(fake_hub):
    fake_hub.add_commit("org/dates", hub_files())
    with pytest.raises(RevisionNotFound, match="'v9'"):
        hub.resolve("org/dates@v9")


def test_missing_required_file_is_named_before_anything_is_downloaded(fake_hub):
    files = hub_files()
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
    monkeypatch.setattr(checkpoint, "BUNDLED_DIR", bundled)
    assert checkpoint.list_bundled() == ["dates"]
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
    fake_hub.add_commit("org/secret", hub_files(), private=True)
    with pytest.raises(RepoNotFound, match="none is set"):
        hub.resolve("org/secret")

    monkeypatch.setenv("HF_TOKEN", TOKEN)
    fake_hub.requests.clear()
    assert version(hub.resolve("org/secret")) == "v1"
    assert fake_hub.requests
    assert all(r.headers.get("authorization") == f"Bearer {TOKEN}" for r in fake_hub.requests)


# --- an untrusted repo: sizes, one copy per commit, no server path, the allow-list ----------------------


@pytest.mark.parametrize("name, size", [
    ("README.md", 2 * 10**9),
    ("metrics.json", 10**9),
    ("model.safetensors", 2 * 10**9),
    ("config.json", 65 * 1024 + 1),
    ("source.model", 5 * 2**20),
])
def test_2_a_file_over_its_cap_is_refused_before_any_download(fake_hub, tmp_path, name, size):
    files = hub_files(**{"README.md": b"# card\n", "metrics.json": b"{}"})
    fake_hub.add_commit("org/huge", files, sizes={name: size})
    with pytest.raises(HubFileTooLarge) as caught:
        hub.resolve("org/huge")
    message = one_line_without_paths(caught.value, tmp_path)
    assert name in message and f"{checkpoint.FILE_LIMITS[name]:,}" in message and "FILE_LIMITS" in message
    assert downloads(fake_hub) == []
    assert isinstance(caught.value, HubError)


def test_2_other_files_are_never_downloaded_whatever_their_size(fake_hub):
    fake_hub.add_commit("org/dates", hub_files(**{"pytorch_model.bin": b"x", "data.zip": b"y"}),
                        sizes={"data.zip": 50 * 10**9})
    assert version(hub.resolve("org/dates")) == "v1"
    assert sorted(downloads(fake_hub)) == sorted(checkpoint.REQUIRED_FILES)


def test_3_every_spelling_of_a_commit_resolves_to_it_and_downloads_once(fake_hub, monkeypatch):
    commit = fake_hub.add_commit("Org/Name", hub_files())
    spellings = ["Org/Name", "org/name", "ORG/name@main", f"org/name@{commit}", f"Org/Name@{commit}"]
    assert {hub.resolve_commit(spec) for spec in spellings} == {("Org/Name", commit)}
    assert downloads(fake_hub) == []  # resolve_commit downloads nothing

    folders = {hub.resolve(spec) for spec in spellings}
    assert len(folders) == 1 and folders.pop().name == commit
    assert sorted(downloads(fake_hub)) == sorted(checkpoint.REQUIRED_FILES)  # each file once
    assert hub.download(*hub.resolve_commit("org/NAME")) == hub.resolve("Org/Name")

    fake_hub.requests.clear()
    assert hub.resolve_commit(f"org/name@{commit}") == ("Org/Name", commit)
    assert fake_hub.requests == []  # a cached commit needs no request
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    assert hub.resolve_commit("org/name") == ("Org/Name", commit)  # offline: from the cache's refs


def test_7_the_offline_message_names_no_server_path(fake_hub, monkeypatch, tmp_path):
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(HubUnreachable) as caught:
        hub.resolve("org/dates")
    message = one_line_without_paths(caught.value, tmp_path, Path(constants.HF_HUB_CACHE))
    assert "hf-cache" not in message and "HF_HUB_OFFLINE" in message
    with pytest.raises(CheckpointError) as caught:
        checkpoint.load(tmp_path / "no" / "such-folder")
    one_line_without_paths(caught.value, tmp_path)


def test_allowlist_limits_the_repos_that_may_be_loaded(fake_hub, monkeypatch):
    fake_hub.add_commit("org/dates", hub_files())
    fake_hub.add_commit("org/other", hub_files("other"))
    monkeypatch.setenv("S2S_HUB_ALLOWLIST", " org/dates , Lab/Thing ")
    assert hub.allowlist() == {"org/dates", "lab/thing"}

    with pytest.raises(RepoNotAllowed, match="S2S_HUB_ALLOWLIST") as caught:
        hub.resolve("org/other")
    one_line_without_paths(caught.value)
    with pytest.raises(RepoNotAllowed):
        hub.resolve_commit("org/other@main")
    assert fake_hub.requests == []  # refused before any request
    assert version(hub.resolve("ORG/Dates")) == "v1"  # ids compare case-insensitively
    hub.check_allowed("lab/thing")

    monkeypatch.setenv("S2S_HUB_CHECKPOINTS", "org/dates,org/other")
    assert hub.hub_checkpoints() == ["org/dates"]  # the menu offers only what may be loaded

    for anything in ("*", "", " , "):
        monkeypatch.setenv("S2S_HUB_ALLOWLIST", anything)
        assert hub.allowlist() is None
        hub.check_allowed("org/other")
    monkeypatch.delenv("S2S_HUB_ALLOWLIST")
    assert version(hub.resolve("org/other")) == "other"
