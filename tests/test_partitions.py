"""The event log day by day: `staging_events` partitioned by the day each object belongs to, on
DuckDB, PostgreSQL and the Redshift stand-in; ranges of days in one run; what automation then
requests; the days the sensors ask for.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import subprocess
import sys

import pytest
from dagster import DagsterInstance, build_sensor_context, materialize

from sparkify_assets import event_days
from sparkify_assets.checks import build_checks
from sparkify_assets.definitions import ALL_ASSETS
from sparkify_assets.event_days import day_named_in, day_of, range_tags
from sparkify_assets.resources.lake import Lake
from sparkify_assets.resources.lake_objects import LakeObject
from tests.reference import compute
from tests.support import (
    Automation,
    add_day,
    day_metadata,
    importing_this_checkout,
    in_order,
    metadata_of,
    read_table,
    run_graph,
)
from tests.test_engines_redshift import redshift_warehouse, staged_rows, sync

pytest_plugins = ("tests.redshift_standin.fixtures",)

DAYS = ("2018-11-01", "2018-11-02", "2018-11-03")  # the generated lake's (LAKE_SIZE)


def day_file(lake_dir, day: str):
    return lake_dir / "log_data" / day[:4] / day[5:7] / f"{day}-events.json"


def lake_of_days(lake_dir, tmp_path, days) -> str:
    """A copy of `lake_dir` holding only the event objects of `days` (and every song)."""
    only = tmp_path / f"only-{'-'.join(days)}"
    shutil.copytree(lake_dir / "song_data", only / "song_data")
    for day in days:
        target = day_file(only, day)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(day_file(lake_dir, day), target)
    return str(only)


def stage_days(
    warehouse, lake: Lake, first: str, last: str, instance=None, full_refresh=False
):  # fmt: skip
    """One run of staging_events over the days `first` to `last` (one day: a run of that
    partition, as the UI's "Materialize" of a single day launches it)."""
    config = (
        {"ops": {"staging_events": {"config": {"full_refresh": True}}}} if full_refresh else None
    )
    days = {"partition_key": first} if first == last else {"tags": range_tags(first, last)}
    result = materialize(
        [*ALL_ASSETS, *build_checks()],
        selection=["staging_events"],
        resources={"warehouse": warehouse, "lake": lake},
        instance=instance,
        run_config=config,
        **days,
    )
    assert result.success
    return result


def staged(warehouse, lines: bool = True) -> list[tuple]:
    return staged_rows(warehouse, "staging_events", lines)


def rows_of(rows: list[tuple], key_suffix: str) -> list[tuple]:
    """The staging rows whose object key (second to last but one column) ends so."""
    return [r for r in rows if any(isinstance(v, str) and v.endswith(key_suffix) for v in r)]


# --- which day an object belongs to ------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "day"),
    [
        ("log_data/2018/11/2018-11-03-events.json", "2018-11-03"),
        ("log_data/2018-11-01/retry/2018-11-04-events.json", "2018-11-04"),  # the last date
        ("log_data/2018/11/2018-13-45-events.json", None),  # digits, not a day
        ("log_data/x/20181103-events.json", None),
        ("log_data/firehose/2018-11-03-12-00-01-abc.json.gz", "2018-11-03"),
    ],
)
def test_the_day_a_key_names(key, day):
    assert day_named_in(key) == day


def test_an_object_whose_key_names_no_day_belongs_to_the_day_it_arrived():
    arrived = dt.datetime(2018, 11, 5, 23, 59, tzinfo=dt.UTC).timestamp()
    assert day_of(LakeObject("log_data/stream/events.json", "e", 1, arrived)) == "2018-11-05"


# --- each engine: a day equals its reference; ranges in one run; edits reload only their day ---


@pytest.fixture(params=["duckdb", "postgres", "redshift"])
def engine_and_lake(request, lake_dir, tmp_path, monkeypatch):
    """(warehouse, lake) on each engine; on Redshift the lake is `lake_dir` synced to the
    stand-in's read-only bucket (call `sync_lake` after changing the folder)."""
    if request.param != "redshift":
        warehouse = request.getfixturevalue(f"{request.param}_warehouse")
        return warehouse, Lake(url=str(lake_dir)), lambda: None
    standin = request.getfixturevalue("redshift_standin")
    request.getfixturevalue("aws_credentials")
    endpoint = request.getfixturevalue("s3_endpoint")
    url = f"s3://{standin.bucket}/lake"
    warehouse = redshift_warehouse(standin, monkeypatch)
    sync(lake_dir, url, endpoint)
    return (
        warehouse,
        Lake(url=url, s3_endpoint_url=standin.lake_endpoint),
        (lambda: sync(lake_dir, url, endpoint)),
    )


def test_days_load_as_their_reference_in_one_run_and_an_edit_reloads_only_its_day(
    engine_and_lake, lake_dir, tmp_path
):
    warehouse, lake, sync_lake = engine_and_lake
    # One day: exactly what the reference makes of that day's object, and its counts.
    result = stage_days(warehouse, lake, DAYS[1], DAYS[1])
    expected = compute(lake_of_days(lake_dir, tmp_path, [DAYS[1]]))
    assert staged(warehouse) == in_order(expected.staging_events)
    rejects = {r[:3] for r in read_table(warehouse, "staging_rejects")}
    assert rejects == expected.rejects
    (day,) = day_metadata(result).items()
    assert day == (DAYS[1], day[1])
    assert day[1]["day_objects"] == 1
    assert day[1]["dagster/partition_row_count"] == len(expected.staging_events)
    assert day[1]["day_rows_rejected"] == len(expected.rejects)

    # A range: one run, each day materialized in it; the day loaded before costs nothing.
    with DagsterInstance.ephemeral() as instance:
        result = stage_days(warehouse, lake, DAYS[0], DAYS[2], instance)
        assert instance.get_runs_count() == 1
        assert sorted(day_metadata(result)) == list(DAYS)
    assert metadata_of(result, "staging_events")["objects_loaded"] == 2
    everything = compute(lake_dir)
    assert staged(warehouse) == in_order(everything.staging_events)
    before = staged(warehouse)

    # Again: nothing changed, nothing loads, no row changes.
    again = stage_days(warehouse, lake, DAYS[0], DAYS[2])
    assert metadata_of(again, "staging_events")["objects_loaded"] == 0
    assert staged(warehouse) == before
    row_counts = {d: m["dagster/partition_row_count"] for d, m in day_metadata(result).items()}
    assert {d: m["dagster/partition_row_count"] for d, m in day_metadata(again).items()} == (
        row_counts
    )
    assert sum(row_counts.values()) == len(before)

    # The third day delivered again with one event fewer: only its rows change.
    path = day_file(lake_dir, DAYS[2])
    lines = path.read_text(encoding="utf-8").splitlines()
    path.write_text("\n".join(lines[:-1]) + "\n", encoding="utf-8")
    sync_lake()
    edited = stage_days(warehouse, lake, DAYS[0], DAYS[2])
    assert metadata_of(edited, "staging_events")["objects_loaded"] == 1
    after = staged(warehouse)
    for day in DAYS[:2]:  # untouched, load batch and all
        assert rows_of(after, f"{day}-events.json") == rows_of(before, f"{day}-events.json")
    assert after == in_order(compute(lake_dir).staging_events)
    counts = {d: m["dagster/partition_row_count"] for d, m in day_metadata(edited).items()}
    assert counts[DAYS[2]] == len(rows_of(after, f"{DAYS[2]}-events.json"))
    assert sum(counts.values()) == len(after)

    # The star tables then take in the change as they take in any load.
    run_graph(warehouse, lake.url, s3_endpoint_url=lake.s3_endpoint_url)
    expected = compute(lake_dir)
    for table in ("songplays", "users", "time"):
        assert read_table(warehouse, table) == in_order(getattr(expected, table)), table


# --- objects with no day in their key, or a day without a partition -----------------------------


def test_an_undated_object_loads_into_its_arrival_day_and_one_before_the_start_is_reported(
    duckdb_warehouse, lake_dir
):
    stream = lake_dir / "log_data" / "stream" / "events.json"
    stream.parent.mkdir(parents=True)
    shutil.copy(day_file(lake_dir, DAYS[0]), stream)
    arrived = dt.datetime(2018, 11, 5, 8, tzinfo=dt.UTC).timestamp()
    os.utime(stream, (arrived, arrived))
    early = day_file(lake_dir, "2018-10-31")
    early.parent.mkdir(parents=True)
    shutil.copy(day_file(lake_dir, DAYS[1]), early)

    result = stage_days(duckdb_warehouse, Lake(url=str(lake_dir)), "2018-11-05", "2018-11-05")
    assert loaded_keys(duckdb_warehouse) == {"log_data/stream/events.json"}
    assert day_metadata(result)["2018-11-05"]["day_objects"] == 1
    skipped = read_table(duckdb_warehouse, "skipped_objects")
    assert [(r[1], r[3]) for r in skipped] == [
        (
            "log_data/2018/10/2018-10-31-events.json",
            "its day 2018-10-31 is outside the daily partitions 2018-11-01 to "
            f"{event_days.bounds()[1]} (SPARKIFY_EVENTS_START sets the first)",
        )
    ]
    warned = {e.check_name for e in result.get_asset_check_evaluations() if not e.passed}
    assert "no_skipped_objects" in warned


def loaded_keys(warehouse) -> set[str]:
    """The objects staging_events' load manifest holds."""
    with warehouse.session() as session:
        rows = session.fetch("load_manifest", "keys", {"table_name": "staging_events"})
    return {key for (key,) in rows}


def test_a_run_without_days_is_refused_with_what_to_do(duckdb_warehouse, lake_dir):
    result = materialize(
        [*ALL_ASSETS],
        selection=["staging_events"],
        resources={"warehouse": duckdb_warehouse, "lake": Lake(url=str(lake_dir))},
        raise_on_error=False,
    )
    (failure,) = [e for e in result.all_events if e.is_step_failure]
    assert failure.event_specific_data.user_failure_data.description == (
        "staging_events is loaded by day: run it for a day or a range of days (the UI's "
        "materialize or backfill, or `dagster asset materialize --partition-range FIRST...LAST`)"
    )


def test_a_full_refresh_of_one_day_reloads_that_day_only(built_duckdb_copy, lake_dir):
    before, batches_before = staged(built_duckdb_copy), load_batches(built_duckdb_copy)
    stage_days(built_duckdb_copy, Lake(url=str(lake_dir)), DAYS[1], DAYS[1], full_refresh=True)
    assert staged(built_duckdb_copy) == before  # the same rows, reloaded
    batches = load_batches(built_duckdb_copy)
    reloaded = str(day_file(lake_dir, DAYS[1]).relative_to(lake_dir))
    assert {k: b for k, b in batches.items() if k != reloaded} == {
        k: b for k, b in batches_before.items() if k != reloaded
    }
    (new_batch,) = batches[reloaded]  # one new load: after every load before it
    assert new_batch > max(max(b) for b in batches_before.values())


def load_batches(warehouse) -> dict[str, set[int]]:
    """The load batches that brought each object's staging_events rows."""
    with warehouse.session() as session:
        _, rows = session.query_text("SELECT DISTINCT source_key, load_batch FROM staging_events")
    batches: dict[str, set[int]] = {}
    for key, batch in rows:
        batches.setdefault(key, set()).add(batch)
    return batches


# --- automation: what changed, and only that, moves downstream ---------------------------------


def test_automation_holds_back_what_is_below_a_failed_blocking_check(built_duckdb_copy, lake_dir):
    lake = Lake(url=str(lake_dir))
    with DagsterInstance.ephemeral() as instance:
        automation = Automation(instance, built_duckdb_copy, lake)
        run_graph(built_duckdb_copy, lake_dir, instance=instance)
        automation.follow()
        assert automation.tick() == set()
        # A new day whose records are mostly broken: staging's reject rate check (blocking) fails.
        day = add_day(lake_dir, 4)
        path = lake_dir / day
        good = path.read_text(encoding="utf-8").splitlines()
        broken = [line.replace('"ts":', '"ts": "soon", "x":', 1) for line in good[::3]]
        path.write_text("\n".join(good + broken) + "\n", encoding="utf-8")
        result = materialize(
            [*ALL_ASSETS, *build_checks()],
            selection=["staging_events"],
            resources={"warehouse": built_duckdb_copy, "lake": lake},
            tags=range_tags("2018-11-04", "2018-11-04"),
            instance=instance,
            raise_on_error=False,
        )
        assert not result.success
        assert automation.tick() == set()  # nothing below staging_events moves
        # Fixed: the day reloads, its check passes, and what is below it follows.
        path.write_text("\n".join(good) + "\n", encoding="utf-8")
        stage_days(built_duckdb_copy, lake, "2018-11-04", "2018-11-04", instance)
        assert automation.follow() == [{"users", "time", "songplays", "analytics_report"}]


# --- the sensor asks for the days whose objects are new, in one run ------------------------------


def test_a_month_of_new_days_is_one_request_for_their_range(duckdb_warehouse, tmp_path):
    from sparkify_assets.generate import generate_lake
    from tests.test_sensors import SENSORS

    lake_path = tmp_path / "month"
    generate_lake(lake_path, songs=5, users=3, days=30, events_per_day=5, seed=3)
    with DagsterInstance.ephemeral() as instance:
        context = build_sensor_context(
            instance=instance,
            resources={"warehouse": duckdb_warehouse, "lake": Lake(url=str(lake_path))},
        )
        result = SENSORS["log_data_sensor"](context)
    (request,) = result.run_requests
    assert request.tags[event_days.RANGE_START_TAG] == "2018-11-01"
    assert request.tags[event_days.RANGE_END_TAG] == "2018-11-30"
    assert [k.to_user_string() for k in request.asset_selection] == ["staging_events"]
    observed = sorted(e.partition for e in result.asset_events)
    assert observed == [f"2018-11-{d:02d}" for d in range(1, 31)]


# --- the first day is a setting ------------------------------------------------------------------


def test_the_first_day_is_a_setting_and_a_bad_one_is_refused(tmp_path):
    show = (
        "from sparkify_assets.event_days import EVENT_DAYS as d; print(d.get_first_partition_key())"
    )
    env = importing_this_checkout({**os.environ, "SPARKIFY_EVENTS_START": "2018-11-03"})
    done = subprocess.run(
        [sys.executable, "-c", show], env=env, capture_output=True, text=True, cwd=tmp_path
    )
    assert done.stdout.strip() == "2018-11-03", done.stderr
    env["SPARKIFY_EVENTS_START"] = "11/03/2018"
    refused = subprocess.run(
        [sys.executable, "-m", "sparkify_assets"],
        env=env,
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert refused.returncode == 2
    assert refused.stderr.strip() == (
        "SPARKIFY_EVENTS_START='11/03/2018' is not a day; use YYYY-MM-DD, today or earlier"
    )
