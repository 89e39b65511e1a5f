"""Line charts of numbers a run or an evaluation reports: a training run's curves, quality by source length."""

from __future__ import annotations

import html

from .figure import Figure, make_figure
from .style import TEMPLATE, style_for

LINE_COLOURS = ("#1b9e77", "#d95f02", "#7570b3", "#e7298a")  # ColorBrewer Dark2: colour-blind safe


def quality_by_length(buckets: list[str], exact: dict[str, list[float | None]], counts: list[int], *,
                      presenter: bool = False, title: str = "exact match by source length") -> Figure:
    """One line per checkpoint: exact match (%) in each source-length bucket; the hover has the numbers."""
    style = style_for(presenter)
    data = [dict(type="scatter", mode="lines+markers", name=name, x=list(buckets),
                 y=[None if v is None else round(100 * v, 1) for v in values],
                 customdata=list(counts), line=dict(width=3, color=LINE_COLOURS[i % len(LINE_COLOURS)]),
                 marker=dict(size=9), hovertemplate=f"{html.escape(name)}<br>%{{x}} letters: %{{y:.1f}}% "
                                                    "exact (of %{customdata})<extra></extra>")
            for i, (name, values) in enumerate(exact.items())]
    layout = dict(template=TEMPLATE, height=360 if not presenter else 480, margin=dict(l=10, r=10, t=50, b=10),
                  font=dict(size=style.font), legend=dict(orientation="h", y=-0.2),
                  title=dict(text=html.escape(title, quote=False), x=0.5, xanchor="center"),
                  xaxis=dict(title=dict(text="source length (letters)"), type="category", automargin=True),
                  yaxis=dict(title=dict(text="exact match (%)"), range=[-3, 103], automargin=True))
    return make_figure(data, layout)


def training_curves(loss: list[tuple[int, float]], accuracy: list[tuple[int, float, float]], *,
                    presenter: bool = False, title: str = "learning") -> Figure:
    """Loss (left axis) and validation accuracy (right axis, %) by optimizer step, as a run reports them.

    loss: (step, loss) pairs; accuracy: (step, share of pieces right, share of exact matches) triples.
    """
    style = style_for(presenter)
    data = [dict(type="scatter", mode="lines", name="training loss", x=[s for s, _ in loss], y=[v for _, v in loss],
                 line=dict(color="#7570b3", width=2), hovertemplate="step %{x}: loss %{y:.3f}<extra></extra>"),
            dict(type="scatter", mode="lines+markers", name="validation: tokens right", yaxis="y2",
                 x=[s for s, _, _ in accuracy], y=[round(100 * t, 1) for _, t, _ in accuracy],
                 line=dict(color="#1b9e77", width=2), hovertemplate="step %{x}: %{y:.1f}% of pieces<extra></extra>"),
            dict(type="scatter", mode="lines+markers", name="validation: exact match", yaxis="y2",
                 x=[s for s, _, _ in accuracy], y=[round(100 * e, 1) for _, _, e in accuracy],
                 line=dict(color="#d95f02", width=2), hovertemplate="step %{x}: %{y:.1f}% exact<extra></extra>")]
    layout = dict(template=TEMPLATE, height=300, margin=dict(l=10, r=10, t=40, b=10), font=dict(size=style.font),
                  title=dict(text=html.escape(title, quote=False), x=0.5, xanchor="center"),
                  legend=dict(orientation="h", y=-0.35, yanchor="top"),  # below the x axis title, not over it
                  xaxis=dict(title=dict(text="step"), automargin=True),
                  yaxis=dict(title=dict(text="loss"), rangemode="tozero", automargin=True),
                  yaxis2=dict(title=dict(text="%"), overlaying="y", side="right", range=[0, 100], automargin=True))
    return make_figure(data, layout)
