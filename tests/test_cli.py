"""The real command line, once: `dagster asset materialize` of the whole graph in a subprocess."""

import subprocess

import duckdb

from sparkify_assets import sql_files
from tests.reference import compute
from tests.support import MATERIALIZE, cli_env


def test_dagster_asset_materialize_builds_every_table(lake_dir, duckdb_warehouse, tmp_path):
    env = cli_env(duckdb_warehouse, lake_dir, tmp_path / "dagster_home")
    done = subprocess.run(
        MATERIALIZE, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "RUN_SUCCESS" in done.stderr

    expected = compute(lake_dir)
    with duckdb.connect(duckdb_warehouse.path, read_only=True) as con:
        for table in sql_files.TABLE_ASSETS:
            (count,) = con.execute(f'SELECT COUNT(*) FROM "{table}"').fetchone()
            assert count == len(getattr(expected, table)), table
