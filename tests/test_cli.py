"""The real command lines, once each: `dagster asset materialize` of the whole graph, and
`python -m sparkify_assets` (what `make run` runs), in a subprocess."""

import re
import subprocess
import sys
from pathlib import Path

import duckdb

from sparkify_assets import sql_files
from tests.reference import compute
from tests.support import STAR_TABLES, cli_env, materialize_command


def test_dagster_asset_materialize_builds_every_table(lake_dir, duckdb_warehouse, tmp_path):
    env = cli_env(duckdb_warehouse, lake_dir, tmp_path / "dagster_home")
    done = subprocess.run(
        materialize_command(lake_dir),
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "RUN_SUCCESS" in done.stderr

    expected = compute(lake_dir)
    with duckdb.connect(duckdb_warehouse.path, read_only=True) as con:
        for table in sql_files.TABLE_ASSETS:
            (count,) = con.execute(f'SELECT COUNT(*) FROM "{table}"').fetchone()
            assert count == len(getattr(expected, table)), table


def test_make_run_prints_a_line_per_step_and_a_closing_summary(
    lake_dir, duckdb_warehouse, tmp_path
):
    """`make run`'s command: a line per step as it finishes, no Dagster event log, then the
    tables, the checks by outcome and where the report is, in under 40 lines."""
    env = cli_env(duckdb_warehouse, lake_dir, tmp_path / "dagster_home")
    del env["DAGSTER_HOME"]  # as `make run` on a fresh clone: a throwaway instance
    done = subprocess.run(
        [sys.executable, "-m", "sparkify_assets"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr[-3000:]
    lines = (done.stdout + done.stderr).splitlines()
    assert len(lines) < 40, "\n".join(lines)
    assert not [line for line in lines if " - DEBUG - " in line or "STEP_SUCCESS" in line]
    step_lines = {line.split()[0]: line for line in lines if re.search(r"\d\.\d s$", line)}
    for table in sql_files.TABLE_ASSETS:
        audited = ", audit passed" if table in STAR_TABLES else ""
        pattern = rf"\+[\d,]+ rows{audited}\s+\d+\.\d s$"
        assert re.search(pattern, step_lines[table]), step_lines[table]
    assert "songplays_checks" in step_lines and "analytics_report" in step_lines
    (checks,) = [line for line in lines if line.startswith("checks: ")]
    assert re.fullmatch(r"checks: \d+ passed, \d+ warned, 0 failed", checks)
    (report,) = [line[len("report: ") :] for line in lines if line.startswith("report: ")]
    report_beside_the_warehouse = Path(duckdb_warehouse.path).parent / "analytics_report.html"
    assert Path(report) == report_beside_the_warehouse and Path(report).is_file()
    assert re.fullmatch(r"run succeeded in \d+\.\d s: [0-9a-f-]{36}", lines[-1])
