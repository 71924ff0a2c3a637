"""The six targets: what each one measured against its reference, its ratio and its verdict."""

from __future__ import annotations

from dataclasses import dataclass

from benchmarks.pyspy import Profile


@dataclass
class Target:
    number: int
    title: str
    goal: str
    measured: str = "not run"
    reference: str = "–"
    ratio: float | None = None
    verdict: str = "NOT RUN"
    note: str = ""
    profile: Profile | None = None
