"""The exceptions the library raises, each with a message a lecturer can act on.

Every one is an ``S2SError``; those caused by a bad value a person typed are
also ``ValueError``s, so ``except ValueError`` catches all bad input.
"""


class S2SError(Exception):
    """Base class of every error this package raises on purpose."""


class CheckpointError(S2SError, ValueError):
    """A checkpoint folder is missing files, corrupt, inconsistent or unsafe."""


class InvalidCheckpointName(S2SError, ValueError):
    """Not a bundled name, not a local folder, and not a well-formed ``org/name[@revision]``."""


class HubError(S2SError):
    """Fetching a checkpoint from the Hugging Face Hub failed."""


class RepoNotFound(HubError):
    """The repository does not exist, or is private and no valid token was given."""


class RevisionNotFound(HubError):
    """The branch, tag or commit does not exist in the repository."""


class CheckpointFileNotFound(HubError):
    """The repository exists but lacks a file every checkpoint needs."""


class HubUnreachable(HubError):
    """No network (or offline mode) and no cached copy to fall back on."""


class HubTimeout(HubError):
    """The Hub accepted the connection but did not answer in time."""
