"""The six targets: what each one measured against its reference, its ratio and its verdict,
judged from a run's results."""

from __future__ import annotations

from dataclasses import dataclass

from benchmarks.config import DIAGNOSTIC_CHUNK_BYTES, MB, PEAK_MEMORY_LIMIT
from benchmarks.figures import fmt_rate, fmt_ratio, fmt_s, median, ok_median, peak_text, ratio_text
from benchmarks.lakes import LakeSpec
from benchmarks.plan import Plan
from benchmarks.pyspy import Profile
from benchmarks.results import Results, RunResult, SizeResult

STAGING_TITLES = {
    1: "DuckDB staging vs bare read_json",
    2: "PostgreSQL staging vs bare COPY FROM STDIN",
}


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

    def add_note(self, text: str) -> None:
        self.note = (self.note + " " + text).strip()


def judge(plan: Plan, results: Results, with_postgres: bool) -> dict[int, Target]:
    """The verdict on each target, from what the run measured."""
    t = {1: staging_target(1, "duckdb", "bare read_json", plan.largest, results)}
    judge_staging_at_scale(t[1], results.scale, plan.largest)
    if with_postgres:
        t[2] = staging_target(2, "postgres", "bare COPY", plan.largest, results)
    else:
        t[2] = Target(2, STAGING_TITLES[2], ">= 0.5x", note="no PostgreSQL server")
    t[3] = overhead_target(results.overhead["graph"], results.overhead["trivial"])
    t[4] = scale_target(plan, results.scale)
    t[5] = incremental_target(results.incremental.get("duckdb"))
    t[6] = tiny_target(find_size(results, "duckdb", plan.tiny_spec), results.tiny)
    if plan.quick:
        for number in (1, 2, 6):
            t[number].add_note("Quick mode: small sizes.")
    return t


def find_size(results: Results, engine: str, spec: LakeSpec) -> SizeResult | None:
    found = [s for s in results.sizes if s.engine == engine and s.spec == spec]
    return found[0] if found else None


def staging_target(
    number: int, engine: str, ref_name: str, largest: LakeSpec, results: Results
) -> Target:
    """Targets 1 and 2: staging_events rows/s at the largest load by size vs the reference."""
    target = Target(number, STAGING_TITLES[number], ">= 0.5x")
    size = find_size(results, engine, largest)
    if size is None:
        return target
    ref = median(size.ref_rates)
    target.reference = f"{fmt_rate(ref)} rows/s ({ref_name}, {largest.events:,} events)"
    if size.ok_runs:
        rate = size.figure(lambda r: r.rate("staging_events"))
        target.measured = f"{fmt_rate(rate)} rows/s"
        target.ratio = rate / ref if rate and ref else None
        target.verdict = "PASS" if target.ratio and target.ratio >= 0.5 else "MISS"
        if target.verdict == "MISS":
            target.note = (
                f"{target.ratio:.2f}x the reference: needs {0.5 / target.ratio:.1f}x "
                "faster staging to reach 0.5x."
            )
    else:
        target.measured = "failed: " + (size.runs[0].error or "?")
        target.verdict = "MISS"
        diag = size.diagnostic
        if diag is not None and diag.ok and ref:
            rate = diag.rate("staging_events")
            ratio = rate / ref if rate else None
            target.note = (
                "As shipped the load fails. Diagnostic rerun with "
                f"{DIAGNOSTIC_CHUNK_BYTES // MB} MB staging chunks: {fmt_rate(rate)} "
                f"rows/s = {fmt_ratio(ratio)}x the reference."
            )
            target.ratio = None
    return target


def judge_staging_at_scale(target: Target, scale: SizeResult | None, largest: LakeSpec) -> None:
    """Target 1 must hold as the log grows: the scale load (10M events) counts too, and the
    worse of the two ratios decides."""
    if scale is None or not scale.ok_runs or scale.spec.events <= largest.events:
        return
    rate = scale.figure(lambda r: r.rate("staging_events"))
    ref = median(scale.ref_rates)
    if not rate or not ref:
        return
    ratio = rate / ref
    if target.ratio is not None and ratio >= target.ratio:
        target.add_note(
            f"At {scale.spec.events:,} events: {fmt_rate(rate)} rows/s vs "
            f"{fmt_rate(ref)} = {ratio:.2f}x."
        )
        return
    before = f" At {largest.events:,} events: {target.measured}" + (
        f" vs {target.reference} = {fmt_ratio(target.ratio)}x." if target.ratio else "."
    )
    target.measured = f"{fmt_rate(rate)} rows/s ({scale.spec.events:,} events)"
    target.reference = f"{fmt_rate(ref)} rows/s (bare read_json, same files)"
    target.ratio = ratio
    if target.verdict != "MISS" or ratio < 0.5:
        target.verdict = "PASS" if ratio >= 0.5 else "MISS"
    target.note = (
        f"Judged at the larger of the two loads, where it is worse.{before} "
        + (f"Needs {0.5 / ratio:.1f}x faster staging to reach 0.5x." if ratio < 0.5 else "")
        + (" " + target.note if target.note else "")
    ).strip()


def overhead_target(graph: list[RunResult], trivial: list[RunResult]) -> Target:
    """Target 3: the sample graph's wall time vs the trivial graph's."""
    target = Target(3, "whole graph on the sample vs trivial graph of the same shape", "<= 2x")
    graph_wall = ok_median(graph, lambda r: r.wall)
    trivial_wall = ok_median(trivial, lambda r: r.wall)
    if graph_wall and trivial_wall:
        target.measured = f"{graph_wall:.2f} s wall (median of {len(graph)})"
        target.reference = f"{trivial_wall:.2f} s wall (median of {len(trivial)})"
        target.ratio = graph_wall / trivial_wall
        target.verdict = "PASS" if target.ratio <= 2 else "MISS"
        run_g = ok_median(graph, lambda r: r.run_seconds)
        run_t = ok_median(trivial, lambda r: r.run_seconds)
        start_g = ok_median(graph, lambda r: r.startup)
        start_t = ok_median(trivial, lambda r: r.startup)
        target.note = (
            f"start-up (process start to first event) {fmt_s(start_g)} s vs "
            f"{fmt_s(start_t)} s; "
            f"run (RUN_START to RUN_SUCCESS) {fmt_s(run_g)} s vs {fmt_s(run_t)} s"
            + (f" = {run_g / run_t:.2f}x" if run_g and run_t else "")
            + "; CPU "
            + ratio_text(graph, trivial, lambda r: r.cpu)
            + "."
        )
    return target


def scale_target(plan: Plan, scale: SizeResult | None) -> Target:
    """Target 4: the scale load's peak memory vs the 1.5 GB limit."""
    spec = plan.scale_spec
    target = Target(
        4, f"{spec.events:,} events, {spec.songs:,} songs end to end on DuckDB", "peak < 1.5 GB"
    )
    if not scale:
        return target
    ok = scale.ok_runs
    target.reference = f"bare read_json {fmt_rate(median(scale.ref_rates))} rows/s"
    if ok:
        wall = median(r.wall for r in ok)
        peak = max(r.peak_bytes for r in ok)
        top = max(ok, key=lambda r: r.peak_bytes)
        target.measured = f"{wall:.0f} s wall, peak {peak_text(top)}"
        target.ratio = peak / PEAK_MEMORY_LIMIT
        target.verdict = "PASS" if peak < PEAK_MEMORY_LIMIT else "MISS"
    else:
        run = scale.runs[0]
        target.measured = (
            f"failed after {run.wall:.0f} s (peak {run.peak_bytes / MB:,.0f} MB): {run.error}"
        )
        target.verdict = "MISS"
        diag = scale.diagnostic
        if diag is not None:
            target.note = (
                f"Diagnostic rerun with {DIAGNOSTIC_CHUNK_BYTES // MB} MB staging chunks: "
                + (
                    f"{diag.wall:.0f} s wall, peak {peak_text(diag)}, "
                    + ("under" if diag.peak_bytes < PEAK_MEMORY_LIMIT else "over")
                    + " the 1.5 GB limit"
                    if diag.ok
                    else f"failed too: {diag.error}"
                )
                + "."
            )
    if plan.quick:
        target.add_note("Quick mode: a small lake, not the target's size.")
    return target


def incremental_target(entry: dict | None) -> Target:
    """Target 5: the new day into the year vs into the catalogue-only warehouse, wall time."""
    target = Target(
        5, "one new day into a warehouse holding a year vs into an empty one", "<= 1.5x"
    )
    if entry and entry["empty"] and entry["year"]:
        empty = ok_median(entry["empty"], lambda r: r.wall)
        year = ok_median(entry["year"], lambda r: r.wall)
        if empty and year:
            target.measured = f"{year:.2f} s wall into the year ({entry['spec'].events:,} events)"
            target.reference = f"{empty:.2f} s wall into an empty warehouse"
            target.ratio = year / empty
            target.verdict = "PASS" if target.ratio <= 1.5 else "MISS"
            steps_e = ok_median(entry["empty"], lambda r: sum(r.steps.values()))
            steps_y = ok_median(entry["year"], lambda r: sum(r.steps.values()))
            if steps_e and steps_y:
                target.note = (
                    f"Time inside the steps only (no CLI start-up): {steps_y:.2f} s vs "
                    f"{steps_e:.2f} s = {steps_y / steps_e:.2f}x"
                    + (" (would miss 1.5x)" if steps_y / steps_e > 1.5 else "")
                    + "; CPU "
                    + ratio_text(entry["year"], entry["empty"], lambda r: r.cpu)
                    + "."
                )
        else:
            target.measured = "failed"
            target.verdict = "MISS"
    elif entry and entry.get("error"):
        target.measured = entry["error"]
        target.verdict = "MISS"
    return target


def tiny_target(size: SizeResult | None, tiny: dict) -> Target:
    """Target 6: staging_songs rows/s on many one-object files vs their bare read_json."""
    target = Target(
        6,
        f"{tiny.get('files', 0):,} one-object song files: staging vs bare read_json",
        ">= 0.5x",
    )
    if size is None or not tiny:
        return target
    ref = median(tiny["ref_rates"])
    runs = size.ok_runs or [r for r in size.runs if "staging_songs" in r.steps]
    if not runs and size.diagnostic:
        runs = [size.diagnostic]
    rate = median(r.rate("staging_songs") for r in runs)
    target.reference = f"{fmt_rate(ref)} rows/s (bare read_json)"
    if rate:
        target.measured = f"{fmt_rate(rate)} rows/s"
        target.ratio = rate / ref
        target.verdict = "PASS" if target.ratio >= 0.5 else "MISS"
    return target
