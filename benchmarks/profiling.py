"""py-spy profiles of the loads behind missed targets: an extra, untimed run under py-spy for each
(or the profiled diagnostic rerun, when there was one), summarized for the report."""

from __future__ import annotations

from pathlib import Path

from benchmarks.bench import Bench
from benchmarks.config import SAMPLE_LAKE
from benchmarks.lakes import ensure_lake
from benchmarks.materialize import materialize
from benchmarks.pyspy import Profile, profile_path, summarize_profile
from benchmarks.targets import Target


def profile(
    bench: Bench,
    title: str,
    engine,
    lake: Path,
    base: str | None = None,
    chunk_bytes: int | None = None,
    days: tuple[str, str] | None = None,
) -> Profile | None:
    """An extra, untimed run of a load under py-spy, summarized; for the days `days`, by
    default every day of the lake's event log (as the load it profiles)."""
    if not bench.can_profile():
        return None
    handle = engine.clone(base) if base else engine.fresh()
    path = profile_path(title)
    bench.log(f"profiling (py-spy): {title}")
    run = materialize(
        title,
        engine.env(handle),
        lake,
        bench.work,
        chunk_bytes=chunk_bytes,
        profile_to=path,
        days=days,
    )
    engine.drop(handle)
    if not path.exists():
        bench.log(f"  no profile written ({run.error})")
        return None
    summary = summarize_profile(title, path)
    bench.results.profiles.append(summary)
    return summary


def profile_misses(bench: Bench, targets: dict[int, Target]) -> None:
    """A py-spy profile for each missed target, of the load that target measures."""
    if not bench.can_profile():
        return
    t = targets
    largest = bench.plan.largest

    def staging_profile(engine, numbers: str) -> Profile | None:
        known = bench.diagnostic_profiles.get((engine.name, largest))
        if known is not None:  # the diagnostic rerun was profiled already
            known.title = f"target {numbers}: {known.title}"
            bench.results.profiles.append(known)
            return known
        return profile(
            bench,
            f"target {numbers}: {engine.name}, {largest.name}",
            engine,
            ensure_lake(largest, bench.log),
        )

    if t[1].verdict == "MISS" or t[6].verdict == "MISS":
        t[1].profile = staging_profile(bench.duck, "1 and 6")
    if bench.pg and t[2].verdict == "MISS":
        t[2].profile = staging_profile(bench.pg, "2")
    if t[3].verdict == "MISS":
        t[3].profile = profile(
            bench, "target 3: the graph on the sample lake, duckdb", bench.duck, SAMPLE_LAKE
        )
    entry = bench.results.incremental.get("duckdb")
    if t[5].verdict == "MISS" and entry and entry.get("bases"):
        t[5].profile = profile(
            bench,
            f"target 5: the new day into the year ({entry['spec'].name}), duckdb",
            bench.duck,
            entry["lakes"][1],
            base=entry["bases"][1],
            days=entry["days"],
        )
        profile(
            bench,
            "target 5: the new day into the catalogue-only warehouse, duckdb",
            bench.duck,
            entry["lakes"][0],
            base=entry["bases"][0],
            days=entry["days"],
        )
