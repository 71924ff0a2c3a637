"""Preflight checks (preflight_checks.py) on DuckDB and PostgreSQL: an ok line per check on a good
setup; a FAIL line that says what to fix for a lake prefix that is missing or empty, a wrong
password, an unreachable port and a missing privilege; preflight_job names what failed."""

from __future__ import annotations

import shutil

from sparkify_assets.preflight_checks import preflight_job, report, run_preflight
from sparkify_assets.resources.engines.duckdb import DuckDBWarehouse
from sparkify_assets.resources.engines.postgres import PostgresWarehouse
from sparkify_assets.resources.lake import Lake
from tests.support import free_port, preflight_lake_lines, service_unavailable


def test_a_missing_or_empty_lake_prefix_fails_with_what_to_fix(lake_template, tmp_path):
    songs_only = tmp_path / "songs_only"
    shutil.copytree(lake_template / "song_data", songs_only / "song_data")
    warehouse = DuckDBWarehouse(path=str(tmp_path / "w.duckdb"))
    lines = report(run_preflight(warehouse, Lake(url=str(songs_only))))
    assert lines[0] == (
        f"FAIL  lake log_data/: SPARKIFY_LAKE={str(songs_only)!r} has nothing under 'log_data/': "
        "the lake root should hold song_data/ and log_data/"
    )
    assert lines[1].startswith("ok    lake song_data/: holds data, e.g. song_data/")

    (songs_only / "log_data" / "2018").mkdir(parents=True)
    (songs_only / "log_data" / "2018" / "notes.txt").write_text("not data")
    (songs_only / "log_data" / "2018" / "empty.json").write_text("")
    lines = report(run_preflight(warehouse, Lake(url=str(songs_only))))
    assert lines[0] == "FAIL  lake log_data/: no .json object under log_data/"


def test_preflight_job_fails_naming_the_failed_checks(lake_template, tmp_path):
    songs_only = tmp_path / "songs_only"
    shutil.copytree(lake_template / "song_data", songs_only / "song_data")
    warehouse = DuckDBWarehouse(path=str(tmp_path / "w.duckdb"))
    good = preflight_job.execute_in_process(
        resources={"warehouse": warehouse, "lake": Lake(url=str(lake_template))}
    )
    assert good.success
    bad = preflight_job.execute_in_process(
        resources={"warehouse": warehouse, "lake": Lake(url=str(songs_only))},
        raise_on_error=False,
    )
    assert not bad.success
    (failure,) = [e for e in bad.all_events if e.is_step_failure]
    assert failure.event_specific_data.user_failure_data.description == (
        "preflight failed: lake log_data/"
    )


def test_a_good_postgres_setup_passes_every_check(postgres_warehouse, lake_template):
    lines = report(run_preflight(postgres_warehouse, Lake(url=str(lake_template))))
    database = postgres_warehouse.database
    assert lines == [
        *preflight_lake_lines(lake_template),
        f"ok    connect: connected to {postgres_warehouse.location}",
        "ok    privilege: create tables in schema public: granted",
        f"ok    privilege: create temporary tables in database {database}: granted",
    ]


def test_an_unreachable_port_fails_with_what_to_fix(lake_template):
    warehouse = PostgresWarehouse(port=free_port(), database="sparkify", user="sparkify")
    lines = report(run_preflight(warehouse, Lake(url=str(lake_template))))
    assert lines[:2] == preflight_lake_lines(lake_template)
    (connect,) = lines[2:]
    assert connect.startswith(
        f"FAIL  connect: cannot connect to the postgres warehouse at {warehouse.location}: "
    )
    assert "Connection refused" in connect and "_PORT" in connect


def test_a_wrong_password_fails_with_what_to_fix_and_hides_it(postgres_warehouse, lake_template):
    secret = "not-the-password-77ab"
    warehouse = postgres_warehouse.model_copy(update={"password": secret})
    lines = report(run_preflight(warehouse, Lake(url=str(lake_template))))
    assert lines[:2] == preflight_lake_lines(lake_template)
    (connect,) = lines[2:]
    assert connect.startswith(
        f"FAIL  connect: cannot connect to the postgres warehouse at {warehouse.location}: "
    )
    assert "password authentication failed" in connect and "_PASSWORD" in connect
    assert secret not in connect


def test_a_missing_privilege_fails_with_the_grant_that_fixes_it(postgres_warehouse, lake_template):
    """A login that may connect but not create tables (CI creates `sparkify_test_limited`)."""
    limited = postgres_warehouse.model_copy(
        update={"user": "sparkify_test_limited", "password": "sparkify-limited-pw"}
    )
    lines = report(run_preflight(limited, Lake(url=str(lake_template))))
    if lines[2].startswith("FAIL  connect") and "sparkify_test_limited" in lines[2]:
        service_unavailable(f"the role sparkify_test_limited cannot log in: {lines[2]}")
    assert lines[2:] == [
        f"ok    connect: connected to {limited.location}",
        "FAIL  privilege: create tables in schema public: run GRANT CREATE ON SCHEMA public TO "
        "sparkify_test_limited",
        f"ok    privilege: create temporary tables in database {limited.database}: granted",
    ]
