"""Models trained in the page, kept for their own page (s2s/web/trained.py), on an injected clock."""

from __future__ import annotations

import hashlib
import itertools

import pytest

from s2s.web import trained


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_names_are_fresh_random_and_cannot_be_derived_from_the_page():
    store = trained.TrainedModels(capacity=100)
    names = [store.add(f"page-{i}", object()) for i in range(50)]
    assert len(set(names)) == 50 and all(trained.is_trained_name(name) for name in names)
    # the old name was a function of the page's id: nothing of the id's hash is in the new one
    assert all(hashlib.sha256(f"page-{i}".encode()).hexdigest()[:8] not in name for i, name in enumerate(names))


def test_pages_whose_old_names_collided_keep_their_own_models():
    """Reproduces the attack: two page ids with the same first 8 hex digits of sha256 (found by search) got one
    name, and the second page's model replaced the first's. Now each keeps its own."""
    seen = {}
    for i in itertools.count():
        page = f"attacker-{i}"
        prefix = hashlib.sha256(page.encode()).hexdigest()[:4]  # 16 bits: a collision in a few hundred tries
        if prefix in seen:
            first, second = seen[prefix], page
            break
        seen[prefix] = page
    store = trained.TrainedModels()
    mine, theirs = object(), object()
    name = store.add(first, mine)
    other = store.add(second, theirs)
    assert name != other and store.get(name) is mine and store.get(other) is theirs


def test_other_pages_never_evict_a_model_in_use_and_a_full_store_says_when_a_place_frees():
    clock = Clock()
    store = trained.TrainedModels(capacity=3, keep_s=600, clock=clock)
    mine = object()
    name = store.add("me", mine)
    for i in range(2):
        store.add(f"other-{i}", object())
    clock.now = 120
    with pytest.raises(trained.StoreFull, match="try again in 8 min"):
        store.add("attacker", object())  # the oldest was used 120 s ago, kept 600 s: 480 s = 8 min to wait
    for _ in range(8):  # quick runs from many pages change nothing for me
        with pytest.raises(trained.StoreFull):
            store.add(f"script-{_}", object())
    assert store.get(name) is mine and len(store) == 3


def test_a_model_unused_for_keep_s_is_dropped_and_using_it_keeps_it():
    clock = Clock()
    store = trained.TrainedModels(capacity=2, keep_s=600, clock=clock)
    used, idle = store.add("used", "a"), store.add("idle", "b")
    clock.now = 500
    assert store.get(used) == "a"  # used at 500: kept until 1100
    clock.now = 700
    assert store.get(idle) is None and store.get(used) == "a"
    assert store.add("newcomer", "c")  # the idle one's place
    assert store.name_of("used") == used and store.name_of("idle") is None


def test_a_page_keeps_only_its_latest_model():
    store = trained.TrainedModels(capacity=2)
    first = store.add("page", "v1")
    second = store.add("page", "v2")
    assert store.get(first) is None and store.get(second) == "v2" and len(store) == 1
    with pytest.raises(ValueError, match="reload the page"):
        store.add("", "no page")


def test_a_closed_page_s_model_goes_and_only_its_own():
    store = trained.TrainedModels(capacity=4)
    mine, theirs = store.add("closing", "mine"), store.add("open", "theirs")
    assert store.drop("closing") and not store.drop("closing")
    assert store.get(mine) is None and store.get(theirs) == "theirs" and len(store) == 1
