"""The bundled checkpoints' training settings as data: `python -m s2s.cli.train --recipe NAME` retrains one.

Each recipe is a tuple of stages; a stage is the flags of one `python -m s2s.cli.train` run, exactly as
that checkpoint's metrics.json records them under "settings" (tests/training/test_recipes.py checks every
recorded one against the bundled files). Flags that did not exist when a checkpoint was trained
are pinned to what the code did then: batches of 64 at the rate given (no scaling), the rate
halved when validation exact match stalls (plateau-exact), on the CPU. The fused decoder pass
(s2s/fused.py, --fused) did not exist either; it is left on: it computes the same function, and only
dropout's random numbers and rounding (the order of float additions, tanh taken through a sigmoid)
differ from the pass they were trained with.

`reverse` was trained in two runs. The second (`--resume` from the first's output, forcing held
at 0.5, a lower rate) is recorded; the first is not, and its stage below is reconstructed: the
flags of reverse-noattn and reverse-causal, trained the same day at the same sizes, with
reverse's own model (bidirectional encoder, bidirectional mask) and the default 30-minute cap.
"""

from __future__ import annotations

from pathlib import Path

from ..errors import check_choice
from .config import TrainConfig, config_from_flags, settings_of

STAGE_OUTPUT = "{out}"  # a stage's --resume written like this means the previous stage's output folder

# What the code did before these flags existed: the bundled checkpoints were trained so.
BEFORE = {"lr_scaling": "none", "schedule": "plateau-exact", "device": "cpu", "amp": False}

DATES = dict(task="dates", data=None, model="attention", score="scaled_dot", mask="bidirectional", emb_size=48,
             hidden_size=96, num_layers=2, dropout=0.1, source_vocab=450, target_vocab=320, train_size=30000,
             val_size=1000, batch_size=64, lr=0.003, epochs=10, patience=3, target_exact_match=0.998,
             max_minutes=8.0, forcing_start=1.0, forcing_end=0.5, seed=0, resume=None, threads=1, **BEFORE)
REVERSE = dict(task="reverse", data=None, model="attention", score="scaled_dot", query="state",
               mask="bidirectional", bridge="final", encoder="bi", emb_size=64, hidden_size=128, num_layers=2,
               dropout=0.1, source_vocab=320, target_vocab=320, train_size=50000, val_size=1000, batch_size=64,
               lr=0.002, epochs=10, patience=4, target_exact_match=0.99, max_minutes=12.0, forcing_start=1.0,
               forcing_end=0.5, seed=0, resume=None, threads=1, **BEFORE)

# The Transformers (s2s/transformer.py), trained after every flag existed: each stage is every flag. Teacher
# forcing stays at 1: their training pass is then one parallel pass (scheduled sampling, a ratio below 1,
# costs a second pass), and greedy decoding still reaches the accuracies docs/checkpoints.md gives.
TRANSFORMER = settings_of(TrainConfig()) | dict(
    model="transformer", hidden_size=64, heads=4, ff_size=128, num_layers=2, dropout=0.1, decoder_mask="causal",
    batch_size=64, lr=0.002, lr_scaling="none", schedule="plateau-token", forcing_start=1.0, forcing_end=1.0,
    device="cpu", threads=1, val_size=1000, patience=4)
TRANSFORMER_DATES = TRANSFORMER | dict(task="dates", source_vocab=450, target_vocab=320, train_size=30000,
                                       epochs=20, target_exact_match=1.0, max_minutes=15.0)
TOY_FR_TRANSFORMER = TRANSFORMER | dict(task="toy-fr", source_vocab=420, target_vocab=480, train_size=40000,
                                        epochs=20, target_exact_match=1.0, max_minutes=20.0)
REVERSE_TRANSFORMER = TRANSFORMER | dict(task="reverse", ff_size=256, train_size=50000, epochs=30,
                                         target_exact_match=0.995, max_minutes=45.0)

RECIPES: dict[str, tuple[dict, ...]] = {
    "dates": (DATES | dict(query="state", bridge="hidden", encoder="bi", target_exact_match=1.01),),
    "dates-seed": (DATES | dict(query="input", bridge="final", encoder="uni"),),
    "dates-causal": (DATES | dict(query="state", bridge="final", encoder="uni", mask="causal"),),
    "reverse": (
        REVERSE | dict(max_minutes=30.0),  # reconstructed: see the module docstring
        REVERSE | dict(lr=0.001, patience=3, target_exact_match=0.995, max_minutes=16.0, forcing_start=0.5,
                       resume=STAGE_OUTPUT),
    ),
    "reverse-causal": (REVERSE | dict(encoder="uni", mask="causal"),),
    "reverse-noattn": (REVERSE | dict(model="edm"),),
    "toy-fr": (dict(REVERSE, task="toy-fr", bridge="hidden", source_vocab=420, target_vocab=480, train_size=40000,
                    lr=0.003, epochs=8, patience=2, target_exact_match=1.01),),
    "dates-transformer": (TRANSFORMER_DATES,),
    # the lesson: decoder self-attention trained without the causal mask (its card: forced vs free)
    "dates-transformer-unmasked": (TRANSFORMER_DATES | dict(decoder_mask="bidirectional", epochs=3,
                                                            target_exact_match=1.01),),
    # second stages: the first's output trained further at half the rate (toy-fr's first stopped at 100% on its
    # validation sentences and missed 1 in 1,000 others; reverse's first reached its 45-minute cap)
    "toy-fr-transformer": (TOY_FR_TRANSFORMER, TOY_FR_TRANSFORMER | dict(lr=0.001, epochs=2, patience=2,
                                                                         target_exact_match=1.01,
                                                                         resume=STAGE_OUTPUT)),
    "reverse-transformer": (REVERSE_TRANSFORMER, REVERSE_TRANSFORMER | dict(lr=0.001, patience=3, max_minutes=25.0,
                                                                           resume=STAGE_OUTPUT)),
}
RECONSTRUCTED = {("reverse", 0)}  # stages whose flags were not recorded


def stages(name: str) -> tuple[dict, ...]:
    check_choice("recipe", name, RECIPES)
    return RECIPES[name]


def recipe_runs(name: str, out_dir: str | Path, overrides: dict) -> list[TrainConfig]:
    """The runs that retrain recipe `name` into out_dir/name, each stage with `overrides` (flags) applied."""
    out = str(Path(out_dir) / name)
    runs = []
    for stage in stages(name):
        flags = stage | {"out": out} | overrides
        if flags.get("resume") == STAGE_OUTPUT:  # the earlier stage's folder, wherever --out put it
            flags["resume"] = flags["out"]
        runs.append(config_from_flags(flags))
    return runs


def describe(name: str) -> str:
    """One line per stage: the flags that differ from `python -m s2s.cli.train`'s defaults."""
    defaults = settings_of(TrainConfig())
    lines = []
    for i, stage in enumerate(stages(name)):
        flags = " ".join(f"--{k.replace('_', '-')} {v}" for k, v in stage.items()
                         if v is not None and defaults.get(k) != v and k not in ("out", "resume"))
        resume = " --resume <stage 1's output>" if stage.get("resume") else ""
        note = " (reconstructed: not recorded)" if (name, i) in RECONSTRUCTED else ""
        lines.append(f"{name}{f' stage {i + 1}' if len(stages(name)) > 1 else ''}:{resume} {flags}{note}")
    return "\n".join(lines)
