"""DuckDB, the embedded default: one database file, no server, no AWS account.

Not built on dagster-duckdb's `DuckDBResource`: its `get_connection` retries a locked file a
fixed number of times with backoff, while a second run here must wait for the first as long as
the first takes (one process writes a DuckDB file at a time), and a sensor tick must instead see
at once that the file is held; it would also add a package for one `duckdb.connect`.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from pathlib import Path

import duckdb
import numpy
from pydantic import Field

from sparkify_assets import sql_files
from sparkify_assets.resources.engines.base import Session, Warehouse, WarehouseBusy
from sparkify_assets.resources.engines.local_staging import (
    DUCKDB_CONFIG,
    duckdb_execute,
    stage_records,
)
from sparkify_assets.schema_drift import KeyTally

DEFAULT_DUCKDB_PATH = Path(__file__).resolve().parents[3] / "data" / "sparkify.duckdb"
LOCK_WAIT_SECONDS = 120.0


class DuckDBSession(Session):
    dialect = "duckdb"

    def execute(self, sql, params=None):
        cursor = duckdb_execute(self.con, sql, params)
        if cursor.description and cursor.description[0][0] == "Count":
            row = cursor.fetchone()
            return row[0] if row else -1
        return -1

    def query_text(self, sql, params=None):
        cursor = duckdb_execute(self.con, sql, params)
        return [d[0] for d in cursor.description], cursor.fetchall()

    def lock(self, *tables):
        # One process writes a DuckDB file at a time: the file lock already serializes runs.
        pass

    def analyze(self, table):
        # DuckDB keeps its statistics as it writes.
        pass

    def fill_load_objects(self, objects, records=None):
        self.run("load_objects", "create_temp")
        rows = self.load_object_rows(objects, records)
        columns = {
            "object_key": numpy.array([r[0] for r in rows], dtype=object),
            "etag": numpy.array([r[1] for r in rows], dtype=object),
            "size": numpy.array([r[2] for r in rows], dtype=numpy.int64),
            "records": numpy.array([r[3] for r in rows], dtype=object),  # None is NULL
        }
        self.con.register("load_objects_given", columns)
        try:
            self.execute(sql_files.engine_statement("duckdb", "fill_load_objects"))
        finally:
            self.con.unregister("load_objects_given")

    def stage(self, table, lake, objects, load_batch, progress=None):
        def insert(target, query, params):
            # This connection parses: the rows go straight from the files to the table.
            statement = f"INSERT INTO {sql_files.identifier(target)} {query}"
            return duckdb_execute(self.con, statement, params).fetchone()[0]

        self.staged_keys = KeyTally()
        return stage_records(
            self.con,
            insert,
            table,
            lake,
            objects,
            load_batch,
            self.chunk_bytes,
            progress,
            self.staged_keys,
        )


class DuckDBWarehouse(Warehouse):
    """The star schema in a DuckDB database file."""

    engine = "duckdb"
    path: str = Field(default=str(DEFAULT_DUCKDB_PATH), description="DuckDB database file")

    @property
    def location(self) -> str:
        return str(Path(self.path).resolve())

    def data_folder(self) -> Path:
        return Path(self.path).parent

    @contextlib.contextmanager
    def connect(self, wait: bool = True) -> Iterator[DuckDBSession]:
        con = _open(self.path, wait)
        con.begin()
        with contextlib.closing(con):
            yield DuckDBSession(con)

    def busy(self) -> bool:
        """Whether another process (a run) holds the file. A session waits for the file as long
        as a run may take, longer than a sensor tick may; a read-only open fails at once."""
        if not Path(self.path).exists():
            return False
        try:
            duckdb.connect(self.path, read_only=True).close()
        except duckdb.IOException as error:
            if _is_lock_error(error):
                return True
            raise
        return False


def _is_lock_error(error: duckdb.IOException) -> bool:
    return "lock" in str(error).lower()


def _open(path: str, wait: bool) -> duckdb.DuckDBPyConnection:
    """Open the DuckDB file, waiting (if `wait`) while another process holds its write lock."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    deadline = time.monotonic() + (LOCK_WAIT_SECONDS if wait else 0)
    while True:
        try:
            return duckdb.connect(path, config=DUCKDB_CONFIG)
        except duckdb.IOException as exc:
            if not _is_lock_error(exc):
                raise
            if time.monotonic() > deadline:
                if wait:
                    raise
                raise WarehouseBusy(f"another process holds the DuckDB file {path}") from None
            time.sleep(0.5)
