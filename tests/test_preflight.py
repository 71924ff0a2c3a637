"""The preflight command (`python -m sparkify_assets.preflight`): the same settings as every run,
one line per check, exit 0 when all pass and 1 when any fails; the password never shown."""

from __future__ import annotations

import os
import subprocess
import sys

from sparkify_assets.resources.engines.duckdb import DuckDBWarehouse
from tests.support import PG, REPO, preflight_lake_lines

PREFLIGHT = [sys.executable, "-m", "sparkify_assets.preflight"]


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
        *preflight_lake_lines(lake_template),
        f"ok    connect: connected to {path.resolve()}",
    ]
    assert tables_in(DuckDBWarehouse(path=str(path))) == []  # it loads nothing


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
    assert lines[:2] == preflight_lake_lines(lake_template)
    (connect,) = lines[2:]  # nothing is checked past a failed login
    assert connect.startswith(
        f"FAIL  connect: cannot connect to the postgres warehouse at {postgres_warehouse.location}: "
    )
    assert "password authentication failed" in connect
    assert connect.endswith("(check SPARKIFY_DB_HOST, _PORT, _NAME, _USER, _PASSWORD)")
    assert secret not in done.stdout and secret not in done.stderr
