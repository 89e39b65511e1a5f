"""How the figures look: colours, marks, colour scales and the two sizes (plain and presenter).

Colour scales are written out as explicit stops: the figures skip plotly.py's validation, which is what
turns a name into stops, and plotly.js's own "Blues" or "YlGnBu" run the other way (dark at 0).
"""

from __future__ import annotations

from dataclasses import dataclass

import plotly.colors

MASKED_COLOR = "#bdbdbd"  # masked cells: a grey no colour scale here uses
OUTLINE_COLOR = "#e7298a"  # the current step's outline: magenta stands out on blue, green and yellow
MISMATCH_COLOR = "#c62828"
TEXT_COLOR = "#212121"  # a table's ordinary cells
AFTER_END_COLOR = "#9e9e9e"  # rows decoded after the model's own </s>: greyed, they are not its output
END_LINE_COLOR = "#616161"  # the dotted line between the model's last step and the steps after it
# An axis with tick labels (pieces): plotly's default, "hide past div", measures every label again each time
# it places one, n^2 bounding boxes for n pieces, the largest part of redrawing a map. The labels stay inside
# the figure anyway: automargin makes room for them.
LABELS = dict(automargin=True, ticklabeloverflow="allow")
FORCED_MARK, MISMATCH_MARK, AFTER_END_MARK = "▸", "✗", "(after ⟨eos⟩)"
WEIGHT_TITLE, ROW_SCALED_TITLE = "weight", "weight ÷<br>row max"  # colour bar titles
TEMPLATE: dict = {}  # no plotly template: the default one would travel with every figure

Scale = tuple[tuple[float, str], ...]  # (position 0..1, colour) stops


def colour_stops(name: str) -> Scale:
    """A plotly.py colour scale, by name, as explicit stops."""
    return tuple((float(position), colour) for position, colour in plotly.colors.get_colorscale(name))


def stops(scale: Scale) -> list[list]:
    """A scale as plotly writes it in a figure's JSON: a list of [position, colour]."""
    return [list(stop) for stop in scale]


# Sequential, light at 0 and dark at 1, so that an unattended cell reads as blank paper: ColorBrewer's
# Blues, and for the presenter ColorBrewer's YlGnBu (light yellow -> green -> dark blue), which is
# colour-blind safe and keeps more contrast on a projector than one hue. (Cividis, before, is dark
# navy at 0: maps looked uniformly dark.)
WEIGHT_SCALE = colour_stops("Blues")
PRESENTER_SCALE = colour_stops("YlGnBu")
DIFFERENCE_SCALE = colour_stops("RdBu_r")  # diverging: blue < 0 < red, white at 0
MASKED_SCALE = ((0.0, MASKED_COLOR), (1.0, MASKED_COLOR))


@dataclass(frozen=True)
class Style:
    font: int  # px, titles and captions
    tick: int  # px, axis tick labels
    row_px: int  # figure height per output step
    outline: float  # width of the current step's outline
    gap: int  # px between cells
    colorscale: Scale  # weights 0..1: sequential, light = 0, dark = more attention
    max_height: int
    end_line: float  # width of the line after the model's own last step


PLAIN = Style(font=13, tick=12, row_px=22, outline=2.5, gap=1, colorscale=WEIGHT_SCALE, max_height=760,
              end_line=1.5)
PRESENTER = Style(font=20, tick=18, row_px=28, outline=5, gap=2, colorscale=PRESENTER_SCALE, max_height=560,
                  end_line=3)


def style_for(presenter: bool) -> Style:
    return PRESENTER if presenter else PLAIN


def colorbar(style: Style, title: str) -> dict:
    return dict(title=dict(text=title), thickness=14, tickfont=dict(size=style.tick))
