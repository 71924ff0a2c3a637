"""The references the staging targets are measured against, each in a child process of its own:
DuckDB's bare `read_json` of the same files, and a bare `COPY ... FROM STDIN` of the same rows
into a plain PostgreSQL table."""

from __future__ import annotations

import json
import sys
import time
import uuid
from pathlib import Path

from benchmarks.child import clean_env, spawn
from benchmarks.warehouses import DuckDBEngine, PostgresEngine

# The references run in a child process of their own too (fresh DuckDB, fresh memory).
BARE_READ_JSON = """
import json, sys, time, duckdb
a = json.load(sys.stdin)
con = duckdb.connect(a["db"])
started = time.perf_counter()
con.execute(
    "CREATE TABLE t AS SELECT * FROM read_json($files, format='newline_delimited')",
    {"files": a["files"]},
)
seconds = time.perf_counter() - started
rows = con.execute("SELECT COUNT(*) FROM t").fetchone()[0]
print(json.dumps({"seconds": seconds, "rows": rows}))
"""


def bare_read_json(files: list[str], work: Path) -> tuple[float, int, int]:
    """DuckDB's own read_json of `files` into a plain table: (seconds, rows, peak bytes)."""
    db = work / f"ref-{uuid.uuid4().hex[:8]}.duckdb"
    try:
        child = spawn(
            [sys.executable, "-c", BARE_READ_JSON],
            clean_env({}),
            work / "ref.log",
            stdin_text=json.dumps({"db": str(db), "files": files}),
        )
        lines = child.text.strip().splitlines()
        if child.code != 0:
            raise RuntimeError(f"bare read_json failed: {lines[-1:]}")
        answer = json.loads(lines[-1])
        return answer["seconds"], answer["rows"], child.peak
    finally:
        DuckDBEngine(work).drop(str(db))


def read_json_rates(files: list[str], work: Path, reps: int) -> tuple[list[float], int]:
    """`reps` bare read_json runs of `files`: the rows per second of each, and the highest peak."""
    rates, peak = [], 0
    for _ in range(reps):
        seconds, rows, run_peak = bare_read_json(files, work)
        rates.append(rows / seconds)
        peak = max(peak, run_peak)
    return rates, peak


def bare_copy(pg: PostgresEngine, database: str, table: str, work: Path, reps: int) -> list[float]:
    """Export `table`'s rows as CSV, then time a bare COPY FROM STDIN of them into a plain table
    with the same columns, in the same database, `reps` times; return rows per second each time."""
    csv_path = work / f"{table}-{database}.csv"
    con = pg.connect(database)
    rates = []
    try:
        with con.cursor() as cur, open(csv_path, "w", encoding="utf-8") as out:
            cur.copy_expert(f"COPY {table} TO STDOUT WITH (FORMAT csv)", out)
            cur.execute(f"SELECT COUNT(*) FROM {table}")
            (rows,) = cur.fetchone()
        con.commit()
        for _ in range(reps):
            with con.cursor() as cur:
                cur.execute("DROP TABLE IF EXISTS staging_copy")
                cur.execute(f"CREATE TABLE staging_copy (LIKE {table})")
            con.commit()
            with con.cursor() as cur, open(csv_path, encoding="utf-8") as stream:
                started = time.perf_counter()
                cur.copy_expert("COPY staging_copy FROM STDIN WITH (FORMAT csv)", stream)
                con.commit()
                rates.append(rows / (time.perf_counter() - started))
        with con.cursor() as cur:
            cur.execute("DROP TABLE IF EXISTS staging_copy")
        con.commit()
    finally:
        con.close()
        csv_path.unlink(missing_ok=True)
    return rates
