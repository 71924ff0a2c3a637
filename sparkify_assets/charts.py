"""The analytics report's charts, drawn with matplotlib as PNG images.

Figures are made with `matplotlib.figure.Figure`, not pyplot: no global state and no GUI
backend, so drawing is safe in any process Dagster runs a step in.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Sequence
from datetime import date

from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator, PercentFormatter

SIZE = (7.0, 3.0)  # inches; at DPI, 630 x 270 pixels: legible in the UI's metadata panel
DPI = 90
FREE, PAID = "#8fb3d9", "#1f4e79"


def png(figure: Figure) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI, bbox_inches="tight")
    return buffer.getvalue()


def data_uri(image: bytes) -> str:
    """The image inline, as markdown and HTML can both show it."""
    return "data:image/png;base64," + base64.b64encode(image).decode("ascii")


def _figure(title: str, counts_on: str | None = "y"):
    """A figure with one axes; `counts_on` is the axis that counts plays (whole numbers)."""
    figure = Figure(figsize=SIZE)
    axes = figure.subplots()
    axes.set_title(title, loc="left", fontsize=11)
    axes.spines[["top", "right"]].set_visible(False)
    if counts_on:
        getattr(axes, f"{counts_on}axis").set_major_locator(MaxNLocator(integer=True))
    return figure, axes


def plays_per_hour(hours: Sequence[int], plays: Sequence[int]) -> bytes:
    figure, axes = _figure("Plays per hour of day (UTC)")
    axes.set_ylabel("plays")
    by_hour = dict(zip(hours, plays, strict=True))
    axes.bar(range(24), [by_hour.get(h, 0) for h in range(24)], color=PAID)
    axes.set_xticks(range(0, 24, 2))
    axes.set_xlabel("hour")
    return png(figure)


def plays_per_day(days: Sequence[date], free: Sequence[int], paid: Sequence[int]) -> bytes:
    figure, axes = _figure("Plays per day, free and paid users")
    axes.set_ylabel("plays")
    axes.bar(days, paid, color=PAID, label="paid")
    axes.bar(days, free, bottom=paid, color=FREE, label="free")
    axes.legend(frameon=False, loc="upper left", bbox_to_anchor=(1, 1))
    figure.autofmt_xdate()
    return png(figure)


def paid_share(days: Sequence[date], share: Sequence[float]) -> bytes:
    figure, axes = _figure("Paid share of plays per day", counts_on=None)
    axes.set_ylabel("share of plays")
    axes.plot(days, share, marker="o", color=PAID)
    axes.set_ylim(0, 1)
    axes.yaxis.set_major_formatter(PercentFormatter(1.0))
    figure.autofmt_xdate()
    return png(figure)


def top(title: str, labels: Sequence[str], plays: Sequence[int]) -> bytes:
    """A horizontal bar per label, the most played on top."""
    figure, axes = _figure(title, counts_on="x")
    axes.barh(list(reversed(labels)), list(reversed(plays)), color=PAID)
    axes.set_xlabel("plays")
    axes.tick_params(axis="y", labelsize=8)
    return png(figure)
