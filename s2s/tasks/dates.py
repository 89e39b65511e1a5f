"""dates: a date in one of nine human forms -> ISO YYYY-MM-DD.

    "3rd March 2021", "2021年3月3日", "the 3rd of March, 2021", ... -> "2021-03-03"

A date is drawn uniformly from FIRST_DATE to LAST_DATE, written in one of DATE_FORMS, and in lower
case with LOWER_CASE_PROBABILITY. The point is the task itself, not unseen inputs, so it draws from
and validates on every source ("all").
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable
from datetime import date

from .task import Pair, Task

MONTHS = ("January", "February", "March", "April", "May", "June",
          "July", "August", "September", "October", "November", "December")
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
FIRST_DATE, LAST_DATE = date(1900, 1, 1), date(2099, 12, 31)
LOWER_CASE_PROBABILITY = 0.3


def _month(d: date) -> str:
    return MONTHS[d.month - 1]


def _ordinal(day: int) -> str:
    """1st 2nd 3rd 4th ... 11th 12th 13th ... 21st 22nd 23rd ... 31st."""
    suffix = "th" if 11 <= day <= 13 else {1: "st", 2: "nd", 3: "rd"}.get(day % 10, "th")
    return f"{day}{suffix}"


# Each form is named by how it writes 3 March 2021.
DATE_FORMS: dict[str, Callable[[date], str]] = {
    "3 March 2021": lambda d: f"{d.day} {_month(d)} {d.year}",
    "3 Mar 2021": lambda d: f"{d.day} {_month(d)[:3]} {d.year}",
    "March 3, 2021": lambda d: f"{_month(d)} {d.day}, {d.year}",
    "Mar 3 2021": lambda d: f"{_month(d)[:3]} {d.day} {d.year}",
    "3rd March 2021": lambda d: f"{_ordinal(d.day)} {_month(d)} {d.year}",
    "the 3rd of March, 2021": lambda d: f"the {_ordinal(d.day)} of {_month(d)}, {d.year}",
    "Wednesday, March 3, 2021": lambda d: f"{WEEKDAYS[d.weekday()]}, {_month(d)} {d.day}, {d.year}",
    "03.03.2021": lambda d: f"{d.day:02d}.{d.month:02d}.{d.year}",
    "2021年3月3日": lambda d: f"{d.year}年{d.month}月{d.day}日",
}


def format_date(d: date, form: str, lower: bool = False) -> str:
    """d written in one of DATE_FORMS, optionally all in lower case."""
    text = DATE_FORMS[form](d)
    return text.lower() if lower else text


def _draw_date(rng: random.Random) -> Pair:
    d = date.fromordinal(rng.randint(FIRST_DATE.toordinal(), LAST_DATE.toordinal()))
    form = rng.choice(list(DATE_FORMS))
    lower = rng.random() < LOWER_CASE_PROBABILITY
    return format_date(d, form, lower), d.isoformat()


DATE_EXAMPLES = (  # date, form, lower case
    (date(2021, 3, 3), "3 March 2021", False),
    (date(1999, 6, 21), "the 3rd of March, 2021", False),
    (date(2021, 3, 3), "Wednesday, March 3, 2021", False),
    (date(2021, 3, 3), "2021年3月3日", False),
    (date(2000, 2, 29), "03.03.2021", False),
    (date(2099, 12, 31), "Mar 3 2021", True),
    (date(1900, 11, 2), "3rd March 2021", False),
)


def years_outside(text: str) -> list[str]:
    """A note for each year written in `text` outside the years the task draws."""
    years = [int(y) for y in re.findall(r"(?<!\d)(\d{4})(?!\d)", text)]
    odd = [y for y in dict.fromkeys(years) if not FIRST_DATE.year <= y <= LAST_DATE.year]
    return [f"This checkpoint saw years from {FIRST_DATE.year} to {LAST_DATE.year} only; {', '.join(map(str, odd))} "
            "is outside them: expect a wrong year."] if odd else []


TASK = Task(
    name="dates",
    description=(f"A date from {FIRST_DATE.year} to {LAST_DATE.year} in one of nine forms (3rd March 2021, "
                 "2021年3月3日, ...) -> YYYY-MM-DD."),
    draw=_draw_date,
    default_split="all",
    validation_split="all",
    max_source_chars=29,
    max_target_chars=10,
    examples=tuple((format_date(d, form, lower), d.isoformat()) for d, form, lower in DATE_EXAMPLES),
    outside=years_outside,
)
