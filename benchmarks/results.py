"""What the runs measured: one CLI materialization (RunResult), the loads of one lake on one
engine with their reference (SizeResult), and everything one benchmark run measured (Results)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from benchmarks.figures import ok_median
from benchmarks.lakes import LakeSpec
from benchmarks.pyspy import Profile


@dataclass
class RunResult:
    label: str
    ok: bool
    wall: float  # seconds, process start to exit
    cpu: float  # user + system seconds of the child (and its waited-for children)
    peak_bytes: int  # max(ru_maxrss, the polled RSS of the whole process tree)
    startup: float = 0.0  # process start to the run's first event (imports, loading the code)
    run_seconds: float = 0.0  # RUN_START to RUN_SUCCESS/FAILURE
    run_start: float = 0.0  # process start to RUN_START (start-up, then the run's creation)
    run_end: float = 0.0  # process start to RUN_SUCCESS/FAILURE
    events: int = 0  # records in the run's event log
    steps: dict[str, float] = field(default_factory=dict)  # step key -> seconds
    step_order: list[str] = field(default_factory=list)
    loaded: dict[str, int] = field(default_factory=dict)  # staging table -> rows loaded
    error: str | None = None
    diagnostic: bool = False  # ran with the patched staging chunk
    peak_step: str | None = None  # the step running when memory peaked, when known
    audits: dict[str, float] = field(default_factory=dict)  # star table -> audit seconds

    def rate(self, table: str) -> float | None:
        seconds = self.steps.get(table)
        rows = self.loaded.get(table)
        if not seconds or rows is None:
            return None
        return rows / seconds


@dataclass
class SizeResult:
    engine: str
    spec: LakeSpec
    runs: list[RunResult]
    ref_rates: list[float] = field(default_factory=list)  # events: bare reference rows/s
    ref_peak: int | None = None
    diagnostic: RunResult | None = None

    @property
    def ok_runs(self) -> list[RunResult]:
        return [r for r in self.runs if r.ok]

    def figure(self, pick: Callable[[RunResult], float | None]) -> float | None:
        return ok_median(self.runs, pick)


@dataclass
class Results:
    """Everything one benchmark run measured, for the verdicts and the report."""

    sizes: list[SizeResult] = field(default_factory=list)  # targets 1, 2 and 6
    scale: SizeResult | None = None  # target 4
    # target 5, by engine name: spec, setup/empty/year runs, and error, or bases and lakes
    incremental: dict[str, dict] = field(default_factory=dict)
    overhead: dict[str, list[RunResult]] = field(
        default_factory=lambda: {"graph": [], "trivial": []}
    )  # target 3
    tiny: dict = field(default_factory=dict)  # target 6's reference: files, ref_rates
    profiles: list[Profile] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # for the report's notes

    @property
    def all_sizes(self) -> list[SizeResult]:
        """The loads by size, then the scale load."""
        return self.sizes + ([self.scale] if self.scale else [])
