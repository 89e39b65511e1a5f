"""s2s: the seed notebook's LSTM encoder-decoders with attention, corrected, fast and inspectable.

    import s2s
    m = s2s.load("dates")              # bundled name, checkpoint folder, or "org/name[@revision]"
    r = m.translate("3 March 2021")
    r.attention                        # (layers, output pieces, source pieces), rows sum to 1
"""

from __future__ import annotations

from pathlib import Path

import torch

from . import checkpoint, hub
from .errors import CheckpointError, HubError, S2SError
from .translator import Translation, Translator

__all__ = ["load", "list_checkpoints", "Translation", "Translator", "S2SError", "CheckpointError", "HubError"]


def load(name_or_path: str | Path, device: str | torch.device | None = None) -> Translator:
    """Load a bundled checkpoint by name, a checkpoint folder, or a Hub repo "org/name[@revision]"."""
    return checkpoint.load(hub.resolve(str(name_or_path)), device=device)


def list_checkpoints() -> list[str]:
    """Names of the checkpoints bundled with the project (they load with no network): a listing of
    checkpoint.BUNDLED_DIR, no Hub involved."""
    return checkpoint.list_bundled()
