"""What the process's environment says: numbers an operator sets (S2S_HUB_TIMEOUT, S2S_RATE, ...), and
whether this runs on a Hugging Face Space. One rule for each, read in one place.

A typo such as S2S_HUB_TIMEOUT=10s must neither stop `import s2s` nor the app from starting, nor go
unnoticed: a value that is not a number, or is out of range, is logged as a warning naming the
variable, and the default is used. An unset or empty variable is the default, silently.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping

log = logging.getLogger(__name__)


def on_a_space(environ: Mapping[str, str] | None = None) -> bool:
    """A Hugging Face Space sets SPACE_ID (and SYSTEM=spaces): it binds 0.0.0.0, behind a proxy."""
    env = os.environ if environ is None else environ
    return bool(env.get("SPACE_ID")) or env.get("SYSTEM") == "spaces"


def number(name: str, default: float, *, kind: type = float, minimum: float = 0,
           environ: Mapping[str, str] | None = None) -> float:
    """`name` from the environment as `kind` (int or float; "_" allowed as in 1_000), at least `minimum`."""
    text = (os.environ if environ is None else environ).get(name, "").strip().replace("_", "")
    if not text:
        return default
    try:
        value = kind(text)
    except ValueError:
        value = None
    if value is None or value != value or value < minimum:  # value != value: NaN
        what = "a whole number" if kind is int else "a number"
        log.warning("%s=%r is not %s of at least %g; using %g.", name, text[:40], what, minimum, default)
        return default
    return value
