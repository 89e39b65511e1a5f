"""s2s/hub_cache.py: the Hub cache is bounded in bytes, least recently used checkpoint first, other repos untouched."""

import os

import pytest
from huggingface_hub import hf_hub_download, scan_cache_dir

from s2s import hub, hub_cache
from tests.fake_hub import hub_files, version


@pytest.mark.slow  # downloads a series of checkpoints
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
    assert hub_cache.cache_budget() is None and hub_cache.evict() == []
