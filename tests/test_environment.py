"""Numbers from environment variables: an operator's typo is a warning and the default, never a failure."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

from s2s import environment
from s2s.web.guard import Limits

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("read, text, expected", [
    (environment.number, "", 10.0),  # unset or empty: the default, silently
    (environment.number, "2.5", 2.5),
    (environment.number, " 1_000 ", 1000.0),  # as Python writes numbers
    (environment.number, "10s", 10.0),  # not a number
    (environment.number, "-3", 10.0),  # below the minimum (0)
    (environment.number, "nan", 10.0),
    (environment.number, "inf", 10.0),  # a timeout of inf fails later, at the first request
    (environment.number, "1e400", 10.0),
    (environment.count, "7", 7),
    (environment.count, "1_000", 1000),
    (environment.count, "1.5", 10),  # not whole
    (environment.count, "0", 10),  # below the minimum (1)
    (environment.count, "1__0", 10),  # not as Python writes it
])
def test_a_number_or_the_default_with_a_warning(caplog, read, text, expected):
    default = 10 if read is environment.count else 10.0
    with caplog.at_level(logging.WARNING):
        value = read("S2S_X", default, environ={"S2S_X": text})
    assert value == expected and type(value) is type(default)
    warned = [r.getMessage() for r in caplog.records]
    accepted = text.strip() == "" or value != default
    assert (warned == []) if accepted else (len(warned) == 1 and warned[0].startswith(f"S2S_X={text.strip()!r}"))


def test_the_guards_limits_take_the_same_rule(caplog):
    with caplog.at_level(logging.WARNING):
        limits = Limits.from_env({"S2S_RATE": "fast", "S2S_BURST": "0", "S2S_ADDRESS_RATE": "120"})
    assert (limits.rate, limits.burst, limits.address_rate) == (Limits.rate, Limits.burst, 120.0)
    assert sorted(r.getMessage().split("=")[0] for r in caplog.records) == ["S2S_BURST", "S2S_RATE"]


@pytest.mark.slow  # imports the library in fresh processes
def test_a_typo_in_a_setting_neither_stops_the_library_nor_goes_unsaid():
    """S2S_HUB_TIMEOUT=10s made `import s2s` (and so s2s.load) raise ValueError (review of 2026-11-29)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "S2S_HUB_TIMEOUT": "10s", "S2S_HUB_MODELS": "three",
           "S2S_TRAIN_MAX_SECONDS": "2m"}
    code = "import s2s, s2s.web.models, s2s.web.training; print(s2s.load('dates').translate('3 March 2021').text)"
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0 and done.stdout.strip() == "2021-03-03"
    for name in ("S2S_HUB_TIMEOUT='10s'", "S2S_HUB_MODELS='three'", "S2S_TRAIN_MAX_SECONDS='2m'"):
        assert name in done.stderr


def test_a_space_is_known_by_either_variable_it_sets_and_the_guard_reads_its_proxy_then():
    """The app knew a Space by SPACE_ID or SYSTEM=spaces, the guard by SPACE_ID alone."""
    for env in ({"SPACE_ID": "org/space"}, {"SYSTEM": "spaces"}):
        assert environment.on_a_space(env) and Limits.from_env(env).client_header == "x-forwarded-for"
    assert not environment.on_a_space({}) and Limits.from_env({}).client_header is None


def test_a_child_started_elsewhere_imports_this_same_s2s(tmp_path, monkeypatch):
    """environment.for_child: the decoding process and a Train-tab run import the server's own code, from any folder
    the server was started in, and keep what PYTHONPATH already held."""

    import s2s

    monkeypatch.setenv("PYTHONPATH", str(tmp_path / "theirs"))
    env = environment.for_child()
    assert env["PYTHONPATH"].split(os.pathsep) == [str(environment.PACKAGE_ROOT), str(tmp_path / "theirs")]
    found = subprocess.run([sys.executable, "-c", "import s2s; print(s2s.__file__)"], cwd=tmp_path, env=env,
                           capture_output=True, text=True, check=True).stdout.strip()
    assert found == s2s.__file__
