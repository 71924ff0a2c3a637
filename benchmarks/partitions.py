"""Benchmark: the event log day by day. What partitioning `staging_events` by day costs, on DuckDB.

1. Year backfill: a year of events (365 days; the full run uses the 10M-event lake of
   benchmarks/run.py's scale target, generated once and reused) loaded as ONE run of
   `staging_events` for the range of days, `dagster asset materialize -m
   sparkify_assets.definitions --select staging_events --partition-range FIRST...LAST`, into a
   fresh warehouse; against the same objects loaded unpartitioned, as before the days: the same
   CLI on `benchmarks/unpartitioned_graph.py` (the project's definitions with `staging_events`
   and `log_data` unpartitioned, the same staging function), and the load protocol alone
   (`load_protocol.stage` over every listed object in one session, in a child process, no
   Dagster run). Target: the backfill's run within 1.2x of the unpartitioned one.
2. One-day reload: in a warehouse holding that year (the backfill's), a day whose object was
   edited (its last event line removed: a new version, so the day's rows are replaced) reloaded
   by the run of that day (`--partition-range DAY...DAY`); against the same edited object loaded
   by the same run into an empty warehouse. Target: within 1.5x.
3. Sensor tick with 365 new days: one tick of `log_data_sensor` as the daemon evaluates it
   (`build_sensor_context` with the warehouse and lake resources and a real instance;
   `evaluate_tick`; its result serialized as the code server sends it; the lake asset's
   materializations reported to the instance, as the daemon does), over a lake where 365 days
   arrive at once and a warehouse that has loaded none of them: on the folder lake of (1) and on
   S3 (moto's server on a loopback port behind a proxy answering each request 30 ms late; 365
   small objects under the same keys: a tick reads keys, sizes and ETags, never the bodies).
   Target: under 10 s, one run request covering the range.

Every run and tick is measured on two Dagster instances: Dagster's default (SQLite storage in
DAGSTER_HOME, as the other benchmarks and a plain `dagster asset materialize` have it) and the
production instance (deploy/dagster.yaml: PostgreSQL storage, in a fresh database each time;
SPARKIFY_BENCH_DB_* as benchmarks/run.py; without a server, SQLite only). Dagster writes an
event per day of a run's range (its materialization, and before the run the plan of it), so the
instance's storage is part of the cost.

Each run is a child process with a fresh DAGSTER_HOME; a warehouse is fresh or a copy of the
saved year. Ratios are of medians measured in this run, sides alternating. With py-spy in the
virtualenv, one extra by-day backfill runs under it (`--profile`, on by default) and the
section says where its time went. The figures replace this benchmark's section of
docs/benchmarks.md (run.py keeps it). From the repository root:

    .venv/bin/python -m benchmarks.partitions            # the 10M-event year, ~15 min
    .venv/bin/python -m benchmarks.partitions --quick    # a 36,500-event year, ~3 min
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import json
import os
import platform
import shlex
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

if (_repo := str(Path(__file__).resolve().parents[1])) not in sys.path:
    sys.path.insert(0, _repo)

from benchmarks.child import clean_env, spawn
from benchmarks.config import BIN, DOC, OUT, QUICK_DOC, ROOT
from benchmarks.doc_sections import OwnSection
from benchmarks.figures import fmt_s, median, ok_median
from benchmarks.lakes import LakeSpec, compose_lake, ensure_lake
from benchmarks.materialize import TELEMETRY_OFF, instance_settings, materialize
from benchmarks.plan import make_plan
from benchmarks.provenance import Provenance
from benchmarks.pyspy import profile_path, py_spy
from benchmarks.results import RunResult
from benchmarks.warehouses import DuckDBEngine, PostgresEngine

SECTION_START = "<!-- partitions: written by benchmarks/partitions.py -->"
SECTION_END = "<!-- /partitions -->"
SECTION = OwnSection(SECTION_START, SECTION_END)
UNPARTITIONED_MODULE = "benchmarks.unpartitioned_graph"
PRODUCTION_INSTANCE = ROOT / "deploy" / "dagster.yaml"
BACKFILL_LIMIT, RELOAD_LIMIT, TICK_LIMIT_SECONDS = 1.2, 1.5, 10.0
S3_LATENCY = 0.030
# A diagnostic of (1) on PostgreSQL storage: with DAGSTER_EVENT_BATCH_SIZE set, Dagster writes a
# step's materializations in batches of this many (dagster-postgres 1.13 writes the planned events
# one by one all the same, and SQLite storage every event).
EVENT_BATCH_SIZE = 1000
BUCKET = "sparkify-lake"

# The load protocol alone, in a child process: every listed event object in one session, as the
# unpartitioned staging_events loaded them, with the warehouse and lake the CLI would build from
# the same environment. Prints its own figures (without the interpreter's start-up) as JSON.
BARE_STAGE = """
import json, os, time
from sparkify_assets import load_protocol
from sparkify_assets.settings import build_lake, build_warehouse
started = time.perf_counter()
lake, warehouse = build_lake(os.environ), build_warehouse(os.environ)
objects = lake.listing("log_data/").objects
with load_protocol.locked(warehouse, load_protocol.staging_locks("staging_events")) as session:
    load = load_protocol.stage(session, "staging_events", lake, objects, False)
seconds = time.perf_counter() - started
print(json.dumps({"seconds": seconds, "rows": load.rows_loaded, "objects": load.objects_loaded}))
"""


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


@dataclass
class Instance:
    """A Dagster instance the runs and ticks use: its dagster.yaml, and for PostgreSQL storage
    the server that gets a fresh database for each run."""

    name: str
    yaml: str
    pg: PostgresEngine | None = None

    @contextlib.contextmanager
    def settings(self) -> Iterator[dict[str, str]]:
        """The environment of one run's instance (a fresh storage database, dropped after)."""
        if self.pg is None:
            yield {}
            return
        database = self.pg.fresh()
        try:
            yield {
                "DAGSTER_PG_HOST": self.pg.host,
                "DAGSTER_PG_PORT": str(self.pg.port),
                "DAGSTER_PG_DB": database,
                "DAGSTER_PG_USER": self.pg.user,
                "DAGSTER_PG_PASSWORD": self.pg.password,
            }
        finally:
            self.pg.drop(database)


def instances(with_postgres: bool) -> list[Instance]:
    found = [Instance("SQLite", TELEMETRY_OFF)]
    if not with_postgres:
        return found
    pg = PostgresEngine(
        os.environ.get("SPARKIFY_BENCH_DB_HOST", "127.0.0.1"),
        int(os.environ.get("SPARKIFY_BENCH_DB_PORT", "5432")),
        os.environ.get("SPARKIFY_BENCH_DB_USER", "sparkify"),
        os.environ.get("SPARKIFY_BENCH_DB_PASSWORD", "sparkify"),
    )
    try:
        pg.drop_leftovers()
    except Exception as exc:
        log(f"PostgreSQL instance skipped: no server at {pg.host}:{pg.port} ({exc})")
        return found
    return [*found, Instance("PostgreSQL", PRODUCTION_INSTANCE.read_text(), pg)]


def describe(run: RunResult) -> str:
    step = run.steps.get("staging_events")
    status = "ok" if run.ok else f"FAILED: {run.error}"
    return (
        f"  {run.label}: {run.wall:.1f} s wall (run {run.run_seconds:.1f} s, starts at "
        f"{run.run_start:.1f} s), staging_events step {fmt_s(step)} s, "
        f"{run.loaded.get('staging_events', 0):,} rows, {run.events:,} events, {status}"
    )


def cli(label: str, instance: Instance, duck_env: dict, lake: Path, work: Path, **kw) -> RunResult:
    """One measured CLI run on `instance`; a failed run stops the benchmark."""
    with instance.settings() as settings:
        run = materialize(
            f"{label} ({instance.name})",
            duck_env,
            lake,
            work,
            extra_env={**settings, **kw.pop("extra_env", {})},
            dagster_yaml=instance.yaml,
            **kw,
        )
    log(describe(run))
    if not run.ok:
        raise RuntimeError(f"{run.label} failed: {run.error}")
    return run


def year_days(spec: LakeSpec) -> tuple[str, str]:
    return spec.start.isoformat(), (spec.start + timedelta(days=spec.days - 1)).isoformat()


def bare_stage(label: str, duck: DuckDBEngine, handle: str, lake: Path, work: Path) -> dict:
    """The load protocol alone over every event object, into the warehouse `handle`."""
    env = clean_env({**duck.env(handle), "SPARKIFY_LAKE": str(lake)})
    log_path = work / f"{label.replace(' ', '_').replace('#', '')}.log"
    child = spawn([str(BIN / "python"), "-c", BARE_STAGE], env, log_path)
    if child.code != 0:
        raise RuntimeError(f"{label} failed:\n{child.text[-2000:]}")
    figures = json.loads(child.text.strip().splitlines()[-1])
    figures.update(wall=child.wall, cpu=child.cpu, peak=child.peak)
    log(
        f"  {label}: {child.wall:.1f} s wall, stage() {figures['seconds']:.1f} s, "
        f"{figures['rows']:,} rows"
    )
    log_path.unlink(missing_ok=True)
    return figures


def measure_backfill(
    spec: LakeSpec, lake: Path, reps: int, duck, work: Path, kinds: list[Instance]
) -> tuple[dict, str]:
    """(1): the year as one run of its range vs unpartitioned, on each instance, and the load
    protocol alone; returns the figures and a warehouse holding the year, for (2)."""
    first, last = year_days(spec)
    log(f"year backfill: {spec.events:,} events, {first}...{last}, {reps} repetition(s)")
    out: dict = {"days": (first, last), "bare": []}
    year_base = None
    for instance in kinds:
        out[instance.name] = {"by_day": [], "unpartitioned": []}
        for rep in range(reps):
            # The load protocol alone needs no instance: it runs between the first instance's.
            order = ("by_day", "unpartitioned") + (("bare",) if instance is kinds[0] else ())
            for side in order if rep % 2 == 0 else order[::-1]:
                handle = duck.fresh()
                if side == "bare":
                    run = bare_stage(f"load protocol alone #{rep + 1}", duck, handle, lake, work)
                    out["bare"].append(run)
                    duck.drop(handle)
                    continue
                if side == "by_day":
                    run = cli(
                        f"backfill by day #{rep + 1}",
                        instance,
                        duck.env(handle),
                        lake,
                        work,
                        select="staging_events",
                        days=(first, last),
                    )
                else:
                    run = cli(
                        f"unpartitioned load #{rep + 1}",
                        instance,
                        duck.env(handle),
                        lake,
                        work,
                        module=UNPARTITIONED_MODULE,
                        select="staging_events",
                        by_day=False,
                    )
                out[instance.name][side].append(run)
                if side == "by_day" and year_base is None:
                    year_base = handle
                else:
                    duck.drop(handle)
    for instance in kinds:
        if instance.pg is not None:  # a diagnostic: Dagster's batched event writes
            handle = duck.fresh()
            out["batched"] = cli(
                f"backfill by day, DAGSTER_EVENT_BATCH_SIZE={EVENT_BATCH_SIZE}",
                instance,
                duck.env(handle),
                lake,
                work,
                select="staging_events",
                days=(first, last),
                extra_env={"DAGSTER_EVENT_BATCH_SIZE": str(EVENT_BATCH_SIZE)},
            )
            duck.drop(handle)
    return out, year_base


def edited_lakes(spec: LakeSpec, year_lake: Path, work: Path) -> tuple[str, Path, Path, int]:
    """The year with one day's object edited (its last event line removed), and a lake holding
    only that edited object: the day, both lakes, and the edited object's events."""
    day = (spec.start + timedelta(days=spec.days // 2)).isoformat()
    relative = Path("log_data", day[:4], day[5:7], f"{day}-events.json")
    year = compose_lake(work / "year-edited", [(year_lake, "log_data")])
    lines = (year_lake / relative).read_bytes().splitlines(keepends=True)
    (year / relative).unlink()  # a hard link to the generated file: write a file of its own
    (year / relative).write_bytes(b"".join(lines[:-1]))
    alone = compose_lake(work / "day-edited", [])
    (alone / relative).parent.mkdir(parents=True)
    os.link(year / relative, alone / relative)  # the same file: same size, mtime, version
    return day, year, alone, len(lines) - 1


def measure_reload(
    spec, year_lake: Path, year_base: str, reps: int, duck, work: Path, kinds: list[Instance]
) -> dict:
    """(2): an edited day reloaded into the year vs the same object into an empty warehouse."""
    day, year, alone, events = edited_lakes(spec, year_lake, work)
    log(f"one-day reload: {day} edited ({events:,} events left), {reps} repetition(s)")
    out: dict = {"day": day, "events": events}
    for instance in kinds:
        out[instance.name] = {"year": [], "empty": []}
        for rep in range(reps):
            order = ("year", "empty")
            for side in order if rep % 2 == 0 else order[::-1]:
                handle = duck.clone(year_base) if side == "year" else duck.fresh()
                label = f"{day} {'reloaded into the year' if side == 'year' else 'into empty'}"
                run = cli(
                    f"{label} #{rep + 1}",
                    instance,
                    duck.env(handle),
                    year if side == "year" else alone,
                    work,
                    select="staging_events",
                    days=(day, day),
                )
                out[instance.name][side].append(run)
                duck.drop(handle)
    return out


def one_tick(lake, days: tuple[str, str], work: Path, instance: Instance) -> dict:
    """One tick of log_data_sensor over `lake`, as the daemon runs it, on a fresh instance and a
    warehouse whose manifest holds none of the lake's objects."""
    from dagster import DagsterInstance, build_sensor_context
    from dagster._serdes import deserialize_value, serialize_value

    from sparkify_assets import event_days
    from sparkify_assets.definitions import defs
    from sparkify_assets.resources.engines.duckdb import DuckDBWarehouse

    (sensor,) = [s for s in defs.sensors if s.name == "log_data_sensor"]
    home = Path(tempfile.mkdtemp(prefix="home-", dir=work))
    (home / "dagster.yaml").write_text(instance.yaml)
    warehouse = DuckDBWarehouse(path=str(home / "warehouse.duckdb"))
    warehouse.ensure_tables(["load_manifest"])  # a deployed warehouse has its tables
    try:
        with (
            instance.settings() as settings,
            instance_settings(settings),
            DagsterInstance.from_config(str(home)) as dagster_instance,
        ):
            context = build_sensor_context(
                instance=dagster_instance, resources={"warehouse": warehouse, "lake": lake}
            )
            started = time.perf_counter()
            data = sensor.evaluate_tick(context)
            evaluated = time.perf_counter()
            data = deserialize_value(serialize_value(data))  # what the code server sends
            sent = time.perf_counter()
            for event in data.asset_events:  # what the daemon does with them
                dagster_instance.report_runless_asset_event(event)
            reported = time.perf_counter()
    finally:
        shutil.rmtree(home, ignore_errors=True)
    requests = data.run_requests or []
    covering = [
        r
        for r in requests
        if (r.tags.get(event_days.RANGE_START_TAG), r.tags.get(event_days.RANGE_END_TAG)) == days
        and [k.to_user_string() for k in r.asset_selection] == ["staging_events"]
    ]
    return {
        "evaluate": evaluated - started,
        "serialize": sent - evaluated,
        "report": reported - sent,
        "total": reported - started,
        "requests": len(requests),
        "covering": len(covering) == 1 == len(requests),
        "events": len(data.asset_events),
    }


def log_tick(where: str, tick: dict) -> None:
    log(
        f"  tick, {where}: {tick['total']:.2f} s (evaluate {tick['evaluate']:.2f}, serialize "
        f"{tick['serialize']:.2f}, report {tick['report']:.2f}); {tick['requests']} run "
        f"request(s), covering the range: {tick['covering']}; {tick['events']} materializations"
    )


def ticks_on(where: str, lake, spec, reps, work, kinds, out: dict) -> None:
    for instance in kinds:
        key = f"{where}, {instance.name} instance"
        out[key] = []
        for _ in range(reps):
            out[key].append(one_tick(lake, year_days(spec), work, instance))
            log_tick(key, out[key][-1])


def measure_ticks(spec, year_lake: Path, reps, work, kinds, s3: bool) -> dict:
    """(3) on the folder lake and, with `s3`, on S3: the lake's event keys in moto's server, each
    object one event line."""
    from sparkify_assets.resources.lake import Lake

    out: dict = {}
    log(f"sensor tick: {spec.days} new days, {reps} tick(s) on each lake and instance")
    ticks_on("folder lake", Lake(url=str(year_lake)), spec, reps, work, kinds, out)
    if not s3:
        return out
    import boto3

    from tests.s3_server import FAKE_CREDENTIALS, latency_proxy, moto_server

    os.environ.update(FAKE_CREDENTIALS)  # this process only: moto accepts any credentials
    with moto_server() as moto:
        client = boto3.client("s3", endpoint_url=moto)
        client.create_bucket(Bucket=BUCKET)
        for path in sorted((year_lake / "log_data").rglob("*.json")):
            with open(path, "rb") as handle:
                first_line = handle.readline()
            key = f"raw/{path.relative_to(year_lake).as_posix()}"
            client.put_object(Bucket=BUCKET, Key=key, Body=first_line)
        with latency_proxy(moto, S3_LATENCY) as (endpoint, _stats):
            lake = Lake(url=f"s3://{BUCKET}/raw", s3_endpoint_url=endpoint)
            where = f"S3 lake at {S3_LATENCY * 1000:.0f} ms"
            ticks_on(where, lake, spec, reps, work, kinds, out)
    return out


# Where a by-day backfill's samples go, by the frame that tells (first match wins); only the
# main thread's samples (py-spy's raw stacks of other threads start in threading's bootstrap).
PROFILE_BUCKETS = (
    ("Dagster storing the run's planned events (before RUN_START)", ("_log_asset_planned_events",)),
    ("Dagster storing the step's materializations", ("DagsterEvent.asset_materialization",)),
    ("Dagster storing other events", ("store_event",)),
    ("the project: the per-day reports (`report_days`)", ("report_days",)),
    ("the project: the load (`load_protocol.stage`)", ("load_protocol.py",)),
    ("the project: the step's other work", ("sparkify_assets/assets/staging.py",)),
    ("imports and loading the code", ("(<frozen importlib._bootstrap",)),
)
MAIN_THREAD = "<module> (dagster"  # the CLI's entry point, at the root of the main thread


def profile_backfill(spec, lake: Path, duck, work: Path, instance: Instance) -> dict | None:
    """An extra, untimed by-day backfill under py-spy (50 Hz, idle included): where it went."""
    if not py_spy():
        return None
    first, last = year_days(spec)
    path = profile_path(f"partitions backfill by day {spec.name} {instance.name}")
    handle = duck.fresh()
    log(f"profiling (py-spy) a by-day backfill on the {instance.name} instance")
    with instance.settings() as settings:
        run = materialize(
            f"profiled backfill ({instance.name})",
            duck.env(handle),
            lake,
            work,
            extra_env=settings,
            dagster_yaml=instance.yaml,
            select="staging_events",
            days=(first, last),
            profile_to=path,
        )
    duck.drop(handle)
    if not path.exists():
        log(f"  no profile written ({run.error})")
        return None
    shares: collections.Counter[str] = collections.Counter()
    total = 0
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        if not stack.startswith(MAIN_THREAD):
            continue
        total += int(count)
        name = next(
            (label for label, marks in PROFILE_BUCKETS if any(m in stack for m in marks)),
            "other (Dagster's CLI, run and steps)",
        )
        shares[name] += int(count)
    log(f"  {total:,} samples: " + ", ".join(f"{k} {v / total:.0%}" for k, v in shares.items()))
    return {
        "instance": instance.name,
        "samples": total,
        "seconds": total / 50,
        "shares": [(k, v / total) for k, v in shares.most_common()],
        "path": path.relative_to(ROOT),
    }


def verdict(ok: bool) -> str:
    return "**PASS**" if ok else "**MISS**"


def _step(run: RunResult) -> float | None:
    return run.steps.get("staging_events")


def _figures(runs: list[RunResult]) -> dict:
    return {
        "wall": ok_median(runs, lambda r: r.wall),
        "step": ok_median(runs, _step),
        "run": ok_median(runs, lambda r: r.run_seconds),
        "before_run": ok_median(runs, lambda r: r.run_start),
        "after_run": ok_median(runs, lambda r: r.wall - r.run_end),
        "events": ok_median(runs, lambda r: r.events),
        "rows": runs[0].loaded.get("staging_events", 0),
    }


def _phases(f: dict) -> str:
    return (
        f"{fmt_s(f['wall'])} s wall: {fmt_s(f['before_run'])} s to RUN_START, run "
        f"{fmt_s(f['run'])} s (step {fmt_s(f['step'])} s), {fmt_s(f['after_run'])} s after; "
        f"{f['events']:,.0f} events"
    )


def backfill_rows(backfill: dict, kinds: list[Instance]) -> list[str]:
    first, last = backfill["days"]
    rows = []
    for instance in kinds:
        by_day = _figures(backfill[instance.name]["by_day"])
        flat = _figures(backfill[instance.name]["unpartitioned"])
        ratio, step_ratio = by_day["wall"] / flat["wall"], by_day["step"] / flat["step"]
        rows.append(
            f"| 1 | year backfill, {instance.name} instance: one run of `staging_events` for "
            f"{first}...{last} ({by_day['rows']:,} rows) | {_phases(by_day)} | unpartitioned load "
            f"of the same objects: {_phases(flat)} | {ratio:.2f} (step {step_ratio:.2f}) | "
            f"<= {BACKFILL_LIMIT}x | {verdict(ratio <= BACKFILL_LIMIT)} |"
        )
    return rows


def reload_rows(reload: dict, kinds: list[Instance]) -> list[str]:
    rows = []
    for instance in kinds:
        year = _figures(reload[instance.name]["year"])
        empty = _figures(reload[instance.name]["empty"])
        ratio, step_ratio = year["wall"] / empty["wall"], year["step"] / empty["step"]
        rows.append(
            f"| 2 | one-day reload, {instance.name} instance: {reload['day']} edited, reloaded "
            f"into a warehouse holding the year ({year['rows']:,} rows replaced) | "
            f"{_phases(year)} | the same object into an empty warehouse: {_phases(empty)} | "
            f"{ratio:.2f} (step {step_ratio:.2f}) | <= {RELOAD_LIMIT}x | "
            f"{verdict(ratio <= RELOAD_LIMIT)} |"
        )
    return rows


def tick_rows(ticks: dict, days: tuple[str, str], n_days: int) -> list[str]:
    rows = []
    for where, runs in ticks.items():
        total = median(t["total"] for t in runs)
        ok = total < TICK_LIMIT_SECONDS and all(t["covering"] for t in runs)
        rows.append(
            f"| 3 | sensor tick, {n_days} new days, {where} | {total:.2f} s: evaluate "
            f"{median(t['evaluate'] for t in runs):.2f}, serialize "
            f"{median(t['serialize'] for t in runs):.2f}, report "
            f"{median(t['report'] for t in runs):.2f}; {runs[0]['requests']} run request for "
            f"{days[0]}...{days[1]}, {runs[0]['events']} materializations of `log_data` | – | – | "
            f"< {TICK_LIMIT_SECONDS:.0f} s, one run request | {verdict(ok)} |"
        )
    return rows


def profile_text(profile: dict | None) -> str:
    if not profile:
        return ""
    shares = "; ".join(
        f"{name} {share:.0%} ({share * profile['seconds']:.1f} s)"
        for name, share in profile["shares"]
    )
    return (
        f"\n**Where a by-day backfill's time goes** (one extra run on the {profile['instance']} "
        f"instance under `py-spy record --idle --rate 50`; the main thread's "
        f"{profile['samples']:,} samples = {profile['seconds']:.0f} s; raw stacks "
        f"`{profile['path']}`): {shares}.\n"
    )


def batched_text(backfill: dict) -> str:
    if "batched" not in backfill:
        return ""
    batched = _figures([backfill["batched"]])
    flat = _figures(backfill["PostgreSQL"]["unpartitioned"])
    return (
        f"\n**Diagnostic, not a verdict:** the by-day backfill on the PostgreSQL instance once "
        f"more with `DAGSTER_EVENT_BATCH_SIZE={EVENT_BATCH_SIZE}` in the run's environment "
        f"(Dagster then writes the step's materializations in batches; dagster-postgres 1.13 "
        f"still writes the planned events one by one): {_phases(batched)}; "
        f"{batched['wall'] / flat['wall']:.2f}x the unpartitioned load's wall time.\n"
    )


def section(spec, backfill, reload, ticks, kinds, profile, provenance, command, elapsed) -> str:
    first, last = backfill["days"]
    bare = {k: median(b[k] for b in backfill["bare"]) for k in ("seconds", "wall")}
    steps = {
        instance.name: {
            side: ok_median(backfill[instance.name][side], _step)
            for side in ("by_day", "unpartitioned")
        }
        for instance in kinds
    }
    against_bare = "; ".join(
        f"{name}: by day {s['by_day'] / bare['seconds']:.2f}x, unpartitioned "
        f"{s['unpartitioned'] / bare['seconds']:.2f}x"
        for name, s in steps.items()
    )
    rows = "\n".join(
        backfill_rows(backfill, kinds)
        + reload_rows(reload, kinds)
        + tick_rows(ticks, backfill["days"], spec.days)
    )
    n_backfill = len(backfill[kinds[0].name]["by_day"])
    n_reload = len(reload[kinds[0].name]["year"])
    n_ticks = len(next(iter(ticks.values())))
    return f"""{SECTION_START}
## The event log day by day: year backfill, one-day reload, sensor tick

Written by `benchmarks/partitions.py` on {time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())} in
{elapsed / 60:.0f} min ({os.cpu_count()} cores, Python {platform.python_version()}; code:
{provenance.code_text()}); do not edit by hand. How it measures: the module's docstring.

Command: `{command}`

Lake: {spec.days} days, {spec.events:,} events ({spec.name}{
        ", the 10M-event lake of the scale target" if spec.events >= 5_000_000 else ""
    }), DuckDB warehouse. Load average (1/5/15 min): {provenance.machine()[-1][1]}. CPU pressure:
{provenance.pressure_text()}.

| # | measured | figure | reference | ratio | goal | verdict |
|---|---|---|---|---|---|---|
{rows}

Medians of {n_backfill} run(s) of each side of (1), {n_reload} of (2) and {n_ticks} tick(s) of
(3) per lake and instance. Verdicts of (1) and (2) are on the run's wall time (the CLI child
process from start to exit, as target 5 of the full run); the `staging_events` step
(STEP_START to STEP_SUCCESS) is beside it. "Events" are the records of the run's event log.
{batched_text(backfill)}{profile_text(profile)}
- **(1) by day:** `dagster asset materialize -m sparkify_assets.definitions --select
  staging_events --partition-range {first}...{last}` into a fresh DuckDB file.
  **Unpartitioned:** `dagster asset materialize -m benchmarks.unpartitioned_graph --select
  staging_events` into a fresh DuckDB file: the project's definitions with `staging_events` and
  `log_data` unpartitioned, the same staging function and load protocol, the same checks (both
  runs also run `staging_events_checks`). **The load protocol alone**, no Dagster:
  `load_protocol.stage` over every listed object in one session in a child process, median
  {fmt_s(bare["seconds"])} s inside it ({fmt_s(bare["wall"])} s with the interpreter's start-up);
  the steps against it: {against_bare}.
- **(2)** The edited object ({reload["events"]:,} events: its last line removed, so its size and
  mtime, the version the manifest knows, change) reloaded by `--select staging_events
  --partition-range {reload["day"]}...{reload["day"]}` into a copy of the warehouse the first
  backfill of (1) left (the copy is not timed), against the same run and object into a fresh
  DuckDB file.
- **(3)** `log_data_sensor` of `sparkify_assets.definitions`: `build_sensor_context` with DuckDB
  and the lake as resources and the instance (a fresh one each tick), a warehouse whose
  `load_manifest` is empty; `evaluate_tick` (list, compare with the manifest, the run request
  and one `log_data` materialization per day); the result serialized and read back, as the code
  server sends it to the daemon; then the daemon's `report_runless_asset_event` for each
  materialization. Not timed: the daemon creating the run from the request. S3: moto's server on
  a loopback port behind a proxy answering each request {S3_LATENCY * 1000:.0f} ms late,
  {spec.days} objects under the folder lake's keys, each holding one event line.
- Instances: **SQLite** is a DAGSTER_HOME with Dagster's default storage (as the other
  benchmarks and a plain `dagster asset materialize`); **PostgreSQL** is the production instance
  (`deploy/dagster.yaml`), its storage in a fresh database on the local server each time.
{SECTION_END}"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.partitions")
    parser.add_argument("--quick", action="store_true", help="a 36,500-event year, 1 repetition")
    parser.add_argument("--reps", type=int, help="runs of (2), ticks of (3) (default 3; quick 1)")
    parser.add_argument(
        "--backfill-reps", type=int, help="runs of each side of (1) (default 2; quick 1)"
    )
    parser.add_argument("--no-s3", action="store_true", help="the sensor tick on the folder only")
    parser.add_argument(
        "--no-postgres", action="store_true", help="the SQLite instance only (no server needed)"
    )
    parser.add_argument(
        "--profile",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="one extra by-day backfill under py-spy, when installed (default on)",
    )
    parser.add_argument("--doc", type=Path, help="default docs/benchmarks.md (quick: out/)")
    args = parser.parse_args(argv)
    reps = args.reps or (1 if args.quick else 3)
    backfill_reps = args.backfill_reps or (1 if args.quick else 2)
    doc = args.doc or (QUICK_DOC if args.quick else DOC)
    command = "python -m benchmarks.partitions" + (
        " " + shlex.join(sys.argv[1:]) if argv is None and sys.argv[1:] else ""
    )
    provenance = Provenance()
    started = time.perf_counter()
    spec = make_plan(args.quick, None).scale_spec
    lake = ensure_lake(spec, log)
    kinds = instances(not args.no_postgres)
    work = Path(tempfile.mkdtemp(prefix="partitions-", dir=OUT))
    log(f"work folder: {work.relative_to(ROOT)}; load average {os.getloadavg()}")
    duck = DuckDBEngine(work)
    profile = None
    try:
        backfill, year_base = measure_backfill(spec, lake, backfill_reps, duck, work, kinds)
        reload = measure_reload(spec, lake, year_base, reps, duck, work, kinds)
        duck.drop(year_base)
        ticks = measure_ticks(spec, lake, reps, work, kinds, not args.no_s3)
        if args.profile:
            profile = profile_backfill(spec, lake, duck, work, kinds[-1])
    finally:
        shutil.rmtree(work, ignore_errors=True)
    elapsed = time.perf_counter() - started
    text = section(spec, backfill, reload, ticks, kinds, profile, provenance, command, elapsed)
    SECTION.write(doc, text)
    print("\n" + text)
    log(f"written to {doc}; load average {os.getloadavg()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
