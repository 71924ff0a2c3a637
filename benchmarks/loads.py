"""The measurements of targets 1, 2, 4 and 6: loads of generated lakes by engine and size, with
their references (DuckDB's bare read_json, PostgreSQL's bare COPY); the scale load end to end on
DuckDB; and the bare read_json of the many one-object song files."""

from __future__ import annotations

from benchmarks.bench import Bench
from benchmarks.figures import median
from benchmarks.lakes import ensure_lake, files_under
from benchmarks.references import bare_copy, read_json_rates
from benchmarks.results import SizeResult


def measure_sizes(bench: Bench) -> None:
    """Targets 1, 2 and 6: each lake by size, on each engine, with its reference."""
    plan = bench.plan
    for spec in plan.size_specs:
        lake = ensure_lake(spec, bench.log)
        event_files = files_under(lake / "log_data")
        for engine in bench.engines():
            bench.log(f"{engine.name}, {spec.name}: {plan.reps} materialization(s)")
            # PostgreSQL keeps a database with the staged rows, for the bare COPY
            runs, diagnostic, keep = bench.load(
                engine,
                spec,
                lake,
                plan.reps,
                keep=engine is bench.pg,
                profile=spec == plan.largest,
            )
            result = SizeResult(engine.name, spec, runs, diagnostic=diagnostic)
            if engine is bench.duck:
                read_json_reference(bench, result, event_files, plan.reps)
            elif keep is not None:
                result.ref_rates = bare_copy(
                    bench.pg, keep, "staging_events", bench.work, plan.reps
                )
                bench.log(f"  bare COPY: {median(result.ref_rates):,.0f} rows/s")
            if keep is not None:
                engine.drop(keep)
            bench.results.sizes.append(result)


def measure_scale(bench: Bench) -> str | None:
    """Target 4: the scale lake end to end on DuckDB; returns a warehouse holding it (the year)."""
    plan, spec = bench.plan, bench.plan.scale_spec
    lake = ensure_lake(spec, bench.log)
    bench.log(f"scale: {spec.name} ({spec.events:,} events, {spec.songs:,} songs) on DuckDB")
    reps = 1 if not plan.quick and spec.events >= 5_000_000 else plan.reps
    runs, diagnostic, year = bench.load(bench.duck, spec, lake, reps, keep=True)
    result = SizeResult("duckdb", spec, runs, diagnostic=diagnostic)
    ref_reps = 1 if spec.events >= 5_000_000 else plan.reps
    read_json_reference(bench, result, files_under(lake / "log_data"), ref_reps)
    bench.results.scale = result
    return year


def measure_tiny(bench: Bench) -> None:
    """Target 6's reference: the bare read_json of the song files of its lake."""
    lake = ensure_lake(bench.plan.tiny_spec, bench.log)
    files = files_under(lake / "song_data")
    rates, _peak = read_json_rates(files, bench.work, bench.plan.reps)
    bench.results.tiny = {"files": len(files), "ref_rates": rates}
    bench.log(
        f"many tiny files: bare read_json of {len(files):,} song files: {median(rates):,.1f} rows/s"
    )


def read_json_reference(bench: Bench, result: SizeResult, files: list[str], reps: int) -> None:
    """The bare read_json reference of a load: its rates and peak go into `result`."""
    result.ref_rates, result.ref_peak = read_json_rates(files, bench.work, reps)
    bench.log(f"  bare read_json: {median(result.ref_rates):,.0f} rows/s")
