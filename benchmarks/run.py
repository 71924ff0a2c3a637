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
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import shlex
import shutil
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

# `python benchmarks/run.py` measures this checkout: the repository root goes first on the path.
if (_repo := str(Path(__file__).resolve().parents[1])) not in sys.path:
    sys.path.insert(0, _repo)

from benchmarks.config import (
    DIAGNOSTIC_CHUNK_BYTES,
    DOC,
    MB,
    OUT,
    PEAK_MEMORY_LIMIT,
    QUICK_DOC,
    ROOT,
    SAMPLE_LAKE,
    TRIVIAL_MODULE,
)
from benchmarks.figures import (
    fmt_peak,
    fmt_rate,
    fmt_ratio,
    fmt_s,
    median,
    ok_median,
    peak_text,
    ratio_text,
    table,
)
from benchmarks.lakes import LakeSpec, compose_lake, ensure_lake, files_under, link_tree
from benchmarks.materialize import materialize
from benchmarks.provenance import code_fingerprint, cpu_pressure_total, git
from benchmarks.pyspy import Profile, profile_path, py_spy, summarize_profile
from benchmarks.references import bare_copy, read_json_rates
from benchmarks.results import RunResult, SizeResult
from benchmarks.targets import Target
from benchmarks.warehouses import DuckDBEngine, PostgresEngine


def load_row(
    size: SizeResult, label: str, count: str, runs: list, status: str, staged: bool = True
) -> list[str]:
    """A row of the loads table: medians over `runs`; without `staged`, no staging rate."""
    ref = median(size.ref_rates)
    rate = median(r.rate("staging_events") for r in runs) if staged else None
    return [
        size.engine,
        label,
        count,
        fmt_s(median(r.wall for r in runs)),
        fmt_s(median(r.cpu for r in runs)),
        fmt_s(median(r.startup for r in runs)),
        fmt_s(median(r.steps.get("staging_events") for r in runs)),
        fmt_rate(rate),
        fmt_rate(ref),
        fmt_ratio(rate / ref if rate and ref else None),
        fmt_rate(median(r.rate("staging_songs") for r in runs)),
        fmt_peak(runs),
        status,
    ]


def step_table(columns: dict[str, list], sum_row: bool = False) -> str:
    """Median seconds per step, a column for each group of runs, the steps in the order they first
    ran; with `sum_row`, a last row with each column's sum."""
    steps = list(dict.fromkeys(s for runs in columns.values() for r in runs for s in r.step_order))
    cells = {
        name: {s: median(r.steps.get(s) for r in runs) for s in steps}
        for name, runs in columns.items()
    }
    rows = [[s] + [fmt_s(cells[c][s]) for c in columns] for s in steps]
    if sum_row:
        sums = [sum(v for v in cells[c].values() if v is not None) for c in columns]
        rows.append(["**sum of steps**"] + [fmt_s(v) for v in sums])
    return table(["step", *columns], rows)


class Bench:
    def __init__(self, args: argparse.Namespace):
        self.args = args
        self.quick = args.quick
        self.reps = args.reps or (1 if self.quick else 3)
        self.started = datetime.now(UTC)
        self.work = OUT / "work" / self.started.strftime("%Y%m%dT%H%M%S")
        self.work.mkdir(parents=True, exist_ok=True)
        self.duck = DuckDBEngine(self.work)
        self.pg: PostgresEngine | None = None
        self.notes: list[str] = []
        self.targets: dict[int, Target] = {}
        self.sizes: list[SizeResult] = []
        self.scale: SizeResult | None = None
        self.incremental: dict[str, dict] = {}
        self.overhead: dict[str, list[RunResult]] = {"graph": [], "trivial": []}
        self.tiny: dict = {}
        self.profiles: list[Profile] = []
        self.diagnostic_profiles: dict[tuple[str, LakeSpec], Profile] = {}
        self.load_before = os.getloadavg()
        self.pressure_before = cpu_pressure_total()
        self.code_start, self.code_print = self.code_version(), code_fingerprint()
        self.plan()

    # The sizes of each mode -------------------------------------------------------------------

    def plan(self) -> None:
        if self.quick:
            self.size_specs = [LakeSpec("10k-events", 1_000, 200, 10, 1_000)]
            self.scale_spec = LakeSpec("year-36k-events", 1_000, 200, 365, 100)
            self.pg_year_spec = self.scale_spec
            self.overhead_pairs = 2
        else:
            self.size_specs = [
                LakeSpec("10k-events", 1_000, 200, 10, 1_000),
                LakeSpec("100k-events", 5_000, 1_000, 20, 5_000),
                LakeSpec("1M-events", 15_000, 5_000, 40, 25_000),
            ]
            # A year of 27,398 events a day: the 10M-event scale lake is the incremental year.
            self.scale_spec = LakeSpec("10M-events-year", 100_000, 10_000, 365, 27_398)
            # PostgreSQL's incremental year is smaller: loading 10M rows into it for each
            # repetition would not fit the time budget.
            self.pg_year_spec = LakeSpec("1M-events-year", 15_000, 5_000, 365, 2_740)
            self.overhead_pairs = 5
        self.tiny_spec = self.size_specs[-1]  # its song_data: 15,000 one-object files (full)

    def log(self, message: str) -> None:
        stamp = time.strftime("%H:%M:%S")
        print(f"[{stamp}] {message}", flush=True)

    def describe(self, result: RunResult) -> str:
        status = "ok" if result.ok else f"FAILED: {result.error}"
        return (
            f"  {result.label}: {result.wall:.1f} s wall, {result.cpu:.1f} s CPU, "
            f"peak {result.peak_bytes / MB:,.0f} MB"
            + (f" (in {result.peak_step})" if result.peak_step else "")
            + f", {status}"
        )

    def run(self, label, engine, handle, lake, **kwargs) -> RunResult:
        result = materialize(label, engine.env(handle), lake, self.work, **kwargs)
        self.log(self.describe(result))
        return result

    # Setup --------------------------------------------------------------------------------------

    def setup_postgres(self) -> None:
        if "postgres" not in self.args.engines:
            return
        pg = PostgresEngine(
            os.environ.get("SPARKIFY_BENCH_DB_HOST", "127.0.0.1"),
            int(os.environ.get("SPARKIFY_BENCH_DB_PORT", "5432")),
            os.environ.get("SPARKIFY_BENCH_DB_USER", "sparkify"),
            os.environ.get("SPARKIFY_BENCH_DB_PASSWORD", "sparkify"),
        )
        try:
            pg.drop_leftovers()
            self.pg_version = pg.server_version()
            self.pg = pg
        except Exception as exc:
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            self.notes.append(f"PostgreSQL skipped: no server at {pg.host}:{pg.port} ({reason}).")
            self.log(self.notes[-1])

    def engines(self) -> list:
        return [self.duck] + ([self.pg] if self.pg else [])

    def all_assets_but(self, excluded: str) -> str:
        from sparkify_assets.definitions import defs

        keys = [
            spec.key.to_user_string() for assets_def in defs.assets for spec in assets_def.specs
        ]
        return ",".join(k for k in keys if k != excluded)

    def write_shape(self) -> Path:
        """The shape of the project's graph, for the trivial graph to copy."""
        from sparkify_assets.definitions import defs

        shape = {"assets": [], "checks": []}
        for assets_def in defs.assets:
            for spec in assets_def.specs:
                shape["assets"].append(
                    {
                        "name": spec.key.to_user_string(),
                        "deps": [d.asset_key.to_user_string() for d in spec.deps],
                        "group": spec.group_name,
                        "kinds": sorted(spec.kinds),
                    }
                )
        for checks_def in defs.asset_checks:
            shape["checks"].append(
                {
                    "name": checks_def.node_def.name,
                    "can_subset": bool(getattr(checks_def, "can_subset", True)),
                    "specs": [
                        {
                            "name": s.name,
                            "asset": s.asset_key.to_user_string(),
                            "blocking": s.blocking,
                        }
                        for s in checks_def.check_specs
                    ],
                }
            )
        path = self.work / "graph_shape.json"
        path.write_text(json.dumps(shape, indent=1))
        return path

    # Target 3: overhead -----------------------------------------------------------------------

    def bench_overhead(self) -> None:
        self.log(
            f"overhead: the graph on the shipped sample vs a trivial graph, "
            f"{self.overhead_pairs} pairs, alternating"
        )
        shape = self.write_shape()
        for i in range(self.overhead_pairs):
            order = ("graph", "trivial") if i % 2 == 0 else ("trivial", "graph")
            for which in order:
                if which == "graph":
                    handle = self.duck.fresh()
                    result = self.run("sample graph", self.duck, handle, SAMPLE_LAKE)
                    self.duck.drop(handle)
                else:
                    result = materialize(
                        "trivial graph",
                        {},
                        SAMPLE_LAKE,
                        self.work,
                        module=TRIVIAL_MODULE,
                        extra_env={"SPARKIFY_BENCH_SHAPE": str(shape)},
                    )
                    self.log(self.describe(result))
                self.overhead[which].append(result)

    # Targets 1, 2, 6: loads by engine and size --------------------------------------------------

    def bench_sizes(self) -> None:
        for spec in self.size_specs:
            lake = ensure_lake(spec, self.log)
            event_files = files_under(lake / "log_data")
            for engine in self.engines():
                self.log(f"{engine.name}, {spec.name}: {self.reps} materialization(s)")
                # PostgreSQL keeps a database with the staged rows, for the bare COPY
                runs, diagnostic, keep = self.load(
                    engine,
                    spec,
                    lake,
                    self.reps,
                    keep=engine is self.pg,
                    profile=spec == self.size_specs[-1],
                )
                result = SizeResult(engine.name, spec, runs, diagnostic=diagnostic)
                if engine is self.duck:
                    self.read_json_reference(result, event_files, self.reps)
                elif keep is not None:
                    result.ref_rates = bare_copy(
                        self.pg, keep, "staging_events", self.work, self.reps
                    )
                    self.log(f"  bare COPY: {median(result.ref_rates):,.0f} rows/s")
                if keep is not None:
                    engine.drop(keep)
                self.sizes.append(result)

    def load(
        self,
        engine,
        spec: LakeSpec,
        lake: Path,
        reps: int,
        *,
        keep: bool,
        label: str | None = None,
        profile: bool = False,
    ) -> tuple[list[RunResult], RunResult | None, str | None]:
        """`reps` loads of `lake`, each into a fresh warehouse, and a diagnostic rerun when none
        of them succeeds. With `keep`, the first warehouse that loaded is kept and returned, for
        the caller to use and drop; every other one is dropped at once."""
        runs, kept = [], None
        for rep in range(reps):
            handle = engine.fresh()
            run = self.run(label or f"{engine.name} {spec.name} #{rep + 1}", engine, handle, lake)
            runs.append(run)
            if keep and run.ok and kept is None:
                kept = handle
            else:
                engine.drop(handle)
        diagnostic = None
        if not any(run.ok for run in runs):
            diagnostic, handle = self.diagnose(engine, spec, lake, profile)
            if keep and diagnostic.ok:
                kept = handle
            else:
                engine.drop(handle)
        return runs, diagnostic, kept

    def read_json_reference(self, result: SizeResult, files: list[str], reps: int) -> None:
        """The bare read_json reference of a load: its rates and peak go into `result`."""
        result.ref_rates, result.ref_peak = read_json_rates(files, self.work, reps)
        self.log(f"  bare read_json: {median(result.ref_rates):,.0f} rows/s")

    def diagnose(
        self, engine, spec: LakeSpec, lake: Path, profile: bool = False
    ) -> tuple[RunResult, str]:
        """Rerun a load that failed as shipped, once, with the staging chunk shrunk; return the
        run and its warehouse (the caller drops or keeps it). With `profile`, the rerun is also
        the profile of its target (py-spy at 50 Hz costs a few per cent)."""
        handle = engine.fresh()
        self.log(f"  diagnostic: again with staging chunks of {DIAGNOSTIC_CHUNK_BYTES // MB} MB")
        title = f"{engine.name}, {spec.name} (diagnostic chunk size)"
        path = profile_path(title) if profile and self.can_profile() else None
        run = self.run(
            f"{engine.name} {spec.name} diagnostic" + (" (under py-spy)" if path else ""),
            engine,
            handle,
            lake,
            chunk_bytes=DIAGNOSTIC_CHUNK_BYTES,
            profile_to=path,
        )
        if path is not None and path.exists():
            self.diagnostic_profiles[(engine.name, spec)] = summarize_profile(title, path)
        return run, handle

    # Target 4: scale ----------------------------------------------------------------------------

    def bench_scale(self) -> str | None:
        """The scale lake end to end on DuckDB; returns a warehouse holding it (the year)."""
        spec = self.scale_spec
        lake = ensure_lake(spec, self.log)
        self.log(f"scale: {spec.name} ({spec.events:,} events, {spec.songs:,} songs) on DuckDB")
        reps = 1 if not self.quick and spec.events >= 5_000_000 else self.reps
        runs, diagnostic, year = self.load(self.duck, spec, lake, reps, keep=True)
        result = SizeResult("duckdb", spec, runs, diagnostic=diagnostic)
        ref_reps = 1 if spec.events >= 5_000_000 else self.reps
        self.read_json_reference(result, files_under(lake / "log_data"), ref_reps)
        self.scale = result
        return year

    # Target 5: incremental ------------------------------------------------------------------------

    def bench_incremental(self, engine, year_spec: LakeSpec, year_base: str | None) -> None:
        """The day after the year, into (a) a warehouse holding only the catalogue and (b) one
        holding the year. Both start from a saved state, cloned for each repetition."""
        year_lake = ensure_lake(year_spec, self.log)
        day_lake = ensure_lake(year_spec.next_day(), self.log)
        work = self.work / f"lakes-{engine.name}"
        songs_only = compose_lake(work / "songs-only", [(year_lake, "song_data")])
        empty_plus_day = compose_lake(
            work / "songs-plus-day", [(year_lake, "song_data"), (day_lake, "log_data")]
        )
        year_plus_day = compose_lake(
            work / "year-plus-day", [(year_lake, "song_data"), (year_lake, "log_data")]
        )
        link_tree(day_lake / "log_data", year_plus_day / "log_data")
        entry: dict = {"spec": year_spec, "setup": [], "empty": [], "year": []}
        self.incremental[engine.name] = entry
        self.log(f"incremental on {engine.name}: year = {year_spec.name}")
        if year_base is None:
            label = f"{engine.name} year setup"
            runs, diagnostic, year_base = self.load(
                engine, year_spec, year_lake, 1, keep=True, label=label
            )
            entry["setup"] += runs + ([diagnostic] if diagnostic else [])
        if year_base is None:
            entry["error"] = "the year could not be loaded, so there is nothing to add a day to"
            return
        # The catalogue state: every asset but staging_events (the project refuses a lake without
        # log_data/), so that the star tables' watermarks already include the catalogue and the
        # timed run takes in the new day only, as in (b).
        songs_base = engine.fresh()
        entry["setup"].append(
            self.run(
                f"{engine.name} catalogue setup",
                engine,
                songs_base,
                songs_only,
                select=self.all_assets_but("staging_events"),
            )
        )
        for rep in range(self.reps):
            for scenario, base, lake in (
                ("empty", songs_base, empty_plus_day),
                ("year", year_base, year_plus_day),
            ):
                handle = engine.clone(base)
                label = f"{engine.name} day into {scenario} #{rep + 1}"
                entry[scenario].append(self.run(label, engine, handle, lake))
                engine.drop(handle)
        entry["bases"] = (songs_base, year_base)
        entry["lakes"] = (empty_plus_day, year_plus_day)

    def release_incremental(self) -> None:
        for name, entry in self.incremental.items():
            engine = self.duck if name == "duckdb" else self.pg
            for base in entry.get("bases", ()):
                engine.drop(base)

    # Target 6: many tiny files ------------------------------------------------------------------

    def bench_tiny(self) -> None:
        lake = ensure_lake(self.tiny_spec, self.log)
        files = files_under(lake / "song_data")
        rates, _peak = read_json_rates(files, self.work, self.reps)
        self.tiny = {"files": len(files), "ref_rates": rates}
        self.log(
            f"many tiny files: bare read_json of {len(files):,} song files: "
            f"{median(rates):,.1f} rows/s"
        )

    # Profiles -----------------------------------------------------------------------------------

    def can_profile(self) -> bool:
        return bool(self.args.profile and py_spy())

    def profile(
        self,
        title: str,
        engine,
        lake: Path,
        base: str | None = None,
        chunk_bytes: int | None = None,
    ) -> Profile | None:
        """An extra, untimed run of a load under py-spy, summarized."""
        if not self.can_profile():
            return None
        handle = engine.clone(base) if base else engine.fresh()
        path = profile_path(title)
        self.log(f"profiling (py-spy): {title}")
        run = materialize(
            title, engine.env(handle), lake, self.work, chunk_bytes=chunk_bytes, profile_to=path
        )
        engine.drop(handle)
        if not path.exists():
            self.log(f"  no profile written ({run.error})")
            return None
        summary = summarize_profile(title, path)
        self.profiles.append(summary)
        return summary

    def profile_misses(self) -> None:
        """A py-spy profile for each missed target, of the load that target measures."""
        if not self.can_profile():
            return
        t = self.targets
        largest = self.size_specs[-1]

        def staging_profile(engine, numbers: str) -> Profile | None:
            known = self.diagnostic_profiles.get((engine.name, largest))
            if known is not None:  # the diagnostic rerun was profiled already
                known.title = f"target {numbers}: {known.title}"
                self.profiles.append(known)
                return known
            return self.profile(
                f"target {numbers}: {engine.name}, {largest.name}",
                engine,
                ensure_lake(largest, self.log),
            )

        if t[1].verdict == "MISS" or t[6].verdict == "MISS":
            t[1].profile = staging_profile(self.duck, "1 and 6")
        if self.pg and t[2].verdict == "MISS":
            t[2].profile = staging_profile(self.pg, "2")
        if t[3].verdict == "MISS":
            t[3].profile = self.profile(
                "target 3: the graph on the sample lake, duckdb", self.duck, SAMPLE_LAKE
            )
        entry = self.incremental.get("duckdb")
        if t[5].verdict == "MISS" and entry and entry.get("bases"):
            t[5].profile = self.profile(
                f"target 5: the new day into the year ({entry['spec'].name}), duckdb",
                self.duck,
                entry["lakes"][1],
                base=entry["bases"][1],
            )
            self.profile(
                "target 5: the new day into the catalogue-only warehouse, duckdb",
                self.duck,
                entry["lakes"][0],
                base=entry["bases"][0],
            )

    # Verdicts -----------------------------------------------------------------------------------

    def judge(self) -> None:
        t = self.targets
        largest = self.size_specs[-1]

        def staging_target(number, engine, title, goal, ref_name):
            target = Target(number, title, goal)
            t[number] = target
            found = [s for s in self.sizes if s.engine == engine and s.spec == largest]
            if not found:
                return
            size = found[0]
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

        staging_target(1, "duckdb", "DuckDB staging vs bare read_json", ">= 0.5x", "bare read_json")
        self.judge_staging_at_scale(t[1])
        if self.pg:
            staging_target(
                2, "postgres", "PostgreSQL staging vs bare COPY FROM STDIN", ">= 0.5x", "bare COPY"
            )
        else:
            t[2] = Target(
                2,
                "PostgreSQL staging vs bare COPY FROM STDIN",
                ">= 0.5x",
                note="no PostgreSQL server",
            )

        # 3. overhead
        target = Target(3, "whole graph on the sample vs trivial graph of the same shape", "<= 2x")
        t[3] = target
        graph = ok_median(self.overhead["graph"], lambda r: r.wall)
        trivial = ok_median(self.overhead["trivial"], lambda r: r.wall)
        if graph and trivial:
            target.measured = f"{graph:.2f} s wall (median of {len(self.overhead['graph'])})"
            target.reference = f"{trivial:.2f} s wall (median of {len(self.overhead['trivial'])})"
            target.ratio = graph / trivial
            target.verdict = "PASS" if target.ratio <= 2 else "MISS"
            run_g = ok_median(self.overhead["graph"], lambda r: r.run_seconds)
            run_t = ok_median(self.overhead["trivial"], lambda r: r.run_seconds)
            start_g = ok_median(self.overhead["graph"], lambda r: r.startup)
            start_t = ok_median(self.overhead["trivial"], lambda r: r.startup)
            target.note = (
                f"start-up (process start to first event) {fmt_s(start_g)} s vs "
                f"{fmt_s(start_t)} s; "
                f"run (RUN_START to RUN_SUCCESS) {fmt_s(run_g)} s vs {fmt_s(run_t)} s"
                + (f" = {run_g / run_t:.2f}x" if run_g and run_t else "")
                + "; CPU "
                + ratio_text(self.overhead["graph"], self.overhead["trivial"], lambda r: r.cpu)
                + "."
            )

        # 4. scale
        spec = self.scale_spec
        target = Target(
            4, f"{spec.events:,} events, {spec.songs:,} songs end to end on DuckDB", "peak < 1.5 GB"
        )
        t[4] = target
        if self.scale:
            ok = self.scale.ok_runs
            target.reference = f"bare read_json {fmt_rate(median(self.scale.ref_rates))} rows/s"
            if ok:
                wall = median(r.wall for r in ok)
                peak = max(r.peak_bytes for r in ok)
                top = max(ok, key=lambda r: r.peak_bytes)
                target.measured = f"{wall:.0f} s wall, peak {peak_text(top)}"
                target.ratio = peak / PEAK_MEMORY_LIMIT
                target.verdict = "PASS" if peak < PEAK_MEMORY_LIMIT else "MISS"
            else:
                run = self.scale.runs[0]
                target.measured = (
                    f"failed after {run.wall:.0f} s (peak {run.peak_bytes / MB:,.0f} MB): "
                    f"{run.error}"
                )
                target.verdict = "MISS"
                diag = self.scale.diagnostic
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
            if self.quick:
                target.note = (
                    target.note + " Quick mode: a small lake, not the target's size."
                ).strip()

        # 5. incremental
        target = Target(
            5, "one new day into a warehouse holding a year vs into an empty one", "<= 1.5x"
        )
        t[5] = target
        entry = self.incremental.get("duckdb")
        if entry and entry["empty"] and entry["year"]:
            empty = ok_median(entry["empty"], lambda r: r.wall)
            year = ok_median(entry["year"], lambda r: r.wall)
            if empty and year:
                target.measured = (
                    f"{year:.2f} s wall into the year ({entry['spec'].events:,} events)"
                )
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

        # 6. tiny files
        target = Target(
            6,
            f"{self.tiny.get('files', 0):,} one-object song files: staging vs bare read_json",
            ">= 0.5x",
        )
        t[6] = target
        found = [s for s in self.sizes if s.engine == "duckdb" and s.spec == self.tiny_spec]
        if found and self.tiny:
            size = found[0]
            ref = median(self.tiny["ref_rates"])
            runs = size.ok_runs or [r for r in size.runs if "staging_songs" in r.steps]
            if not runs and size.diagnostic:
                runs = [size.diagnostic]
            rate = median(r.rate("staging_songs") for r in runs)
            target.reference = f"{fmt_rate(ref)} rows/s (bare read_json)"
            if rate:
                target.measured = f"{fmt_rate(rate)} rows/s"
                target.ratio = rate / ref
                target.verdict = "PASS" if target.ratio >= 0.5 else "MISS"
        if self.quick:
            for number in (1, 2, 6):
                t[number].note = (t[number].note + " Quick mode: small sizes.").strip()

    def judge_staging_at_scale(self, target: Target) -> None:
        """Target 1 must hold as the log grows: the scale load (10M events) counts too, and the
        worse of the two ratios decides."""
        scale = self.scale
        if scale is None or not scale.ok_runs or scale.spec.events <= self.size_specs[-1].events:
            return
        rate = scale.figure(lambda r: r.rate("staging_events"))
        ref = median(scale.ref_rates)
        if not rate or not ref:
            return
        ratio = rate / ref
        if target.ratio is not None and ratio >= target.ratio:
            target.note = (
                target.note + f" At {scale.spec.events:,} events: {fmt_rate(rate)} rows/s vs "
                f"{fmt_rate(ref)} = {ratio:.2f}x."
            ).strip()
            return
        before = f" At {self.size_specs[-1].events:,} events: {target.measured}" + (
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

    # The report ----------------------------------------------------------------------------------

    def machine(self) -> list[list[str]]:
        import dagster
        import duckdb

        cpu = "?"
        with contextlib.suppress(OSError):
            for line in Path("/proc/cpuinfo").read_text().splitlines():
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
        ram = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
        rows = [
            ["cores", str(os.cpu_count())],
            ["RAM", f"{ram / 1024**3:.1f} GiB"],
            ["CPU", cpu],
            ["OS", f"{platform.system()} {platform.release()}"],
            ["Python", platform.python_version()],
            ["Dagster", dagster.__version__],
            ["DuckDB", duckdb.__version__],
            ["PostgreSQL", getattr(self, "pg_version", "not used")],
            [
                "CPU pressure during the run",
                self.pressure_text(),
            ],
            [
                "load average (1/5/15 min)",
                "before "
                + " / ".join(f"{x:.2f}" for x in self.load_before)
                + ", after "
                + " / ".join(f"{x:.2f}" for x in os.getloadavg()),
            ],
        ]
        return rows

    def pressure_text(self) -> str:
        before, after = self.pressure_before, cpu_pressure_total()
        if not before or not after or after[0] <= before[0]:
            return "not available"
        share = (after[1] - before[1]) / 1e6 / (after[0] - before[0])
        return (
            f"{share:.0%} of the time some task waited for a CPU (Linux PSI, cpu some): "
            "other work shared the machine; wall times are noisy, ratios less so"
        )

    def code_version(self) -> str:
        """The commit and the state of the working tree, now."""
        commit = git("rev-parse", "--short", "HEAD") or "unknown"
        status = git("status", "--porcelain", "--", "sparkify_assets", "sql", "pyproject.toml")
        changed = [line for line in status.splitlines() if line.strip()]
        return f"commit {commit}" + (
            f" with {len(changed)} uncommitted change(s) to the project's code" if changed else ""
        )

    def code_text(self) -> str:
        """Which code was measured; loud when it changed while the benchmark ran."""
        end_version, end_print = self.code_version(), code_fingerprint()
        if end_print == self.code_print:
            return f"{self.code_start} (unchanged during the run)"
        return (
            f"**the project's code changed while this ran** (at the start {self.code_start}; "
            f"at the end {end_version}). Runs measured whatever was on disk when they started, "
            "so figures mix versions: run it again on a quiet tree to compare versions."
        )

    def report(self, command: str, elapsed: float) -> str:
        out = []
        mode = "quick" if self.quick else "full"
        out.append("# Benchmarks\n")
        out.append(
            f"Written by `benchmarks/run.py` ({mode} run) on {self.started:%Y-%m-%d %H:%M} UTC in "
            f"{elapsed / 60:.0f} min; do not edit by hand, run it again. How it measures: "
            "[benchmarks/README.md](../benchmarks/README.md).\n"
        )
        out.append(f"Command: `{command}`  \nCode: {self.code_text()}\n")
        out.append("## Machine\n")
        out.append(table(["", ""], self.machine()) + "\n")
        out.append("## Targets\n")
        out.append(
            "Every figure is a median of the repetitions named, measured in this run; the ratio "
            "is measured / reference (for target 4: peak / 1.5 GB).\n"
        )
        rows = []
        for n in sorted(self.targets):
            tg = self.targets[n]
            rows.append(
                [
                    str(n),
                    tg.title,
                    tg.measured,
                    tg.reference,
                    fmt_ratio(tg.ratio),
                    tg.goal,
                    f"**{tg.verdict}**",
                ]
            )
        out.append(
            table(["#", "target", "measured", "reference", "ratio", "goal", "verdict"], rows) + "\n"
        )
        notes = [
            f"- **{n}.** {self.targets[n].note}"
            for n in sorted(self.targets)
            if self.targets[n].note
        ]
        if notes:
            out.append("\n".join(notes) + "\n")
        out.append(self.report_sizes())
        out.append(self.report_incremental())
        out.append(self.report_overhead())
        out.append(self.report_profiles())
        out.append("## Notes\n")
        notes = self.notes + [
            "Wall time is the CLI child process from start to exit; CPU is its user + system "
            "time. Peak memory is the child's `ru_maxrss` (from `wait4`), or the polled RSS of its "
            "process tree when larger. The PostgreSQL server's own memory is not in it.",
            "Staging rows/s = rows the staging asset loaded (its metadata) / its step time "
            "(STEP_START to STEP_SUCCESS in the run's event log), so it includes listing the lake, "
            "the manifest and the asset's metadata queries.",
            "References run in their own child process: DuckDB `CREATE TABLE t AS SELECT * FROM "
            "read_json([files], format='newline_delimited')` into a fresh database file with "
            "DuckDB's defaults; PostgreSQL: the staged rows exported as CSV, then a timed "
            "`COPY staging_copy FROM STDIN (FORMAT csv)` into a plain table "
            "`(LIKE staging_events)` "
            "in the same database, over the same kind of connection.",
            f"A load that fails as shipped is rerun once as a diagnostic with the project's "
            f"staging chunk (`chunk_bytes`) patched to {DIAGNOSTIC_CHUNK_BYTES // MB} MB in the "
            "child process; its figures are labelled *diagnostic* and never count for a PASS. "
            "The incremental benchmark starts from such a diagnostic load when the year does not "
            "load as shipped (the timed runs are always the unmodified CLI).",
            "Incremental: the states (catalogue only; catalogue and year) are loaded once, saved, "
            "and copied for each repetition (DuckDB file copy, PostgreSQL `CREATE DATABASE ... "
            "TEMPLATE`). The lakes are hard links to the generated files, so object versions "
            "(size and mtime) match the saved manifests and only the new day loads.",
        ]
        out.append("\n".join(f"- {n}" for n in notes) + "\n")
        return "\n".join(out)

    def report_sizes(self) -> str:
        out = ["## Loads by engine and size\n"]
        out.append(
            "A fresh warehouse each time, the whole graph through the CLI. `staging_events` rows/s "
            "against the reference (DuckDB: bare `read_json` of the same files; PostgreSQL: bare "
            "`COPY FROM STDIN` of the same rows).\n"
        )
        rows = []
        all_sizes = list(self.sizes) + ([self.scale] if self.scale else [])
        for size in all_sizes:
            label = f"{size.spec.events:,} events / {size.spec.songs:,} songs"
            if size.ok_runs:
                count = f"{len(size.ok_runs)}/{len(size.runs)}"
                rows.append(load_row(size, label, count, size.ok_runs, "ok"))
            else:
                first = size.runs[0]
                count = f"0/{len(size.runs)}"
                status = f"FAILED: {first.error}"
                rows.append(load_row(size, label, count, [first], status, staged=False))
            diag = size.diagnostic
            if diag is not None:
                label += " *(diagnostic)*"
                status = "ok" if diag.ok else f"FAILED: {diag.error}"
                rows.append(load_row(size, label, "1" if diag.ok else "0/1", [diag], status))
        out.append(
            table(
                [
                    "engine",
                    "lake",
                    "runs ok",
                    "wall s",
                    "CPU s",
                    "start-up s",
                    "staging_events s",
                    "events rows/s",
                    "reference rows/s",
                    "ratio",
                    "staging_songs rows/s",
                    "peak MB",
                    "status",
                ],
                rows,
            )
            + "\n"
        )
        out.append("### Time per asset (median seconds, STEP_START to STEP_SUCCESS)\n")
        columns = {}
        for size in all_sizes:
            runs = size.ok_runs or (
                [size.diagnostic] if size.diagnostic and size.diagnostic.ok else size.runs[:1]
            )
            name = f"{size.engine} {size.spec.events:,}" + (
                " (diag.)" if runs and runs[0].diagnostic else ""
            )
            columns[name] = runs
        out.append(step_table(columns, sum_row=True) + "\n")
        return "\n".join(out)

    def report_incremental(self) -> str:
        out = ["## Incremental day\n"]
        if not self.incremental:
            return "\n".join(out + ["Not run.\n"])
        out.append(
            "The day after the year (same catalogue, users and seed), loaded by the CLI into "
            "(a) a warehouse holding only the song catalogue and (b) one holding the year.\n"
        )
        rows, columns = [], {}
        for engine_name, entry in self.incremental.items():
            spec = entry["spec"]
            for scenario, title in (("empty", "(a) catalogue only"), ("year", "(b) year")):
                runs = [r for r in entry.get(scenario, []) if r.ok]
                if not runs:
                    rows.append([engine_name, title, "–", "–", "–", "–", "–", "–", "FAILED"])
                    continue
                rows.append(
                    [
                        engine_name,
                        title + (f", {spec.events:,} events" if scenario == "year" else ""),
                        f"{len(runs)}/{len(entry[scenario])}",
                        fmt_s(median(r.wall for r in runs)),
                        fmt_s(median(r.cpu for r in runs)),
                        fmt_s(median(sum(r.steps.values()) for r in runs)),
                        fmt_rate(median(r.rate("staging_events") for r in runs)),
                        fmt_peak(runs),
                        "ok",
                    ]
                )
                columns[f"{engine_name} {scenario}"] = runs
            empty = ok_median(entry.get("empty", []), lambda r: r.wall)
            year = ok_median(entry.get("year", []), lambda r: r.wall)
            if empty and year:
                rows.append(
                    [
                        engine_name,
                        "**ratio (b)/(a)**",
                        "",
                        f"**{year / empty:.2f}**",
                        "",
                        "",
                        "",
                        "",
                        "",
                    ]
                )
            for run in entry.get("setup", []):
                self.notes.append(
                    f"Incremental setup on {engine_name}, {run.label}: {run.wall:.0f} s, peak "
                    f"{run.peak_bytes / MB:,.0f} MB, "
                    + ("ok" if run.ok else f"failed: {run.error}")
                    + (" (diagnostic chunk size)" if run.diagnostic else "")
                    + "."
                )
        out.append(
            table(
                [
                    "engine",
                    "warehouse before",
                    "runs ok",
                    "wall s",
                    "CPU s",
                    "sum of steps s",
                    "events rows/s",
                    "peak MB",
                    "status",
                ],
                rows,
            )
            + "\n"
        )
        if columns:
            out.append("### Time per asset (median seconds)\n")
            out.append(step_table(columns) + "\n")
        return "\n".join(out)

    def report_overhead(self) -> str:
        out = ["## Overhead: the sample graph vs a trivial graph\n"]
        graph = [r for r in self.overhead["graph"] if r.ok]
        trivial = [r for r in self.overhead["trivial"] if r.ok]
        if not graph or not trivial:
            return "\n".join(out + ["Not run, or failed.\n"])
        out.append(
            "Same asset names, dependencies, checks and executor (`in_process_executor`); the "
            "trivial bodies return at once (`benchmarks/trivial_graph.py`). Runs alternate.\n"
        )
        rows = []
        for name, runs in (
            ("sparkify graph, sample lake, DuckDB", graph),
            ("trivial graph", trivial),
        ):
            rows.append(
                [
                    name,
                    str(len(runs)),
                    fmt_s(median(r.wall for r in runs)),
                    f"{fmt_s(min(r.wall for r in runs))}–{fmt_s(max(r.wall for r in runs))}",
                    fmt_s(median(r.cpu for r in runs)),
                    fmt_s(median(r.startup for r in runs)),
                    fmt_s(median(r.run_seconds for r in runs)),
                    fmt_s(median(sum(r.steps.values()) for r in runs)),
                    fmt_peak(runs),
                ]
            )
        out.append(
            table(
                [
                    "graph",
                    "runs",
                    "wall s",
                    "wall range",
                    "CPU s",
                    "start-up s",
                    "run s",
                    "sum of steps s",
                    "peak MB",
                ],
                rows,
            )
            + "\n"
        )
        out.append("### Time per step (median seconds)\n")
        out.append(step_table({"sparkify": graph, "trivial": trivial}) + "\n")
        return "\n".join(out)

    def report_profiles(self) -> str:
        if not self.profiles:
            return ""
        out = ["## Where the time goes (py-spy profiles)\n"]
        out.append(
            "One extra run per missed target under `py-spy record --idle --rate 50` (idle time "
            "included, so time waiting on PostgreSQL shows). Raw stacks: "
            "`benchmarks/out/profiles/`.\n"
        )
        for prof in self.profiles:
            out.append(f"### {prof.title} ({prof.samples:,} samples)\n")
            out.append(table(["phase", "share"], [[p, f"{s:.0%}"] for p, s in prof.phases]) + "\n")
            if prof.project:
                out.append(
                    table(
                        ["innermost project frames", "share"],
                        [[f"`{p}`", f"{s:.0%}"] for p, s in prof.project],
                    )
                    + "\n"
                )
            out.append(
                table(
                    ["leaf frame (self time)", "share"],
                    [[f"`{p}`", f"{s:.0%}"] for p, s in prof.leaves],
                )
                + "\n"
            )
        return "\n".join(out)


# --- main --------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
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
    command = "python benchmarks/run.py" + (
        " " + shlex.join(sys.argv[1:]) if argv is None and sys.argv[1:] else ""
    )
    started = time.perf_counter()
    bench = Bench(args)
    bench.log(f"work folder: {bench.work.relative_to(ROOT)}")
    bench.setup_postgres()
    try:
        bench.bench_overhead()
        bench.bench_sizes()
        bench.bench_tiny()
        year = bench.bench_scale()
        bench.bench_incremental(bench.duck, bench.scale_spec, year)
        if bench.pg and not args.quick:
            bench.bench_incremental(bench.pg, bench.pg_year_spec, None)
        bench.judge()
        bench.profile_misses()
    finally:
        bench.release_incremental()
    text = bench.report(command, time.perf_counter() - started)
    doc = args.doc or (QUICK_DOC if args.quick else DOC)
    doc.parent.mkdir(parents=True, exist_ok=True)
    doc.write_text(text, encoding="utf-8")
    print("\n" + text)
    bench.log(f"report written to {doc}")
    shutil.rmtree(bench.work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
