"""The event options the page's tabs share, and the page and the visitor's address a request comes from."""

from __future__ import annotations

import json

import gradio as gr

from s2s.web.guard import Limits, forwarded_client

PRIVATE = dict(api_visibility="private")
# The events that follow typing: the latest value wins, and no spinner flashes on every key.
LIVE = dict(trigger_mode="always_last", show_progress="hidden", **PRIVATE)


# Tabs are opened by the page's script, as a click on their buttons would (gradio's tab.select events then
# follow), never by a gr.Tabs(selected=...) output: gradio's page refreshes the loading status of every
# component inside every output an event has ever had, on every later event, so a lesson whose output was
# the page's Tabs made every keystroke after it slower (tests/app/test_app.py).
MAIN_TABS, RESULT_TABS = "main-tabs", "result-tabs"  # the elem_ids of the page's tabs and the results' tabs


def open_tabs_js(*tabs: tuple[str, str]) -> str:
    """JS statements that open each (Tabs elem_id, tab id) in turn, outer tabs first."""
    return "".join(f"Array.from(document.querySelectorAll('#{box} button[role=tab]')).find((b) => b.dataset.tabId "
                   f"=== {json.dumps(tab)})?.click();" for box, tab in tabs)


def page_of(request: gr.Request) -> str:
    """The open page a request comes from (gradio's session_hash; "" for an API call without one)."""
    return request.session_hash or ""


CLIENT_HEADER = Limits.from_env().client_header  # the proxy's header naming the visitor (on a Space)


def address_of(request: gr.Request) -> str:
    """The visitor's address, read as the guard reads it (s2s/web/guard.py): the proxy's header, else the peer."""
    if CLIENT_HEADER:
        forwarded = forwarded_client(request.headers.get(CLIENT_HEADER, ""))
        if forwarded is not None:
            return forwarded
    return request.client.host if request.client else "unknown"


def unchanged(component) -> dict:
    """An answer that changes nothing (gradio needs at least one key)."""
    return {component: gr.skip()}
