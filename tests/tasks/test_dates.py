"""s2s/tasks/dates.py: every form parses back to its date, checked by a parser written independently of it."""

import re
from datetime import date

import pytest

from s2s.tasks import TASKS, dates, format_date

MONTH_NAMES = ["january", "february", "march", "april", "may", "june",
               "july", "august", "september", "october", "november", "december"]
MONTH = f"(?P<month>{'|'.join(MONTH_NAMES)})"
ABBREVIATION = f"(?P<month>{'|'.join(name[:3] for name in MONTH_NAMES)})"
DAY = r"(?P<day>[1-9]|[12]\d|3[01])"
ORDINAL = DAY + r"(?P<suffix>st|nd|rd|th)"
YEAR = r"(?P<year>\d{4})"
WEEKDAY = r"(?P<weekday>monday|tuesday|wednesday|thursday|friday|saturday|sunday)"
DATE_PATTERNS = {
    "3 March 2021": f"{DAY} {MONTH} {YEAR}",
    "3 Mar 2021": f"{DAY} {ABBREVIATION} {YEAR}",
    "March 3, 2021": f"{MONTH} {DAY}, {YEAR}",
    "Mar 3 2021": f"{ABBREVIATION} {DAY} {YEAR}",
    "3rd March 2021": f"{ORDINAL} {MONTH} {YEAR}",
    "the 3rd of March, 2021": f"the {ORDINAL} of {MONTH}, {YEAR}",
    "Wednesday, March 3, 2021": f"{WEEKDAY}, {MONTH} {DAY}, {YEAR}",
    "03.03.2021": rf"(?P<day>\d\d)\.(?P<month>\d\d)\.{YEAR}",
    "2021年3月3日": f"{YEAR}年(?P<month>[1-9]|1[0-2])月{DAY}日",
}
SUFFIXES = {1: "st", 2: "nd", 3: "rd", 21: "st", 22: "nd", 23: "rd", 31: "st"}  # others: th


def parse_date(source: str) -> tuple[set[str], date]:
    """The forms (two for "3 May 2021") and the date of a generated source."""
    matches = {form: m for form, pattern in DATE_PATTERNS.items()
               if (m := re.fullmatch(pattern, source, re.IGNORECASE))}
    assert matches, f"{source!r} is in no date form"
    dates = {parse_match(m, source) for m in matches.values()}
    assert len(dates) == 1, source
    return set(matches), dates.pop()


def parse_match(m: re.Match, source: str) -> date:
    fields = m.groupdict()
    month = fields["month"].lower()
    month_number = int(month) if month.isdigit() else [n[:len(month)] for n in MONTH_NAMES].index(month) + 1
    d = date(int(fields["year"]), month_number, int(fields["day"]))
    if fields.get("suffix"):
        assert fields["suffix"].lower() == SUFFIXES.get(d.day, "th"), source
    if fields.get("weekday"):
        assert fields["weekday"].lower() == d.strftime("%A").lower(), source
    return d


def has_allowed_case(source: str) -> bool:
    """All lower case, or month and weekday names capitalised as in "Wednesday, March 3"."""
    names = [word for word in re.findall(r"[A-Za-z]{3,}", source) if word not in ("the", "of")]
    return source == source.lower() or all(word.istitle() for word in names)


@pytest.fixture(scope="module")
def date_pairs():
    return TASKS["dates"].generate(3000, seed=1)


def test_every_date_form_appears_and_parses_back(date_pairs):
    forms = set()
    for source, target in date_pairs:
        source_forms, d = parse_date(source)
        forms |= source_forms
        assert target == d.isoformat()
        assert 1900 <= d.year <= 2099
        assert has_allowed_case(source), source
    assert forms == set(DATE_PATTERNS)


def test_about_30_percent_of_dates_are_lower_case(date_pairs):
    with_letters = [source for source, _ in date_pairs if re.search("[a-zA-Z]", source)]
    lower = [source for source in with_letters if source == source.lower()]
    assert 0.25 < len(lower) / len(with_letters) < 0.35


def test_ordinal_suffixes():
    expected = {1: "1st", 2: "2nd", 3: "3rd", 4: "4th", 11: "11th", 12: "12th", 13: "13th",
                21: "21st", 22: "22nd", 23: "23rd", 24: "24th", 30: "30th", 31: "31st"}
    for day, ordinal in expected.items():
        assert format_date(date(2021, 3, day), "3rd March 2021") == f"{ordinal} March 2021"


def test_date_forms_of_one_date():
    d = date(2000, 2, 29)
    assert format_date(d, "Wednesday, March 3, 2021") == "Tuesday, February 29, 2000"
    assert format_date(d, "the 3rd of March, 2021", lower=True) == "the 29th of february, 2000"
    assert format_date(date(1900, 9, 5), "03.03.2021") == "05.09.1900"
    assert format_date(date(2099, 9, 5), "Mar 3 2021") == "Sep 5 2099"
    assert format_date(date(2021, 3, 3), "2021年3月3日", lower=True) == "2021年3月3日"


@pytest.mark.parametrize(("text", "outside"), [
    ("July 4th, 1776", [1776]), ("the 3rd of March, 2100", [2100]), ("3 March 2021", []), ("1899年3月3日", [1899]),
    ("03.03.1900", []), ("31 December 2099", []), ("12345", []),  # five digits: no year
])
def test_a_year_the_task_never_draws_is_pointed_out(text, outside):
    """`July 4th, 1776` -> 1974-07-04 with an empty status (issue 22): the year lies outside what dates draws."""
    notes = dates.years_outside(text)
    assert bool(notes) == bool(outside)
    if outside:
        assert f"{dates.FIRST_DATE.year} to {dates.LAST_DATE.year}" in notes[0] and str(outside[0]) in notes[0]
    drawn = {int(source[-4:]) for source, _ in dates.TASK.generate(2000, seed=3) if source[-4:].isdigit()}
    assert min(drawn) >= dates.FIRST_DATE.year and max(drawn) <= dates.LAST_DATE.year  # the range it says is real
