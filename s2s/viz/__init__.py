"""Figures, tables and exports of a `Translation`: pure functions from a result to a figure, plotly + numpy
only (no model runs, no gradio), so the app redraws a new layer or the next step without translating again.

    import s2s.viz
    s2s.viz.heatmap(m.translate("3 March 2021"))     # a Figure: shows in a notebook; .plotly is plotly's go.Figure

    pieces      how a piece is shown and escaped (·March, ⟨eos⟩), and read back
    style       colours, marks, colour scales, the plain and presenter sizes
    weights     what a figure reads from a Translation, and the checks on layer and step
    figure      `Figure`, a plotly figure kept as its dict and written to JSON directly; `message`
    parts       the parts of a map of weights: traces, hover, axes, layout, marks, titles
    maps        heatmap, layer_grid, difference, shared_zmax
    heads       heads_grid: every head of every layer, for one kind of attention; one_head: one head's view;
                attention_of: any kind and head where the maps read their weights
    arithmetic  one step's arithmetic: step_figure, step_math
    tables      the app's tables (forcing, n best) and steps_table for a model without attention
    export      attention_csv, attention_json, figure_html
    charts      training_curves, quality_by_length

Shapes: L layers, S output steps, T source pieces, H hidden size.
"""

from .arithmetic import step_figure, step_math
from .charts import quality_by_length, training_curves
from .export import PLOT_CONFIG, attention_csv, attention_json, figure_html
from .figure import Figure, message
from .heads import KIND_NAMES, NO_HEADS, attention_of, heads_grid, one_head
from .maps import difference, heatmap, layer_grid, shared_zmax
from .parts import default_title
from .pieces import WORD_START, display_piece, piece_from_display
from .style import (
                    AFTER_END_COLOR,
                    AFTER_END_MARK,
                    FORCED_MARK,
                    MISMATCH_COLOR,
                    MISMATCH_MARK,
                    PLAIN,
                    PRESENTER,
                    ROW_SCALED_TITLE,
                    WEIGHT_TITLE,
                    Style,
)
from .tables import FORCING_COLUMNS, NBEST_COLUMNS, forcing_table, nbest_table, probability_text, steps_table
from .weights import NO_ATTENTION, layer_weights

__all__ = [
    "AFTER_END_COLOR", "AFTER_END_MARK", "FORCED_MARK", "FORCING_COLUMNS", "MISMATCH_COLOR", "MISMATCH_MARK",
    "KIND_NAMES", "NBEST_COLUMNS", "NO_ATTENTION", "NO_HEADS", "PLAIN", "PLOT_CONFIG", "PRESENTER",
    "ROW_SCALED_TITLE", "WEIGHT_TITLE", "WORD_START",
    "Figure", "Style", "attention_csv", "attention_of", "attention_json", "default_title", "difference",
    "display_piece", "figure_html", "forcing_table", "heads_grid", "heatmap", "layer_grid", "layer_weights", "message",
    "nbest_table", "one_head",
    "piece_from_display", "probability_text", "quality_by_length", "shared_zmax", "step_figure", "step_math",
    "steps_table", "training_curves",
]
