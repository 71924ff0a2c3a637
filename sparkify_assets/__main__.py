"""`python -m sparkify_assets [--days FIRST...LAST] [--verbose]`: materialize the whole graph in
this process, one line per step as it finishes (a failed step with its reason under it), then
what the tables hold, how the checks went and where the report is. A bad setting: its one line on
stderr, exit status 2.

`staging_events` is partitioned by day: the run covers the days from the first to the last of the
lake's event log (the whole lake, in one run), or the days `--days` names. It is the run
`dagster asset materialize -m sparkify_assets.definitions --select '*' --partition-range
FIRST...LAST` makes.

Uses the same Definitions (and so the same environment variables) as `dagster dev`. Runs are
recorded in $DAGSTER_HOME when it is set, else in a throwaway instance. `--verbose` shows
Dagster's own event log (DEBUG) instead of the step lines.
"""

import argparse
import os
import sys
import threading
import time
import uuid
from collections import defaultdict

from dagster import AssetCheckSeverity, DagsterEventType, DagsterInstance, Definitions

from sparkify_assets.failures import failure_reason
from sparkify_assets.settings import exit_on_bad_setting
from sparkify_assets.sql_files import TABLE_ASSETS

QUIET = {"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}}
PROGRESS_EVERY = 15.0  # seconds between "still running" lines of a long step


class StepLines:
    """Prints a line per finished step, and a line now and then for a step still running."""

    def __init__(self, show: bool = True):
        self.show = show  # off with --verbose: Dagster's own log says it all
        self.started: dict[str, float] = {}
        self.materialized: dict[str, dict] = {}
        self.checks: dict[str, list] = defaultdict(list)  # step -> check evaluations
        self.lock = threading.Lock()
        self.done = threading.Event()

    def print(self, text: str) -> None:
        if self.show:
            print(text, flush=True)

    def on_event(self, entry) -> None:
        event = entry.dagster_event
        if event is None or event.step_key is None:
            return
        with self.lock:
            step = event.step_key
            if event.event_type == DagsterEventType.STEP_START:
                self.started[step] = time.monotonic()
            elif event.event_type == DagsterEventType.ASSET_MATERIALIZATION:
                self.materialized[step] = event.step_materialization_data.materialization.metadata
            elif event.event_type == DagsterEventType.ASSET_CHECK_EVALUATION:
                self.checks[step].append(event.event_specific_data)
            elif event.event_type in (DagsterEventType.STEP_SUCCESS, DagsterEventType.STEP_FAILURE):
                seconds = time.monotonic() - self.started.pop(step, time.monotonic())
                failed = event.event_type == DagsterEventType.STEP_FAILURE
                self.print(f"  {self.label(step):<34}{self.what(step, failed):<28}{seconds:5.1f} s")
                if failed:  # why, under the step: the first line of what the UI shows
                    self.print(f"    {failure_reason(event.event_specific_data)}")

    def label(self, step: str) -> str:
        """The step's asset, or for a check step the checks' name and the tables they judge."""
        evaluations = self.checks.get(step)
        if step in self.materialized or not evaluations or step.endswith("_checks"):
            return step
        names = sorted({e.check_name for e in evaluations})
        return f"{names[0]} ({len(evaluations)} tables)" if len(names) == 1 else step

    def what(self, step: str, failed: bool) -> str:
        metadata = self.materialized.get(step, {})
        if "rows_added" in metadata:  # a table; a star table's audit passed, or it would not be
            audited = ", audit passed" if step in self.checks else ""
            return f"{metadata['rows_added'].value:+,} rows{audited}"
        if step in self.checks:
            passed, warned, failed_checks = outcome(self.checks[step])
            text = f"checks: {len(passed)} passed"
            text += f", {len(warned)} warned" if warned else ""
            text += f", {len(failed_checks)} FAILED" if failed_checks else ""
            return text
        if failed:
            return "FAILED"
        if "report_file" in metadata:
            return "report drawn"
        return "done"

    def progress(self) -> None:
        """Every PROGRESS_EVERY seconds, a line for each step still running."""
        while not self.done.wait(PROGRESS_EVERY):
            with self.lock:
                for step, since in self.started.items():
                    self.print(f"  {step:<34}running for {time.monotonic() - since:.0f} s ...")


def check_name(evaluation) -> str:
    return f"{evaluation.asset_key.to_user_string()}:{evaluation.check_name}"


def outcome(evaluations) -> tuple[list[str], list[str], list[str]]:
    """The checks that passed, warned (failed with severity WARN) and failed, by name."""
    passed, warned, failed = [], [], []
    for e in evaluations:
        if e.passed:
            passed.append(check_name(e))
        elif e.severity == AssetCheckSeverity.WARN:
            warned.append(check_name(e))
        else:
            failed.append(check_name(e))
    return passed, warned, failed


def summary(defs: Definitions, result, lines: StepLines, seconds: float) -> list[str]:
    warehouse = defs.resources["warehouse"]
    text = ["", f"warehouse: {warehouse.engine} at {warehouse.location}"]
    report = None
    # A partitioned table has one event per day, each with the whole table's count: the last.
    latest = {e.asset_key: e for e in result.get_asset_materialization_events()}
    for event in latest.values():
        name = event.asset_key.to_user_string()
        meta = event.materialization.metadata
        if name in TABLE_ASSETS:
            rows = meta["dagster/row_count"].value
            rejected = meta.get("rows_rejected")
            note = f"  ({rejected.value} rejected)" if rejected and rejected.value else ""
            text.append(f"  {name:<16}{rows:>12,} rows{note}")
        if "report_file" in meta:
            report = meta["report_file"].value
    evaluations = [e for step in lines.checks.values() for e in step]
    passed, warned, failed = outcome(evaluations)
    text.append(f"checks: {len(passed)} passed, {len(warned)} warned, {len(failed)} failed")
    text += [f"  warned: {', '.join(sorted(warned))}"] if warned else []
    text += [f"  FAILED: {', '.join(sorted(failed))}"] if failed else []
    text += [f"report: {report}"] if report else []
    status = "succeeded" if result.success else "FAILED"
    text.append(f"run {status} in {seconds:.1f} s: {result.run_id}")
    return text


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sparkify_assets", description=__doc__)
    parser.add_argument("--verbose", action="store_true", help="show Dagster's event log")
    parser.add_argument(
        "--days",
        metavar="FIRST...LAST",
        help="the days of the event log to load (default: every day the lake holds)",
    )
    args = parser.parse_args(argv)
    with exit_on_bad_setting():  # building the Definitions reads the settings
        from sparkify_assets import event_days
        from sparkify_assets.definitions import defs
    lake = defs.resources["lake"]
    if args.days:
        first, _, last = args.days.partition("...")
        if not (first and last):
            parser.error("--days takes FIRST...LAST, e.g. 2018-11-01...2018-11-30")
    else:
        # A lake without event logs still loads its songs: today's day, empty, stands in.
        today = event_days.bounds()[1]
        first, last = event_days.days_in_lake(lake) or (today, today)
    instance = (
        DagsterInstance.get() if os.environ.get("DAGSTER_HOME") else DagsterInstance.ephemeral()
    )
    lines = StepLines(show=not args.verbose)
    run_id = str(uuid.uuid4())  # as Dagster makes them: the listener is set before the run
    print(f"materializing the graph: lake {lake.url}, days {first} to {last}", flush=True)
    instance.add_event_listener(run_id, lines.on_event)
    threading.Thread(target=lines.progress, daemon=True).start()
    started = time.monotonic()
    result = defs.resolve_job_def("sparkify_job").execute_in_process(
        instance=instance,
        raise_on_error=False,
        run_id=run_id,
        run_config=None if args.verbose else QUIET,
        tags=event_days.range_tags(first, last),
    )
    lines.done.set()
    print("\n".join(summary(defs, result, lines, time.monotonic() - started)))
    return 0 if result.success else 1


if __name__ == "__main__":
    sys.exit(main())
