"""python -m bench.heap: a full collection's walk in the server, with start-up walked (the baseline) and frozen."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from bench.server import ROOT


@pytest.mark.slow  # builds the whole page and serves a few requests in a process of its own
def test_once_start_up_is_frozen_a_full_collection_walks_only_what_serving_made():
    out = subprocess.run([sys.executable, "-m", "bench.heap", "--rounds", "1", "--requests", "20"], cwd=ROOT,
                         capture_output=True, text=True, check=True, timeout=300).stdout
    found = json.loads(out.strip().splitlines()[-1])
    (before, _), (after, _) = found["before"], found["after"]
    # gc's own count of what it walks: the page's start-up (torch, gradio, the checkpoints) is hundreds of
    # thousands of objects; what twenty requests leave behind is a few percent of it
    assert before > 100_000 and found["frozen"] >= before * 0.9
    assert after < before / 10, found
