"""The wiring: definitions load, the graph has the expected shape, settings fail clearly."""

from datetime import UTC, datetime, timedelta

import pytest
from dagster import (
    AssetKey,
    AssetSpec,
    DagsterInstance,
    DefaultScheduleStatus,
    build_schedule_context,
)

from sparkify_assets.definitions import (
    ConfigError,
    build_definitions,
    build_lake,
    build_warehouse,
)
from sparkify_assets.event_days import RANGE_END_TAG, RANGE_START_TAG
from sparkify_assets.freshness import DAILY_TABLES
from tests.support import evaluate_freshness, record_loads

# The asset graph, as reviewed: an accidental change to the lineage shows up here.
GRAPH = {
    "log_data": set(),
    "song_data": set(),
    "staging_events": {"log_data"},
    "staging_songs": {"song_data"},
    "users": {"staging_events"},
    "time": {"staging_events"},
    "songs": {"staging_songs"},
    "artists": {"staging_songs"},
    "songplays": {"staging_events", "staging_songs", "users", "time", "songs", "artists"},
    "analytics_report": {"songplays", "users", "songs", "artists", "time"},
}


def test_definitions_load_with_no_configuration():
    defs = build_definitions({})
    graph = defs.resolve_asset_graph()
    shape = {
        key.to_user_string(): {p.to_user_string() for p in graph.get(key).parent_keys}
        for key in graph.get_all_asset_keys()
    }
    assert shape == GRAPH
    assert defs.resolve_job_def("sparkify_job").executor_def.name == "in_process"
    assert defs.resolve_job_def("full_refresh_job")


def test_every_asset_says_what_a_row_means():
    graph = build_definitions({}).resolve_asset_graph()
    for key in graph.get_all_asset_keys():
        assert (
            "row" in (graph.get(key).description or "")
            or key.to_user_string() == "analytics_report"
        )


@pytest.mark.parametrize(
    ("env", "message"),
    [
        (
            {"SPARKIFY_WAREHOUSE": "oracle"},
            "SPARKIFY_WAREHOUSE='oracle' is not supported; use one of: duckdb, postgres, redshift",
        ),
        (
            {"SPARKIFY_WAREHOUSE": "postgres", "SPARKIFY_DB_PORT": "54x"},
            "SPARKIFY_DB_PORT='54x' is not a TCP port",
        ),
        ({"SPARKIFY_LAKE": "/no/such/folder"}, "SPARKIFY_LAKE='/no/such/folder' is not a folder"),
        ({"SPARKIFY_LAKE": "s3://"}, "SPARKIFY_LAKE='s3://' names no bucket"),
        ({"SPARKIFY_LAKE": "gs://bucket/x"}, "SPARKIFY_LAKE='gs://bucket/x' is not supported"),
        ({"SPARKIFY_FRESH_WITHIN_HOURS": "soon"}, "SPARKIFY_FRESH_WITHIN_HOURS='soon' is not"),
        # Dagster refuses a freshness window under a minute.
        ({"SPARKIFY_FRESH_WITHIN_HOURS": "0.01"}, "SPARKIFY_FRESH_WITHIN_HOURS='0.01' is not"),
        ({"SPARKIFY_REPORT_DIR": __file__}, f"SPARKIFY_REPORT_DIR={__file__!r} is not a folder"),
        (
            {"SPARKIFY_REPOSITORY_URL": "git@example.org:o/r"},
            "SPARKIFY_REPOSITORY_URL='git@example.org:o/r' is not supported",
        ),
    ],
)
def test_bad_setting_names_the_variable_and_what_it_accepts(env, message):
    with pytest.raises(ConfigError) as error:
        build_definitions(env)
    assert message in str(error.value)


def test_password_travels_as_env_var_not_as_text(monkeypatch):
    monkeypatch.setenv("SPARKIFY_DB_PASSWORD", "s3cret-value")
    env = {"SPARKIFY_WAREHOUSE": "postgres", "SPARKIFY_DB_PASSWORD": "s3cret-value"}
    warehouse = build_warehouse(env)
    assert "s3cret-value" not in repr(warehouse.__dict__)
    assert "s3cret-value" not in warehouse.location
    assert build_lake({}).url.endswith("sample_lake")


def test_every_asset_is_owned_and_grouped_and_shows_its_engine():
    graph = build_definitions({}).resolve_asset_graph()
    for key in graph.get_all_asset_keys():
        node = graph.get(key)
        if node.group_name == "lake":  # written by the app, read from a folder here
            assert node.owners and node.kinds == {"folder"} and not node.is_materializable
            continue
        assert (
            node.owners
            and "duckdb" in node.kinds
            and node.group_name in ("staging", "star", "reports")
        )


def test_the_lake_on_s3_shows_as_s3():
    graph = build_definitions({"SPARKIFY_LAKE": "s3://bucket/raw"}).resolve_asset_graph()
    assert graph.get(AssetKey("log_data")).kinds == {"s3"}


def test_each_asset_links_to_the_sql_that_defines_it():
    def references(env, asset):
        graph = build_definitions(env).resolve_asset_graph()
        refs = graph.get(AssetKey(asset)).metadata["dagster/code_references"].code_references
        return [(getattr(r, "file_path", None) or r.url, r.label) for r in refs]

    local = references({}, "songplays")
    assert local[0][0].endswith("/sql/songplays.sql") and local[0][1] == "sql/songplays.sql"
    assert local[1][0].endswith("/sparkify_assets/assets/star.py")
    assert references({}, "analytics_report")[0][1] == "sql/reports.sql"
    linked = references({"SPARKIFY_REPOSITORY_URL": "https://github.com/o/sparkify"}, "users")
    assert linked[0] == ("https://github.com/o/sparkify/tree/main/sql/users.sql", "sql/users.sql")
    assert linked[1][0].startswith("https://github.com/o/sparkify/tree/main/sparkify_assets/")


def test_schedules_say_when_and_whether_they_run():
    schedules = {s.name: s for s in build_definitions({}).schedules}
    weekly, nightly = schedules["weekly_checks_schedule"], schedules["nightly_load_schedule"]
    assert (weekly.job_name, weekly.cron_schedule, weekly.execution_timezone) == (
        "checks_job",
        "0 5 * * 1",
        "UTC",
    )
    assert weekly.default_status == DefaultScheduleStatus.RUNNING
    assert (nightly.job_name, nightly.cron_schedule) == ("sparkify_job", "0 2 * * *")
    assert nightly.default_status == DefaultScheduleStatus.STOPPED
    # The nightly run loads yesterday's and today's days: a late file of yesterday's, today's first.
    at = datetime(2018, 11, 5, 2, tzinfo=UTC)
    (request,) = nightly.evaluate_tick(
        build_schedule_context(scheduled_execution_time=at)
    ).run_requests
    assert (request.tags[RANGE_START_TAG], request.tags[RANGE_END_TAG]) == (
        "2018-11-04",
        "2018-11-05",
    )


def policies_by_asset(defs) -> dict:
    """Asset name -> its freshness policy, read from the definitions' asset specs."""
    specs = [spec for a in defs.assets for spec in ([a] if isinstance(a, AssetSpec) else a.specs)]
    return {s.key.to_user_string(): s.freshness_policy for s in specs if s.freshness_policy}


def test_freshness_policies_guard_the_event_logs_and_the_daily_tables_within_the_window():
    for setting, fail_hours in (({}, 26), ({"SPARKIFY_FRESH_WITHIN_HOURS": "30"}, 30)):
        policies = policies_by_asset(build_definitions(setting))
        assert set(policies) == {"log_data", "staging_events", "users", "time", "songplays"}
        for policy in policies.values():
            assert policy.fail_window.to_timedelta() == timedelta(hours=fail_hours)
            assert policy.warn_window.to_timedelta() == timedelta(hours=fail_hours - 1)
    # A window too short to leave a minute of warning has none.
    (short,) = set(
        policies_by_asset(build_definitions({"SPARKIFY_FRESH_WITHIN_HOURS": "1"})).values()
    )
    assert short.fail_window.to_timedelta() == timedelta(hours=1) and short.warn_window is None
    # The daemon evaluates them: no check, no sensor of their own.
    defs = build_definitions({})
    assert not [k for checks in defs.asset_checks for k in checks.check_keys if "fresh" in k.name]
    sensors = {s.name: s for s in defs.sensors}
    assert set(sensors) == {"log_data_sensor", "song_data_sensor", "automation_sensor"}
    # Alerts are off without a webhook, on with one.
    with_alerts = build_definitions({"SPARKIFY_ALERT_WEBHOOK_URL": "http://127.0.0.1:9/hook"})
    assert {"run_failure_alert_sensor", "stale_table_alert_sensor"} <= {
        s.name for s in with_alerts.sensors
    }


def freshness_states(window_hours: str, loaded_hours_ago: float, folder) -> dict[str, str]:
    """Each asset's freshness state, as Dagster's freshness daemon evaluates it under
    SPARKIFY_FRESH_WITHIN_HOURS `window_hours`, when the daily tables last loaded, and the lake
    sensor last saw a day of event logs arrive, `loaded_hours_ago` hours ago."""
    folder.mkdir()
    with DagsterInstance.local_temp(str(folder)) as instance:
        record_loads(instance, ["log_data", *DAILY_TABLES], hours_ago=loaded_hours_ago)
        return evaluate_freshness(instance, {"SPARKIFY_FRESH_WITHIN_HOURS": window_hours}, folder)


@pytest.mark.parametrize(
    ("window_hours", "loaded_hours_ago", "state"),
    [
        ("26", 24.5, "PASS"),
        ("26", 25.5, "WARN"),
        ("26", 27, "FAIL"),
        # The window is the setting's.
        ("30", 28.5, "PASS"),
        ("30", 29.5, "WARN"),
        ("30", 31, "FAIL"),
    ],
)
def test_a_table_loaded_longer_ago_than_the_window_fails_its_freshness_policy(
    window_hours, loaded_hours_ago, state, tmp_path
):
    states = freshness_states(window_hours, loaded_hours_ago, tmp_path / "home")
    daily = ("log_data", *DAILY_TABLES)
    assert {name: states[name] for name in daily} == dict.fromkeys(daily, state)
    assert {n for n, s in states.items() if s == "NOT_APPLICABLE"} == set(GRAPH) - {
        "log_data",
        *DAILY_TABLES,
    }


def test_the_sensors_look_as_often_as_set():
    def intervals(env):
        return {s.name: s.minimum_interval_seconds for s in build_definitions(env).sensors}

    assert intervals({}) == {
        "log_data_sensor": 120,
        "song_data_sensor": 300,
        "automation_sensor": 30,
    }
    every_5 = intervals({"SPARKIFY_SENSOR_INTERVAL_SECONDS": "5"})
    assert every_5 == dict.fromkeys(("log_data_sensor", "song_data_sensor", "automation_sensor"), 5)
    with pytest.raises(ConfigError, match="SPARKIFY_SENSOR_INTERVAL_SECONDS='soon' is not"):
        build_definitions({"SPARKIFY_SENSOR_INTERVAL_SECONDS": "soon"})
