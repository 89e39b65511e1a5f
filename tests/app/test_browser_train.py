"""The Train tab's Transformer in a real headless Chromium at 1280×720 (issue 23): chosen, trained, watched, then
used in Explore, where its layer menu and Heads tab work as for a bundled Transformer."""

from __future__ import annotations

import pytest

from s2s.web import training, views
from tests.app.test_browser import browser  # noqa: F401 (a fixture)
from tests.app.test_browser_lessons import DRAWN, HEAD_PANELS, TIMEOUT_MS, page, url  # noqa: F401 (fixtures)

pytestmark = pytest.mark.browser


def test_train_a_transformer_watch_its_cross_attention_then_its_heads_in_explore(page):  # noqa: F811 (a fixture)
    page.get_by_role("tab", name="Train").click()
    for switch in ("#train-attention", "#train-query", "#train-encoder"):
        assert page.locator(switch).is_visible(), switch
    page.locator("#train-family").get_by_label(training.FAMILIES["transformer"]).check()
    page.wait_for_function("() => !document.querySelector('#train-query')?.checkVisibility()", timeout=TIMEOUT_MS)
    assert not page.locator("#train-attention").is_visible() and not page.locator("#train-encoder").is_visible()
    page.locator("#train-start").click()
    size = training.limits.TRANSFORMER_SIZES["small"]
    title = f"cross-attention, mean of {size['heads']} heads and {size['num_layers']} layers"
    # a probe map after some training, titled as what it shows
    page.wait_for_function(f"() => /after [1-9][0-9]* steps/.test(({DRAWN})('#train-probe-plot')?.title ?? '')",
                           timeout=TIMEOUT_MS)
    assert title in page.evaluate(DRAWN, "#train-probe-plot")["title"]
    page.locator("#train-cancel").click()
    page.wait_for_function("() => /Cancelled|Done/.test(document.querySelector('#train-status').innerText)",
                           timeout=TIMEOUT_MS)
    page.locator("#train-use").click()
    page.wait_for_function("() => document.querySelector('#checkpoint input').value.startsWith('trained-')",
                           timeout=TIMEOUT_MS)
    page.wait_for_function("() => document.querySelector('#output textarea, #output input').value.length > 0",
                           timeout=TIMEOUT_MS)
    for n in range(size["num_layers"]):  # the layer menu lists the Transformer's layers
        page.locator("#layer").get_by_text(f"layer {n}", exact=True).wait_for(timeout=TIMEOUT_MS)
    page.locator("#head").wait_for(state="visible", timeout=TIMEOUT_MS)  # Explore's head menu, for models with heads
    page.get_by_role("tab", name=views.HEADS).click()
    panels = size["num_layers"] * size["heads"]
    page.wait_for_function(f"() => ({HEAD_PANELS})()?.panels === {panels}", timeout=TIMEOUT_MS)
    assert "cross-attention" in page.evaluate(HEAD_PANELS)["title"]


def test_the_pairs_box_shows_for_the_tsv_task_only_and_train_stays_on_screen(page):  # noqa: F811 (a fixture)
    """The box for pasted pairs pushed the Train button below a 720 px fold; it is shown for the tsv task only."""
    page.get_by_role("tab", name="Train").click()
    assert not page.locator("#train-tsv").is_visible()
    box = page.locator("#train-start").bounding_box()
    assert box and box["y"] + box["height"] <= 720 + 1, box
    page.locator("#train-task").get_by_label("tsv").check()
    page.locator("#train-tsv textarea").wait_for(state="visible", timeout=TIMEOUT_MS)
    page.locator("#train-task").get_by_label("dates").check()
    page.locator("#train-tsv").wait_for(state="hidden", timeout=TIMEOUT_MS)
