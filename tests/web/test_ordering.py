"""s2s.web.ordering: an answer overtaken by a newer run of the same page is recognised; pages are independent."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from s2s.web.ordering import Latest


def test_an_older_run_is_overtaken_by_a_newer_one_of_the_same_page_only():
    latest = Latest()
    first = latest.ticket("page-a")
    other = latest.ticket("page-b")
    assert latest.is_latest("page-a", first)
    second = latest.ticket("page-a")
    assert not latest.is_latest("page-a", first) and latest.is_latest("page-a", second)
    assert latest.is_latest("page-b", other)  # another page's runs change nothing here


def test_tickets_taken_at_once_are_all_different_and_only_the_last_is_latest():
    latest = Latest()
    with ThreadPoolExecutor(8) as pool:
        tickets = list(pool.map(lambda _: latest.ticket("page"), range(400)))
    assert sorted(tickets) == list(range(1, 401))
    assert [t for t in tickets if latest.is_latest("page", t)] == [400]


def test_memory_is_bounded_and_a_forgotten_page_still_shows_its_answer():
    latest = Latest(max_pages=3)
    old = latest.ticket("p0")
    for i in range(1, 5):
        latest.ticket(f"p{i}")
    assert len(latest._tickets) == 3
    assert latest.is_latest("p0", old)  # forgotten: nothing newer is known, so the answer is shown
