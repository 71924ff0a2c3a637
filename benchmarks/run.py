"""Benchmarks of sparkify_assets: does the platform stay fast as the event log grows?

    .venv/bin/python benchmarks/run.py            # full run, all six targets (~30-40 min)
    .venv/bin/python benchmarks/run.py --quick    # small sizes, to try it (~2-3 min)

Every figure is a ratio to a reference measured in the same run, on the same files, on the same
machine, so that a noisy machine moves both sides together:

1. DuckDB staging vs DuckDB's bare `read_json` of the same event files into a plain table.
2. PostgreSQL staging vs a bare `COPY ... FROM STDIN` of the same rows into a plain table.
3. The whole graph on the shipped sample vs a trivial graph of the same shape
   (`benchmarks/trivial_graph.py`), run side by side through the same CLI and executor.
4. 10M events and 100,000 songs end to end on DuckDB: wall time and peak memory (< 1.5 GB).
5. One new day into a warehouse that holds a year vs the same day into an empty warehouse.
6. 15,000 one-object song files: staging vs DuckDB's bare `read_json` of the same files.

Each materialization is the real CLI, `dagster asset materialize -m sparkify_assets.definitions
--select '*'`, in a child process with its own DAGSTER_HOME; wall time and CPU time come from the
child, peak memory from `wait4`'s `ru_maxrss` (and a /proc poll of the child's process tree), time
per asset from the run's event log (STEP_START to STEP_SUCCESS). Lakes are generated once with
the project's generator into `benchmarks/out/lakes/` and reused while their parameters match.

The report goes to `docs/benchmarks.md` (the full run) or `benchmarks/out/benchmarks-quick.md`
(`--quick`), and to stdout. Where a target is missed and py-spy is installed, the script records a
py-spy profile of a representative run and says where the time goes. py-spy is a tool for this
script only, never a dependency of the project.

This file parses the arguments and runs the steps in order; the modules beside it do the work
(benchmarks/README.md, "The code", says which holds what).
"""

from __future__ import annotations

import argparse
import shlex
import shutil
import sys
import time
from pathlib import Path

# `python benchmarks/run.py` measures this checkout: the repository root goes first on the path.
if (_repo := str(Path(__file__).resolve().parents[1])) not in sys.path:
    sys.path.insert(0, _repo)

from benchmarks import lake_latency, partitions, redshift_backfill
from benchmarks.bench import Bench
from benchmarks.config import DOC, QUICK_DOC, ROOT
from benchmarks.incremental import measure_incremental, release_incremental
from benchmarks.loads import measure_scale, measure_sizes, measure_tiny
from benchmarks.overhead import measure_overhead
from benchmarks.profiling import profile_misses
from benchmarks.report import render
from benchmarks.targets import judge


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="benchmarks/run.py",
        description="Benchmark sparkify_assets against references measured in the same run.",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="small sizes, one repetition: a try-out in a few minutes",
    )
    parser.add_argument(
        "--engines",
        default="duckdb,postgres",
        help="comma-separated: duckdb and/or postgres (default both)",
    )
    parser.add_argument("--reps", type=int, help="repetitions per measurement (default 3, quick 1)")
    parser.add_argument(
        "--profile",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="py-spy profile of each missed target (default: on in the full run, off with --quick)",
    )
    parser.add_argument(
        "--doc",
        type=Path,
        help=f"where to write the report (default {DOC.relative_to(ROOT)}; "
        f"quick: {QUICK_DOC.relative_to(ROOT)})",
    )
    args = parser.parse_args(argv)
    if args.profile is None:
        args.profile = not args.quick
    args.engines = {e.strip() for e in args.engines.split(",") if e.strip()}
    if not args.engines <= {"duckdb", "postgres"} or "duckdb" not in args.engines:
        parser.error("--engines takes duckdb (always) and optionally postgres")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    command = "python benchmarks/run.py" + (
        " " + shlex.join(sys.argv[1:]) if argv is None and sys.argv[1:] else ""
    )
    started = time.perf_counter()
    bench = Bench(args)
    bench.log(f"work folder: {bench.work.relative_to(ROOT)}")
    bench.setup_postgres()
    plan, results = bench.plan, bench.results
    try:
        measure_overhead(bench)
        measure_sizes(bench)
        measure_tiny(bench)
        year = measure_scale(bench)
        measure_incremental(bench, bench.duck, plan.scale_spec, year)
        if bench.pg and not args.quick:
            measure_incremental(bench, bench.pg, plan.pg_year_spec, None)
        targets = judge(plan, results, with_postgres=bench.pg is not None)
        profile_misses(bench, targets)
    finally:
        release_incremental(bench)
    elapsed = time.perf_counter() - started
    text = render(plan, results, targets, bench.provenance, command, elapsed)
    doc = args.doc or (QUICK_DOC if args.quick else DOC)
    doc.parent.mkdir(parents=True, exist_ok=True)
    for own_run in (lake_latency, redshift_backfill, partitions):  # measured by runs of their own
        if kept := own_run.SECTION.kept(doc):
            text = f"{text.rstrip()}\n\n{kept}\n"
    doc.write_text(text, encoding="utf-8")
    print("\n" + text)
    bench.log(f"report written to {doc}")
    shutil.rmtree(bench.work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
