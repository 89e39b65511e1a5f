"""A long-running serving process's heap: what Python's garbage collector walks, and what glibc gives back.

Two settings, for the server and for its decoding process (decode_worker.py), each made once it is ready:

- `freeze_startup`: a process that has imported torch, gradio and the bundled checkpoints holds about half a
  million objects the cyclic garbage collector walks at every full collection, and serving allocates and
  frees containers all the time, so under load such a collection comes every few seconds: a pause in which
  no request moves, the slowest answers a class gets. What start-up built lives as long as the process, so it
  is moved out of the collector's sight (`gc.freeze`, made for this); a full collection then walks only
  what serving made. The pauses before and after are in docs/speed.md (`python -m bench.app --clients 100`).
- `return_freed_memory`: large blocks come from mappings of their own, given back to the system when freed.

This module knows neither gradio nor torch: ui/serving.py and the decoding process call it.
"""

from __future__ import annotations

import ctypes
import gc

M_MMAP_THRESHOLD = -3  # glibc's mallopt parameter
MMAP_THRESHOLD = 64 * 1024


def freeze_startup() -> int:
    """Collect what start-up left unreachable, then move every object tracked so far out of the collector's
    sight for the life of the process (later collections walk only what is made from now on). Returns how
    many objects are frozen in all."""
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()


def return_freed_memory() -> bool:
    """Make glibc serve every allocation of MMAP_THRESHOLD bytes or more from a mapping of its own, given back to
    the system when freed. By default glibc raises that threshold as blocks are freed, and the temporaries of a
    request's steps then grow the heap, which it keeps: a beam search on a checkpoint at the limits took the
    server's memory up many times what the request holds (`python -m bench.memory` measures both, docs/speed.md).
    False where there is no glibc."""
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return False
    return bool(libc.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD))
