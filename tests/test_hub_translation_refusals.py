"""Every refusal of a Hub translation model: a clear one-line message, and nothing big downloaded or loaded.

The fake Hub records every request, so each test says exactly which files were fetched before the refusal:
none when the file list tells (pickles only, a file too large, files missing), config.json alone when the
config tells (remote code, an architecture off the list, too many parameters).
"""

from __future__ import annotations

import pytest
from transformers import MarianMTModel

from s2s import hub_translation
from s2s.errors import CheckpointFileNotFound, HubFileTooLarge, RepoNotAllowed
from tests.conftest import one_line_without_paths
from tests.fake_hub import downloads
from tests.tiny_marian import tiny_config, tiny_marian_files

REPO = "Helsinki-NLP/opus-mt-en-fr"


@pytest.fixture(autouse=True)
def nothing_is_loaded(monkeypatch):
    """A refused repo never reaches transformers' loading."""
    def refuse(*args, **kwargs):
        raise AssertionError("from_pretrained was called for a refused repo")

    monkeypatch.setattr(MarianMTModel, "from_pretrained", refuse)


def refused(fake_hub, tmp_path, error: type[Exception], match: str, *, downloaded: list[str], **files) -> str:
    fake_hub.add_commit(REPO, tiny_marian_files(**{k: v for k, v in files.items() if k != "sizes"}),
                        sizes=files.get("sizes"))
    with pytest.raises(error, match=match) as caught:
        hub_translation.open_model(REPO)
    assert downloads(fake_hub) == downloaded
    return one_line_without_paths(caught.value, tmp_path)


def test_pickle_only_weights_are_refused_before_any_download(fake_hub, tmp_path):
    message = refused(fake_hub, tmp_path, hub_translation.RemoteCodeRefused, "pytorch_model.bin", downloaded=[],
                      model__safetensors=None, **{"pytorch_model.bin": b"\x80\x04pickle"})
    assert "safetensors" in message and "refs/pr/" in message


def test_remote_code_is_refused_with_only_config_json_read(fake_hub, tmp_path):
    config = tiny_config(auto_map={"AutoModel": "modeling_evil.EvilModel"})
    message = refused(fake_hub, tmp_path, hub_translation.RemoteCodeRefused, "auto_map", downloaded=["config.json"],
                      config__json=config, **{"modeling_evil.py": b"import os"})
    assert "never runs" in message


@pytest.mark.parametrize("architecture", [["BertForMaskedLM"], ["T5ForConditionalGeneration"], None,
                                          ["MarianMTModel", "BertModel"]], ids=str)
def test_an_architecture_off_the_list_is_refused(fake_hub, tmp_path, architecture):
    message = refused(fake_hub, tmp_path, hub_translation.ArchitectureNotAllowed, "MarianMTModel",
                      downloaded=["config.json"], config__json=tiny_config(architectures=architecture))
    assert "opus-mt" in message


def test_too_many_parameters_are_refused_from_the_config(fake_hub, tmp_path):
    # 250,000 pieces of 1,024: 256 million in the embedding alone, and every size within LIMITS
    config = tiny_config(vocab_size=250_000, decoder_vocab_size=250_000, d_model=1024)
    message = refused(fake_hub, tmp_path, hub_translation.ModelTooLarge, "S2S_MT_MAX_PARAMETERS",
                      downloaded=["config.json"], config__json=config)
    assert f"{hub_translation.MAX_PARAMETERS:,}" in message and "opus-mt" in message


def test_a_size_above_the_limits_is_refused_from_the_config(fake_hub, tmp_path):
    message = refused(fake_hub, tmp_path, hub_translation.ModelTooLarge, "d_model", downloaded=["config.json"],
                      config__json=tiny_config(d_model=65536))
    assert "LIMITS" in message


@pytest.mark.parametrize("name", ["model.safetensors", "vocab.json", "source.spm", "config.json"])
def test_a_file_too_large_is_refused_before_any_download(fake_hub, tmp_path, name):
    message = refused(fake_hub, tmp_path, HubFileTooLarge, name, downloaded=[], sizes={name: 10**12})
    assert "nothing was downloaded" in message


def test_weights_larger_than_the_config_needs_are_refused(fake_hub, tmp_path):
    size = 4 * 30_000 + hub_translation.WEIGHTS_SLACK  # the tiny model has about 20,000 parameters
    refused(fake_hub, tmp_path, HubFileTooLarge, "float32 parameters", downloaded=["config.json"],
            sizes={"model.safetensors": size})


@pytest.mark.parametrize("missing", ["source.spm", "vocab.json", "config.json"])
def test_a_repo_without_a_translation_models_files_is_refused(fake_hub, tmp_path, missing):
    refused(fake_hub, tmp_path, CheckpointFileNotFound, missing, downloaded=[], **{missing.replace(".", "__"): None})


def test_the_allow_list_holds_for_translation_models(fake_hub, monkeypatch):
    fake_hub.add_commit(REPO, tiny_marian_files())
    monkeypatch.setenv("S2S_HUB_ALLOWLIST", "org/other")
    with pytest.raises(RepoNotAllowed):
        hub_translation.open_model(REPO)
    assert fake_hub.requests == []


def test_a_malformed_config_is_refused(fake_hub, tmp_path):
    refused(fake_hub, tmp_path, hub_translation.CheckpointError, "JSON", downloaded=["config.json"],
            config__json=b"{not json")
