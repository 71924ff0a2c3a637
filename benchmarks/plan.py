"""The sizes each mode measures: the lakes of the loads by size, of the scale load and of the
incremental years, the repetitions, and how many overhead pairs."""

from __future__ import annotations

from dataclasses import dataclass

from benchmarks.lakes import LakeSpec


@dataclass(frozen=True)
class Plan:
    quick: bool
    reps: int  # repetitions per measurement
    size_specs: tuple[LakeSpec, ...]  # loads by engine and size, smallest first
    scale_spec: LakeSpec  # target 4, and DuckDB's incremental year
    pg_year_spec: LakeSpec  # PostgreSQL's incremental year (full run only)
    overhead_pairs: int

    @property
    def largest(self) -> LakeSpec:
        """The largest load by size: targets 1 and 2 are judged on it."""
        return self.size_specs[-1]

    @property
    def tiny_spec(self) -> LakeSpec:
        """Target 6's lake: its song_data has 15,000 one-object files (full run)."""
        return self.size_specs[-1]


def make_plan(quick: bool, reps: int | None) -> Plan:
    if quick:
        year = LakeSpec("year-36k-events", 1_000, 200, 365, 100)
        sizes = (LakeSpec("10k-events", 1_000, 200, 10, 1_000),)
        return Plan(True, reps or 1, sizes, year, year, overhead_pairs=2)
    sizes = (
        LakeSpec("10k-events", 1_000, 200, 10, 1_000),
        LakeSpec("100k-events", 5_000, 1_000, 20, 5_000),
        LakeSpec("1M-events", 15_000, 5_000, 40, 25_000),
    )
    # A year of 27,398 events a day: the 10M-event scale lake is the incremental year.
    scale = LakeSpec("10M-events-year", 100_000, 10_000, 365, 27_398)
    # PostgreSQL's incremental year is smaller: loading 10M rows into it for each repetition
    # would not fit the time budget.
    pg_year = LakeSpec("1M-events-year", 15_000, 5_000, 365, 2_740)
    return Plan(False, reps or 3, sizes, scale, pg_year, overhead_pairs=5)
