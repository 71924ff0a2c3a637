"""The real command line, once: `dagster asset materialize` of the whole graph in a subprocess."""

import os
import subprocess
import sys
from pathlib import Path

import duckdb

from tests.reference import compute

DAGSTER = Path(sys.executable).parent / "dagster"


def test_dagster_asset_materialize_builds_every_table(lake_dir, tmp_path):
    database = tmp_path / "cli.duckdb"
    env = {
        **os.environ,
        "DAGSTER_HOME": str(tmp_path / "dagster_home"),
        "SPARKIFY_LAKE": str(lake_dir),
        "SPARKIFY_DUCKDB_PATH": str(database),
        "SPARKIFY_WAREHOUSE": "duckdb",
    }
    os.makedirs(env["DAGSTER_HOME"])
    command = [
        str(DAGSTER),
        "asset",
        "materialize",
        "-m",
        "sparkify_assets.definitions",
        "--select",
        "*",
    ]
    done = subprocess.run(
        command, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "RUN_SUCCESS" in done.stderr

    expected = compute(lake_dir)
    with duckdb.connect(str(database), read_only=True) as con:
        for table in (
            "staging_events",
            "staging_songs",
            "songplays",
            "users",
            "songs",
            "artists",
            "time",
        ):
            (count,) = con.execute(f'SELECT COUNT(*) FROM "{table}"').fetchone()
            assert count == len(getattr(expected, table)), table
