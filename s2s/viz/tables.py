"""Each step as a row: the app's tables (forcing, beam search's n best) and `steps_table`, the figure a
model without attention shows in the heatmap's place.

The app's tables are lists of rows of plain text (pieces unescaped), for a gr.Dataframe of strings.
"""

from __future__ import annotations

from ..translator import Translation
from .figure import Figure, make_figure
from .pieces import display_piece
from .style import FORCED_MARK, MISMATCH_COLOR, MISMATCH_MARK, TEMPLATE, TEXT_COLOR, style_for
from .weights import clamp_step

FORCING_COLUMNS = [
    "step", "fed", "forced?", "predicted", "p(predicted)", "reference", "p(reference)", "match", "after end",
]
NBEST_COLUMNS = ["rank", "output", "score (mean log p)", "length"]
SMALL_PROBABILITY = 1e-4  # below this, a probability is written "3.2e-07", not "0.0000"
NO_ATTENTION_TITLE = "No attention, so no weights: what each step was fed and wrote"
STEP_COLUMNS = ("step", "fed", "wrote", "reference", "")


def forcing_table(r: Translation) -> list[list]:
    """One row per step (columns FORCING_COLUMNS); plain-text pieces, for a gr.Dataframe of strings.

    Probabilities are text (`probability_text`: "0.9731", "3.2e-07", never a rounded "0"). "forced?" is
    "given" on the steps an intervention fed (the pieces kept up to the change, and the changed one). Without
    a reference the reference columns are empty strings. "after end" says "yes" on the steps decoded
    after the model's own </s> (teacher forcing runs on to the reference's length).
    """
    reference = r.reference_pieces or []
    end = r.end
    rows = []
    for t, (fed, predicted) in enumerate(zip(r.decoder_inputs, r.output_pieces, strict=True)):
        has_reference = t < len(reference)
        rows.append([
            t,
            display_piece(fed, escape=False),
            ("yes" if r.reference is not None else "given") if r.forced[t] else "no",
            display_piece(predicted, escape=False),
            probability_text(r.probs[t]),
            display_piece(reference[t], escape=False) if has_reference else "",
            probability_text(r.reference_probs[t]) if has_reference and r.reference_probs is not None else "",
            ("✓" if predicted == reference[t] else "✗") if has_reference else "",
            "yes" if t >= end else "",
        ])
    return rows


def probability_text(p: float) -> str:
    """A probability a person can read: 4 decimals, or 2 significant digits below 0.0001 ("3.2e-07")."""
    p = float(p)
    return f"{p:.4f}" if p >= SMALL_PROBABILITY or p == 0 else f"{p:.1e}"


def nbest_table(r: Translation) -> list[list]:
    """Beam search's hypotheses best first (columns NBEST_COLUMNS); a greedy result is its only row.

    Scores are text with four decimals each ("-0.4820", not -0.482 beside -0.4482), so the column lines up."""
    return [[rank, h.text, f"{h.mean_log_prob:.4f}", len(h.output_pieces)]
            for rank, h in enumerate(r.hypotheses or [r], start=1)]


def steps_table(r: Translation, step: int | None = None, *, presenter: bool = False,
                reference: list[str] | None = None) -> Figure:
    """What a model without attention can show in the heatmap's place: each step's fed and written piece.

    ▸ marks a step fed the reference (teacher forcing), a red ✗ a written piece that is not the
    reference's, so forcing against free running (exposure bias) reads row by row as on a heatmap.
    step: the rows up to it, as the heatmap's play shows them. reference: the reference's pieces and
    </s> (a run without forcing has none of its own); the run's own by default.
    """
    style = style_for(presenter)
    reference = reference or r.reference_pieces or []
    shown = len(r.output_pieces) if step is None else clamp_step(step, len(r.output_pieces)) + 1
    rows = []
    for t in range(shown):
        fed = display_piece(r.decoder_inputs[t], escape=False)
        wrote = display_piece(r.output_pieces[t], escape=False)
        has_reference = t < len(reference)
        mark = ("✓" if r.output_pieces[t] == reference[t] else MISMATCH_MARK) if has_reference else ""
        rows.append((str(t), f"{FORCED_MARK} {fed}" if r.forced[t] else fed, wrote,
                     display_piece(reference[t], escape=False) if has_reference else "", mark))
    columns = [list(column) for column in zip(*rows)] if rows else [[] for _ in STEP_COLUMNS]
    colours = [MISMATCH_COLOR if row[4] == MISMATCH_MARK else TEXT_COLOR for row in rows]
    row_px = style.font + 12
    cells = dict(values=columns, align="center", height=row_px, font=dict(size=style.font, color=[colours] * 5),
                 fill=dict(color="white"), line=dict(color="#e0e0e0"))
    table = dict(type="table", columnwidth=[1, 2, 2, 2, 1], cells=cells,
                 header=dict(values=[f"<b>{c}</b>" for c in STEP_COLUMNS], align="center", height=row_px,
                             font=dict(size=style.font), fill=dict(color="#f5f5f5"), line=dict(color="#e0e0e0")))
    # tall enough for 32 steps (the table scrolls beyond), so that errors piling up are seen without scrolling
    layout = dict(template=TEMPLATE, autosize=True, height=60 + row_px * (min(shown, 32) + 2),
                  margin=dict(l=10, r=10, t=30 + style.font, b=10), font=dict(size=style.font),
                  title=dict(text=NO_ATTENTION_TITLE, font=dict(size=style.font + 1), x=0.5, xanchor="center",
                             yref="container", y=1, yanchor="top", pad=dict(t=4)))
    return make_figure([table], layout)
