"""What the benchmarks share: the machine's description, a free port, a server started and waited for, and the
English sentences that a translation model of opus-mt's size is asked to translate."""

from __future__ import annotations

import os
import platform
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent  # the repository: app.py runs from here
CHROMIUM = os.environ.get("S2S_CHROMIUM", "/usr/bin/chromium")
# The English a model of opus-mt-en-fr's size reads in the benchmarks (its small tokenizers are trained on it too)
SENTENCES = ["The European Economic Area was signed in Porto in May 1992.", "The agreement on the European "
             "Economic Area entered into force on 1 January 1994.", "Where is the bus stop, please?"]
WORDS = " ".join(SENTENCES).split()
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        names = [line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                 if line.startswith("model name")]
        cpu = names[0] if names else cpu
    except OSError:
        pass
    load = " ".join(f"{x:.1f}" for x in os.getloadavg()) if hasattr(os, "getloadavg") else "n/a"
    return (f"{platform.platform()}, {os.cpu_count()} CPUs ({cpu}), Python {platform.python_version()}, "
            f"torch {torch.__version__}, load average {load}")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(command: list[str], port: int, log: Path, env: dict) -> subprocess.Popen:
    """Run `command` (a server on 127.0.0.1:port) from the repository root; returns once it answers."""
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{' '.join(command)} exited with {process.returncode}:\n{log.read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2):
                return process
        except OSError:
            time.sleep(0.5)
    process.terminate()
    raise RuntimeError(f"{' '.join(command)} did not answer within 180 s:\n{log.read_text()[-2000:]}")


def sentence(i: int) -> str:
    """The i-th of many different English inputs of 8 to 13 words, from SENTENCES' words (a class sends no repeats,
    which the app would answer from its recent results)."""
    start, length = i % len(WORDS), 8 + (i // len(WORDS)) % 6
    return " ".join((WORDS * 2)[start:start + length]) + ("" if i < len(WORDS) * 6 else f" {i}")
