"""A psycopg2-compatible connection that behaves as a Redshift session, on PostgreSQL 15.

Every statement is bound (the real cursor's `mogrify`), recorded, judged by the guard, then run:
COPY by the stand-in, everything else translated for PostgreSQL. Sessions are SERIALIZABLE.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

import boto3
import psycopg2
from botocore.exceptions import ClientError
from psycopg2.extensions import ISOLATION_LEVEL_REPEATABLE_READ, ISOLATION_LEVEL_SERIALIZABLE

from tests.redshift_standin import guard
from tests.redshift_standin.copy import run_copy
from tests.redshift_standin.source import LoadFailed, S3Source
from tests.redshift_standin.sqltext import split_statements, tokens
from tests.redshift_standin.translate import for_postgres_execution

SYSTEM_TABLES = Path(__file__).with_name("system_tables.sql")
SYS_QUERY_ID_OFFSET = 7_000_000
ISOLATIONS = {"serializable": ISOLATION_LEVEL_SERIALIZABLE,
              "snapshot": ISOLATION_LEVEL_REPEATABLE_READ}  # fmt: skip
ACCOUNT = "123456789012"  # moto's default account
STL_COLUMNS = ("userid", "slice", "tbl", "starttime", "session", "query", "filename",
               "line_number", "colname", "type", "col_length", "position", "raw_line",
               "raw_field_value", "err_code", "err_reason")  # fmt: skip
SYS_COLUMNS = ("user_id", "query_id", "transaction_id", "session_id", "database_name",
               "table_id", "start_time", "file_name", "line_number", "column_name",
               "column_type", "column_length", "position", "error_code", "error_message")  # fmt: skip
TYPE_NAMES = {"varchar": "varchar", "char": "char", "int2": "int2", "int4": "int4",
              "int8": "int8", "float8": "float8", "float4": "float4", "numeric": "numeric",
              "bool": "bool", "date": "date", "timestamp": "timestamp"}  # fmt: skip


def install_system_tables(**connect_kwargs) -> None:
    """Create the stand-in's system tables and functions in a database (once, after CREATE)."""
    with contextlib.closing(psycopg2.connect(**connect_kwargs)) as con, con.cursor() as cur:
        cur.execute(SYSTEM_TABLES.read_text())
        con.commit()


@dataclass
class RedshiftStandin:
    """Configuration of the Redshift being imitated; `connect` opens a session of it."""

    s3_endpoint: str
    cluster_region: str  # where the "cluster" is: COPY without REGION reads buckets there
    iam_roles: list[str]  # ARNs attached to the cluster (each must also exist in moto's IAM)
    serverless: bool = False
    # Redshift offers SERIALIZABLE and SNAPSHOT (new clusters' default); both take the snapshot at
    # the transaction's first read or write. PostgreSQL's REPEATABLE READ is snapshot isolation.
    isolation: str = "serializable"
    sent: list[str] = field(default_factory=list)  # each statement as run, values bound
    templates: list[str] = field(default_factory=list)  # each statement as sent, before binding
    user: str = ""

    def __post_init__(self):
        self.s3 = S3Source(self.s3_endpoint, self.cluster_region)
        self._iam = boto3.client(
            "iam", endpoint_url=self.s3_endpoint, region_name="us-east-1",
            aws_access_key_id="testing", aws_secret_access_key="testing",
        )  # fmt: skip

    def connect(self, **kwargs) -> StandinConnection:
        kwargs = dict(kwargs)
        self.user = kwargs.get("user", "")
        self.requested_sslmode = kwargs.get("sslmode")
        if kwargs.get("sslmode") in ("require", "verify-ca", "verify-full"):
            kwargs["sslmode"] = "prefer"  # the loopback PostgreSQL has no TLS; Redshift has
        path = "public,redshift_sys" if self.serverless else "public,redshift_stl,redshift_sys"
        kwargs["options"] = f"{kwargs.get('options', '')} -c search_path={path}".strip()
        return StandinConnection(self, psycopg2.connect(**kwargs), kwargs)

    def check_role(self, arn: str | None) -> None:
        """COPY assumes the role: it must be attached to the cluster and exist in IAM.
        https://docs.aws.amazon.com/redshift/latest/dg/copy-usage_notes-access-permissions.html"""
        exists = False
        if arn in self.iam_roles:
            try:
                role = self._iam.get_role(RoleName=arn.rsplit("/", 1)[-1])["Role"]
                exists = role["Arn"] == arn
            except ClientError:
                exists = False
        if not exists:
            raise LoadFailed(
                f"User arn:aws:redshift:{self.cluster_region}:{ACCOUNT}:dbuser:standin/"
                f"{self.user} is not authorized to assume IAM Role {arn}"
            )


class StandinConnection:
    def __init__(self, standin: RedshiftStandin, con, kwargs: dict):
        self.standin, self._con, self._kwargs = standin, con, kwargs
        self._pending: list[tuple] = []  # load errors written in the open transaction
        self.current_copy_id = -1
        # A snapshot at the transaction's first read or write, serializable or not:
        # https://docs.aws.amazon.com/redshift/latest/dg/c_serial_isolation.html
        self._isolation = ISOLATIONS[standin.isolation]
        con.set_session(isolation_level=self._isolation)
        with con.cursor() as cur:
            cur.execute(
                "CREATE TEMP SEQUENCE redshift_last_copy_id MINVALUE -1 START -1; "
                "CREATE TEMP SEQUENCE redshift_last_copy_count MINVALUE 0 START 0"
            )
        con.commit()

    def cursor(self, *args, **kwargs) -> StandinCursor:
        return StandinCursor(self, self._con.cursor(*args, **kwargs))

    def commit(self) -> None:
        self._con.commit()
        self._pending.clear()

    def rollback(self) -> None:
        # STL rows are a log, not data: a rollback does not take them away.
        self.persist_load_errors(self._pending)
        self._pending.clear()
        self._con.rollback()

    def set_session(self, *args, isolation_level=None, **kwargs) -> None:
        self._con.set_session(*args, isolation_level=self._isolation, **kwargs)

    def close(self) -> None:
        self._con.close()

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        # psycopg2's contract: commit on success, roll back on error, leave the connection open.
        self.rollback() if exc_type else self.commit()

    def __getattr__(self, name):
        return getattr(self._con, name)

    # What COPY needs from the session.
    def new_query_id(self, cur) -> int:
        cur.execute("SELECT nextval('redshift_sys.query_id')")
        self.current_copy_id = cur.fetchone()[0]
        self._started = dt.datetime.now(dt.UTC).replace(tzinfo=None)
        return self.current_copy_id

    def set_last_copy(self, cur, query_id: int, rows: int) -> None:
        cur.execute(
            "SELECT setval('pg_temp.redshift_last_copy_id', %s), "
            "setval('pg_temp.redshift_last_copy_count', %s)",
            (query_id, rows),
        )

    def error_row(self, query, table_oid, uri, record, err) -> tuple:
        col = getattr(err, "column", None)
        value = getattr(err, "value", None)
        return (
            100, 0, table_oid, self._started, self._con.info.backend_pid, query,
            _char(uri, 256), record.line_number, _char(col.name if col else "", 127),
            _char(TYPE_NAMES.get(col.kind, col.kind) if col else "", 10),
            _char(str(col.length or 0) if col else "", 10), err.position,
            _char(_single_byte(record.raw), 1024),
            _char(_single_byte("" if value is None else str(value)), 1024),
            err.code, _char(err.reason, 100),
        )  # fmt: skip

    def record_load_errors(self, cur, rows: list[tuple]) -> None:
        if rows:
            self._insert_errors(cur, rows)
            self._pending.extend(rows)

    def persist_load_errors(self, rows: list[tuple]) -> None:
        """Write load errors outside the session's transaction (it is about to abort)."""
        if rows:
            kwargs = {k: v for k, v in self._kwargs.items() if k != "options"}
            with contextlib.closing(psycopg2.connect(**kwargs)) as side, side.cursor() as cur:
                self._insert_errors(cur, rows)
                side.commit()

    def _insert_errors(self, cur, rows: list[tuple]) -> None:
        if self.standin.serverless:  # Serverless: SYS_LOAD_ERROR_DETAIL only
            # The SYS views number queries their own way: query_id is not documented to equal
            # PG_LAST_COPY_ID, so here it never does, and a join of the two finds nothing.
            rows = [(r[0], r[5] + SYS_QUERY_ID_OFFSET, None, r[4], self._con.info.dbname, r[2], r[3], r[6], r[7],
                     r[8], r[9], r[10], r[11], r[14], r[15]) for r in rows]  # fmt: skip
            table, columns = "redshift_sys.sys_load_error_detail", SYS_COLUMNS
        else:
            table, columns = "redshift_stl.stl_load_errors", STL_COLUMNS
        holes = ", ".join(["%s"] * len(columns))
        cur.executemany(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({holes})", rows)


def _char(text: str, size: int) -> str:
    """What CHAR(size) keeps: at most `size` bytes (the padding is PostgreSQL's char(n))."""
    return text.encode("utf-8")[:size].decode("utf-8", errors="ignore")


def _single_byte(text: str) -> str:
    # STL_LOAD_ERRORS.raw_line: multibyte characters in the load data are replaced by a period.
    # A NUL, which no text column holds, is shown the same way.
    return "".join(c if 0 < ord(c) < 128 else "." for c in text)


class StandinCursor:
    def __init__(self, connection: StandinConnection, cursor):
        self.connection, self._cur = connection, cursor
        self._copied: int | None = None  # rows of a COPY just run: it returns no result set

    def execute(self, sql, params=None) -> None:
        codec = psycopg2.extensions.encodings[self.connection.encoding]
        text = self._cur.mogrify(sql, params).decode(codec)
        self.connection.standin.templates.append(str(sql))
        self.connection.standin.sent.append(text)
        statements = split_statements(text)
        try:
            for statement in statements:  # judged before any of them runs
                guard.check(statement, self.connection.standin.serverless)
        except guard.UnsupportedByRedshift as refused:
            self._abort(str(refused))
            raise
        for statement in statements:
            self._run(statement)

    def _run(self, statement: str) -> None:
        self._copied = None
        first = tokens(statement)[0].upper
        con = self.connection
        if first == "COPY":
            self._copied = run_copy(con, self._cur, statement)
        elif first in ("COMMIT", "END"):
            con.commit()
        elif first in ("ROLLBACK", "ABORT"):
            con.rollback()
        else:
            self._cur.execute(for_postgres_execution(statement))
            if first == "TRUNCATE":
                # TRUNCATE commits the transaction it runs in (and all it did before).
                # https://docs.aws.amazon.com/redshift/latest/dg/r_TRUNCATE.html
                con.commit()

    def _abort(self, message: str) -> None:
        """An error aborts Redshift's open transaction: have the server abort this one too."""
        if not self.connection.autocommit:
            with contextlib.suppress(psycopg2.Error):
                self._cur.execute("SELECT redshift_sys.fail(%s)", (message,))

    def executemany(self, sql, seq_of_params) -> None:
        for params in seq_of_params:
            self.execute(sql, params)

    @property
    def description(self):
        return None if self._copied is not None else self._cur.description

    @property
    def rowcount(self) -> int:
        return self._copied if self._copied is not None else self._cur.rowcount

    def _rows(self, method: str, *args):
        if self._copied is not None:
            raise psycopg2.ProgrammingError("no results to fetch")
        return getattr(self._cur, method)(*args)

    def fetchone(self):
        return self._rows("fetchone")

    def fetchall(self):
        return self._rows("fetchall")

    def fetchmany(self, size=None):
        return self._rows("fetchmany", *(() if size is None else (size,)))

    def __iter__(self):
        return iter(self.fetchall())

    def copy_expert(self, sql, file, size=8192):
        # psycopg2's client-side COPY is COPY ... FROM STDIN / TO STDOUT underneath.
        self.execute(sql if "STDIN" in str(sql).upper() else f"{sql} FROM STDIN")

    def copy_from(self, *args, **kwargs):
        self.execute("COPY t FROM STDIN")  # refused, as any client-side COPY is

    def copy_to(self, *args, **kwargs):
        self.execute("COPY t TO STDOUT")

    def mogrify(self, sql, params=None) -> bytes:
        return self._cur.mogrify(sql, params)

    def close(self) -> None:
        self._cur.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __getattr__(self, name):
        return getattr(self._cur, name)
