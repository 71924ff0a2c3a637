"""Medians of repeated measurements, and the text of figures: seconds, rates, megabytes, ratios
and markdown tables."""

from __future__ import annotations

import statistics
from collections.abc import Callable, Iterable

from benchmarks.config import MB


def median(values: Iterable[float | None]) -> float | None:
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def ok_median(runs: Iterable, pick: Callable) -> float | None:
    """The median of `pick` over the runs that succeeded (None when none did)."""
    return median(pick(r) for r in runs if r.ok)


def ratio_text(runs: list, reference: list, pick: Callable) -> str:
    """'a s vs b s = r x' for the medians of `pick` over the successful runs of each side."""
    a, b = ok_median(runs, pick), ok_median(reference, pick)
    if not a or not b:
        return "–"
    return f"{fmt_s(a)} s vs {fmt_s(b)} s = {a / b:.2f}x"


def fmt_s(value: float | None) -> str:
    return "–" if value is None else (f"{value:.2f}" if value < 10 else f"{value:.1f}")


def fmt_rate(value: float | None) -> str:
    return "–" if value is None else f"{value:,.0f}"


def fmt_mb(value: float | None) -> str:
    return "–" if value is None else f"{value / MB:,.0f}"


def fmt_peak(runs: list) -> str:
    """The highest peak of `runs` in MB, with the step it happened in when known."""
    if not runs:
        return "–"
    top = max(runs, key=lambda r: r.peak_bytes)
    return fmt_mb(top.peak_bytes) + (f" ({top.peak_step})" if top.peak_step else "")


def peak_text(run) -> str:
    """'1,473 MB = 1.54 GB (in staging_events)'."""
    where = f" (in {run.peak_step})" if run.peak_step else ""
    return f"{run.peak_bytes / MB:,.0f} MB = {run.peak_bytes / 1e9:.2f} GB{where}"


def fmt_ratio(value: float | None) -> str:
    return "–" if value is None else f"{value:.2f}"


def table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(str(c).replace("|", "\\|") for c in row) + " |" for row in rows]
    return "\n".join(lines)
