"""Colour scales, plain-text ramps and series colours: how a value becomes a colour or a character.

Two colour scales:

- diverging, for tanh-range values in [-1, 1] (candidate, cell input, hidden state, cell state):
  blue for negative, grey for zero, orange-red for positive;
- sequential, for sigmoid-range values in [0, 1] (the gates i, f, o, z, r): dark purple to yellow.

Without colour, each value gets a character from a ramp (`SEQUENTIAL_RAMP`, `DIVERGING_RAMP`).
"""

from __future__ import annotations

import math

from rich.color import Color
from rich.style import Style
from rich.text import Text

SEQUENTIAL = "sequential"
DIVERGING = "diverging"

# Plain-text ramps, used when the console has no colour. Sequential: 0 -> 1.
SEQUENTIAL_RAMP = " ░▒▓█"
# Diverging: -1 -> +1, centre character for values near 0. Sign shows in the symbol, size in its weight.
DIVERGING_RAMP = "≡=-· ·+*#"

# Anchor colours (RGB). Chosen to stay visible on both dark and light backgrounds:
# no pure white or pure black anywhere on a scale.
_SEQUENTIAL_STOPS = [  # viridis, sampled
    (0.00, (68, 1, 84)),
    (0.25, (59, 82, 139)),
    (0.50, (33, 145, 140)),
    (0.75, (94, 201, 98)),
    (1.00, (253, 231, 37)),
]
_DIVERGING_STOPS = [  # blue - grey - red
    (0.00, (33, 102, 172)),
    (0.25, (103, 169, 207)),
    (0.50, (150, 150, 150)),
    (0.75, (239, 138, 98)),
    (1.00, (178, 24, 43)),
]

# Series colours and markers for line plots (distinct in colour and, without colour, in shape).
# Each colour has a relative luminance near 0.18, so it keeps a contrast of at least 3.4:1 on a light
# theme's grey (#e0e0e0) and on white as well as on a dark terminal (#1e1e1e, black): red, blue,
# green, ochre, purple, teal. (Brighter tints read well on dark only: #4c9be8 was 2.2:1 on #e0e0e0.)
SERIES_COLOURS = ["#de3130", "#1b77d1", "#44843d", "#8d730c", "#a35f90", "#19807f"]
SERIES_MARKERS = ["●", "▲", "■", "◆", "x", "+"]
BASELINE_COLOUR = "#757575"  # mid grey, 3.5:1 on #e0e0e0 and 3.6:1 on #1e1e1e
CURSOR_COLOUR = "bright_black"  # the terminal's (or Textual theme's) own grey

# Which scale each recorded quantity uses. Gates squashed by a sigmoid are in [0, 1].
SIGMOID_GATES = {"input", "forget", "output", "update", "reset"}


def scale_for(name: str) -> str:
    """The colour scale for a gate or state name: sequential for sigmoid gates, diverging otherwise."""
    return SEQUENTIAL if name in SIGMOID_GATES else DIVERGING


def value_range(scale: str) -> tuple[float, float]:
    return (0.0, 1.0) if scale == SEQUENTIAL else (-1.0, 1.0)


def _position(value: float, scale: str) -> float:
    """Map a value to [0, 1] along its scale, clipping out-of-range values (e.g. a cell state of 3)."""
    low, high = value_range(scale)
    if not math.isfinite(value):
        return 0.5 if scale == DIVERGING else 0.0
    return min(1.0, max(0.0, (value - low) / (high - low)))


def colour_for(value: float, scale: str) -> Color:
    """The rich colour of a value on a scale (linear interpolation between anchor colours)."""
    stops = _SEQUENTIAL_STOPS if scale == SEQUENTIAL else _DIVERGING_STOPS
    position = _position(float(value), scale)
    for (left, left_rgb), (right, right_rgb) in zip(stops, stops[1:]):
        if position <= right:
            weight = (position - left) / (right - left)
            rgb = tuple(round(a + (b - a) * weight) for a, b in zip(left_rgb, right_rgb))
            return Color.from_rgb(*rgb)
    return Color.from_rgb(*stops[-1][1])


def char_for(value: float, scale: str) -> str:
    """The plain-text character of a value on a scale."""
    ramp = SEQUENTIAL_RAMP if scale == SEQUENTIAL else DIVERGING_RAMP
    position = _position(float(value), scale)
    return ramp[min(len(ramp) - 1, int(position * len(ramp)))]


def legend(scale: str, *, colour: bool = True, width: int = 21) -> Text:
    """A colour bar between its end values: `-1▕█████▏+1` framed in colour, `-1 ≡- +# +1` in plain characters."""
    low, high = value_range(scale)
    high_label = f"{high:+g}" if scale == DIVERGING else f"{high:g}"
    # With colour, thin edges in the text colour frame the bar: its light end (viridis yellow) is
    # hardly brighter than a light theme's background, its dark end than a dark one's.
    left_edge, right_edge = ("▕", "▏") if colour else (" ", " ")
    text = Text(no_wrap=True)
    text.append(f"{low:g}{left_edge}")
    for index in range(width):
        value = low + (high - low) * index / (width - 1)
        if colour:
            text.append("█", style=Style(color=colour_for(value, scale)))
        else:
            text.append(char_for(value, scale))
    text.append(f"{right_edge}{high_label}")
    return text
