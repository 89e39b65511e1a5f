"""Find a checkpoint folder: a bundled name, a local folder, or a Hugging Face Hub repo "org/name[@revision]".

Hub checkpoints land in huggingface_hub's cache (HF_HUB_CACHE, or HF_HOME/hub), so a second load needs no
network and a checkpoint pinned to a commit never asks the Hub again. HF_ENDPOINT, HF_HUB_OFFLINE and
HF_TOKEN are honoured as huggingface_hub honours them. Each metadata request waits at most S2S_HUB_TIMEOUT
seconds (default 10) for an answer, a file body at most HF_HUB_DOWNLOAD_TIMEOUT seconds between two chunks;
when the Hub cannot be reached, a cached copy is used if there is one.

A Hub repo is untrusted. Before anything is downloaded, its file list and sizes are checked: only the
checkpoint's files (checkpoint.REQUIRED_FILES, OPTIONAL_FILES) are fetched, each within checkpoint.FILE_LIMITS.
S2S_HUB_ALLOWLIST (comma-separated repo ids; unset or "*": any) limits which repos may be loaded at all
(check_allowed). The cache holds one copy per commit, whatever the spelling ("Org/Name", "org/name@main",
"org/name@<sha>"): resolve_commit(spec) names that commit, for a caller to key its own cache on. After each
download the cache is trimmed (s2s/hub_cache.py); publishing a checkpoint is s2s/hub_push.py. The command
line over both: `python -m s2s.cli.hub push|pull`.
"""

from __future__ import annotations

import logging
import os
import re
from pathlib import Path

import httpx2
from huggingface_hub import HfApi, constants, get_token, hf_hub_download, try_to_load_from_cache
from huggingface_hub.errors import (
    HfHubHTTPError,
    LocalEntryNotFoundError,
    OfflineModeIsEnabled,
    RemoteEntryNotFoundError,
    RepositoryNotFoundError,
    RevisionNotFoundError,
)
from huggingface_hub.file_download import repo_folder_name
from huggingface_hub.utils import HFValidationError, validate_repo_id

from . import checkpoint, environment, hub_cache
from .checkpoint import OPTIONAL_FILES, REQUIRED_FILES
from .errors import (
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

TIMEOUT = environment.number("S2S_HUB_TIMEOUT", 10.0, minimum=0.1)  # seconds to wait for the Hub to answer
HUB_FORM = (
    "'org/name' or 'org/name@revision' (org and name: letters, digits, '-', '_' and '.', "
    "at most 96 characters, no '--' or '..'; revision: a branch, a tag or a 40-hex commit)"
)

log = logging.getLogger(__name__)
_COMMIT = re.compile(r"[0-9a-f]{40}")
_REVISION = re.compile(r"[A-Za-z0-9][A-Za-z0-9._/-]{0,254}")


def hub_checkpoints() -> list[str]:
    """The Hub specs listed in S2S_HUB_CHECKPOINTS (comma separated); malformed ones are logged, skipped."""
    specs = []
    for spec in os.environ.get("S2S_HUB_CHECKPOINTS", "").split(","):
        spec = spec.strip()
        if not spec:
            continue
        try:
            check_allowed(parse_repo_spec(spec)[0])
        except (InvalidCheckpointName, RepoNotAllowed) as error:
            log.warning("S2S_HUB_CHECKPOINTS: skipping %s", error)
            continue
        specs.append(spec)
    return list(dict.fromkeys(specs))


def parse_repo_spec(spec: str) -> tuple[str, str | None]:
    """Split "org/name[@revision]" into (repo id, revision or None), refusing anything malformed.

    This runs before any request and before anything is written to the cache, whose folders are named
    after both parts: "../../etc", or a revision like "../x", must never reach huggingface_hub.
    """
    repo_id, at, revision = spec.partition("@")
    try:
        if repo_id.count("/") != 1:
            raise HFValidationError("exactly one '/' is needed")
        validate_repo_id(repo_id)
    except HFValidationError:
        raise InvalidCheckpointName(f"{spec!r} is not a Hub repo: expected {HUB_FORM}") from None
    if at and not _is_revision(revision):
        raise InvalidCheckpointName(f"{spec!r} has a malformed revision {revision!r}: expected {HUB_FORM}")
    return repo_id, revision or None


def resolve(spec: str, *, timeout: float | None = None) -> Path:
    """The local folder holding the checkpoint `spec` names, downloading it from the Hub if need be.

    `spec` is tried as a bundled name, then as an existing folder, then as a Hub repo "org/name[@revision]".
    `timeout` (seconds, default TIMEOUT) bounds each metadata request to the Hub.
    """
    spec = spec.strip()
    if spec in checkpoint.list_bundled():
        return checkpoint.BUNDLED_DIR / spec
    if spec and Path(spec).expanduser().is_dir():
        return Path(spec).expanduser().resolve()
    try:
        repo_id, revision = parse_repo_spec(spec)
    except InvalidCheckpointName:
        bundled = ", ".join(checkpoint.list_bundled()) or "none installed"
        raise InvalidCheckpointName(
            f"No checkpoint called {spec!r}. Give a bundled name ({bundled}), the path of a checkpoint "
            f"folder, or a Hub repo: {HUB_FORM}."
        ) from None
    return download(repo_id, revision, timeout=timeout)


def allowlist() -> frozenset[str] | None:
    """The repo ids S2S_HUB_ALLOWLIST permits, in lower case; None when any repo may be loaded (unset or "*")."""
    entries = {entry.strip().lower() for entry in os.environ.get("S2S_HUB_ALLOWLIST", "").split(",")}
    entries.discard("")
    if not entries or "*" in entries:
        return None
    return frozenset(entries)


def check_allowed(repo_id: str) -> None:
    """Raise RepoNotAllowed unless S2S_HUB_ALLOWLIST permits Hub repo `repo_id` (ids compare case-insensitively).

    download and resolve_commit call this before any request; it needs no network.
    """
    allowed = allowlist()
    if allowed is not None and repo_id.lower() not in allowed:
        raise RepoNotAllowed(
            f"This server only loads the Hub repos in its allow-list (S2S_HUB_ALLOWLIST), and {repo_id!r} is "
            "not one of them: choose a listed checkpoint, or ask whoever runs the server to add it.")


def resolve_commit(spec: str, *, timeout: float | None = None) -> tuple[str, str]:
    """(repo id as the Hub spells it, 40-hex commit) that Hub spec "org/name[@revision]" names now.

    Every spelling of one commit ("Org/Name", "org/name@main", "org/name@<sha>") gives the same pair, so a
    cache of loaded models keyed on it loads each commit once; download(*resolve_commit(spec)) then gives
    its folder. It asks the Hub for a branch or tag (one request, nothing downloaded), not for a cached
    commit; offline or with the Hub unreachable it answers from the cache. Raises what download raises
    (InvalidCheckpointName, RepoNotAllowed, RepoNotFound, RevisionNotFound, HubUnreachable, HubTimeout).
    """
    repo_id, revision = parse_repo_spec(spec.strip())
    found_id, commit, _ = _locate(repo_id, revision, timeout, fetch=False)
    return found_id, commit


def download(repo_id: str, revision: str | None = None, *, timeout: float | None = None) -> Path:
    """Fetch checkpoint `repo_id` at `revision` (default main) into the cache; return its snapshot folder.

    The folder is named after the commit (…/models--org--name/snapshots/<commit>) and is the same for every
    spelling of that commit. One request (the model info, with file sizes) finds the commit and the file
    list, so a missing repo, revision or file, or a file over checkpoint.FILE_LIMITS, fails before anything
    is downloaded; the files are then fetched pinned to that commit, so all come from the same one even if
    the branch moves meanwhile. When the Hub cannot be reached (offline mode, no network, no answer within
    `timeout`, an outage) a complete cached copy is used instead, with a warning. After a download the
    cache is trimmed to S2S_HUB_CACHE_MAX_BYTES (hub_cache.evict).
    """
    repo_id, revision = parse_repo_spec(f"{repo_id}@{revision or constants.DEFAULT_REVISION}")
    return _locate(repo_id, revision, timeout, fetch=True)[2]


def _locate(repo_id: str, revision: str | None, timeout: float | None, *, fetch: bool) -> tuple[str, str, Path]:
    """(repo id as spelled by the Hub or the cache, commit, snapshot folder); with `fetch`, downloaded."""
    check_allowed(repo_id)
    revision = revision or constants.DEFAULT_REVISION
    timeout = TIMEOUT if timeout is None else timeout
    cache_dir = constants.HF_HUB_CACHE  # read at call time, like the endpoint, so tests can move it
    cached_id = _cached_repo_id(repo_id, cache_dir)
    cached = _cached_snapshot(cached_id, revision, cache_dir)
    if cached is not None and (_COMMIT.fullmatch(revision) or constants.is_offline_mode()):
        return cached_id, cached.name, _touch(cached)  # a commit never changes: no need to ask the Hub
    if constants.is_offline_mode():
        raise HubUnreachable(
            f"HF_HUB_OFFLINE is set and {repo_id}@{revision} is not in this server's Hub cache: unset "
            f"HF_HUB_OFFLINE, or run `python -m s2s.cli.hub pull {repo_id}@{revision}` while online."
        )
    endpoint = endpoint_url()
    fetched = False
    try:
        info = HfApi(endpoint=endpoint).model_info(repo_id, revision=revision, timeout=timeout,
                                                   files_metadata=True)
        found_id = info.id if info.id and info.id.lower() == repo_id.lower() else repo_id
        commit = info.sha or revision
        names = _checkpoint_files(info, f"{repo_id}@{revision}")
        folder = _cached_snapshot(found_id, commit, cache_dir, names)
        if folder is None and fetch:
            paths = [hf_hub_download(found_id, name, revision=commit, cache_dir=cache_dir, endpoint=endpoint,
                                     etag_timeout=timeout) for name in names]
            folder, fetched = Path(paths[0]).parent, True
    except (HfHubHTTPError, httpx2.TransportError, OfflineModeIsEnabled, LocalEntryNotFoundError) as error:
        problem = _as_hub_error(error, repo_id, revision, endpoint, timeout)
        if isinstance(problem, (HubUnreachable, HubTimeout)) and cached is not None:
            log.warning("Could not reach the Hub at %s (%s); using the cached copy of %s@%s.",
                        endpoint, type(error).__name__, repo_id, revision)
            return cached_id, cached.name, _touch(cached)
        raise problem from error
    if folder is not None and revision != commit:
        remember_ref(cache_dir, found_id, revision, commit)
    if folder is not None:
        _touch(folder)
    if fetched:
        hub_cache.evict(cache_dir, keep=folder)
    return found_id, commit, folder


def _checkpoint_files(info: object, where: str) -> list[str]:
    """The checkpoint files of a repo (model info with files_metadata) to download, once checked.

    Raises CheckpointFileNotFound if a required file is missing, HubFileTooLarge if one is over
    checkpoint.FILE_LIMITS (or of a size the Hub did not say). Other files are never downloaded.
    """
    sizes = {}
    for sibling in info.siblings or ():
        reported = [size for size in (sibling.size, sibling.lfs.size if sibling.lfs else None) if size is not None]
        sizes[sibling.rfilename] = max(reported) if reported else None
    missing = [name for name in REQUIRED_FILES if name not in sizes]
    if missing:
        raise CheckpointFileNotFound(
            f"{where} is not a checkpoint: it lacks {', '.join(missing)} "
            f"(a checkpoint needs {', '.join(REQUIRED_FILES)})."
        )
    names = [name for name in (*REQUIRED_FILES, *OPTIONAL_FILES) if name in sizes]
    for name in names:
        limit = checkpoint.FILE_LIMITS[name]
        if sizes[name] is None:
            raise HubFileTooLarge(f"{where}: the Hub did not say how large {name} is, so it was not downloaded "
                                  "(a checkpoint's files must stay within checkpoint.FILE_LIMITS).")
        if sizes[name] > limit:
            raise HubFileTooLarge(
                f"{where}: {name} has {sizes[name]:,} bytes, above this app's limit of {limit:,} "
                "(checkpoint.FILE_LIMITS), so nothing was downloaded: choose a smaller checkpoint, or trim "
                f"{name} and push it again."
            )
    return names


def _is_revision(revision: str) -> bool:
    """A git-like branch, tag or commit name that cannot escape the cache folder it names."""
    return (bool(_REVISION.fullmatch(revision)) and ".." not in revision and "//" not in revision
            and not revision.endswith("/"))


def endpoint_url() -> str:
    """The Hub's address from HF_ENDPOINT, read at call time (huggingface_hub reads it once, at import)."""
    return (os.environ.get("HF_ENDPOINT") or constants.ENDPOINT).rstrip("/")


def _cached_snapshot(repo_id: str, revision: str, cache_dir: str,
                     names: tuple[str, ...] | list[str] = REQUIRED_FILES) -> Path | None:
    """The cached snapshot folder of repo_id@revision if it holds every file in `names`, else None."""
    paths = [try_to_load_from_cache(repo_id, name, cache_dir=cache_dir, revision=revision) for name in names]
    if all(isinstance(path, str) for path in paths):
        return Path(paths[0]).parent
    return None


def _cached_repo_id(repo_id: str, cache_dir: str) -> str:
    """repo_id spelled as in the cache's folder names (Hub ids ignore case), or as given if none matches."""
    wanted = repo_folder_name(repo_id=repo_id, repo_type="model")
    try:
        if (Path(cache_dir) / wanted).is_dir():
            return repo_id
        for entry in Path(cache_dir).iterdir():
            if entry.name.lower() == wanted.lower() and entry.is_dir():
                return entry.name.split("--", 1)[1].replace("--", "/")
    except OSError:  # no cache yet
        pass
    return repo_id


def _touch(folder: Path) -> Path:
    """Mark a cached snapshot as just used (its folder's time), for hub_cache.evict's least-recently-used order."""
    try:
        os.utime(folder)
    except OSError:  # a read-only cache: it is then never trimmed either
        pass
    return folder


def remember_ref(cache_dir: str, repo_id: str, revision: str, commit: str) -> None:
    """Record in the cache that branch or tag `revision` is `commit`, so that offline resolves find it.

    hf_hub_download(revision=<commit>) records no ref; this writes one as huggingface_hub's cache layout
    has it (refs/<revision> holds the commit), atomically so a concurrent reader never sees half of it.
    """
    ref = Path(cache_dir) / repo_folder_name(repo_id=repo_id, repo_type="model") / "refs" / revision
    ref.parent.mkdir(parents=True, exist_ok=True)
    partial = ref.with_name(f"{ref.name}.{os.getpid()}.tmp")
    partial.write_text(commit)
    partial.replace(ref)


def _as_hub_error(error: Exception, repo_id: str, revision: str, endpoint: str, timeout: float) -> HubError:
    """The error to show for what huggingface_hub or the HTTP client raised, assuming nothing is cached."""
    where = f"{repo_id}@{revision}"
    status = error.response.status_code if isinstance(error, HfHubHTTPError) else None
    if isinstance(error, RepositoryNotFoundError) or status in (401, 403):
        token = ("HF_TOKEN is set but that token cannot read it" if get_token()
                 else "set HF_TOKEN to a token that can read it (none is set)")
        return RepoNotFound(f"The Hub at {endpoint} has no repository {repo_id!r} you can read. "
                            f"Check the name; if the repository is private or gated, {token}.")
    if isinstance(error, RevisionNotFoundError):
        return RevisionNotFound(f"{repo_id!r} has no branch, tag or commit {revision!r}.")
    if isinstance(error, RemoteEntryNotFoundError):
        name = error.response.url.path.rsplit("/", 1)[-1]
        return CheckpointFileNotFound(f"{where} lacks {name}, which every checkpoint needs.")
    if isinstance(error, (httpx2.ReadTimeout, httpx2.WriteTimeout, httpx2.PoolTimeout)):
        return HubTimeout(f"The Hub at {endpoint} did not answer within {timeout:g} s and {where} is not "
                          "in the cache. Try again later, or set S2S_HUB_TIMEOUT to wait longer.")
    reason = f"it answered HTTP {status}" if status else first_line(error) or type(error).__name__
    return HubUnreachable(f"Cannot reach the Hub at {endpoint} ({reason}) and {where} is not in the cache. "
                          "Check the network (and HF_ENDPOINT), or load a bundled checkpoint.")


def first_line(error: Exception) -> str:
    return next((line.strip() for line in str(error).splitlines() if line.strip()), "")
