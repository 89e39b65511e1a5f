"""Colours and sizes (s2s/viz/style.py): palettes light at 0 and dark at 1, written as explicit stops."""

from __future__ import annotations

import plotly.colors
import pytest

from s2s import viz
from s2s.viz.style import colour_stops


def luminance(colour: str) -> float:
    """WCAG relative luminance of "rgb(r,g,b)" or "#rrggbb": 0 black .. 1 white."""
    rgb = plotly.colors.hex_to_rgb(colour) if colour.startswith("#") else plotly.colors.unlabel_rgb(colour)
    linear = [c / 255 / 12.92 if c / 255 <= 0.04045 else ((c / 255 + 0.055) / 1.055) ** 2.4 for c in rgb]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


@pytest.mark.parametrize("style", [viz.PLAIN, viz.PRESENTER])
def test_palettes_are_light_at_zero_and_dark_at_one(style):
    assert luminance(style.colorscale[0][1]) > 0.85  # an unattended cell reads as blank paper
    assert luminance(style.colorscale[-1][1]) < 0.1
    assert [stop[0] for stop in style.colorscale] == sorted(stop[0] for stop in style.colorscale)


def test_presenter_palette_is_a_colour_blind_safe_scale():
    assert viz.PRESENTER.colorscale == colour_stops("YlGnBu")  # ColorBrewer: colour-blind safe
    assert viz.PRESENTER.colorscale != viz.PLAIN.colorscale


def test_colour_scales_are_explicit_stops_not_names(plain):
    # plotly.js's own "Blues" and "YlGnBu" are dark at 0: a bare name would flip the map in the browser
    figures = [viz.heatmap(plain), viz.heatmap(plain, presenter=True), viz.difference(plain, plain)]
    for fig in figures:
        scale = fig.to_plotly_json()["data"][0]["colorscale"]
        assert isinstance(scale, list) and scale[0][0] == 0 and scale[-1][0] == 1
    assert isinstance(viz.layer_grid(plain).layout.coloraxis.colorscale, tuple | list)
