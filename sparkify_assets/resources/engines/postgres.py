"""PostgreSQL: the local stand-in for Redshift's wire protocol and transactions.

Staging parses the raw JSON with DuckDB (local_staging.py) and streams the rows into
`COPY ... FROM STDIN`: DuckDB writes each chunk as CSV while a second thread copies the chunk
before it into PostgreSQL.
"""

from __future__ import annotations

import contextlib
import csv
import io
import os
import tempfile
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor

import psycopg2

from sparkify_assets import sql_files
from sparkify_assets.resources.engines.base import DbApiSession, ServerWarehouse, slots
from sparkify_assets.resources.engines.local_staging import duckdb_execute, parser, stage_records
from sparkify_assets.schema_drift import KeyTally

COPY_READ_BYTES = 1024 * 1024  # psycopg2 sends a COPY's input in reads of this size
# jit off: PostgreSQL's JIT compiles each costly query first, 0.2 to 0.5 s, more than it saves on
# the queries here that run for seconds (measured on staging a million events).
# parallel_tuple_cost: at the default 0.1 a row handed over by a worker looks so dear that
# counting a load's duplicate events never sorts in parallel; at 0.03 it does, 0.64 s against
# 0.87 s for a million events on 2 cores (the whole graph's other steps unchanged).
# client_encoding: UTF-8 on the wire whatever the database's default, as staging sends DuckDB's
# UTF-8 bytes unchanged.
SESSION_OPTIONS = "-c jit=off -c parallel_tuple_cost=0.03 -c client_encoding=UTF8"


def engine_sql(section: str, table: str | None = None, tables=()) -> str:
    return sql_files.engine_statement("postgres", section, slots(table, tables))


class PostgresSession(DbApiSession):
    dialect = "postgres"
    chunk_bytes = 32 * 1024 * 1024  # small chunks: the COPY of each overlaps the next parse

    def lock(self, *tables):
        self.execute(engine_sql("lock", tables=tables))

    def create_table(self, table):
        if not self.query_text(engine_sql("table_exists"), {"name": f'"{table}"'})[1][0][0]:
            self.execute(engine_sql("ddl_lock"))
            super().create_table(table)

    def fill_load_objects(self, objects, records=None):
        self.run("load_objects", "create_temp")
        buffer = io.StringIO()
        # csv writes None as an empty field: NULL to COPY.
        csv.writer(buffer).writerows(self.load_object_rows(objects, records))
        buffer.seek(0)
        self._copy(engine_sql("copy_load_objects"), buffer)
        self.analyze("load_objects")  # its real size, not the planner's guess

    def stage(self, table, lake, objects, load_batch, progress=None):
        self.staged_keys = KeyTally()
        with parser() as con, self._csv_loader(con) as load:
            return stage_records(
                con,
                load,
                table,
                lake,
                objects,
                load_batch,
                self.chunk_bytes,
                progress,
                self.staged_keys,
            )

    def _copy(self, statement: str, stream) -> None:
        with self.con.cursor() as cur:
            cur.copy_expert(statement, stream, size=COPY_READ_BYTES)

    @contextlib.contextmanager
    def _csv_loader(self, con):
        """DuckDB writes each query's rows as CSV (NULL unquoted, '' quoted, doubles that
        round-trip); a second thread COPYs the file into PostgreSQL while DuckDB parses the next
        chunk. One COPY at a time: the connection holds one transaction."""
        pending: list[Future] = []

        def load(target, query, params):
            path = os.path.join(tmp, f"{len(pending)}.csv")
            (rows,) = duckdb_execute(
                con, f"COPY ({query}) TO '{path}' (FORMAT csv, HEADER false)", params
            ).fetchone()
            if pending:
                pending[-1].result()  # the previous COPY: its error, if any, stops the load here
            pending.append(copier.submit(self._copy_file, target, path))
            return rows

        with (
            tempfile.TemporaryDirectory(prefix="sparkify-copy-") as tmp,
            ThreadPoolExecutor(1, thread_name_prefix="sparkify-copy") as copier,
        ):
            yield load
            if pending:
                pending[-1].result()

    def _copy_file(self, table: str, path: str) -> None:
        # Bytes as DuckDB wrote them: read as text, every chunk would be decoded here only for
        # psycopg2 to encode it again.
        with open(path, "rb") as stream:
            self._copy(engine_sql("copy_csv", table), stream)
        os.remove(path)


class PostgresWarehouse(ServerWarehouse):
    """The star schema in a PostgreSQL database."""

    engine = "postgres"

    @contextlib.contextmanager
    def connect(self, wait: bool = True) -> Iterator[PostgresSession]:
        try:
            con = psycopg2.connect(
                host=self.host,
                port=self.port,
                dbname=self.database,
                user=self.user,
                password=self.password,
                sslmode=self.sslmode,
                connect_timeout=10,
                application_name="sparkify_assets",
                options=SESSION_OPTIONS,
            )
        except psycopg2.OperationalError as exc:
            raise self.unavailable(exc) from None
        with contextlib.closing(con):
            yield PostgresSession(con)
