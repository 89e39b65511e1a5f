"""The exceptions the library raises, each with a message a lecturer can act on.

Every one is an ``S2SError``; those caused by a bad value a person typed are
also ``ValueError``s, so ``except ValueError`` catches all bad input.

A message is always one line (line breaks in it are folded into spaces), so that an expected
error can be logged as one line and shown to a visitor as it is.
"""

import re

_LINE_BREAKS = re.compile(r"\s*[\r\n\v\f\x1c-\x1e\x85\u2028\u2029]+\s*")


class S2SError(Exception):
    """Base class of every error this package raises on purpose."""

    def __init__(self, *args: object) -> None:
        if args and isinstance(args[0], str):
            args = (one_line(args[0]), *args[1:])
        super().__init__(*args)


SHOWN_CHARS = 60  # of a refused value in a message: a hostile config.json or request must not make it huge


def check_choice(name: str, value: object, allowed, error: type[Exception] = ValueError) -> None:
    """Raise `error` unless `value` is one of `allowed`: the one wording of "must be one of" in the project."""
    if value not in allowed:
        shown = repr(value)
        shown = shown if len(shown) <= SHOWN_CHARS else shown[: SHOWN_CHARS - 1] + "…"
        raise error(f"{name} must be one of {', '.join(map(str, allowed))}; got {shown}")


def one_line(text: str) -> str:
    """`text` with its line breaks (and the spaces around them) folded into single spaces."""
    return _LINE_BREAKS.sub(" ", text).strip()


class CheckpointError(S2SError, ValueError):
    """A checkpoint folder is missing files, corrupt, inconsistent or unsafe."""


class CheckpointTooLarge(CheckpointError):
    """A checkpoint exceeds a limit in checkpoint.LIMITS, MAX_PARAMETERS or FILE_LIMITS."""


class InvalidCheckpointName(S2SError, ValueError):
    """Not a bundled name, not a local folder, and not a well-formed ``org/name[@revision]``."""


class HubError(S2SError):
    """Fetching a checkpoint from the Hugging Face Hub failed."""


class RepoNotFound(HubError):
    """The repository does not exist, or is private and no valid token was given."""


class RepoNotAllowed(HubError):
    """The repository is not in S2S_HUB_ALLOWLIST, so this server does not load it."""


class RevisionNotFound(HubError):
    """The branch, tag or commit does not exist in the repository."""


class CheckpointFileNotFound(HubError):
    """The repository exists but lacks a file every checkpoint needs."""


class HubFileTooLarge(HubError):
    """A file of the repository is larger than checkpoint.FILE_LIMITS allows: nothing was downloaded."""


class HubUnreachable(HubError):
    """No network (or offline mode) and no cached copy to fall back on."""


class HubTimeout(HubError):
    """The Hub accepted the connection but did not answer in time."""


class HubBusy(HubError):
    """A Hub checkpoint is still loading in the background, or too many are: the request did not wait."""
