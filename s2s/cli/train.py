"""Train a checkpoint on a built-in task or your own TSV, on the CPU or a GPU with the same code.

    python -m s2s.cli.train --task dates --model attention --score scaled_dot --mask bidirectional \\
        --out trained/dates
    python -m s2s.cli.train --data pairs.tsv                     # writes trained/pairs
    python -m s2s.cli.train --list-recipes                       # the bundled checkpoints' own settings
    python -m s2s.cli.train --recipe dates [--out-dir retrained] # retrain one of them (flags given override it)
    python -m s2s.cli.train --all --out-dir retrained            # retrain them all

Every field of TrainConfig (s2s/training/config.py, which says what the defaults are and why) and of the
network's ModelConfig is a flag of the same name. A run never writes into the bundled checkpoints/ folder
unless --overwrite-bundled says so. An error is one line on stderr and exit code 2.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys

from .. import checkpoint
from ..model import ARCHITECTURES, BRIDGES, ENCODERS, MASKS, QUERIES, SCORES
from ..tasks import TASKS
from ..training.config import (
    BASE_BATCH,
    DEFAULT_BATCH,
    DEVICES,
    LR_SCALINGS,
    NETWORK_FLAGS,
    SCHEDULES,
    TrainConfig,
    config_from_flags,
)
from ..training.recipes import RECIPES, describe, recipe_runs
from ..training.trainer import train

FLAG_HELP = {  # what each flag of --help says, before its default
    "out": "the checkpoint folder to write; not given: trained/<task>, or trained/<the TSV's name>",
    "task": "a built-in task to generate pairs for",
    "data": "your own source<TAB>target lines instead of a task (a tenth, at most --val-size, kept for validation)",
    "mask": "the attention mask while training",
    "source_vocab": "source vocabulary size (grown to give each character of the data a piece)",
    "target_vocab": "target vocabulary size (as --source-vocab)",
    "train_size": "pairs generated for training (tasks only)",
    "val_size": "validation pairs",
    "batch_size": f"examples a step; 0: the device's ({', '.join(f'{k} {v}' for k, v in DEFAULT_BATCH.items())})",
    "lr": f"Adam's learning rate for a batch of {BASE_BATCH}; other batch sizes scale it (--lr-scaling)",
    "lr_scaling": "how the rate follows the batch size",
    "schedule": "the validation figure whose stalling halves the rate (and ends the run, --patience)",
    "epochs": "passes over the training pairs, at most",
    "patience": "stop after this many epochs without better validation",
    "target_exact_match": "stop once validation exact match reaches this (above 1: never)",
    "max_minutes": "stop after this many minutes (checked after every batch)",
    "forcing_start": "teacher forcing ratio of the first epoch ...",
    "forcing_end": "... falling linearly to this by half of --epochs",
    "seed": "seeds the data, the weights, the batch order and the forcing coins",
    "resume": "a checkpoint folder to train further (same task and mask; its tokenizers and sizes kept)",
    "threads": "torch threads; 0: torch's default",
    "device": "auto: CUDA when present",
    "amp": "bfloat16 autocast for the encoder (CPU or CUDA; faster where the CPU has bfloat16 instructions)",
    "fused": "the decoder's training pass with its hand-written backward (s2s/fused.py)",
    "log_every": "batches between reads of the loss for the progress bar",
    "model": "attention; edm: no attention; transformer: s2s/transformer.py (--heads, --ff-size, --decoder-mask)",
    "score": "the score function of attention",
    "query": "state: the decoder's previous state; input: a projection of the piece fed in (the notebook's)",
    "emb_size": "embedding size",
    "hidden_size": "LSTM hidden size; a transformer's model size (its embeddings' too)",
    "num_layers": "layers of the encoder and of the decoder",
    "dropout": "dropout between layers and before the output layer",
    "bridge": "final: the decoder starts from the encoder's final h and c; hidden: h only",
    "encoder": "uni: left to right; bi: both ways, half of --hidden-size each",
    "heads": "transformer: attention heads (they divide --hidden-size)",
    "ff_size": "transformer: the feed-forward layer's inner size",
    "decoder_mask": "transformer: decoder self-attention's mask in training; bidirectional lets a step see the "
                    "reference's future (a lesson: it cannot decode)",
}


def _parser(suppress: bool = False) -> argparse.ArgumentParser:
    """Flags for TrainConfig's fields and, flattened beside them, the network's (ModelConfig's); with
    `suppress`, a flag not given is absent from the result (to tell which flags override a recipe)."""
    choices = dict(task=tuple(TASKS), mask=MASKS, lr_scaling=LR_SCALINGS, schedule=SCHEDULES, device=DEVICES,
                   model=ARCHITECTURES, score=SCORES, query=QUERIES, bridge=BRIDGES, encoder=ENCODERS,
                   decoder_mask=MASKS)
    parser = argparse.ArgumentParser(prog="python -m s2s.cli.train", description=__doc__.split("\n")[0])
    defaults = TrainConfig()
    own = [f for f in dataclasses.fields(TrainConfig) if f.name != "network"]
    for f, default in [(f, getattr(defaults, f.name)) for f in own] + [
            (f, getattr(defaults.network, f.name)) for f in NETWORK_FLAGS]:
        shown = argparse.SUPPRESS if suppress else default
        flag = "--" + f.name.replace("_", "-")
        text = FLAG_HELP[f.name] + (f" (default: {default})" if default != "" else "")
        if str(f.type) == "bool":
            parser.add_argument(flag, action=argparse.BooleanOptionalAction, default=shown, help=text)
        else:
            kind = {"int": int, "float": float}.get(str(f.type), str)
            parser.add_argument(flag, type=kind, default=shown, help=text, choices=choices.get(f.name))
    parser.add_argument("--overwrite-bundled", action="store_true", default=argparse.SUPPRESS if suppress else False,
                        help="allow writing into the bundled checkpoints/ folder (by --out or --out-dir)")
    recipes = parser.add_argument_group("recipes: the bundled checkpoints' settings (s2s/training/recipes.py)")
    recipes.add_argument("--recipe", default=argparse.SUPPRESS if suppress else None,
                         help="retrain this bundled checkpoint with its own settings; flags given override them")
    recipes.add_argument("--all", action="store_true", default=argparse.SUPPRESS if suppress else False,
                         help="retrain every recipe")
    recipes.add_argument("--list-recipes", action="store_true", default=argparse.SUPPRESS if suppress else False,
                         help="print each recipe's flags")
    recipes.add_argument("--out-dir", default=argparse.SUPPRESS if suppress else "retrained",
                         help="where --recipe/--all write, one folder per recipe (default: retrained)")
    return parser


COMMAND_FLAGS = ("recipe", "all", "list_recipes", "out_dir", "overwrite_bundled")


def parse_args(argv=None) -> TrainConfig:
    """The TrainConfig of a plain (non-recipe) command line."""
    values = vars(_parser().parse_args(argv))
    return config_from_flags({k: v for k, v in values.items() if k not in COMMAND_FLAGS})


def check_out(cfg: TrainConfig, allowed: bool) -> None:
    """Refuse to write into the bundled checkpoints/ folder (or over it) unless asked to."""
    folder, bundled = cfg.out_folder.resolve(), checkpoint.BUNDLED_DIR.resolve()
    if (folder == bundled or bundled in folder.parents) and not allowed:
        raise ValueError(f"{cfg.out_folder} is in the bundled checkpoints folder: pass --overwrite-bundled to "
                         "replace what is there, or choose another folder (--out, --out-dir)")


def runs_of(argv=None) -> list[TrainConfig]:
    """The runs a command line asks for: one, or every stage of a recipe (or of all), flags given overriding."""
    values = vars(_parser().parse_args(argv))
    if not (values["recipe"] or values["all"]):
        return [parse_args(argv)]
    given = {k: v for k, v in vars(_parser(suppress=True).parse_args(argv)).items() if k not in COMMAND_FLAGS}
    names = list(RECIPES) if values["all"] else [values["recipe"]]
    return [run for name in names for run in recipe_runs(name, values["out_dir"], given)]


def main(argv=None) -> int:
    values = vars(_parser().parse_args(argv))
    try:
        if values["list_recipes"]:
            print("\n".join(describe(name) for name in RECIPES))
            return 0
        runs = runs_of(argv)
        for cfg in runs:
            check_out(cfg, values["overwrite_bundled"])
        for cfg in runs:
            train(cfg)
    except (ValueError, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
