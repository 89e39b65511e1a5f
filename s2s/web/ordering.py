"""Latest wins: a page's answer that a newer one of the same page has overtaken is not shown.

gradio runs a page's events side by side and does not keep their order: two keystrokes' runs can
finish in either order (more so when concurrent runs are decoded in one batch, s2s/web/batching.py),
and the older answer, arriving last, would stay on screen. The queue starts events in the order they
came, so each run takes a ticket when it starts and shows its answer only if no later run of the same
page has started since.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

MAX_PAGES = 2_000  # pages remembered, least recently active first out (one int each)


class Latest:
    """The newest ticket of each page (gradio session); thread-safe, bounded."""

    def __init__(self, max_pages: int = MAX_PAGES):
        self.max_pages = max_pages
        self._tickets: OrderedDict[str, int] = OrderedDict()
        self._lock = threading.Lock()

    def ticket(self, page: str) -> int:
        """A new ticket for a run of `page` that is starting: newer than every ticket it had before."""
        with self._lock:
            ticket = self._tickets.pop(page, 0) + 1
            self._tickets[page] = ticket
            while len(self._tickets) > self.max_pages:
                self._tickets.popitem(last=False)
            return ticket

    def is_latest(self, page: str, ticket: int) -> bool:
        """Whether no run of `page` has started since the one holding `ticket` (a forgotten page: yes)."""
        with self._lock:
            return self._tickets.get(page, ticket) == ticket


PAGES = Latest()  # the latest run of each open page's Explore tab (typing, settings)
