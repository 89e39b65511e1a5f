"""The Hub cache, bounded in bytes: least recently used checkpoints go first, other repos are never touched.

s2s.hub downloads a checkpoint into huggingface_hub's cache, marks each snapshot it uses with the time
(its folder's mtime), and calls evict() after every download: beyond S2S_HUB_CACHE_MAX_BYTES (default
CACHE_MAX_BYTES; 0: no limit) the least recently used checkpoints are deleted. Only revisions that hold a
checkpoint and nothing else count, so a cache shared with other applications keeps their models.
"""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path

from huggingface_hub import CachedRevisionInfo, HFCacheInfo, constants, scan_cache_dir

from . import environment
from .checkpoint import OPTIONAL_FILES, REQUIRED_FILES
from .errors import one_line

CACHE_MAX_BYTES = 500_000_000  # default of S2S_HUB_CACHE_MAX_BYTES: room for 4 checkpoints at FILE_LIMITS
EVICT_GRACE_S = 60.0  # a checkpoint used this recently is never evicted (another request may be loading it)

log = logging.getLogger(__name__)
_EVICTING = threading.Lock()


def cache_budget() -> int | None:
    """S2S_HUB_CACHE_MAX_BYTES as a number of bytes (default CACHE_MAX_BYTES); None for no limit (0)."""
    budget = environment.count("S2S_HUB_CACHE_MAX_BYTES", CACHE_MAX_BYTES, minimum=0)
    return budget if budget > 0 else None


def evict(cache_dir: str | Path | None = None, *, keep: Path | None = None) -> list[str]:
    """Delete the least recently used checkpoints from the Hub cache beyond cache_budget(); return them.

    Only revisions holding a checkpoint (its required files, nothing but checkpoint files) count and may
    be deleted: other repos in a shared cache are left alone. `keep` (a snapshot folder) and anything used
    within EVICT_GRACE_S seconds are kept, even if the cache then stays over budget. Deleting is best
    effort: a failure is logged, never raised. Returns the "org/name@commit" of each revision deleted.
    """
    budget = cache_budget()
    if budget is None:
        return []
    with _EVICTING:
        try:
            info = scan_cache_dir(Path(cache_dir or constants.HF_HUB_CACHE))
            victims = _least_recently_used(_checkpoints(info), budget, keep, time.time())
            if victims:
                info.delete_revisions(*(rev.commit_hash for _, rev in victims)).execute()
                log.info("Hub cache over %d bytes: deleted %s", budget,
                         ", ".join(f"{repo_id}@{rev.commit_hash[:8]}" for repo_id, rev in victims))
            return [f"{repo_id}@{rev.commit_hash}" for repo_id, rev in victims]
        except Exception as error:  # a full cache must never fail a load
            log.warning("Could not trim the Hub cache: %s: %s", type(error).__name__, one_line(str(error)))
            return []


def _checkpoints(info: HFCacheInfo) -> list[tuple[float, str, CachedRevisionInfo]]:
    """(last used, repo id, revision) of each cached revision that holds a checkpoint and nothing else."""
    ours = []
    for repo in info.repos:
        if repo.repo_type != "model":
            continue
        for rev in repo.revisions:
            names = {file.file_name for file in rev.files}
            if set(REQUIRED_FILES) <= names <= {*REQUIRED_FILES, *OPTIONAL_FILES}:
                ours.append((rev.snapshot_path.stat().st_mtime, repo.repo_id, rev))
    return ours


def _least_recently_used(ours: list[tuple[float, str, CachedRevisionInfo]], budget: int, keep: Path | None,
                         now: float) -> list[tuple[str, CachedRevisionInfo]]:
    """The (repo id, revision)s to delete, oldest use first, until the rest fit in `budget` bytes."""
    total = sum(rev.size_on_disk for _, _, rev in ours)
    victims = []
    for used, repo_id, rev in sorted(ours, key=lambda entry: entry[0]):
        if total <= budget:
            break
        if (keep is not None and rev.snapshot_path == Path(keep)) or now - used < EVICT_GRACE_S:
            continue
        victims.append((repo_id, rev))
        total -= rev.size_on_disk
    return victims
