"""What the tests share that is not a fixture (fixtures are in conftest.py): the test services'
settings, lakes (in folders and S3), a warehouse that records what it is asked, running the graph
and the real CLI, reading tables and metadata, comparing with the reference (reference.py),
freshness as Dagster's daemon evaluates it, and a pause inside a run's open transaction for the
kill tests.

Test modules import from here and from reference.py, s3_server.py and ui_server.py, never from
one another.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlparse

import psycopg2
import pytest
from dagster import (
    AssetMaterialization,
    DagsterInstance,
    Definitions,
    evaluate_automation_conditions,
    materialize,
)
from dagster._core.remote_origin import InProcessCodeLocationOrigin
from dagster._core.test_utils import create_test_daemon_workspace_context, freeze_time
from dagster._core.types.loadable_target_origin import LoadableTargetOrigin
from dagster._core.workspace.load_target import InProcessWorkspaceLoadTarget
from dagster._daemon.freshness import FreshnessDaemon
from pydantic import Field, PrivateAttr

from sparkify_assets import event_days, sql_files
from sparkify_assets.checks import DEFAULT_MAX_REJECT_RATE, build_checks
from sparkify_assets.definitions import ALL_ASSETS, build_definitions
from sparkify_assets.generate import generate_lake
from sparkify_assets.resources.engines.base import (
    Session,
    Warehouse,
    WarehouseBusy,
    WarehouseUnavailable,
)
from sparkify_assets.resources.lake import Lake, LakeObject
from tests.reference import compute, data_objects

REPO = Path(__file__).resolve().parents[1]
REQUIRE_SERVICES = os.environ.get("SPARKIFY_REQUIRE_SERVICES") == "1"

# --- services ----------------------------------------------------------------------------------

PG = {
    "host": os.environ.get("SPARKIFY_TEST_DB_HOST", "127.0.0.1"),
    "port": int(os.environ.get("SPARKIFY_TEST_DB_PORT", "5432")),
    "user": os.environ.get("SPARKIFY_TEST_DB_USER", "sparkify_test"),
    # Distinct from every name, so a test can tell it never leaks into a log.
    "password": os.environ.get("SPARKIFY_TEST_DB_PASSWORD", "sparkify-test-pw"),
}


def service_unavailable(reason: str) -> None:
    """Skip, saying why; with SPARKIFY_REQUIRE_SERVICES=1 (as CI sets) fail instead."""
    if REQUIRE_SERVICES:
        pytest.fail(f"{reason} (SPARKIFY_REQUIRE_SERVICES=1, so this is a failure)")
    pytest.skip(reason)


def free_port() -> int:
    """A loopback TCP port nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Relay:
    """A TCP relay on a loopback port to `upstream_port` (a server on loopback): counts the
    connections it relays, and can cut the next connections at once or refuse all traffic for a
    while: the server restarting, or going away and coming back, as its clients see it."""

    def __init__(self, upstream_port: int):
        self.upstream_port = upstream_port
        self.port = free_port()
        self.connections = 0  # accepted and relayed, since the relay started
        self.to_cut = 0  # the next connections accepted and closed at once
        self.open = threading.Event()
        self.open.set()
        self.listening = threading.Event()
        self.sockets: list[socket.socket] = []
        threading.Thread(target=self._serve, daemon=True).start()
        self.listening.wait(5)

    def _serve(self):
        while True:
            self.open.wait()
            with socket.create_server(("127.0.0.1", self.port)) as server:
                server.settimeout(0.1)
                self.listening.set()
                while self.open.is_set():
                    try:
                        client, _ = server.accept()
                    except TimeoutError:
                        continue
                    if self.to_cut:
                        self.to_cut -= 1
                        client.close()
                        continue
                    upstream = socket.create_connection(("127.0.0.1", self.upstream_port))
                    self.connections += 1
                    self.sockets += [client, upstream]
                    for a, b in ((client, upstream), (upstream, client)):
                        threading.Thread(target=self._pump, args=(a, b), daemon=True).start()
            self.listening.clear()

    @staticmethod
    def _pump(source, sink):
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                sink.sendall(data)
        with contextlib.suppress(OSError):
            sink.shutdown(socket.SHUT_WR)

    def outage(self, seconds: float):
        """Refuse new connections and cut the open ones, for `seconds`; returns once new
        connections are refused."""
        self.open.clear()
        for sock in self.sockets:
            with contextlib.suppress(OSError):
                sock.close()
        while self.listening.is_set():
            time.sleep(0.01)
        threading.Timer(seconds, self.open.set).start()


def admin_connection():
    """An autocommit connection to the server's `postgres` database as the test role."""
    try:
        con = psycopg2.connect(dbname="postgres", connect_timeout=3, **PG)
    except psycopg2.OperationalError as exc:
        service_unavailable(
            f"no PostgreSQL server reachable at {PG['host']}:{PG['port']} as {PG['user']}: "
            f"{str(exc).strip().splitlines()[0]}"
        )
    con.autocommit = True
    return con


def create_database(template: str | None = None, attempts: int = 20) -> str:
    """A new database of the test role, empty or a copy of `template`; its name. A template may
    be busy for a moment (autovacuum): then try again."""
    name = f"sparkify_test_{uuid.uuid4().hex[:12]}"
    copy = f' TEMPLATE "{template}"' if template else ""
    for attempt in range(attempts):
        with contextlib.closing(admin_connection()) as admin, admin.cursor() as cur:
            try:
                cur.execute(f'CREATE DATABASE "{name}"{copy}')
                return name
            except psycopg2.errors.ObjectInUse:
                if attempt == attempts - 1:
                    raise
        time.sleep(0.5)
    raise AssertionError("unreachable")


def drop_database(name: str, attempts: int = 10) -> None:
    """Drop a test database. FORCE ends its sessions, but not an autovacuum worker (a superuser
    process a non-superuser may not end): wait for it to finish, a second or so."""
    for attempt in range(attempts):
        # A new connection each time: the test may have restarted the server.
        with contextlib.closing(admin_connection()) as admin, admin.cursor() as cur:
            try:
                cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
                return
            except psycopg2.errors.InsufficientPrivilege:
                if attempt == attempts - 1:
                    raise
        time.sleep(1)


def connect_to(database: str):
    """A plain psycopg2 connection to a test database, as the test role (not the engine's)."""
    return psycopg2.connect(dbname=database, **PG)


# --- lakes -------------------------------------------------------------------------------------

# Small but with every quirk: 3 days of events, a catalogue some plays match.
LAKE_SIZE = {"songs": 80, "users": 25, "days": 3, "events_per_day": 400, "seed": 7}
STAR_TABLES = ("songplays", "users", "songs", "artists", "time")
MANY = 2_500  # song keys in the `many_keys` S3 lake: three listing pages
ALL_TABLES = ("staging_events", "staging_songs", *STAR_TABLES)


def add_day(lake, day_number: int, size=LAKE_SIZE, endpoint_url: str | None = None) -> str:
    """Write one more day of events to a lake made with `size`, as the app delivers it; return
    its key. Day 1 is 2018-11-01."""
    day = dt.date(2018, 11, 1) + dt.timedelta(days=day_number - 1)
    size = {k: v for k, v in size.items() if k != "days"}
    generate_lake(lake, **size, days=1, start=day, what=("events",), endpoint_url=endpoint_url)
    return f"log_data/{day:%Y/%m}/{day:%Y-%m-%d}-events.json"


def split_s3_url(url: str) -> tuple[str, str]:
    """(bucket, key prefix ending in '/') of an s3://bucket/prefix lake."""
    parsed = urlparse(url)
    return parsed.netloc, parsed.path.strip("/") + "/"


def put(client, lake_url: str, key: str, body: bytes) -> None:
    """Write one object of an S3 lake, `key` relative to its root."""
    bucket, root = split_s3_url(lake_url)
    client.put_object(Bucket=bucket, Key=root + key, Body=body)


def upload(client, folder: Path, lake_url: str) -> None:
    """Copy a lake folder to an S3 lake, key for key."""
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        put(client, lake_url, path.relative_to(folder).as_posix(), path.read_bytes())


EARLY_SONG = "song_data/0/0/0/TR000EARLY000000.json"  # sorts before every generated song key


def song(song_id: str, title: str, year: int = 2001) -> bytes:
    """A song object no generated event plays."""
    record = {
        "num_songs": 1,
        "artist_id": "ARZZZZZZZZZZZZZZZZ",
        "artist_latitude": None,
        "artist_longitude": None,
        "artist_location": "",
        "artist_name": "Nobody Plays This",
        "song_id": song_id,
        "title": title,
        "duration": 201.5,
        "year": year,
    }
    return json.dumps(record).encode("utf-8")


@contextlib.contextmanager
def counting_calls(lake: Lake) -> Iterator[Counter]:
    """Count the S3 API calls the lake's client makes inside the block, by operation name."""
    calls: Counter = Counter()

    def count(model, **_):
        calls.update([model.name])

    events = lake.s3_client().meta.events
    events.register("before-call.s3", count, unique_id="test-counting-calls")
    try:
        yield calls
    finally:
        events.unregister("before-call.s3", unique_id="test-counting-calls")


@contextlib.contextmanager
def held_by_another_process(duckdb_path: str, seconds: float = 60) -> Iterator[None]:
    """Another process holds the DuckDB file, as a run does: from the start of the block until
    it ends or `seconds` have passed, whichever comes first."""
    hold = (
        "import duckdb, sys, time; con = duckdb.connect(sys.argv[1]); print(flush=True); "
        "time.sleep(float(sys.argv[2]))"
    )
    holder = subprocess.Popen(
        [sys.executable, "-c", hold, duckdb_path, str(seconds)], stdout=subprocess.PIPE
    )
    try:
        holder.stdout.readline()  # the other process holds the file now
        yield
    finally:
        holder.kill()
        holder.wait()
        holder.stdout.close()


def record_loaded(warehouse: Warehouse, table: str, objects: list[LakeObject]) -> None:
    """Write manifest rows as staging would, without loading (for ticks over a big prefix)."""
    with warehouse.session() as session:
        for name in ("load_manifest", "staging_events", "staging_songs", "staging_rejects"):
            session.create_table(name)
        session.fill_load_objects(objects, records={})  # staged, with no records
        batch = {"table_name": table, "load_batch": 1, "loaded_at": "2018-11-30 00:00:00"}
        session.run("load_manifest", "record_objects", batch, table=batch["table_name"])


# --- a warehouse that records instead of doing ------------------------------------------------


class RecordingSession(Session):
    """A session that records what it is asked to do instead of doing it."""

    dialect = "duckdb"

    def __init__(self, log: list):
        super().__init__(con=None)
        self.log = log

    def commit(self):
        self.log.append("commit")

    def rollback(self):
        self.log.append("rollback")

    def execute(self, sql, params=None):
        self.log.append(sql.split("(")[0].strip())
        return 1

    def query_text(self, sql, params=None):
        self.log.append(sql)
        return ["n"], [(5,)]

    def lock(self, *tables):
        self.log.append(f"lock {','.join(tables)}")

    def fill_load_objects(self, objects):
        raise NotImplementedError

    def stage(self, table, lake, objects, load_batch):
        raise NotImplementedError


class RecordingWarehouse(Warehouse):
    """A warehouse of its own each time (its location is new), that records what it is asked."""

    engine = "recording"
    refuse: str = ""  # "unavailable" or "busy": connect raises that
    name: str = Field(default_factory=lambda: uuid.uuid4().hex)

    _log: list = PrivateAttr(default_factory=list)

    @property
    def location(self) -> str:
        return f"memory://{self.name}"

    @contextlib.contextmanager
    def connect(self, wait: bool = True):
        if self.refuse == "unavailable":
            raise WarehouseUnavailable("cannot connect: no route to nowhere")
        if self.refuse == "busy":
            raise WarehouseBusy("another process holds nowhere")
        self._log.append(f"open wait={wait}")
        try:
            yield RecordingSession(self._log)
        finally:
            self._log.append("close")


# --- the graph and its tables ------------------------------------------------------------------


def every_day(lake: str | Path, **lake_options) -> dict[str, str]:
    """The tags of one run over every day of the lake's event log, as `make run` makes it."""
    days = event_days.days_in_lake(Lake(url=str(lake), **lake_options))
    assert days, f"{lake} holds no event log"
    return event_days.range_tags(*days)


def run_graph(
    warehouse: Warehouse,
    lake: str | Path,
    full_refresh: bool = False,
    max_reject_rate: float = DEFAULT_MAX_REJECT_RATE,
    must_succeed: bool = True,
    instance=None,
    days: tuple[str, str] | None = None,
    **lake_options,
):
    """Materialize the whole graph with its checks in process (on `instance`, or an ephemeral
    one) for `days` (first, last), by default every day of the lake's event log; return the
    run's result."""
    run_config = None
    if full_refresh:
        run_config = {"ops": {t: {"config": {"full_refresh": True}} for t in ALL_TABLES}}
    result = materialize(
        [*ALL_ASSETS, *build_checks(max_reject_rate)],
        resources={"warehouse": warehouse, "lake": Lake(url=str(lake), **lake_options)},
        run_config=run_config,
        instance=instance,
        raise_on_error=False,
        tags=event_days.range_tags(*days) if days else every_day(lake, **lake_options),
    )
    assert result.success or not must_succeed
    return result


def in_order(rows) -> list[tuple]:
    """Rows sorted the same way whatever engine or computation produced them (NULLs last)."""
    return sorted(
        (tuple(r) for r in rows), key=lambda r: tuple((v is None, 0 if v is None else v) for v in r)
    )


def read_table(warehouse: Warehouse, table: str) -> list[tuple]:
    """Every row of `table`, without the load bookkeeping column, in `in_order`."""
    names = [c.name for c in sql_files.columns(table) if c.name != "load_batch"]
    columns = ", ".join(f'"{n}"' for n in names)
    with warehouse.session() as session:
        return in_order(session.query_text(f'SELECT {columns} FROM "{table}"')[1])


def read_all(warehouse: Warehouse, tables=(*ALL_TABLES, "staging_rejects")) -> dict[str, list]:
    """`read_table` of each of `tables`."""
    return {t: read_table(warehouse, t) for t in tables}


def metadata_of(result, asset: str) -> dict:
    """The metadata values of one asset's materialization in a run (for a partitioned asset,
    its last day's: the run's own values are the same on every day)."""
    events = [
        e.materialization
        for e in result.get_asset_materialization_events()
        if e.asset_key.to_user_string() == asset
    ]
    assert len(events) == 1 or all(e.partition for e in events), events
    return {k: v.value for k, v in events[-1].metadata.items()}


def day_metadata(result, asset: str = "staging_events") -> dict[str, dict]:
    """Each day's materialization metadata of a partitioned asset in a run, by day."""
    return {
        e.materialization.partition: {k: v.value for k, v in e.materialization.metadata.items()}
        for e in result.get_asset_materialization_events()
        if e.asset_key.to_user_string() == asset
    }


def assert_matches_reference(warehouse: Warehouse, lake_dir) -> None:
    """Every table equals what tests/reference.py computes from the lake folder."""
    expected = compute(lake_dir)
    for table in ALL_TABLES:
        assert read_table(warehouse, table) == in_order(getattr(expected, table)), table
    rejects = {r[:3] for r in read_table(warehouse, "staging_rejects")}
    assert rejects == expected.rejects


def shown(value) -> str:
    """A value as a metadata markdown table shows it: NULL, pipes escaped, one line, 80 chars."""
    text = "NULL" if value is None else str(value)
    return text.replace("|", "\\|").replace("\n", " ")[:80]


def markdown_rows(markdown: str) -> tuple[list[str], list[list[str]]]:
    """A markdown table of metadata read back: its header and its rows, as cells of text."""
    header, rule, *rows = markdown.strip().splitlines()
    assert rule == "|" + "---|" * len(_cells(header)), rule
    return _cells(header), [_cells(row) for row in rows]


def _cells(line: str) -> list[str]:
    assert line.startswith("| ") and line.endswith(" |"), line
    return [cell[1:-1] for cell in re.split(r"(?<!\\)\|", line[1:-1])]


PREFLIGHT_LAKE_LINES = (
    "ok    lake log_data/: holds data, e.g. {}",
    "ok    lake song_data/: holds data, e.g. {}",
)


class Automation:
    """The automation sensor as the daemon evaluates it, tick after tick, on `instance`: each
    asset's automation condition, evaluated by Dagster with the cursor the last tick left."""

    def __init__(self, instance, warehouse: Warehouse, lake: Lake):
        self.instance = instance
        self.resources = {"warehouse": warehouse, "lake": lake}
        checks = build_checks(DEFAULT_MAX_REJECT_RATE)
        self.defs = Definitions(assets=ALL_ASSETS, asset_checks=checks, resources=self.resources)
        self.cursor = None

    def tick(self) -> set[str]:
        """The assets this tick's conditions request."""
        result = evaluate_automation_conditions(self.defs, self.instance, cursor=self.cursor)
        self.cursor = result.cursor
        return {
            key.to_user_string()
            for key in self.defs.resolve_asset_graph().materializable_asset_keys
            if result.get_num_requested(key)
        }

    def run(self, assets: set[str]):
        """Execute one run of `assets` with their checks, as the daemon launches a request."""
        return materialize(
            [*ALL_ASSETS, *build_checks(DEFAULT_MAX_REJECT_RATE)],
            selection=sorted(assets),
            resources=self.resources,
            instance=self.instance,
            raise_on_error=False,
        )

    def follow(self) -> list[set[str]]:
        """Tick and run what each tick requests until a tick requests nothing; return what each
        tick requested."""
        ticks = []
        while requested := self.tick():
            ticks.append(requested)
            self.run(requested)
            assert len(ticks) < 5, ticks
        return ticks


def preflight_lake_lines(lake_dir) -> list[str]:
    """Preflight's ok lines for a good lake folder: each prefix holds data, its first key (in
    key order, found here by the reference) the example."""
    keys = [key for key, _ in data_objects(str(lake_dir))]
    firsts = [next(k for k in keys if k.startswith(p)) for p in ("log_data/", "song_data/")]
    return [line.format(key) for line, key in zip(PREFLIGHT_LAKE_LINES, firsts, strict=True)]


# --- freshness, as Dagster's daemon evaluates it ------------------------------------------------


def record_loads(instance: DagsterInstance, assets, hours_ago: float = 0.0) -> None:
    """A materialization of each of `assets`, stored as if `hours_ago` hours ago: Dagster's clock
    is set back while the events are written, and the freshness daemon reads their time."""
    with freeze_time(time.time() - hours_ago * 3600):
        for name in assets:
            day = "2018-11-01" if name in ("log_data", "staging_events") else None  # by day
            instance.report_runless_asset_event(AssetMaterialization(name, partition=day))


def evaluate_freshness(instance: DagsterInstance, env: dict, folder: Path) -> dict[str, str]:
    """One iteration of Dagster's freshness daemon (what `dagster-daemon` runs every 30 s) over
    the definitions built from `env`, as a code location loaded in this process; each asset's
    freshness state after it (PASS, WARN, FAIL, UNKNOWN, or NOT_APPLICABLE without a policy)."""
    location = folder / f"freshness_location_{uuid.uuid4().hex[:8]}.py"
    location.write_text(
        "from sparkify_assets.definitions import build_definitions\n\n"
        f"defs = build_definitions({env!r})\n"
    )
    origin = InProcessCodeLocationOrigin(
        LoadableTargetOrigin(python_file=str(location), attribute="defs"), location_name="sparkify"
    )
    target = InProcessWorkspaceLoadTarget(origin)
    with create_test_daemon_workspace_context(target, instance) as workspace:
        list(FreshnessDaemon().run_iteration(workspace))
    keys = build_definitions(env).resolve_asset_graph().get_all_asset_keys()
    return {
        key.to_user_string(): record.freshness_state.value
        for key, record in instance.get_freshness_state_records(list(keys)).items()
    }


# --- the real command line ---------------------------------------------------------------------

DAGSTER = Path(sys.executable).parent / "dagster"
PRODUCTION_INSTANCE = REPO / "deploy" / "dagster.yaml"


def materialize_command(lake: str | Path) -> list[str]:
    """The README's CLI run of the whole graph over every day of the lake's event log."""
    first, last = every_day(lake).values()
    return [
        *(str(DAGSTER), "asset", "materialize"),
        *("-m", "sparkify_assets.definitions", "--select", "*"),
        *("--partition-range", f"{first}...{last}"),
    ]


def importing_this_checkout(env: dict) -> dict:
    """`env` with this checkout first on PYTHONPATH: a command run from another directory would
    otherwise import whatever copy of the package is installed."""
    return env | {"PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))}


def production_instance(home: Path, storage_database: str) -> dict:
    """Make `home` a DAGSTER_HOME holding the production instance (deploy/dagster.yaml) and
    return the settings that point its storage at `storage_database`."""
    home.mkdir(exist_ok=True)
    shutil.copy(PRODUCTION_INSTANCE, home / "dagster.yaml")
    return {
        "DAGSTER_PG_HOST": PG["host"],
        "DAGSTER_PG_PORT": str(PG["port"]),
        "DAGSTER_PG_DB": storage_database,
        "DAGSTER_PG_USER": PG["user"],
        "DAGSTER_PG_PASSWORD": PG["password"],
    }


def cli_env(warehouse: Warehouse, lake_dir, home: Path) -> dict:
    """The environment of a CLI run on `warehouse` and `lake_dir`, its instance in `home`."""
    home.mkdir(exist_ok=True)
    env = {**os.environ, "DAGSTER_HOME": str(home), "SPARKIFY_LAKE": str(lake_dir)}
    env = importing_this_checkout(env)
    if warehouse.engine == "duckdb":
        env |= {"SPARKIFY_WAREHOUSE": "duckdb", "SPARKIFY_DUCKDB_PATH": warehouse.path}
    else:
        env |= {
            "SPARKIFY_WAREHOUSE": "postgres",
            "SPARKIFY_DB_HOST": warehouse.host,
            "SPARKIFY_DB_PORT": str(warehouse.port),
            "SPARKIFY_DB_NAME": warehouse.database,
            "SPARKIFY_DB_USER": warehouse.user,
            "SPARKIFY_DB_PASSWORD": warehouse.password,
        }
    return env


def start_cli(env: dict, cwd: Path) -> subprocess.Popen:
    """The CLI in its own process group, its output in a file (a full pipe would stall it)."""
    log = (cwd / f"cli-{time.monotonic_ns()}.log").open("wb")
    process = subprocess.Popen(
        materialize_command(env["SPARKIFY_LAKE"]),
        env=env,
        cwd=cwd,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    process.log_path = Path(log.name)
    return process


def output_of(process: subprocess.Popen) -> str:
    return process.log_path.read_text(errors="replace")[-3000:]


def kill_hard(process: subprocess.Popen) -> None:
    """SIGKILL to the process and everything it started."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=30)


def wait_for_blocked(database: str, statement_start: str, process=None, timeout=60.0) -> None:
    """Wait until an engine connection (a run's, in `process` if given) waits on a lock inside
    `statement_start...`."""
    deadline = time.monotonic() + timeout
    # Its own autocommit connection: within a transaction, pg_stat_activity stays a snapshot.
    con = connect_to(database)
    con.autocommit = True
    with contextlib.closing(con), con.cursor() as cur:
        while time.monotonic() < deadline:
            assert process is None or process.poll() is None, output_of(process)
            cur.execute(
                "SELECT COUNT(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                "AND application_name = 'sparkify_assets' AND ltrim(query) LIKE %s",
                (f"%{statement_start}%",),
            )
            if cur.fetchone()[0]:
                return
            time.sleep(0.05)
        cur.execute(
            "SELECT application_name, state, wait_event_type, left(query, 120) FROM pg_stat_activity"
        )
        seen = cur.fetchall()
    raise AssertionError(f"the run never reached {statement_start!r}: {seen}")


# --- a pause inside a run's open transaction ---------------------------------------------------
#
# A CLI child started with `paused_env` loads `sitecustomize.py` from a folder of its own, which
# calls `install_pause()`: the load protocol's `stage` or `merge` of one table is wrapped so that,
# once it has written its rows and before its transaction commits, the child writes a marker file
# (what it wrote, as JSON) and sleeps. The test waits for the marker and kills the child there.

PAUSE_AT = "SPARKIFY_TEST_PAUSE_AT"  # "stage:<table>" or "merge:<table>"
PAUSE_MARKER = "SPARKIFY_TEST_PAUSE_MARKER"  # the marker file's path
SITECUSTOMIZE = f"""\
import os

if os.environ.get({PAUSE_AT!r}):
    from tests.support import install_pause

    install_pause()
"""


def install_pause() -> None:
    """In the child: wrap `load_protocol.<step>` for the table named by SPARKIFY_TEST_PAUSE_AT."""
    from sparkify_assets import load_protocol

    step, table = os.environ[PAUSE_AT].split(":")
    marker = Path(os.environ[PAUSE_MARKER])
    original = getattr(load_protocol, step)

    def paused(session, name, *args, **kwargs):
        done = original(session, name, *args, **kwargs)
        if name == table:
            # Still inside the asset's transaction: written, not committed.
            written = {
                "rows_in_transaction": session.count(table),
                "rows_loaded": getattr(done, "rows_loaded", None),
                "rows_written": getattr(done, "rows_written", None),
            }
            marker.with_suffix(".tmp").write_text(json.dumps(written))
            marker.with_suffix(".tmp").rename(marker)  # appears whole
            time.sleep(600)
        return done

    setattr(load_protocol, step, paused)


def paused_env(env: dict, folder: Path, at: str) -> tuple[dict, Path]:
    """`env` for a CLI child that pauses `at` ("stage:<table>" or "merge:<table>") before its
    transaction commits; and the marker file it writes then."""
    hook = folder / "pause_hook"
    hook.mkdir(exist_ok=True)
    (hook / "sitecustomize.py").write_text(SITECUSTOMIZE)
    marker = folder / f"paused-{at.replace(':', '-')}.json"
    path = os.pathsep.join([str(hook), str(REPO), *filter(None, [env.get("PYTHONPATH")])])
    return env | {"PYTHONPATH": path, PAUSE_AT: at, PAUSE_MARKER: str(marker)}, marker


def wait_for_marker(marker: Path, process: subprocess.Popen, timeout: float = 120.0) -> dict:
    """What the paused child wrote, once it is paused; fails if it ends or never gets there."""
    deadline = time.monotonic() + timeout
    while not marker.exists():
        assert process.poll() is None, f"the run ended before the pause:\n{output_of(process)}"
        assert time.monotonic() < deadline, f"the run never paused:\n{output_of(process)}"
        time.sleep(0.05)
    return json.loads(marker.read_text())
