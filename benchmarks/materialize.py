"""One `dagster asset materialize` of the project in a measured child process, with its own
DAGSTER_HOME, optionally with a patched staging chunk or under py-spy; the run's event log gives
the time per step, the rows loaded, the error and the step at peak memory.

`staging_events` is partitioned by day: a selection that takes it in runs for a range of days
(`--partition-range FIRST...LAST`, one run: every asset has the single-run backfill policy), by
default every day of the lake's event log, as `python -m sparkify_assets` computes it."""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
import uuid
from pathlib import Path

from benchmarks.child import clean_env, spawn
from benchmarks.config import BIN, MODULE, OUT, ROOT
from benchmarks.project_graph import selects_partitioned
from benchmarks.pyspy import record_command
from benchmarks.results import RunResult

# The child that materializes with a patched staging chunk: the real CLI otherwise.
PATCHED_CLI = """
import os, sys
from sparkify_assets.resources.engines import base, postgres, redshift
chunk_bytes = int(os.environ["SPARKIFY_BENCH_CHUNK_BYTES"])
for session in (base.Session, postgres.PostgresSession, redshift.RedshiftSession):
    session.chunk_bytes = chunk_bytes
import runpy
sys.argv = ["dagster", *sys.argv[1:]]
runpy.run_module("dagster", run_name="__main__", alter_sys=True)
"""


TELEMETRY_OFF = "telemetry:\n  enabled: false\n"  # a DAGSTER_HOME's dagster.yaml by default


@contextlib.contextmanager
def instance_settings(env: dict[str, str]):
    """This process's environment with the instance's settings of `env` (DAGSTER_PG_*: what a
    dagster.yaml may read with `{env: ...}`), to read the run's event log from its instance."""
    settings = {k: v for k, v in env.items() if k.startswith("DAGSTER_PG_")}
    saved = {k: os.environ.get(k) for k in settings}
    os.environ.update(settings)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _deepest_message(error) -> str:
    while error is not None and getattr(error, "cause", None) is not None:
        error = error.cause
    if error is None:
        return "unknown error"
    message = (error.message or "").strip().splitlines()
    return message[0][:300] if message else error.cls_name or "unknown error"


def read_run(home: Path, result: RunResult, start_epoch: float, peak_epoch: float) -> None:
    """Fill in step times, rows loaded, the error and the step at peak memory from the run's
    event log."""
    from dagster import DagsterEventType, DagsterInstance

    with DagsterInstance.from_config(str(home)) as instance:
        runs = instance.get_runs(limit=1)
        if not runs:
            return
        records = instance.all_logs(runs[0].run_id)
    if not records:
        return
    result.startup = records[0].timestamp - start_epoch
    starts: dict[str, float] = {}
    run_start = run_end = None
    failures = []
    for record in records:
        event = record.dagster_event
        if event is None:
            continue
        kind = event.event_type
        if kind == DagsterEventType.RUN_START:
            run_start = record.timestamp
        elif kind in (DagsterEventType.RUN_SUCCESS, DagsterEventType.RUN_FAILURE):
            run_end = record.timestamp
        elif kind == DagsterEventType.STEP_START:
            starts[event.step_key] = record.timestamp
            result.step_order.append(event.step_key)
        elif kind in (DagsterEventType.STEP_SUCCESS, DagsterEventType.STEP_FAILURE):
            if event.step_key in starts:
                result.steps[event.step_key] = record.timestamp - starts[event.step_key]
                if starts[event.step_key] <= peak_epoch <= record.timestamp:
                    result.peak_step = event.step_key
            if kind == DagsterEventType.STEP_FAILURE:
                failures.append(
                    f"{event.step_key}: {_deepest_message(event.step_failure_data.error)}"
                )
        elif kind == DagsterEventType.ASSET_MATERIALIZATION:
            materialization = event.event_specific_data.materialization
            name = materialization.asset_key.to_user_string()
            meta = {k: v.value for k, v in materialization.metadata.items()}
            if "audit_seconds" in meta:  # a star table's write-audit-publish, inside its step
                result.audits[name] = float(meta["audit_seconds"])
            if name.startswith("staging_"):
                if "rows_added" in meta:
                    result.loaded[name] = int(meta["rows_added"]) + int(meta.get("rows_changed", 0))
    result.events = len(records)
    if run_start is not None and run_end is not None:
        result.run_seconds = run_end - run_start
        result.run_start, result.run_end = run_start - start_epoch, run_end - start_epoch
    if failures and not result.error:
        result.error = "; ".join(failures)


def lake_days(lake: Path | str) -> tuple[str, str]:
    """The first and the last day of the lake's event log (a folder lake, or an S3 one that the
    environment reaches); today's day, empty, for a lake without one (as `python -m
    sparkify_assets` does: its songs still load)."""
    from sparkify_assets import event_days
    from sparkify_assets.resources.lake import Lake

    return event_days.days_in_lake(Lake(url=str(lake))) or (event_days.bounds()[1],) * 2


def partition_args(
    select: str, lake: Path | str, days: tuple[str, str] | None, by_day: bool | None = None
) -> list[str]:
    """`--partition-range FIRST...LAST` when the run is by day (`by_day`; None: when `select`
    takes in a partitioned asset of the project): `days`, or every day of the lake's event log.
    Nothing otherwise: the CLI wants a range exactly when a selected asset is partitioned."""
    if not (selects_partitioned(select) if by_day is None else by_day):
        return []
    first, last = days or lake_days(lake)
    return ["--partition-range", f"{first}...{last}"]


def materialize(
    label: str,
    engine_env: dict[str, str],
    lake: Path,
    work: Path,
    *,
    module: str = MODULE,
    extra_env: dict[str, str] | None = None,
    chunk_bytes: int | None = None,
    profile_to: Path | None = None,
    select: str = "*",
    days: tuple[str, str] | None = None,
    by_day: bool | None = None,
    dagster_yaml: str = TELEMETRY_OFF,
) -> RunResult:
    """One `dagster asset materialize --select '*'` in a child process, measured; for the days
    `days` (first, last), by default every day of the lake's event log. `by_day=False` for a
    module whose selected assets have no partitions (see partition_args). `dagster_yaml`: the
    instance (default: Dagster's defaults, SQLite storage in DAGSTER_HOME, telemetry off); the
    settings it reads from the environment come in `extra_env`."""
    home = work / f"home-{uuid.uuid4().hex[:8]}"
    home.mkdir(parents=True)
    (home / "dagster.yaml").write_text(dagster_yaml)
    env = clean_env(
        {
            **engine_env,
            **(extra_env or {}),
            "SPARKIFY_LAKE": str(lake),
            "DAGSTER_HOME": str(home),
        }
    )
    args = ["asset", "materialize", "-m", module, "--select", select]
    args += partition_args(select, lake, days, by_day)
    if chunk_bytes is not None:
        env["SPARKIFY_BENCH_CHUNK_BYTES"] = str(chunk_bytes)
        cmd = [sys.executable, "-c", PATCHED_CLI, *args]
    else:
        cmd = [str(BIN / "dagster"), *args]
    if profile_to is not None:
        cmd = record_command(profile_to, cmd)
    log_path = work / f"{label.replace(' ', '_').replace('/', '_')}-{home.name}.log"
    child = spawn(cmd, env, log_path)
    code = child.code
    result = RunResult(
        label, code == 0, child.wall, child.cpu, child.peak, diagnostic=chunk_bytes is not None
    )
    try:
        with instance_settings(env):
            read_run(home, result, child.start_epoch, child.peak_epoch)
    except Exception as exc:  # the figures above still stand
        result.error = result.error or f"could not read the run's event log: {exc}"
    if code != 0 and not result.error:
        tail = [line for line in child.text.strip().splitlines() if line.strip()][-3:]
        result.error = " | ".join(tail)[-400:] or f"exit code {code}"
    if code == 0:
        log_path.unlink(missing_ok=True)
    else:  # kept for reading: the work folder goes at the end of the benchmark
        kept = OUT / "logs" / log_path.name
        kept.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(log_path, kept)
        result.error = (result.error or "") + f" (log: {kept.relative_to(ROOT)})"
    shutil.rmtree(home, ignore_errors=True)
    return result
