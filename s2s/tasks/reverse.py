"""reverse: space-separated letters -> the same letters reversed.

    "a b c" -> "c b a"

3 to 30 random lower-case letters. Output letter t belongs to source letter T-1-t, so attention's
right answer is known (s2s.evaluate checks it). It draws from and validates on every source ("all").
reverse-short is the same with 3 to 10 letters: the Train tab's reversal, learnt within its time cap.
"""

from __future__ import annotations

import random
import string

from .task import Pair, Task


def _reversal(letters: str) -> Pair:
    return " ".join(letters), " ".join(reversed(letters))


def _draw_reverse(rng: random.Random) -> Pair:
    return _reversal("".join(rng.choices(string.ascii_lowercase, k=rng.randint(3, 30))))


def _draw_short(rng: random.Random) -> Pair:
    return _reversal("".join(rng.choices(string.ascii_lowercase, k=rng.randint(3, SHORT_LETTERS))))


SHORT_LETTERS = 10  # reverse-short: what a small model learns within the Train tab's two minutes on 2 CPUs


REVERSE_EXAMPLES = ("abc", "hello", "sequence", "attention", "encoderdecoder",
                    "jointlylearningtoalign", "learningtoalignandtranslate")


def unspaced(text: str) -> list[str]:
    """A note when letters are not separated by spaces, as every source of the task is."""
    if any(len(word) > 1 for word in text.split()):  # "abcd", "hello world"
        return ["This checkpoint reverses letters separated by spaces: try `a b c d`, not `abcd`."]
    return []


TASK = Task(
    name="reverse",
    description="3 to 30 letters separated by spaces (a b c) -> the same letters in reverse order.",
    draw=_draw_reverse,
    default_split="all",
    validation_split="all",
    max_source_chars=59,
    max_target_chars=59,
    examples=tuple(_reversal(letters) for letters in REVERSE_EXAMPLES),
    outside=unspaced,
)

SHORT_TASK = Task(
    name="reverse-short",
    description=f"3 to {SHORT_LETTERS} letters separated by spaces (a b c) -> the same letters in reverse order.",
    draw=_draw_short,
    default_split="all",
    validation_split="all",
    max_source_chars=2 * SHORT_LETTERS - 1,
    max_target_chars=2 * SHORT_LETTERS - 1,
    examples=tuple(_reversal(letters) for letters in ("abc", "hello", "decoder", "sequence", "attention", "alignment")),
    outside=unspaced,
)
