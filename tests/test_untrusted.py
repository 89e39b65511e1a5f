"""A checkpoint from the web is untrusted: every limit is checked before anything large is read or allocated.

Each test stands for one finding of the review (see the names); multi-GB files are never made: the fake Hub
reports their sizes, and local ones are sparse files.
"""

from __future__ import annotations

import json
import os
import shutil
import time
import tracemalloc
from pathlib import Path

import pytest
import torch
from huggingface_hub import constants, hf_hub_download, scan_cache_dir
from safetensors.torch import load_file, save_file

from s2s import checkpoint, hub
from s2s.errors import (
    CheckpointError,
    CheckpointTooLarge,
    HubError,
    HubFileTooLarge,
    HubUnreachable,
    RepoNotAllowed,
    S2SError,
)
from s2s.tokenizer import Tokenizer
from tests.fake_hub import TOKEN, FakeHub, use_fake_hub
from tests.test_hub import checkpoint as hub_files
from tests.test_hub import downloads, version


@pytest.fixture
def fake_hub(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    with FakeHub() as server:
        use_fake_hub(monkeypatch, server.url, tmp_path / "hf-cache")
        monkeypatch.delenv("S2S_HUB_ALLOWLIST", raising=False)
        monkeypatch.delenv("S2S_HUB_CACHE_MAX_BYTES", raising=False)
        yield server


@pytest.fixture
def folder(tiny_checkpoint_dir, tmp_path) -> Path:
    return Path(shutil.copytree(tiny_checkpoint_dir, tmp_path / "ckpt"))


def edit_config(folder: Path, **changes) -> None:
    config = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps(config | changes))


def one_line_without_paths(error: BaseException, *paths: Path) -> str:
    """The message, checked: one line (finding 9), naming no server path (finding 7)."""
    message = str(error)
    assert message and "\n" not in message and "\r" not in message, message
    for path in paths:
        assert str(path) not in message, message
    return message


def nothing_read_or_built(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make reading the weights or the tokenizers, or building a real model, fail the test."""
    real_build = checkpoint.build_model

    def meta_only(config):
        assert torch.empty(0).device.type == "meta", "a model was built off the meta device"
        return real_build(config)

    monkeypatch.setattr(checkpoint, "build_model", meta_only)
    monkeypatch.setattr(checkpoint, "load_file", lambda *a, **k: pytest.fail("the weights were read"))
    monkeypatch.setattr(checkpoint, "safe_open", lambda *a, **k: pytest.fail("the weights were opened"))
    monkeypatch.setattr(Tokenizer, "load", lambda *a, **k: pytest.fail("a tokenizer was read"))


# --- finding 1: sizes a visitor's checkpoint cannot exceed, checked before any allocation -----------------


def test_1_every_bundled_checkpoint_is_within_the_limits():
    names = hub.list_bundled()
    assert names, "no bundled checkpoints"
    for name in names:
        config = checkpoint.read_config(hub.BUNDLED_DIR / name)
        assert sum(s.numel() for s in checkpoint.expected_tensors(config).values()) <= checkpoint.MAX_PARAMETERS
        for file in (hub.BUNDLED_DIR / name).iterdir():
            assert file.stat().st_size <= checkpoint.FILE_LIMITS[file.name], file.name
    checkpoint.load(hub.BUNDLED_DIR / names[0], device="cpu")


@pytest.mark.parametrize("key", sorted(checkpoint.LIMITS))
def test_1_each_size_over_its_limit_is_refused_before_anything_is_built(folder, monkeypatch, key):
    edit_config(folder, **{key: checkpoint.LIMITS[key] + 2})
    nothing_read_or_built(monkeypatch)
    monkeypatch.setattr(checkpoint, "build_model", lambda *a: pytest.fail("a model was built, even on meta"))
    with pytest.raises(CheckpointTooLarge) as caught:
        checkpoint.load(folder)
    message = one_line_without_paths(caught.value, folder.parent)
    assert key in message and str(checkpoint.LIMITS[key]) in message and "checkpoint.LIMITS" in message
    assert "train a smaller model" in message


def test_1_the_old_limits_and_too_many_parameters_are_refused_from_the_config_alone(folder, monkeypatch):
    # Within every per-size limit, but 109M parameters: counted on the meta device, refused before reading.
    edit_config(folder, emb_size=1024, hidden_size=1024, num_layers=4, input_vocab_size=16384,
                output_vocab_size=16384)
    nothing_read_or_built(monkeypatch)
    start = time.monotonic()
    with pytest.raises(CheckpointTooLarge, match=r"parameters.*MAX_PARAMETERS"):
        checkpoint.load(folder)
    assert time.monotonic() - start < 2

    # What the old limits allowed: 2,048 pieces, 2 GB of weights.
    edit_config(folder, emb_size=2048, hidden_size=2048, num_layers=8, input_vocab_size=65536,
                output_vocab_size=65536, max_source_len=2048, max_target_len=2048)
    with pytest.raises(CheckpointTooLarge):
        checkpoint.load(folder)


def test_1_the_work_of_one_translation_is_counted_from_the_config_as_written_out():
    """T * encoder weights + S * (decoder weights + 2 L T H), by hand for a small model."""
    config = dict(model="attention", score="scaled_dot", query="state", trained_mask="bidirectional", emb_size=4,
                  hidden_size=6, num_layers=1, input_vocab_size=300, output_vocab_size=300, max_source_len=10,
                  max_target_len=5)
    encoder = 24 * 4 + 24 * 6  # one LSTM layer's input and hidden weights (4 gates of 6)
    decoder = 24 * 4 + 24 * 6 + 300 * 6  # the decoder cell's, and the output layer's
    expected = 10 * encoder + 5 * (decoder + 2 * 1 * 10 * 6)
    assert checkpoint.decode_work(config, checkpoint.expected_tensors(config)) == expected == 13_200


def test_1_a_model_within_every_size_limit_whose_translations_take_billions_is_refused(folder, monkeypatch):
    """18M parameters and 256 pieces each way: 4.8 billion multiply-adds a translation, 3.6 GB for a beam of 4,
    and 40 such requests took the server to 23 GB (review of 2026-11-29)."""
    edit_config(folder, emb_size=256, hidden_size=640, num_layers=3, max_source_len=256, max_target_len=256)
    nothing_read_or_built(monkeypatch)
    with pytest.raises(CheckpointTooLarge, match=r"multiply-adds.*MAX_DECODE_WORK.*lower those lengths"):
        checkpoint.load(folder)
    edit_config(folder, max_source_len=16, max_target_len=16)  # the same model, short sentences: within it
    with pytest.raises(pytest.fail.Exception, match="the weights were opened"):  # past the config, to the files
        checkpoint.load(folder)


def test_1_oversized_files_on_disk_are_refused_before_they_are_read(folder, monkeypatch):
    nothing_read_or_built(monkeypatch)
    with (folder / "model.safetensors").open("r+b") as weights:  # sparse: no disk used
        weights.truncate(checkpoint.FILE_LIMITS["model.safetensors"] + 1)
    with pytest.raises(CheckpointTooLarge, match=r"model.safetensors.*FILE_LIMITS"):
        checkpoint.load(folder)


def test_1_a_safetensors_header_claiming_gigabytes_is_refused(folder, monkeypatch):
    data = (folder / "model.safetensors").read_bytes()
    (folder / "model.safetensors").write_bytes((3 * 10**9).to_bytes(8, "little") + data[8:])
    monkeypatch.setattr(checkpoint, "safe_open", lambda *a, **k: pytest.fail("safetensors parsed the header"))
    with pytest.raises(CheckpointError, match="header"):
        checkpoint.load(folder)


def test_1_a_tokenizer_piece_longer_than_the_limit_is_refused(folder, tmp_path):
    """One long piece, written at every step, made each keystroke's figure tens of MB (review of 2026-11-29)."""
    import io

    import sentencepiece as spm

    def tokenizer_with(symbol: str) -> bytes:
        buffer = io.BytesIO()
        spm.SentencePieceTrainer.train(sentence_iterator=iter(["a b c d e f g h"] * 20), model_writer=buffer,
                                       vocab_size=300, model_type="bpe", byte_fallback=True, pad_id=0, unk_id=1,
                                       bos_id=2, eos_id=3, hard_vocab_limit=False, user_defined_symbols=[symbol],
                                       minloglevel=2)
        return buffer.getvalue()

    at_limit, over = "Z" * checkpoint.MAX_PIECE_CHARS, "Z" * (checkpoint.MAX_PIECE_CHARS + 1)
    (folder / "target.model").write_bytes(tokenizer_with(over))
    with pytest.raises(CheckpointError, match=f"target.model has a piece of {len(over)} characters") as caught:
        checkpoint.load(folder, device="cpu")
    one_line_without_paths(caught.value, tmp_path)
    (folder / "target.model").write_bytes(tokenizer_with(at_limit))  # at the limit: past this check, to the next
    with pytest.raises(CheckpointError, match="tokenizer vocabularies"):
        checkpoint.load(folder, device="cpu")


def test_1_save_never_writes_what_load_refuses(tiny, tmp_path):
    config = dict(tiny.config, max_target_len=checkpoint.LIMITS["max_target_len"] + 1)
    with pytest.raises(CheckpointTooLarge, match="max_target_len"):
        checkpoint.save(tmp_path / "big", tiny.model, tiny.source_tokenizer, tiny.target_tokenizer, config)
    assert not (tmp_path / "big" / "config.json").exists()


# --- finding 2: the repo's file list and sizes are checked before downloading --------------------------


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
    assert sorted(downloads(fake_hub)) == sorted(hub.REQUIRED_FILES)


def test_2_local_readme_and_metrics_are_read_bounded(folder):
    for name in ("README.md", "metrics.json"):
        with (folder / name).open("wb") as file:  # a sparse gigabyte
            file.truncate(10**9)
    tracemalloc.start()
    try:
        with pytest.raises(CheckpointTooLarge, match="README.md"):
            checkpoint.read_card(folder)
        with pytest.raises(CheckpointTooLarge, match="metrics.json"):
            checkpoint.read_metrics(folder)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 4 * checkpoint.FILE_LIMITS["README.md"]
    (folder / "README.md").write_text("# small\n")
    (folder / "metrics.json").write_text('{"exact_match": 1.0}')
    assert checkpoint.read_card(folder) == "# small\n"
    assert checkpoint.read_metrics(folder) == {"exact_match": 1.0}
    (folder / "metrics.json").unlink()
    assert checkpoint.read_metrics(folder) == {}


# --- finding 3: one cache entry per commit, whatever the spelling --------------------------------------


def test_3_every_spelling_of_a_commit_resolves_to_it_and_downloads_once(fake_hub, monkeypatch):
    commit = fake_hub.add_commit("Org/Name", hub_files())
    spellings = ["Org/Name", "org/name", "ORG/name@main", f"org/name@{commit}", f"Org/Name@{commit}"]
    assert {hub.resolve_commit(spec) for spec in spellings} == {("Org/Name", commit)}
    assert downloads(fake_hub) == []  # resolve_commit downloads nothing

    folders = {hub.resolve(spec) for spec in spellings}
    assert len(folders) == 1 and folders.pop().name == commit
    assert sorted(downloads(fake_hub)) == sorted(hub.REQUIRED_FILES)  # each file once
    assert hub.download(*hub.resolve_commit("org/NAME")) == hub.resolve("Org/Name")

    fake_hub.requests.clear()
    assert hub.resolve_commit(f"org/name@{commit}") == ("Org/Name", commit)
    assert fake_hub.requests == []  # a cached commit needs no request
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    assert hub.resolve_commit("org/name") == ("Org/Name", commit)  # offline: from the cache's refs


# --- finding 4: the Hub cache is bounded in bytes -------------------------------------------------------


def test_4_least_recently_used_checkpoints_are_evicted_beyond_the_budget(fake_hub, monkeypatch, tmp_path):
    cache = tmp_path / "hf-cache"
    for name in ("a", "b", "c"):
        fake_hub.add_commit(f"org/{name}", hub_files(name))
    fake_hub.add_commit("other/model", {"pytorch_model.bin": b"z" * 5000})
    hf_hub_download("other/model", "pytorch_model.bin", cache_dir=cache, endpoint=fake_hub.url)

    a = hub.resolve("org/a")
    size = scan_cache_dir(cache).size_on_disk - 5000  # one checkpoint
    monkeypatch.setenv("S2S_HUB_CACHE_MAX_BYTES", str(int(2.5 * size)))
    b = hub.resolve("org/b")
    os.utime(a, (1, 1_000))  # b used after a, both long ago
    os.utime(b, (1, 2_000))
    assert hub.resolve("org/a") == a  # a used again now: b is now the least recently used
    os.utime(a, (1, 3_000))
    c = hub.resolve("org/c")

    cached = {repo.repo_id for repo in scan_cache_dir(cache).repos}
    assert cached == {"org/a", "org/c", "other/model"}  # b evicted; another app's repo untouched
    assert a.is_dir() and c.is_dir() and not b.exists()
    assert version(hub.resolve("org/b")) == "b"  # evicted is only gone from the cache


def test_4_a_checkpoint_just_used_is_never_evicted(fake_hub, monkeypatch):
    fake_hub.add_commit("org/a", hub_files("a"))
    fake_hub.add_commit("org/b", hub_files("b"))
    monkeypatch.setenv("S2S_HUB_CACHE_MAX_BYTES", "1")
    a, b = hub.resolve("org/a"), hub.resolve("org/b")  # both within EVICT_GRACE_S: another load may use a
    assert a.is_dir() and b.is_dir()
    monkeypatch.setenv("S2S_HUB_CACHE_MAX_BYTES", "0")  # no limit
    assert hub.cache_budget() is None and hub.evict() == []


# --- finding 5: NaN and infinite weights ---------------------------------------------------------------


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), float("-inf")])
def test_5_nan_or_infinite_weights_are_refused(folder, bad):
    tensors = load_file(folder / "model.safetensors")
    tensors["lm.bias"][3] = bad
    save_file(tensors, folder / "model.safetensors")
    with pytest.raises(CheckpointError, match="NaN or infinite.*lm.bias") as caught:
        checkpoint.load(folder, device="cpu")
    one_line_without_paths(caught.value, folder.parent)


# --- finding 6: a config.json nested deeply, or too large to parse -------------------------------------


def test_6_deeply_nested_json_is_a_checkpoint_error_not_a_recursion_error(folder, monkeypatch):
    (folder / "config.json").write_text("[" * 200_000 + "]" * 200_000)  # over the size cap: never parsed
    monkeypatch.setattr(json, "loads", lambda *a, **k: pytest.fail("an oversized config.json was parsed"))
    with pytest.raises(CheckpointTooLarge, match="config.json"):
        checkpoint.load(folder)
    monkeypatch.undo()

    (folder / "config.json").write_text("[" * 30_000 + "]" * 30_000)  # within the size cap, far too deep
    with pytest.raises(CheckpointError, match="nested too deeply") as caught:
        checkpoint.load(folder)
    one_line_without_paths(caught.value, folder.parent)
    (folder / "metrics.json").write_text('{"a": ' * 20_000 + "1" + "}" * 20_000)
    with pytest.raises(CheckpointError, match="nested too deeply"):
        checkpoint.read_metrics(folder)


# --- finding 7: no server path in a message ------------------------------------------------------------


def test_7_the_offline_message_names_no_server_path(fake_hub, monkeypatch, tmp_path):
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(HubUnreachable) as caught:
        hub.resolve("org/dates")
    message = one_line_without_paths(caught.value, tmp_path, Path(constants.HF_HUB_CACHE))
    assert "hf-cache" not in message and "HF_HUB_OFFLINE" in message
    with pytest.raises(CheckpointError) as caught:
        checkpoint.load(tmp_path / "no" / "such-folder")
    one_line_without_paths(caught.value, tmp_path)


# --- finding 8: push refuses symbolic links -------------------------------------------------------------


def test_8_push_refuses_a_symlinked_file(fake_hub, monkeypatch, tmp_path, capsys):
    folder = tmp_path / "ckpt"
    folder.mkdir()
    for name, content in hub_files().items():
        (folder / name).write_bytes(content)
    secret = tmp_path / "secret.txt"
    secret.write_text("a server's secret")
    (folder / "README.md").symlink_to(secret)
    monkeypatch.setenv("HF_TOKEN", TOKEN)
    with pytest.raises(CheckpointError, match=r"README.md is a symbolic link.*cp -L"):
        hub.push(folder, "org/new")
    assert hub.main(["push", str(folder), "org/new"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1 and "symbolic link" in err
    assert fake_hub.requests == [] and "org/new" not in fake_hub.repos

    (folder / "README.md").unlink()
    (folder / "model.safetensors").rename(tmp_path / "weights")
    (folder / "model.safetensors").symlink_to(tmp_path / "weights")
    with pytest.raises(CheckpointError, match="model.safetensors is a symbolic link"):
        hub.push(folder, "org/new")


# --- finding 9: every expected error is one line -------------------------------------------------------


def test_9_messages_are_folded_into_one_line():
    assert str(S2SError("first line\n  second line\r\nthird")) == "first line second line third"
    assert str(HubFileTooLarge("a\n\nb")) == "a b"


def test_9_each_way_a_checkpoint_is_refused_gives_one_line_without_paths(folder, tmp_path):
    original = {name: (folder / name).read_bytes() for name in ("config.json", "model.safetensors")}
    breakages = [
        ("config.json", b"{not json\n\n}"),
        ("config.json", json.dumps({"model": "x\ny" * 100}).encode()),
        ("config.json", b"\xff\xfe"),
        ("model.safetensors", b"\x00" * 64),
        ("model.safetensors", original["model.safetensors"][:100]),
        ("model.safetensors", b"\x10\x00\x00\x00\x00\x00\x00\x00{\n\"a\": [1,\n2]}    "),
        ("target.model", b"not a\nsentencepiece model"),
    ]
    for name, content in breakages:
        (folder / name).write_bytes(content)
        with pytest.raises(CheckpointError) as caught:
            checkpoint.load(folder, device="cpu")
        one_line_without_paths(caught.value, tmp_path)
        (folder / name).write_bytes(original.get(name, content))


# --- the allow-list -------------------------------------------------------------------------------------


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
