"""A real translation model from the Hub in the page, in headless Chromium (issue 24): a tiny random MarianMT
(tests/tiny_marian.py) served by the fake Hub, typed into the checkpoint box as a lecturer types
Helsinki-NLP/opus-mt-en-fr, then its heatmap, its heads and a comparison with a bundled checkpoint.

What the page should show is worked out without this project's code where it can be: the pieces from
transformers' own MarianTokenizer and the output from its own generate() on the repo's files, the number of
head maps from the repo's config.json.
"""

from __future__ import annotations

import contextlib
import json
import time

import pytest
import torch
from transformers import MarianMTModel, MarianTokenizer

from s2s import checkpoint, hub_translation
from s2s.web import heads, models, views
from tests.app.test_browser import (  # noqa: F401 (browser is a fixture)
    ARTIFACTS,
    browser,
    chromium_or_skip,
    pieces,
    ticks,
    type_source,
    wait_for_ticks,
)
from tests.app.test_browser_lessons import HEAD_PANELS
from tests.conftest import make_bundled, served_app
from tests.fake_hub import serving
from tests.tiny_marian import tiny_marian_files

pytestmark = [pytest.mark.browser, pytest.mark.filterwarnings("ignore:Recommended. pip install sacremoses")]

REPO = "Helsinki-NLP/opus-mt-en-fr"
TEXT = "the European Economic Area"  # the tiny model ends this one after a few pieces: every row has its label
TIMEOUT_MS = 60_000
PROBLEMS = "(root) => document.querySelectorAll(`${root} .s2s-problem`).length"


@contextlib.contextmanager
def serve(tmp_path_factory, attributes: dict | None = None):
    """(the page's URL, the bundled checkpoints' folder): tiny bundled checkpoints, and the tiny Marian on the fake
    Hub, which the app reaches through huggingface_hub as it would reach the real one."""
    chromium_or_skip()
    bundled = make_bundled(tmp_path_factory.mktemp("checkpoints"))
    with pytest.MonkeyPatch.context() as patch, serving(patch, tmp_path_factory.mktemp("hf-cache")) as hub:
        hub.add_commit(REPO, tiny_marian_files())
        with served_app(bundled, attributes) as address:
            yield address, bundled


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    with serve(tmp_path_factory) as both:
        yield both


@pytest.fixture(scope="module")
def oracle(tmp_path_factory):
    """What transformers itself makes of TEXT from the repo's files: (source pieces, output pieces, output text,
    layers x heads of the decoder's cross-attention)."""
    folder = tmp_path_factory.mktemp("tiny-marian")
    for name, content in tiny_marian_files().items():
        (folder / name).write_bytes(content)
    tokenizer = MarianTokenizer.from_pretrained(folder)
    model = MarianMTModel.from_pretrained(folder, attn_implementation="eager").eval()
    source = tokenizer(TEXT, return_tensors="pt")["input_ids"]
    with torch.no_grad():
        written = model.generate(source, num_beams=1, do_sample=False, forced_eos_token_id=None,
                                 max_new_tokens=30)[0, 1:].tolist()  # after the decoder's start piece
    config = json.loads(tiny_marian_files()["config.json"])
    return (tokenizer.convert_ids_to_tokens(source[0].tolist()), tokenizer.convert_ids_to_tokens(written),
            tokenizer.decode(written, skip_special_tokens=True),
            config["decoder_layers"] * config["decoder_attention_heads"])


@pytest.fixture
def page(browser, served, request):  # noqa: F811 (the fixture imported above)
    context = browser.new_context(viewport={"width": 1280, "height": 720})
    page = context.new_page()
    page.goto(served[0])
    page.wait_for_selector("#heatmap .js-plotly-plot .xtick text", timeout=TIMEOUT_MS)
    yield page
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=ARTIFACTS / f"{request.node.name}.png", full_page=True)
    context.close()


def open_repo(page, oracle) -> None:
    """Type the repo into the checkpoint box and TEXT into the source, as a lecturer does; wait for its heatmap."""
    choose_repo(page)
    type_text(page, oracle)


def choose_repo(page) -> None:
    box = page.locator("#checkpoint").get_by_role("combobox")
    box.fill(REPO)
    box.press("Enter")
    page.wait_for_function("(want) => document.querySelector('#checkpoint input').value === want", arg=REPO,
                           timeout=TIMEOUT_MS)


def type_text(page, oracle) -> None:
    source, output, text, _ = oracle
    type_source(page, TEXT)
    wait_for_ticks(page, "x", pieces(source))
    wait_for_ticks(page, "y", pieces(output))
    assert page.locator("#output").get_by_role("textbox").input_value() == text


def test_a_marian_repo_typed_in_the_checkpoint_box_shows_its_pieces_card_and_layers(page, oracle):
    open_repo(page, oracle)
    card_and_layers(page)


def card_and_layers(page) -> None:
    page.get_by_text("About this checkpoint", exact=True).click()
    page.wait_for_function("() => document.querySelector('#card')?.innerText.includes('MarianMT')",
                           timeout=TIMEOUT_MS // 4)  # made when the checkpoint changed, long before the heatmap
    card = page.locator("#card").inner_text()
    assert "MarianMT from the Hub" in card and "languages en, fr" in card, card
    layers = [label.inner_text() for label in page.locator("#layer label").all()]
    assert layers == ["mean of layers", "layer 0", "layer 1"], layers
    assert page.evaluate(PROBLEMS, "#status") == 0 and page.evaluate(PROBLEMS, "#card") == 0
    assert "still loading" not in page.locator("#status").inner_text()


def test_the_heads_tab_draws_every_layer_and_head_of_the_marian_model(page, oracle):
    open_repo(page, oracle)
    page.get_by_role("tab", name=views.HEADS).click()
    maps = oracle[3]
    page.wait_for_function(f"(n) => ({HEAD_PANELS})()?.panels === n", arg=maps, timeout=TIMEOUT_MS)
    drawn = page.evaluate(HEAD_PANELS)
    assert drawn["greys"] == 0 and "cross-attention" in drawn["title"], drawn
    assert set(ticks(page, "x", "#heads")) <= set(pieces(oracle[0]))  # every small map reads the model's pieces
    page.locator("#kind").get_by_label(heads.KIND_SHORT["decoder_self"], exact=True).check()
    page.wait_for_function(f"() => ({HEAD_PANELS})()?.title.includes('decoder self-attention')", timeout=TIMEOUT_MS)
    drawn = page.evaluate(HEAD_PANELS)
    assert drawn["panels"] == maps and drawn["greys"] == maps, drawn  # each head's future greyed
    assert page.evaluate(PROBLEMS, "#status") == 0


def test_compare_puts_the_marian_model_beside_a_bundled_checkpoint(page, oracle, served):
    open_repo(page, oracle)
    bundled = checkpoint.load(served[1] / "dates", device="cpu").translate(TEXT)
    page.locator("#main-tabs [role=tab][data-tab-id=compare]").first.click()  # B: the default, bundled dates
    wait_for_ticks(page, "x", pieces(oracle[0]), root="#plot-a")
    wait_for_ticks(page, "x", pieces(bundled.source_pieces), root="#plot-b")
    assert REPO in page.locator("#label-a").inner_text() and "dates" in page.locator("#label-b").inner_text()
    summary = page.locator("#compare-summary").inner_text()
    assert oracle[2] in summary and "different outputs" in summary, summary
    # their tokenizers differ, so A − B cannot be drawn: the page says so rather than drawing nonsense
    assert "different source pieces" in summary and page.locator("#plot-diff .js-plotly-plot .xtick text").count() == 0


LOAD_S = 4.0  # how long the slow Hub load takes, far beyond the 0.05 s a request waits for it


def slowly(load):
    def loading(*args, **kwargs):
        time.sleep(LOAD_S)
        return load(*args, **kwargs)
    return loading


def test_a_hub_model_slower_than_the_wait_still_ends_with_its_card_and_layers(browser, tmp_path_factory, oracle):  # noqa: F811
    """On a Space the first load of opus-mt-en-fr (300 MB to download, seconds to open) outlasts HUB_WAIT_S, so the
    events of the checkpoint's change get "still loading, try again"; typing once it has loaded must show it all."""
    slow = {(models, "HUB_WAIT_S"): 0.05, (hub_translation, "load"): slowly(hub_translation.load)}
    with serve(tmp_path_factory, slow) as (address, _):
        context = browser.new_context(viewport={"width": 1280, "height": 720})
        page = context.new_page()
        page.goto(address)
        page.wait_for_selector("#heatmap .js-plotly-plot .xtick text", timeout=TIMEOUT_MS)
        try:
            choose_repo(page)
            page.wait_for_function("() => document.querySelector('#status').innerText.includes('still loading')",
                                   timeout=TIMEOUT_MS)
            page.wait_for_timeout(1000 * LOAD_S + 2000)  # loaded by now: what the status said to do, try again
            type_text(page, oracle)
            card_and_layers(page)
        finally:
            context.close()
