"""What the process's environment says: numbers an operator sets (S2S_HUB_TIMEOUT, S2S_RATE, ...), and
whether this runs on a Hugging Face Space. One rule for each, read in one place. And the environment the
server's child processes get (`for_child`).

A typo such as S2S_HUB_TIMEOUT=10s must neither stop `import s2s` nor the app from starting, nor go
unnoticed: a value that is not a finite number, or is out of range, is logged as a warning naming the
variable, and the default is used. An unset or empty variable is the default, silently.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Mapping
from pathlib import Path

log = logging.getLogger(__name__)
PACKAGE_ROOT = Path(__file__).resolve().parent.parent  # the folder that holds the s2s package


def for_child() -> dict[str, str]:
    """This process's environment, with the folder that holds s2s first on PYTHONPATH: what a child started as
    `python -m s2s...` needs to import this same code, wherever the server was started from."""
    return dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(PACKAGE_ROOT), os.environ.get("PYTHONPATH")])))


def on_a_space(environ: Mapping[str, str] | None = None) -> bool:
    """A Hugging Face Space sets SPACE_ID (and SYSTEM=spaces): it binds 0.0.0.0, behind a proxy."""
    env = os.environ if environ is None else environ
    return bool(env.get("SPACE_ID")) or env.get("SYSTEM") == "spaces"


def number(name: str, default: float, *, minimum: float = 0, environ: Mapping[str, str] | None = None) -> float:
    """`name` from the environment as a finite float ("1_000" as Python writes it), at least `minimum`."""
    return _read(name, default, float, minimum, "a number", environ)


def count(name: str, default: int, *, minimum: int = 1, environ: Mapping[str, str] | None = None) -> int:
    """`name` from the environment as a whole number, at least `minimum` (1 by default)."""
    return _read(name, default, int, minimum, "a whole number", environ)


def _read(name: str, default, parse, minimum, what: str, environ: Mapping[str, str] | None):
    """The one rule: unset or empty is the default; a value `parse` refuses, not finite ("inf", "nan") or below
    `minimum` is a warning and the default."""
    text = (os.environ if environ is None else environ).get(name, "").strip()
    if not text:
        return default
    try:
        value = parse(text)
    except ValueError:
        value = None
    if value is None or not math.isfinite(value) or value < minimum:
        log.warning("%s=%r is not %s of at least %g; using %g.", name, text[:40], what, minimum, default)
        return default
    return value
