"""Publish a checkpoint to the Hugging Face Hub, or fetch one into the cache ahead of a lecture.

    python -m s2s.cli.hub push FOLDER org/name [--private]   # prints org/name@<commit>, the spec to pin
    python -m s2s.cli.hub pull org/name[@revision]            # fills the cache, checks it loads, prints the folder

An error is one line on stderr and exit code 1 (s2s.hub and s2s.hub_push say what is checked).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .. import checkpoint
from ..errors import S2SError
from ..hub import download, first_line, parse_repo_spec
from ..hub_push import push


def parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m s2s.cli.hub", description="Publish or prefetch checkpoints.")
    commands = parser.add_subparsers(dest="command", required=True)
    push_parser = commands.add_parser("push", help="upload a checkpoint folder, print org/name@<commit>")
    push_parser.add_argument("folder", type=Path)
    push_parser.add_argument("repo_id", help="org/name; the repo is created if it does not exist")
    push_parser.add_argument("--private", action="store_true", help="create the repo private")
    pull_parser = commands.add_parser("pull", help="download a checkpoint into the cache, check that it loads, "
                                                   "print its folder")
    pull_parser.add_argument("spec", help="org/name or org/name@revision")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        if args.command == "push":
            print(f"{args.repo_id}@{push(args.folder, args.repo_id, private=args.private)}")
        else:
            folder = download(*parse_repo_spec(args.spec))
            checkpoint.load(folder, device="cpu")  # ready for the lecture: it loads, not only downloads
            print(folder)
    except S2SError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except Exception as error:  # a command line answers in one line, not a traceback (e.g. a bad README)
        print(f"error: {type(error).__name__}: {first_line(error)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
