"""s2s/checkpoint.py: what load accepts, and every way it refuses a bad one before building anything.

A checkpoint from the web is untrusted: every limit is checked before anything large is read or allocated.
The tests named test_<n>_... each stand for one finding of the review of the untrusted path; multi-GB files
are never made (local ones are sparse files).
"""

from __future__ import annotations

import json
import pickle
import shutil
import time
import tracemalloc
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

import s2s
from s2s import checkpoint
from s2s.errors import CheckpointError, CheckpointTooLarge
from s2s.tokenizer import Tokenizer
from tests.conftest import one_line_without_paths
from tests.fake_hub import FakeHub, use_fake_hub


def edit_config(folder: Path, **changes) -> None:
    config = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps(config | changes))


def test_round_trip_gives_the_same_translation(tiny_checkpoint_dir, tiny, tmp_path):
    copy = checkpoint.save(tmp_path / "copy", tiny.model, tiny.source_tokenizer, tiny.target_tokenizer, tiny.config)
    again = checkpoint.load(copy, device="cpu")
    a, b = tiny.translate("3 March 2021"), again.translate("3 March 2021")
    assert a.output_pieces == b.output_pieces and (a.attention == b.attention).all()
    assert again.config == json.loads((tiny_checkpoint_dir / "config.json").read_text())
    for key in ("model", "score", "query", "emb_size", "hidden_size", "num_layers", "input_vocab_size",
                "output_vocab_size", "trained_mask", "max_source_len", "max_target_len", "task"):
        assert key in again.config


@pytest.fixture
def folder(tiny_checkpoint_dir, tmp_path) -> Path:
    return Path(shutil.copytree(tiny_checkpoint_dir, tmp_path / "ckpt"))


def test_truncated_weights(folder):
    data = (folder / "model.safetensors").read_bytes()
    (folder / "model.safetensors").write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="corrupt|truncated|could not be read"):
        checkpoint.load(folder)


def test_garbage_weights(folder):
    (folder / "model.safetensors").write_bytes(b"\x00" * 64)
    with pytest.raises(CheckpointError, match="corrupt"):
        checkpoint.load(folder)


def test_tensors_that_do_not_match_the_config(folder):
    edit_config(folder, hidden_size=48)
    with pytest.raises(CheckpointError, match="does not match config.json"):
        checkpoint.load(folder)


def test_renamed_tensor(folder):
    tensors = load_file(folder / "model.safetensors")
    tensors["surprise"] = tensors.pop("lm.bias")
    save_file(tensors, folder / "model.safetensors")
    with pytest.raises(CheckpointError, match="missing lm.bias.*unexpected surprise"):
        checkpoint.load(folder)


@pytest.mark.parametrize("changes, message", [
    (dict(hidden_size=10**9), "hidden_size"),
    (dict(num_layers=0), "num_layers"),
    (dict(input_vocab_size="many"), "input_vocab_size"),
    (dict(model="gpt"), "model must be one of"),
    (dict(trained_mask="diagonal"), "trained_mask"),
    (dict(bridge="sideways"), "bridge"),
    (dict(max_source_len=True), "max_source_len"),
])
def test_absurd_config_is_refused_before_anything_is_allocated(folder, monkeypatch, changes, message):
    edit_config(folder, **changes)

    def no_building(*args, **kwargs):
        raise AssertionError("a model was built from a bad config")

    monkeypatch.setattr(checkpoint, "build_model", no_building)
    with pytest.raises(CheckpointError, match=message):
        checkpoint.load(folder)


def test_config_that_is_not_json(folder):
    (folder / "config.json").write_text("{not json")
    with pytest.raises(CheckpointError, match="not valid JSON"):
        checkpoint.load(folder)


def test_pickle_is_refused_and_never_loaded(folder, monkeypatch):
    (folder / "model.safetensors").unlink()
    (folder / "pytorch_model.bin").write_bytes(pickle.dumps({"weights": 1}))
    monkeypatch.setattr(torch, "load", lambda *a, **k: pytest.fail("torch.load was called"))
    monkeypatch.setattr(pickle, "load", lambda *a, **k: pytest.fail("pickle.load was called"))
    with pytest.raises(CheckpointError, match="never loaded"):
        checkpoint.load(folder)


def test_missing_and_corrupt_tokenizers(folder):
    (folder / "target.model").write_bytes(b"not a sentencepiece model")
    with pytest.raises(CheckpointError, match="tokenizer"):
        checkpoint.load(folder)
    (folder / "target.model").unlink()
    with pytest.raises(CheckpointError, match="target.model is missing"):
        checkpoint.load(folder)


def test_load_from_a_fake_hub_end_to_end(tiny_checkpoint_dir, monkeypatch, tmp_path):
    """s2s.load("org/name") runs huggingface_hub's real download code, then loads the files it got."""
    files = {p.name: p.read_bytes() for p in tiny_checkpoint_dir.iterdir()}
    with FakeHub() as server:
        use_fake_hub(monkeypatch, server.url, tmp_path / "hf-cache")
        commit = server.add_commit("lecture/tiny", files)
        model = s2s.load("lecture/tiny")
        assert model.translate("3 March 2021").output_pieces
        pinned = s2s.load(f"lecture/tiny@{commit}")
        assert pinned.config == model.config


# --- an untrusted checkpoint ---------------------------------------------------------------------------


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


def test_1_every_bundled_checkpoint_is_within_the_limits():
    names = checkpoint.list_bundled()
    assert names, "no bundled checkpoints"
    for name in names:
        config = checkpoint.read_config(checkpoint.BUNDLED_DIR / name)
        assert sum(s.numel() for s in checkpoint.expected_tensors(config).values()) <= checkpoint.MAX_PARAMETERS
        for file in (checkpoint.BUNDLED_DIR / name).iterdir():
            assert file.stat().st_size <= checkpoint.FILE_LIMITS[file.name], file.name
    checkpoint.load(checkpoint.BUNDLED_DIR / names[0], device="cpu")


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


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), float("-inf")])
def test_5_nan_or_infinite_weights_are_refused(folder, bad):
    tensors = load_file(folder / "model.safetensors")
    tensors["lm.bias"][3] = bad
    save_file(tensors, folder / "model.safetensors")
    with pytest.raises(CheckpointError, match="NaN or infinite.*lm.bias") as caught:
        checkpoint.load(folder, device="cpu")
    one_line_without_paths(caught.value, folder.parent)


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


# --- the bundled checkpoints ---------------------------------------------------------------------------


def test_is_bundled_sees_checkpoints_come_and_go_and_never_takes_a_path(tmp_path, monkeypatch):
    monkeypatch.setattr(checkpoint, "BUNDLED_DIR", tmp_path / "checkpoints")
    (tmp_path / "checkpoints").mkdir()
    assert not checkpoint.is_bundled("late")
    (tmp_path / "checkpoints" / "late").mkdir()
    assert not checkpoint.is_bundled("late")  # a folder without its config is not a checkpoint yet
    (tmp_path / "checkpoints" / "late" / "config.json").write_text("{}")
    assert checkpoint.is_bundled("late")
    shutil.rmtree(tmp_path / "checkpoints" / "late")
    assert not checkpoint.is_bundled("late")
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "config.json").write_text("{}")
    assert not checkpoint.is_bundled("../elsewhere") and not checkpoint.is_bundled(str(tmp_path / "elsewhere"))


def test_the_bundled_list_is_the_folders_with_a_config(tmp_path, monkeypatch):
    monkeypatch.setattr(checkpoint, "BUNDLED_DIR", tmp_path / "checkpoints")
    assert checkpoint.list_bundled() == []  # no folder at all
    for name in ("b", "a", "half-copied"):
        (tmp_path / "checkpoints" / name).mkdir(parents=True)
    for name in ("b", "a"):
        (tmp_path / "checkpoints" / name / "config.json").write_text("{}")
    assert checkpoint.list_bundled() == ["a", "b"]


def test_a_hostile_choice_and_a_weight_of_another_type_are_refused_in_short_words(folder):
    edit_config(folder, model="transformer" * 500)
    refused = "model must be one of edm, attention, transformer; got 'transformertr"
    with pytest.raises(CheckpointError, match=refused) as caught:
        checkpoint.load(folder)
    assert len(str(caught.value)) < 200
    edit_config(folder, model="attention")
    tensors = load_file(folder / "model.safetensors")
    tensors["lm.bias"] = tensors["lm.bias"].to(torch.int64)
    save_file(tensors, folder / "model.safetensors")
    with pytest.raises(CheckpointError, match="the type of lm.bias must be one of F32, F16, BF16; got 'I64'"):
        checkpoint.load(folder)
