"""Find a checkpoint folder: a bundled name, a local folder, or a Hugging Face Hub repo "org/name[@revision]".

Hub checkpoints land in huggingface_hub's cache (HF_HUB_CACHE, or HF_HOME/hub), so a second load needs no
network and a checkpoint pinned to a commit never asks the Hub again. HF_ENDPOINT, HF_HUB_OFFLINE and
HF_TOKEN are honoured as huggingface_hub honours them. Each metadata request waits at most S2S_HUB_TIMEOUT
seconds (default 10) for an answer, a file body at most HF_HUB_DOWNLOAD_TIMEOUT seconds between two chunks;
when the Hub cannot be reached, a cached copy is used if there is one.

    python -m s2s.hub push FOLDER org/name [--private]   # prints org/name@<commit>, the spec to pin
    python -m s2s.hub pull org/name[@revision]            # fills the cache ahead of time, prints the folder
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import sys
from pathlib import Path

import httpx2
from huggingface_hub import (
    CommitOperationAdd,
    HfApi,
    ModelCard,
    constants,
    get_token,
    hf_hub_download,
    try_to_load_from_cache,
)
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

from .errors import (
    CheckpointError,
    CheckpointFileNotFound,
    HubError,
    HubTimeout,
    HubUnreachable,
    InvalidCheckpointName,
    RepoNotFound,
    RevisionNotFound,
    S2SError,
)

REQUIRED_FILES = ("config.json", "model.safetensors", "source.model", "target.model")
OPTIONAL_FILES = ("README.md", "metrics.json")
BUNDLED_DIR = Path(__file__).resolve().parent.parent / "checkpoints"
TIMEOUT = float(os.environ.get("S2S_HUB_TIMEOUT", "10"))  # seconds to wait for the Hub to answer a request

LIBRARY_NAME = "s2s-attention-explorer"
CARD_TAGS = ("seq2seq", "attention", "lstm", LIBRARY_NAME)
CARD_SETTINGS = ("task", "model", "score", "query", "trained_mask", "emb_size", "hidden_size", "num_layers")
HUB_FORM = (
    "'org/name' or 'org/name@revision' (org and name: letters, digits, '-', '_' and '.', "
    "at most 96 characters, no '--' or '..'; revision: a branch, a tag or a 40-hex commit)"
)

log = logging.getLogger(__name__)
_COMMIT = re.compile(r"[0-9a-f]{40}")
_REVISION = re.compile(r"[A-Za-z0-9][A-Za-z0-9._/-]{0,254}")


def list_bundled() -> list[str]:
    """Names of the checkpoints shipped in checkpoints/ (each a folder with a config.json)."""
    if not BUNDLED_DIR.is_dir():
        return []
    return sorted(p.name for p in BUNDLED_DIR.iterdir() if (p / "config.json").is_file())


def hub_checkpoints() -> list[str]:
    """The Hub specs listed in S2S_HUB_CHECKPOINTS (comma separated); malformed ones are logged, skipped."""
    specs = []
    for spec in os.environ.get("S2S_HUB_CHECKPOINTS", "").split(","):
        spec = spec.strip()
        if not spec:
            continue
        try:
            parse_repo_spec(spec)
        except InvalidCheckpointName as error:
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
    if spec in list_bundled():
        return BUNDLED_DIR / spec
    if spec and Path(spec).expanduser().is_dir():
        return Path(spec).expanduser().resolve()
    try:
        repo_id, revision = parse_repo_spec(spec)
    except InvalidCheckpointName:
        bundled = ", ".join(list_bundled()) or "none installed"
        raise InvalidCheckpointName(
            f"No checkpoint called {spec!r}. Give a bundled name ({bundled}), the path of a checkpoint "
            f"folder, or a Hub repo: {HUB_FORM}."
        ) from None
    return download(repo_id, revision, timeout=timeout)


def download(repo_id: str, revision: str | None = None, *, timeout: float | None = None) -> Path:
    """Fetch checkpoint `repo_id` at `revision` (default main) into the cache; return its snapshot folder.

    One request (the model info) finds the commit and the file list, so a missing repo, revision or file
    fails before anything is downloaded; the files are then fetched pinned to that commit, so all come from
    the same one even if the branch moves meanwhile. When the Hub cannot be reached (offline mode, no
    network, no answer within `timeout`, an outage) a complete cached copy is used instead, with a warning.
    """
    repo_id, revision = parse_repo_spec(f"{repo_id}@{revision or constants.DEFAULT_REVISION}")
    timeout = TIMEOUT if timeout is None else timeout
    cache_dir = constants.HF_HUB_CACHE  # read at call time, like the endpoint, so tests can move it
    cached = _cached_snapshot(repo_id, revision, cache_dir)
    if cached is not None and _COMMIT.fullmatch(revision):
        return cached  # a commit never changes: no need to ask the Hub
    if constants.is_offline_mode():
        if cached is not None:
            return cached
        raise HubUnreachable(
            f"HF_HUB_OFFLINE is set and {repo_id}@{revision} is not in the cache ({cache_dir}): "
            "unset HF_HUB_OFFLINE, or run `python -m s2s.hub pull` while online."
        )
    endpoint = _endpoint()
    try:
        info = HfApi(endpoint=endpoint).model_info(repo_id, revision=revision, timeout=timeout)
        commit = info.sha or revision
        present = {sibling.rfilename for sibling in info.siblings or ()}
        missing = [name for name in REQUIRED_FILES if name not in present]
        if missing:
            raise CheckpointFileNotFound(
                f"{repo_id}@{revision} is not a checkpoint: it lacks {', '.join(missing)} "
                f"(a checkpoint needs {', '.join(REQUIRED_FILES)})."
            )
        paths = [
            hf_hub_download(repo_id, name, revision=commit, cache_dir=cache_dir, endpoint=endpoint,
                            etag_timeout=timeout)
            for name in (*REQUIRED_FILES, *OPTIONAL_FILES) if name in present
        ]
    except (HfHubHTTPError, httpx2.TransportError, OfflineModeIsEnabled, LocalEntryNotFoundError) as error:
        problem = _as_hub_error(error, repo_id, revision, endpoint, timeout)
        if isinstance(problem, (HubUnreachable, HubTimeout)) and cached is not None:
            log.warning("Could not reach the Hub at %s (%s); using the cached copy of %s@%s.",
                        endpoint, type(error).__name__, repo_id, revision)
            return cached
        raise problem from error
    if revision != commit:
        _remember_ref(cache_dir, repo_id, revision, commit)
    return Path(paths[0]).parent


def model_card(folder: str | Path, repo_id: str) -> str:
    """README.md for the Hub: the folder's own card (or a short one) with front matter the Hub understands.

    The front matter gains library_name, the tags, and an `s2s` block with the task and attention settings
    from config.json and the numbers in metrics.json; front matter the card already has is kept.
    """
    folder = Path(folder)
    config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    readme = folder / "README.md"
    if readme.is_file():
        card = ModelCard(readme.read_text(encoding="utf-8"))
    else:
        card = ModelCard(
            f"# {repo_id}\n\nAn LSTM encoder-decoder ({config.get('model', 'attention')}, task: "
            f"{config.get('task', 'unknown')}) trained with the Seq2Seq Attention Explorer.\n\n"
            f'```python\nimport s2s\nmodel = s2s.load("{repo_id}")\n```\n'
        )
    card.data.library_name = LIBRARY_NAME
    card.data.tags = list(dict.fromkeys([*(card.data.tags or []), *CARD_TAGS]))
    settings = {key: config[key] for key in CARD_SETTINGS if key in config}
    if (folder / "metrics.json").is_file():
        settings["metrics"] = json.loads((folder / "metrics.json").read_text(encoding="utf-8"))
    card.data.s2s = settings
    return str(card)


def push(folder: str | Path, repo_id: str, *, private: bool = False) -> str:
    """Upload checkpoint `folder` to Hub repo `repo_id`, creating it if need be; return the new commit.

    Only the checkpoint's files are sent, with model_card() as README.md. `private` applies when the repo
    is created. Publishing needs HF_TOKEN (or `hf auth login`) with write access.
    """
    folder = Path(folder)
    if parse_repo_spec(repo_id)[1] is not None:
        raise InvalidCheckpointName(f"push takes org/name, not {repo_id!r}: it always commits to main")
    missing = [name for name in REQUIRED_FILES if not (folder / name).is_file()]
    if missing:
        raise CheckpointError(f"{folder} is not a checkpoint folder: {', '.join(missing)} missing")
    operations = [CommitOperationAdd(name, folder / name)
                  for name in (*REQUIRED_FILES, "metrics.json") if (folder / name).is_file()]
    operations.append(CommitOperationAdd("README.md", model_card(folder, repo_id).encode("utf-8")))
    api = HfApi(endpoint=_endpoint())
    try:
        api.create_repo(repo_id, private=private, exist_ok=True)
        commit = api.create_commit(repo_id, operations=operations, commit_message="Upload s2s checkpoint")
    except (HfHubHTTPError, httpx2.TransportError) as error:
        denied = isinstance(error, HfHubHTTPError) and error.response.status_code in (401, 403)
        hint = " Is HF_TOKEN set to a token with write access?" if denied else ""
        raise HubError(f"Pushing to {repo_id} failed: {_first_line(error)}.{hint}") from error
    return commit.oid


def _is_revision(revision: str) -> bool:
    """A git-like branch, tag or commit name that cannot escape the cache folder it names."""
    return (bool(_REVISION.fullmatch(revision)) and ".." not in revision and "//" not in revision
            and not revision.endswith("/"))


def _endpoint() -> str:
    """The Hub's address from HF_ENDPOINT, read at call time (huggingface_hub reads it once, at import)."""
    return (os.environ.get("HF_ENDPOINT") or constants.ENDPOINT).rstrip("/")


def _cached_snapshot(repo_id: str, revision: str, cache_dir: str) -> Path | None:
    """The cached snapshot folder of repo_id@revision if it holds every required file, else None."""
    paths = [try_to_load_from_cache(repo_id, name, cache_dir=cache_dir, revision=revision)
             for name in REQUIRED_FILES]
    if all(isinstance(path, str) for path in paths):
        return Path(paths[0]).parent
    return None


def _remember_ref(cache_dir: str, repo_id: str, revision: str, commit: str) -> None:
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
    reason = f"it answered HTTP {status}" if status else _first_line(error) or type(error).__name__
    return HubUnreachable(f"Cannot reach the Hub at {endpoint} ({reason}) and {where} is not in the cache. "
                          "Check the network (and HF_ENDPOINT), or load a bundled checkpoint.")


def _first_line(error: Exception) -> str:
    return next((line.strip() for line in str(error).splitlines() if line.strip()), "")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m s2s.hub", description="Publish or prefetch checkpoints.")
    commands = parser.add_subparsers(dest="command", required=True)
    push_parser = commands.add_parser("push", help="upload a checkpoint folder, print org/name@<commit>")
    push_parser.add_argument("folder", type=Path)
    push_parser.add_argument("repo_id", help="org/name; the repo is created if it does not exist")
    push_parser.add_argument("--private", action="store_true", help="create the repo private")
    pull_parser = commands.add_parser("pull", help="download a checkpoint into the cache, print its folder")
    pull_parser.add_argument("spec", help="org/name or org/name@revision")
    args = parser.parse_args(argv)
    try:
        if args.command == "push":
            print(f"{args.repo_id}@{push(args.folder, args.repo_id, private=args.private)}")
        else:
            print(download(*parse_repo_spec(args.spec)))
    except S2SError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except Exception as error:  # a command line answers in one line, not a traceback (e.g. a bad README)
        print(f"error: {type(error).__name__}: {_first_line(error)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
