"""s2s/__init__.py: the bundled checkpoints list and load with no network; listing them needs no Hub client."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

import s2s
from s2s.tasks import TASKS

ROOT = Path(__file__).resolve().parent.parent
EXPECTED = {"dates", "dates-seed", "dates-causal", "reverse", "reverse-causal", "reverse-noattn", "toy-fr"}


def test_every_bundled_checkpoint_is_there_and_loads_offline(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert EXPECTED <= set(s2s.list_checkpoints())
    for name in EXPECTED:
        model = s2s.load(name, device="cpu")
        assert model.config["task"] in TASKS and model.translate("3 March 2021").output_tokens


@pytest.mark.slow
def test_importing_and_listing_need_no_hub_client():
    """s2s.list_checkpoints imported huggingface_hub to list a folder; s2s.load imports it when it loads."""
    code = ("import sys, s2s; names = s2s.list_checkpoints(); "
            "print('dates' in names, 'huggingface_hub' in sys.modules); "
            "s2s.load('dates'); print('huggingface_hub' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["True", "False", "True"]
