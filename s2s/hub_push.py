"""Publish a checkpoint folder to a Hugging Face Hub repo, with a model card the Hub understands.

Only the checkpoint's own files are sent (checkpoint.REQUIRED_FILES, and OPTIONAL_FILES when present),
after every check loading makes: what is published, anyone can load. The README.md sent is the folder's
card completed by the one card writer (s2s.training.cards.hub_card). `python -m s2s.cli.hub push` runs it.
"""

from __future__ import annotations

import json
from pathlib import Path

import httpx2
from huggingface_hub import CommitOperationAdd, HfApi
from huggingface_hub.errors import HfHubHTTPError

from . import checkpoint
from .checkpoint import CARD, CONFIG, METRICS, OPTIONAL_FILES, REQUIRED_FILES
from .errors import CheckpointError, CheckpointTooLarge, HubError, InvalidCheckpointName
from .hub import endpoint_url, first_line, parse_repo_spec
from .training import cards


def model_card(folder: str | Path, repo_id: str) -> str:
    """README.md for the Hub: the folder's own card (or a short one), its front matter kept and completed with
    library_name, the tags, and an `s2s` block with config.json's settings and metrics.json's numbers."""
    folder = Path(folder)
    config = json.loads(checkpoint.read_bounded(folder / CONFIG))
    metrics = checkpoint.read_metrics(folder) if (folder / METRICS).is_file() else None
    return cards.hub_card(config, checkpoint.read_card(folder), metrics, repo_id)


def push(folder: str | Path, repo_id: str, *, private: bool = False) -> str:
    """Upload checkpoint `folder` to Hub repo `repo_id`, creating it if need be; return the new commit.

    Only the checkpoint's files are sent, with model_card() as README.md. `private` applies when the repo
    is created. Publishing needs HF_TOKEN (or `hf auth login`) with write access. A checkpoint file that is
    a symbolic link is refused (it would publish whatever the link points at), and so is one over
    checkpoint.FILE_LIMITS, and a folder that loading refuses (a config.json that does not match the
    weights, a corrupt tokenizer): no one could load it.
    """
    folder = Path(folder)
    if parse_repo_spec(repo_id)[1] is not None:
        raise InvalidCheckpointName(f"push takes org/name, not {repo_id!r}: it always commits to main")
    _check_folder(folder)
    checkpoint.load(folder, device="cpu")  # every check loading makes, before anything is published
    operations = [CommitOperationAdd(name, folder / name)
                  for name in (*REQUIRED_FILES, *OPTIONAL_FILES) if name != CARD and (folder / name).is_file()]
    operations.append(CommitOperationAdd(CARD, model_card(folder, repo_id).encode("utf-8")))
    api = HfApi(endpoint=endpoint_url())
    try:
        api.create_repo(repo_id, private=private, exist_ok=True)
        commit = api.create_commit(repo_id, operations=operations, commit_message="Upload s2s checkpoint")
    except (HfHubHTTPError, httpx2.TransportError) as error:
        denied = isinstance(error, HfHubHTTPError) and error.response.status_code in (401, 403)
        hint = " Is HF_TOKEN set to a token with write access?" if denied else ""
        raise HubError(f"Pushing to {repo_id} failed: {first_line(error)}.{hint}") from error
    return commit.oid


def _check_folder(folder: Path) -> None:
    """Refuse a folder with a linked checkpoint file, a missing one, or one over checkpoint.FILE_LIMITS."""
    linked = [name for name in (*REQUIRED_FILES, *OPTIONAL_FILES) if (folder / name).is_symlink()]
    if linked:
        raise CheckpointError(
            f"{folder.name}: {', '.join(linked)} {'is a symbolic link' if len(linked) == 1 else 'are symbolic links'}"
            ", and push publishes only regular files (a link would publish whatever it points at): replace "
            "each link with a copy of its file (cp -L), then push again.")
    missing = [name for name in REQUIRED_FILES if not (folder / name).is_file()]
    if missing:
        raise CheckpointError(f"{folder.name or folder}: not a checkpoint folder: {', '.join(missing)} missing")
    for name in (*REQUIRED_FILES, *OPTIONAL_FILES):
        if (folder / name).is_file() and (folder / name).stat().st_size > checkpoint.FILE_LIMITS[name]:
            raise CheckpointTooLarge(
                f"{folder.name}: {name} has {(folder / name).stat().st_size:,} bytes, above the limit of "
                f"{checkpoint.FILE_LIMITS[name]:,} (checkpoint.FILE_LIMITS) that loading enforces: no one could "
                "load it. Train a smaller model, or trim the file.")
