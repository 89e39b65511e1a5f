"""A serving process's heap (s2s/web/heap.py): what start-up built is out of the garbage collector's walks."""

from __future__ import annotations

import gc
import weakref

from s2s.web import heap


class Node:
    """An object that can hold itself: a reference cycle, which only the cyclic collector can free."""


def test_what_exists_at_start_up_is_frozen_and_what_serving_makes_is_still_collected():
    kept = Node()
    kept.me = kept  # a cycle that is still in use
    garbage = Node()
    garbage.me = garbage  # a cycle nothing reaches any more: start-up's garbage
    garbage_alive = weakref.ref(garbage)
    del garbage
    gc.disable()  # no collection of its own between these lines
    try:
        frozen = heap.freeze_startup()
        assert garbage_alive() is None  # collected first, not frozen for the life of the process
        # Python's own account of the collector: frozen objects are in no generation it walks
        assert frozen == gc.get_freeze_count() > 0
        assert not any(found is kept for found in gc.get_objects())
        later = Node()
        later.me = later
        later_alive = weakref.ref(later)
        assert any(found is later for found in gc.get_objects())
        del later
        gc.collect()
        assert later_alive() is None  # what serving makes and drops is collected as before
    finally:
        gc.unfreeze()
        gc.enable()
    assert any(found is kept for found in gc.get_objects())  # unfrozen again for the other tests

