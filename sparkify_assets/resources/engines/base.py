"""What every engine provides: a session (one connection, one transaction) and a resource.

Assets, checks, sensors and the load protocol speak only to `Session` and `Warehouse`; each
engine module (duckdb.py, postgres.py, redshift.py) implements both, and `settings.py` picks
one. Whatever an asset writes in a session commits together or not at all.
"""

from __future__ import annotations

import contextlib
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from dagster import Backoff, ConfigurableResource, RetryPolicy
from psycopg2.extras import execute_batch
from pydantic import Field

from sparkify_assets import sql_files
from sparkify_assets.load_progress import LoadProgress
from sparkify_assets.resources.engines.refusals import is_refusal
from sparkify_assets.resources.lake import Lake, LakeObject
from sparkify_assets.schema_drift import KeyTally

WAREHOUSE_POOL = "warehouse"  # Dagster concurrency pool of every step that writes or reads it
# What every asset step that works in the warehouse shares: its pool, and retries for what passes
# (a server restarting, a network blip). A retry is safe: a failed step rolled back everything.
# A refusal (a wrong password, a missing privilege) is not retried: failures.py.
WAREHOUSE_STEP = {
    "pool": WAREHOUSE_POOL,
    "retry_policy": RetryPolicy(max_retries=3, delay=2, backoff=Backoff.EXPONENTIAL),
}
Params = Mapping[str, Any] | None
_CREATED: set[tuple[str, str]] = set()  # (warehouse location, table) this process created


@dataclass(frozen=True)
class Finding:
    """One preflight check: passed, or what to fix."""

    check: str
    passed: bool
    detail: str


class WarehouseUnavailable(RuntimeError):
    """The warehouse cannot be reached or refuses the login."""


class WarehouseBusy(RuntimeError):
    """Another process holds the warehouse, and the caller asked not to wait for it."""


def slots(
    table: str | None = None, tables: Sequence[str] = (), columns: Sequence[str] = ()
) -> tuple[tuple[str, str], ...]:
    """The identifier slots of a statement (see sql_files), in the form its cache keys take."""
    given = {"table": table, "tables": ",".join(tables), "columns": ",".join(columns)}
    return tuple((k, v) for k, v in given.items() if v)


class Session(ABC):
    """One connection and its transaction. Statements come from `sql/` by file and section."""

    dialect: ClassVar[str]
    # Bytes of raw JSON parsed per statement where this process parses (local_staging.py). Few,
    # big statements suit DuckDB: its commit costs more with every statement that inserted into
    # a table (10M events: 4 s at 256 MB chunks, ~0 at 1 GB).
    chunk_bytes: ClassVar[int] = 1024 * 1024 * 1024

    def __init__(self, con):
        self.con = con
        # The JSON key sets of the records the last `stage` read (schema_drift.py): an engine
        # that can tell fills one; None says drift was not measured.
        self.staged_keys: KeyTally | None = None

    def commit(self) -> None:
        self.con.commit()

    def rollback(self) -> None:
        self.con.rollback()

    @abstractmethod
    def execute(self, sql: str, params: Params = None) -> int:
        """Run one statement's text; return the rows it changed (-1 when that means nothing)."""

    @abstractmethod
    def query_text(self, sql: str, params: Params = None) -> tuple[list[str], list[tuple]]:
        """Run one query's text; return its column names and rows."""

    @abstractmethod
    def lock(self, *tables: str) -> None:
        """Hold `tables` against other writers until this transaction ends, never against
        readers. Called first in a transaction, before anything it protects is read: two runs
        at once would otherwise both read the same manifest or watermark and write the same
        rows twice."""

    @staticmethod
    def load_object_rows(
        objects: Sequence[LakeObject], records: Mapping[str, int] | None
    ) -> list[tuple[str, str, int, int | None]]:
        """The rows of `load_objects`: key, version, size and records (None before staging; 0
        for an object staged without any)."""
        if records is None:
            return [(o.key, o.etag, o.size, None) for o in objects]
        return [(o.key, o.etag, o.size, records.get(o.key, 0)) for o in objects]

    @abstractmethod
    def fill_load_objects(
        self, objects: Sequence[LakeObject], records: Mapping[str, int] | None = None
    ) -> None:
        """Replace the session's temp table `load_objects` (sql/load_objects.sql) with these,
        each with its number of `records` once staged (NULL before)."""

    @abstractmethod
    def stage(
        self,
        table: str,
        lake: Lake,
        objects: Sequence[LakeObject],
        load_batch: int,
        progress: LoadProgress | None = None,
    ) -> dict[str, int]:
        """Load the records of `objects` into staging `table` (rows tagged with their object key
        and `load_batch`) and the records that break a rule into `staging_rejects`, counting
        what is done in `progress`. Return each object's number of records, rows and rejects
        (an object without any may be left out)."""

    def analyze(self, table: str) -> None:
        """Refresh the planner's statistics of a table this transaction changed a lot. Without
        them PostgreSQL and Redshift plan the next join from a guess and pick nested loops. A
        table whose SQL has an `analyze` section names the columns worth it there."""
        if "analyze" in sql_files.sections(table):
            self.run(table, "analyze")
        else:
            self.run("tables", "analyze", table=table)

    def create_table(self, table: str) -> None:
        self.run(table, "create")

    def add_missing_columns(self, table: str) -> list[str]:
        """Add the columns of `table`'s `added_columns` section that the warehouse's table lacks
        (it was built by an earlier release); return their names."""
        added = sql_files.added_columns(table)
        if not added:
            return []
        present = set(self.query("tables", "no_rows", table=table)[0])
        missing = [c for c in added if c not in present]
        for column, statement in zip(added, self.statements(table, "added_columns"), strict=True):
            if column in missing:
                self.execute(statement)
        return missing

    def statements(self, file: str, section: str, table: str | None = None, **narrow):
        return sql_files.statements(file, section, self.dialect, slots=slots(table), **narrow)

    def run(self, file: str, section: str, params: Params = None, table: str | None = None):
        """Run every statement of a section of `sql/<file>.sql`; return each one's row count."""
        return [self.execute(s, params) for s in self.statements(file, section, table)]

    def run_many(self, file: str, section: str, rows: Sequence[Mapping[str, Any]]) -> None:
        """Run a one-statement section of `sql/<file>.sql` once for each of `rows`."""
        (statement,) = self.statements(file, section)
        for params in rows:
            self.execute(statement, params)

    def query(self, file: str, section: str, params: Params = None, table: str | None = None):
        """The column names and rows of a one-query section of `sql/<file>.sql`."""
        (statement,) = self.statements(file, section, table)
        return self.query_text(statement, params)

    def fetch(self, file: str, section: str, params: Params = None, table: str | None = None):
        return self.query(file, section, params, table)[1]

    def count(self, table: str) -> int:
        return self.fetch("tables", "row_count", table=table)[0][0]


class DbApiSession(Session, ABC):
    """A session on a psycopg2 connection (PostgreSQL, Redshift); values bound by psycopg2."""

    def execute(self, sql, params=None):
        with self.con.cursor() as cur:
            cur.execute(sql, params)
            return cur.rowcount

    def run_many(self, file, section, rows):
        # Many statements per round trip: Redshift answers each one after tens of milliseconds.
        (statement,) = self.statements(file, section)
        with self.con.cursor() as cur:
            execute_batch(cur, statement, rows, page_size=500)

    def query_text(self, sql, params=None):
        with self.con.cursor() as cur:
            cur.execute(sql, params)
            return [d[0] for d in cur.description], cur.fetchall()


class Warehouse(ConfigurableResource, ABC):
    """The warehouse the star schema lives in; one subclass per engine."""

    engine: ClassVar[str]
    report_dir: str | None = Field(
        default=None,
        description="Folder of the files made for people (the analytics report); default: "
        "beside the warehouse's data (data_folder)",
    )

    def report_folder(self) -> Path:
        """Where the files made for people (the analytics report) go: `report_dir`, else beside
        the warehouse's data."""
        return Path(self.report_dir) if self.report_dir else self.data_folder()

    def data_folder(self) -> Path:
        """The local folder beside the warehouse's data. A server keeps its data on another
        machine: `data/` in the working directory."""
        return Path("data")

    @property
    @abstractmethod
    def location(self) -> str:
        """Where the data is, for people: never includes a secret."""

    @abstractmethod
    def connect(self, wait: bool = True) -> contextlib.AbstractContextManager[Session]:
        """A session on a new connection, closed on exit; the caller ends its transaction.
        Without `wait`, raise WarehouseBusy instead of waiting for another process."""

    @contextlib.contextmanager
    def session(self, wait: bool = True) -> Iterator[Session]:
        """A connection holding one transaction: committed on success, rolled back on error."""
        with self.connect(wait) as session:
            try:
                yield session
                session.commit()
            except BaseException:
                session.rollback()
                raise

    def ensure_tables(self, tables: Sequence[str], wait: bool = True) -> None:
        """Create whichever of `tables` do not exist yet, in a transaction of their own: the
        transaction that loads must start with its lock (see Session.lock). Once per process
        and warehouse: every step of a run would otherwise pay a connection for it."""
        missing = [t for t in tables if (self.location, t) not in _CREATED]
        if not missing:
            return
        try:
            self._create(missing, wait)
        except (WarehouseUnavailable, WarehouseBusy):
            raise
        except Exception as error:
            if is_refusal(error):  # a missing privilege: the second try would be refused too
                raise
            # Another run created one of them at the same moment and committed first: its
            # catalog entry made ours fail. Once more, IF NOT EXISTS sees the table.
            time.sleep(1)
            self._create(missing, wait)
        _CREATED.update((self.location, t) for t in missing)

    def _create(self, tables: Sequence[str], wait: bool) -> None:
        with self.session(wait) as session:
            for table in tables:
                session.create_table(table)
                session.add_missing_columns(table)

    def checked(self, check: str, run: Callable[[], tuple[bool, str]]) -> Finding:
        """One preflight check's finding: what `run` says (passed, detail), or, when it raises,
        the error as a failed finding: one check's error never stops the others."""
        try:
            passed, detail = run()
        except Exception as exc:
            return self.failed(check, exc)
        return Finding(check, passed, detail)

    def failed(self, check: str, error: Exception) -> Finding:
        """A check that raised, as a failed finding naming the error (never a secret)."""
        reason = without_secret(str(error), getattr(self, "password", None)) or repr(error)
        return Finding(check, False, f"{type(error).__name__}: {reason}")

    def preflight(self, lake: Lake, samples: Mapping[str, str]) -> list[Finding]:
        """What to fix before a first load: each check once, in a transaction of its own, never
        changing a table. `samples` holds one lake object key per staging table."""
        try:
            with self.session() as session:
                session.query_text("SELECT 1")
        except (WarehouseUnavailable, WarehouseBusy) as exc:
            return [Finding("connect", False, str(exc))]
        return [Finding("connect", True, f"connected to {self.location}")]

    def busy(self) -> bool:
        """Whether another process holds the warehouse so that a sensor tick, which has seconds,
        should skip rather than wait. Servers take concurrent sessions: never."""
        return False


def without_secret(message: str, secret: str | None) -> str:
    """One line of `message`, any occurrence of `secret` masked."""
    line = " ".join(part.strip() for part in message.splitlines())
    return line.replace(secret, "***") if secret else line


class ServerWarehouse(Warehouse, ABC):
    """A warehouse behind a PostgreSQL-protocol server (PostgreSQL, Redshift): where, as whom."""

    host: str = "127.0.0.1"
    port: int = 5432
    database: str = "sparkify"
    user: str = "sparkify"
    password: str | None = Field(default=None, description="Never logged; pass via EnvVar")
    sslmode: str = Field(default="prefer", description="psycopg2 sslmode")

    @property
    def location(self) -> str:
        return f"{self.engine}://{self.user}@{self.host}:{self.port}/{self.database}"

    def preflight(self, lake, samples):
        findings = super().preflight(lake, samples)
        if not findings[-1].passed:
            return findings
        try:
            with self.session() as session:
                privileges = session.fetch("preflight", "privileges")
        except Exception as exc:
            return [*findings, self.failed("privileges", exc)]
        return findings + [
            Finding(f"privilege: {what}", bool(granted), "granted" if granted else f"run {fix}")
            for what, granted, fix in privileges
        ]

    def unavailable(self, error: Exception, secret: str | None = None) -> WarehouseUnavailable:
        """One message saying where, as whom and why a connection failed: never the password."""
        reason = without_secret(str(error), secret or self.password) or repr(error)
        return WarehouseUnavailable(
            f"cannot connect to the {self.engine} warehouse at {self.location}: {reason} "
            "(check SPARKIFY_DB_HOST, _PORT, _NAME, _USER, _PASSWORD)"
        )
