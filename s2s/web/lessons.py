"""The eight lessons: each sets every control of the page and says, to students, what to look at.

A lesson is data: the Explore run (text, reference, checkpoint, mask, forcing), a second run for
the Compare tab where the lesson is a comparison, and how to show the result (layer, row
scaling, rows labelled by the piece fed or the piece written). `open_lesson` says what a click shows.
What each text claims is checked against the bundled checkpoints by tests/web/test_lessons.py: a
lesson whose checkpoint stops showing what it says fails there.
"""

from __future__ import annotations

from dataclasses import dataclass

from .. import checkpoint
from .compare import Preset
from .models import layer_choices
from .runs import Settings
from .views import DISPLAY_OPTIONS, HEADS, HEATMAP

# where the lesson's result is shown: Explore's heatmap, Compare, the heatmap with one step's arithmetic, the
# comparison with its chart, or Explore's Heads tab (a Transformer's heads)
EXPLORE, COMPARE, STEP, WHY, HEAD_GRID = "explore", "compare", "step", "why", "heads"
TRANSFORMER_DATE = "the 21st of June, 1999"


@dataclass(frozen=True)
class Lesson:
    key: str
    title: str
    a: Settings  # the Explore tab's run (run A of a comparison)
    look: str  # Markdown: what to look at, in the page's words
    show: str = EXPLORE  # EXPLORE, COMPARE, STEP, WHY or HEAD_GRID
    b: Settings | None = None  # run B, for COMPARE
    layer: str = "mean"  # "mean" or a layer number as text, as the layer menu holds it
    row_scale: bool = False  # colours as weight / the row's largest weight
    rows_by_fed: bool = False  # label rows by the piece fed in, not the piece written

    @property
    def needs(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(s.checkpoint for s in (self.a, self.b) if s is not None))


REVERSE_LONG = "t h e q u i c k b r o w n f o x j u m p s"  # 20 letters: past what no attention can hold
REVERSE_LONG_REF = " ".join(REVERSE_LONG.split()[::-1])

LESSONS = (
    Lesson(
        "aligns", "1 · Attention aligns",
        Settings("the 21st of June, 1999", "dates", reference="1999-06-21"),
        row_scale=True,
        look="Each **row** is one piece the model writes, each **column** a piece of your date. The model writes "
             "the year **first** (the top four rows) but reads it **last**: look at where those rows are darkest, "
             "at the right end, on `1 9 9 9`. Colours are scaled per row (each row's strongest weight is darkest), "
             "so even a weight of 0.2 shows; hover a cell for the true weight.",
    ),
    Lesson(
        "why", "2 · Why attention",
        Settings(REVERSE_LONG, "reverse", reference=REVERSE_LONG_REF),
        show=COMPARE, b=Settings(REVERSE_LONG, "reverse-noattn", reference=REVERSE_LONG_REF),
        look="Both models reverse 20 letters. **A** (`reverse`) attends: its rows draw the anti-diagonal, each "
             "output letter reading one source letter, and it gets every letter right. **B** (`reverse-noattn`) "
             "has no attention: the whole input must squeeze through the encoder's final state, and it loses "
             "letters. The plot below counts it on fresh inputs: without attention, quality falls as inputs "
             "grow; with a causal mask (`reverse-causal`) step *t* cannot see the last letter it must write first.",
    ),
    Lesson(
        "forcing", "3 · Exposure bias",
        Settings(REVERSE_LONG, "reverse-noattn", forcing=True, ratio=1.0, reference=REVERSE_LONG_REF),
        show=COMPARE, b=Settings(REVERSE_LONG, "reverse-noattn", reference=REVERSE_LONG_REF),
        look="**A** is fed the right previous letter at every step (teacher forcing, ▸ rows): most of its "
             "predictions match the reference. **B** is fed its *own* previous output, as at inference time: "
             "one wrong letter is fed back and the errors that follow pile up (the red ✗ rows). Training "
             "only with forcing never shows the model its own mistakes: that gap is *exposure bias*. Try it "
             "yourself in Explore: untick *Feed the reference* (its run is then B's), and in the *Fed & predicted* "
             "tab feed the reference's letter at the first ✗ and decode on.",
    ),
    Lesson(
        "causal", "4 · Causal mask",
        Settings("the 21st of June, 1999", "dates", reference="1999-06-21"),
        show=COMPARE, b=Settings("the 21st of June, 1999", "dates", mask="causal", reference="1999-06-21"),
        row_scale=True,
        look="**A** may look at the whole input at every step (bidirectional). **B** runs the same model with a "
             "**causal** mask: step *t* may only see pieces 0…*t* (grey cells), so the first rows, which must "
             "write the year, cannot see it, and the output goes wrong. This `dates` model's encoder reads both "
             "ways, so its states at 0…*t* have already read the rest: a causal mask hides *positions*, not "
             "*information*. `dates-causal`, trained causal with a left-to-right encoder, is the honest version. "
             "Colours are scaled per row (each row's strongest weight darkest): A's weights are spread thin.",
    ),
    Lesson(
        "matrix", "5 · A matrix product",
        Settings("3 March 2021", "dates", reference="2021-03-03"),
        show=STEP, layer="0",
        look="One step's real arithmetic, for layer 0 at the step the slider shows (move it). The query **q** meets "
             "every encoder state **k** (the rows of K): the scores are one product, s = K q. Softmax turns them "
             "into the weights of the heatmap's row. The context is another product, c = w V: row *j* of V "
             "scaled by w_j and the rows added. Hover the grids for the numbers.",
    ),
    Lesson(
        "query", "6 · The notebook's query",
        Settings("29 February 2000", "dates-seed", reference="2000-02-29"),
        layer="0", rows_by_fed=True,
        look="`dates-seed` keeps the notebook's query: a projection of the piece **fed in**, nothing else. Rows "
             "are labelled by that fed piece here: every row fed `0` is the **same** row, and so is every row "
             "fed `2`, wherever it comes in the output. The query cannot tell the first `0` from the third. "
             "The standard query (the decoder's previous state, as in `dates`) knows where it is.",
    ),
    Lesson(
        "heads", "7 · The Transformer's heads",
        Settings(TRANSFORMER_DATE, "dates-transformer", reference="1999-06-21"),
        show=HEAD_GRID,
        look="A Transformer attends with several **heads** in every layer, each with its own query, keys and "
             "values: each small map is one head (rows: the pieces written, columns: your date). The first four "
             "rows write the year, and every head looks at the year there, but not alike: **layer 0, head 3** "
             "reads it digit by digit (row *t* on the year's *t*-th digit), while **layer 0, head 2** spreads "
             "over it. The Heatmap tab shows their mean, which blurs the one into the other. Switch *Attention* "
             "to the decoder's self-attention: each row reads only what was fed before it (grey: the future).",
    ),
    Lesson(
        "unmasked", "8 · Why the decoder must be causal",
        Settings(TRANSFORMER_DATE, "dates-transformer-unmasked", forcing=True, ratio=1.0, reference="1999-06-21"),
        show=COMPARE, b=Settings(TRANSFORMER_DATE, "dates-transformer-unmasked", reference="1999-06-21"),
        look="The notebook's last question: may the decoder attend to every piece, or only to those before it, as "
             "the Transformer's does? `dates-transformer-unmasked` was trained **without** the causal mask on "
             "its decoder's self-attention. **A** is fed the reference in one pass, as in training: each step "
             "can read the pieces that come *after* it, the answer itself, and copies them, so A is right. "
             "**B** must write on its own, one piece at a time: the future it learnt to read is not there yet, "
             "and it fails. In Explore's *Heads* tab (decoder self-attention) A's rows look at the future. "
             "A decoder must be causal so that training asks what writing will ask.",
    ),
)
BY_KEY = {lesson.key: lesson for lesson in LESSONS}


def lesson(key: object) -> Lesson:
    """The lesson named `key`, if the checkpoints it needs are installed; ValueError with a message otherwise."""
    if key not in BY_KEY:
        raise ValueError(f"Unknown lesson {key!r}: choose one of {', '.join(BY_KEY)}.")
    found = BY_KEY[key]
    missing = [name for name in found.needs if name not in checkpoint.list_bundled()]
    if missing:
        raise ValueError(f"This lesson needs the bundled checkpoint{'s' if len(missing) > 1 else ''} "
                         f"{', '.join(missing)}, not installed here.")
    return found


@dataclass(frozen=True)
class Opened:
    """What the page shows once a lesson is chosen: both runs' settings and how to show them."""

    preset: Preset  # the text, run A (the Explore tab) and run B (the Compare tab: A again unless a comparison)
    layers: list[tuple[str, str]]  # the layer menu of run A's checkpoint
    layer: str  # chosen in that menu
    display: list[str]  # the display options on (views.DISPLAY_OPTIONS)
    tab: str  # the page's tab that shows it: "explore" or "compare"
    text: str  # Markdown: the lesson's title and what to look at
    compares: bool  # run B is a second run, to compare
    view: str = HEATMAP  # the results tab Explore opens on (views.HEATMAP, or views.HEADS for a head grid)


def open_lesson(key: object) -> Opened:
    """Lesson `key` as the page shows it; ValueError (a message for the visitor) if it cannot be shown here."""
    chosen = lesson(key)
    a = chosen.a
    display = [option for option, on in zip(DISPLAY_OPTIONS, (chosen.row_scale, chosen.rows_by_fed)) if on]
    return Opened(Preset(a.text, a.reference, a, chosen.b or a), layer_choices(a.checkpoint), chosen.layer,
                  display, tab_of(chosen), f"**{chosen.title}.** {chosen.look}", chosen.b is not None, view_of(chosen))


def tab_of(chosen: Lesson) -> str:
    """The page's tab that shows a lesson: "compare" for a comparison, else "explore"."""
    return "compare" if chosen.show == COMPARE else "explore"


def view_of(chosen: Lesson) -> str:
    """The results tab Explore shows a lesson on: the heads grid for HEAD_GRID, else the heatmap."""
    return HEADS if chosen.show == HEAD_GRID else HEATMAP
