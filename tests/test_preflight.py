"""Preflight (preflight/checks.py, `python -m sparkify_assets.preflight`, preflight_job) on DuckDB
and PostgreSQL: one ok line per check on a good setup; a FAIL line that says what to fix for a
lake prefix that is missing or empty, a wrong password (never shown) and an unreachable port."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

from sparkify_assets.preflight.checks import preflight_job, report, run_preflight
from sparkify_assets.resources.engines.duckdb import DuckDBWarehouse
from sparkify_assets.resources.engines.postgres import PostgresWarehouse
from sparkify_assets.resources.lake import Lake
from tests.reference import data_objects
from tests.support import PG, REPO, free_port

PREFLIGHT = [sys.executable, "-m", "sparkify_assets.preflight"]
LAKE_LINES = (
    "ok    lake log_data/: holds data, e.g. {}",
    "ok    lake song_data/: holds data, e.g. {}",
)


def lake_lines(lake_dir) -> list[str]:
    """The lake's ok lines: each prefix holds data, its first key (in key order) the example."""
    keys = [key for key, _ in data_objects(str(lake_dir))]
    firsts = [next(k for k in keys if k.startswith(p)) for p in ("log_data/", "song_data/")]
    return [line.format(key) for line, key in zip(LAKE_LINES, firsts, strict=True)]


def preflight_cli(env: dict) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("SPARKIFY_")}
    return subprocess.run(
        PREFLIGHT, env=clean | env, cwd=REPO, capture_output=True, text=True, timeout=120
    )


def tables_in(warehouse: DuckDBWarehouse) -> list:
    with warehouse.session() as session:
        return session.query_text("SELECT table_name FROM information_schema.tables")[1]


def test_a_good_duckdb_setup_passes_every_check_and_changes_nothing(lake_template, tmp_path):
    path = tmp_path / "w.duckdb"
    done = preflight_cli({"SPARKIFY_LAKE": str(lake_template), "SPARKIFY_DUCKDB_PATH": str(path)})
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.splitlines() == [
        *lake_lines(lake_template),
        f"ok    connect: connected to {path.resolve()}",
    ]
    assert tables_in(DuckDBWarehouse(path=str(path))) == []  # it loads nothing


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
        *lake_lines(lake_template),
        f"ok    connect: connected to {postgres_warehouse.location}",
        "ok    privilege: create tables in schema public: granted",
        f"ok    privilege: create temporary tables in database {database}: granted",
    ]


def test_a_wrong_password_fails_with_what_to_fix_and_is_never_shown(
    postgres_warehouse, lake_template
):
    secret = "not-the-password-5d3e"
    done = preflight_cli(
        {
            "SPARKIFY_LAKE": str(lake_template),
            "SPARKIFY_WAREHOUSE": "postgres",
            "SPARKIFY_DB_HOST": PG["host"],
            "SPARKIFY_DB_PORT": str(PG["port"]),
            "SPARKIFY_DB_NAME": postgres_warehouse.database,
            "SPARKIFY_DB_USER": PG["user"],
            "SPARKIFY_DB_PASSWORD": secret,
        }
    )
    assert done.returncode == 1, done.stderr[-2000:]
    lines = done.stdout.splitlines()
    assert lines[:2] == lake_lines(lake_template)
    (connect,) = lines[2:]  # nothing is checked past a failed login
    assert connect.startswith(
        f"FAIL  connect: cannot connect to the postgres warehouse at {postgres_warehouse.location}: "
    )
    assert "password authentication failed" in connect
    assert connect.endswith("(check SPARKIFY_DB_HOST, _PORT, _NAME, _USER, _PASSWORD)")
    assert secret not in done.stdout and secret not in done.stderr


def test_an_unreachable_port_fails_with_what_to_fix(lake_template):
    warehouse = PostgresWarehouse(port=free_port(), database="sparkify", user="sparkify")
    lines = report(run_preflight(warehouse, Lake(url=str(lake_template))))
    assert lines[:2] == lake_lines(lake_template)
    (connect,) = lines[2:]
    assert connect.startswith(
        f"FAIL  connect: cannot connect to the postgres warehouse at {warehouse.location}: "
    )
    assert "Connection refused" in connect and "_PORT" in connect
