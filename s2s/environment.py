"""What the process's environment says: numbers an operator sets (S2S_HUB_TIMEOUT, S2S_RATE, ...), and
whether this runs on a Hugging Face Space. One rule for each, read in one place.

A typo such as S2S_HUB_TIMEOUT=10s must neither stop `import s2s` nor the app from starting, nor go
unnoticed: a value that is not a finite number, or is out of range, is logged as a warning naming the
variable, and the default is used. An unset or empty variable is the default, silently.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Mapping

log = logging.getLogger(__name__)


def on_a_space(environ: Mapping[str, str] | None = None) -> bool:
    """A Hugging Face Space sets SPACE_ID (and SYSTEM=spaces): it binds 0.0.0.0, behind a proxy."""
    env = os.environ if environ is None else environ
    return bool(env.get("SPACE_ID")) or env.get("SYSTEM") == "spaces"


def number(name: str, default: float, *, minimum: float = 0, environ: Mapping[str, str] | None = None) -> float:
    """`name` from the environment as a finite float ("1_000" as Python writes it), at least `minimum`."""
    text = (os.environ if environ is None else environ).get(name, "").strip()
    if not text:
        return default
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value < minimum:  # "10s", "inf", "nan", below the range
        log.warning("%s=%r is not a number of at least %g; using %g.", name, text[:40], minimum, default)
        return default
    return value


def count(name: str, default: int, *, minimum: int = 1, environ: Mapping[str, str] | None = None) -> int:
    """`name` from the environment as a whole number, at least `minimum` (1 by default)."""
    text = (os.environ if environ is None else environ).get(name, "").strip()
    if not text:
        return default
    try:
        value = int(text)
    except ValueError:
        value = None
    if value is None or value < minimum:  # "three", "1.5", below the range
        log.warning("%s=%r is not a whole number of at least %d; using %d.", name, text[:40], minimum, default)
        return default
    return value
