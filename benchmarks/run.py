"""Benchmarks of sparkify_assets: does the platform stay fast as the event log grows?

    .venv/bin/python benchmarks/run.py            # full run, all six targets (~30-40 min)
    .venv/bin/python benchmarks/run.py --quick    # small sizes, to try it (~2-3 min)

Every figure is a ratio to a reference measured in the same run, on the same files, on the same
machine, so that a noisy machine moves both sides together:

1. DuckDB staging vs DuckDB's bare `read_json` of the same event files into a plain table.
2. PostgreSQL staging vs a bare `COPY ... FROM STDIN` of the same rows into a plain table.
3. The whole graph on the shipped sample vs a trivial graph of the same shape
   (`benchmarks/trivial_graph.py`), run side by side through the same CLI and executor.
4. 10M events and 100,000 songs end to end on DuckDB: wall time and peak memory (< 1.5 GB).
5. One new day into a warehouse that holds a year vs the same day into an empty warehouse.
6. 15,000 one-object song files: staging vs DuckDB's bare `read_json` of the same files.

Each materialization is the real CLI, `dagster asset materialize -m sparkify_assets.definitions
--select '*'`, in a child process with its own DAGSTER_HOME; wall time and CPU time come from the
child, peak memory from `wait4`'s `ru_maxrss` (and a /proc poll of the child's process tree), time
per asset from the run's event log (STEP_START to STEP_SUCCESS). Lakes are generated once with
the project's generator into `benchmarks/out/lakes/` and reused while their parameters match.

The report goes to `docs/benchmarks.md` (the full run) or `benchmarks/out/benchmarks-quick.md`
(`--quick`), and to stdout. Where a target is missed and py-spy is installed, the script records a
py-spy profile of a representative run and says where the time goes. py-spy is a tool for this
script only, never a dependency of the project.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import hashlib
import json
import os
import platform
import re
import shlex
import shutil
import statistics
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # `python benchmarks/run.py` measures this checkout
    sys.path.insert(0, str(ROOT))

OUT = ROOT / "benchmarks" / "out"
LAKES = OUT / "lakes"
DOC = ROOT / "docs" / "benchmarks.md"
QUICK_DOC = OUT / "benchmarks-quick.md"
BIN = Path(sys.executable).parent
MODULE = "sparkify_assets.definitions"
TRIVIAL_MODULE = "benchmarks.trivial_graph"
SAMPLE_LAKE = ROOT / "sample_lake"

# Diagnostic only: when a load runs out of memory as shipped, the script reruns it once with the
# staging chunk shrunk to this (the sessions' chunk_bytes, patched in the child process), so that
# the report still has figures, and the incremental benchmark still has its year to start from.
DIAGNOSTIC_CHUNK_BYTES = 32 * 1024 * 1024
PEAK_MEMORY_LIMIT = 1.5e9  # target 4: "under 1.5 GB"
MB = 1024 * 1024
RUN_TIMEOUT = 20 * 60  # a child that runs longer is stopped and reported as failed

# The child that materializes with a patched staging chunk: the real CLI otherwise.
PATCHED_CLI = """
import os, sys
import sparkify_assets.resources.warehouse as warehouse
chunk_bytes = int(os.environ["SPARKIFY_BENCH_CHUNK_BYTES"])
warehouse.Session.chunk_bytes = warehouse.PostgresSession.chunk_bytes = chunk_bytes
from dagster._cli import main
sys.argv = ["dagster", *sys.argv[1:]]
sys.exit(main())
"""

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


# --- lakes -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LakeSpec:
    """A generated lake: the generator's arguments, and a name for people."""

    name: str
    songs: int
    users: int
    days: int
    events_per_day: int
    start: date = date(2018, 11, 1)
    seed: int = 42
    what: tuple[str, ...] = ("songs", "events")

    @property
    def events(self) -> int:
        return self.days * self.events_per_day if "events" in self.what else 0

    def params(self) -> dict:
        return {**asdict(self), "start": self.start.isoformat(), "what": list(self.what)}

    @property
    def folder(self) -> Path:
        digest = hashlib.sha1(json.dumps(self.params(), sort_keys=True).encode()).hexdigest()
        return LAKES / f"{self.name}-{digest[:10]}"

    def next_day(self) -> LakeSpec:
        """The day after this lake's last day: same catalogue, users and seed, events only."""
        return LakeSpec(
            f"{self.name}-next-day",
            self.songs,
            self.users,
            1,
            self.events_per_day,
            self.start + timedelta(days=self.days),
            self.seed,
            ("events",),
        )


def _generate_part(dest: str, spec: dict, start: str, days: int, what: tuple[str, ...]) -> dict:
    from sparkify_assets.generate import generate_lake

    return generate_lake(
        dest,
        songs=spec["songs"],
        users=spec["users"],
        days=days,
        events_per_day=spec["events_per_day"],
        start=date.fromisoformat(start),
        seed=spec["seed"],
        what=what,
    )


def ensure_lake(spec: LakeSpec, log: Callable[[str], None]) -> Path:
    """The lake's folder, generated unless a complete one with the same parameters is cached.

    A day's events depend only on the seed, the date, the catalogue and the users, so big lakes
    are written by two processes, each a range of days (the machine has two cores).
    """
    folder = spec.folder
    marker = folder / "lake.json"
    if marker.exists() and json.loads(marker.read_text())["params"] == spec.params():
        return folder
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    started = time.perf_counter()
    log(f"generating lake {spec.name} ({spec.events:,} events, {spec.songs:,} songs) ...")
    params = spec.params()
    workers = 2 if "events" in spec.what and spec.events >= 500_000 and spec.days >= 2 else 1
    first = spec.days // workers
    parts = [(spec.start.isoformat(), first, spec.what)]
    if workers == 2:
        second_start = (spec.start + timedelta(days=first)).isoformat()
        parts.append((second_start, spec.days - first, ("events",)))
    with ProcessPoolExecutor(max_workers=workers) as pool:
        futures = [pool.submit(_generate_part, str(folder), params, *part) for part in parts]
        summaries = [f.result() for f in futures]
    summary = {k: sum(s[k] for s in summaries) for k in summaries[0]}
    marker.write_text(json.dumps({"params": params, "summary": summary}, indent=2))
    log(f"  generated in {time.perf_counter() - started:.0f} s: {summary}")
    return folder


def files_under(folder: Path) -> list[str]:
    return sorted(str(p) for p in folder.rglob("*.json") if p.is_file())


def link_tree(src: Path, dst: Path) -> None:
    """Hard-link the files under `src` into `dst`: same bytes, same mtime, so the same etags."""
    for dirpath, _dirs, names in os.walk(src):
        target = dst / Path(dirpath).relative_to(src)
        target.mkdir(parents=True, exist_ok=True)
        for name in names:
            os.link(os.path.join(dirpath, name), target / name)


def compose_lake(dest: Path, parts: Iterable[tuple[Path, str]]) -> Path:
    """A lake folder made of hard links to (lake, sub-folder) parts."""
    shutil.rmtree(dest, ignore_errors=True)
    dest.mkdir(parents=True)
    for lake, sub in parts:
        if (lake / sub).exists():
            link_tree(lake / sub, dest / sub)
    return dest


# --- warehouses --------------------------------------------------------------------------------


def drop_database(admin, name: str, attempts: int = 20) -> None:
    """DROP DATABASE ... WITH (FORCE), waiting out an autovacuum worker: a superuser process that
    FORCE may not end for a non-superuser role (a fresh, big load is what wakes it)."""
    for attempt in range(attempts):
        try:
            admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            return
        except Exception as exc:  # psycopg2 is imported lazily, where PostgreSQL is measured
            if type(exc).__name__ != "InsufficientPrivilege" or attempt == attempts - 1:
                raise
            time.sleep(1)


class DuckDBEngine:
    name = "duckdb"

    def __init__(self, work: Path):
        self.work = work

    def fresh(self) -> str:
        return str(self.work / f"wh-{uuid.uuid4().hex[:8]}.duckdb")

    def clone(self, base: str) -> str:
        path = self.fresh()
        shutil.copyfile(base, path)
        return path

    def drop(self, handle: str) -> None:
        for suffix in ("", ".wal", ".tmp"):
            p = Path(handle + suffix)
            if p.is_dir():
                shutil.rmtree(p, ignore_errors=True)
            elif p.exists():
                p.unlink()

    def env(self, handle: str) -> dict[str, str]:
        return {"SPARKIFY_WAREHOUSE": "duckdb", "SPARKIFY_DUCKDB_PATH": handle}


class PostgresEngine:
    name = "postgres"

    def __init__(self, host: str, port: int, user: str, password: str):
        self.host, self.port, self.user, self.password = host, port, user, password

    def connect(self, database: str = "postgres"):
        import psycopg2

        return psycopg2.connect(
            host=self.host,
            port=self.port,
            user=self.user,
            password=self.password,
            dbname=database,
            connect_timeout=5,
        )

    def _admin(self, sql: str) -> None:
        con = self.connect()
        con.autocommit = True
        try:
            with con.cursor() as cur:
                cur.execute(sql)
        finally:
            con.close()

    # sparkify_bench_<pid of this script>_<random>: leftovers are dropped only when that process
    # is gone, so two benchmarks on one machine never drop each other's databases.
    PREFIX = "sparkify_bench_"

    def _new_name(self) -> str:
        return f"{self.PREFIX}{os.getpid()}_{uuid.uuid4().hex[:8]}"

    def fresh(self) -> str:
        name = self._new_name()
        self._admin(f'CREATE DATABASE "{name}"')
        return name

    def clone(self, base: str) -> str:
        name = self._new_name()
        self._admin(f'CREATE DATABASE "{name}" TEMPLATE "{base}"')
        return name

    def drop(self, handle: str) -> None:
        drop_database(self._admin, handle)

    def drop_leftovers(self) -> None:
        """Databases an interrupted earlier run of this script left behind."""
        con = self.connect()
        try:
            with con.cursor() as cur:
                cur.execute("SELECT datname FROM pg_database WHERE datname LIKE 'sparkify_bench_%'")
                names = [r[0] for r in cur.fetchall()]
        finally:
            con.close()
        for name in names:
            match = re.fullmatch(rf"{self.PREFIX}(\d+)_[0-9a-f]{{8}}", name)
            if not match or Path(f"/proc/{match.group(1)}").exists():
                continue  # another naming, or a benchmark still running: not ours to drop
            self.drop(name)

    def env(self, handle: str) -> dict[str, str]:
        return {
            "SPARKIFY_WAREHOUSE": "postgres",
            "SPARKIFY_DB_HOST": self.host,
            "SPARKIFY_DB_PORT": str(self.port),
            "SPARKIFY_DB_NAME": handle,
            "SPARKIFY_DB_USER": self.user,
            "SPARKIFY_DB_PASSWORD": self.password,
        }

    def server_version(self) -> str:
        con = self.connect()
        try:
            with con.cursor() as cur:
                cur.execute("SHOW server_version")
                return cur.fetchone()[0]
        finally:
            con.close()


# --- one CLI materialization -------------------------------------------------------------------


@dataclass
class RunResult:
    label: str
    ok: bool
    wall: float  # seconds, process start to exit
    cpu: float  # user + system seconds of the child (and its waited-for children)
    peak_bytes: int  # max(ru_maxrss, the polled RSS of the whole process tree)
    startup: float = 0.0  # process start to the run's first event (imports, loading the code)
    run_seconds: float = 0.0  # RUN_START to RUN_SUCCESS/FAILURE
    steps: dict[str, float] = field(default_factory=dict)  # step key -> seconds
    step_order: list[str] = field(default_factory=list)
    loaded: dict[str, int] = field(default_factory=dict)  # staging table -> rows loaded
    error: str | None = None
    diagnostic: bool = False  # ran with the patched staging chunk
    peak_step: str | None = None  # the step running when memory peaked, when known

    def rate(self, table: str) -> float | None:
        seconds = self.steps.get(table)
        rows = self.loaded.get(table)
        if not seconds or rows is None:
            return None
        return rows / seconds


def _descendants(root: int) -> list[int]:
    children: dict[int, list[int]] = collections.defaultdict(list)
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as handle:
                stat = handle.read().rsplit(b")", 1)[1].split()
            children[int(stat[1])].append(int(entry))
        except (OSError, IndexError, ValueError):
            continue
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo.extend(children.get(pid, ()))
    return out


def _tree_rss(root: int) -> int:
    page = os.sysconf("SC_PAGE_SIZE")
    total = 0
    for pid in _descendants(root):
        try:
            with open(f"/proc/{pid}/statm") as handle:
                total += int(handle.read().split()[1]) * page
        except (OSError, IndexError, ValueError):
            continue
    return total


class TreeMemoryPoller(threading.Thread):
    """Samples the RSS of a process and its descendants, keeping the maximum."""

    def __init__(self, pid: int, interval: float = 0.25):
        super().__init__(daemon=True)
        self.pid, self.interval, self.peak, self.peak_at = pid, interval, 0, 0.0
        self._stop_event = threading.Event()

    def run(self) -> None:
        while not self._stop_event.is_set():
            rss = _tree_rss(self.pid)
            if rss > self.peak:
                self.peak, self.peak_at = rss, time.time()
            self._stop_event.wait(self.interval)

    def stop(self) -> int:
        self._stop_event.set()
        self.join()
        return self.peak


def clean_env(extra: dict[str, str]) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("SPARKIFY_", "DAGSTER_")) and k != "PYTHONPATH"
    }
    env["PYTHONPATH"] = str(ROOT)
    env.update(extra)
    return env


def _kill_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, 9)


@dataclass
class Child:
    code: int
    wall: float
    cpu: float
    peak: int
    start_epoch: float
    peak_epoch: float  # when the polled RSS peaked (0 when ru_maxrss saw a higher one)
    text: str


def spawn(
    cmd: list[str],
    env: dict[str, str],
    log_path: Path,
    stdin_text: str | None = None,
    timeout: float = RUN_TIMEOUT,
) -> Child:
    """Run a child to its end, measured (wall, CPU and peak memory of its process tree)."""
    start_epoch = time.time()
    started = time.perf_counter()
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            cmd,
            cwd=ROOT,
            env=env,
            stdin=subprocess.PIPE if stdin_text is not None else subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: a timeout ends all of it
        )
        poller = TreeMemoryPoller(proc.pid)
        poller.start()
        timer = threading.Timer(timeout, _kill_group, (proc.pid,))
        timer.start()
        if stdin_text is not None:
            proc.stdin.write(stdin_text.encode())
            proc.stdin.close()
        _pid, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - started
        timer.cancel()
        proc.returncode = os.waitstatus_to_exitcode(status)
        polled = poller.stop()
        if wall >= timeout:
            log.write(f"\nbenchmark: stopped after the {timeout:.0f} s time limit\n".encode())
    peak = max(usage.ru_maxrss * 1024, polled)
    # ru_maxrss is exact; the poll says when. A poll within 10% of the peak dates it well enough.
    peak_epoch = poller.peak_at if polled >= 0.9 * peak else 0.0
    text = log_path.read_text(encoding="utf-8", errors="replace")
    cpu = usage.ru_utime + usage.ru_stime
    return Child(proc.returncode, wall, cpu, peak, start_epoch, peak_epoch, text)


def _deepest_message(error) -> str:
    while error is not None and getattr(error, "cause", None) is not None:
        error = error.cause
    if error is None:
        return "unknown error"
    message = (error.message or "").strip().splitlines()
    return message[0][:300] if message else error.cls_name or "unknown error"


def read_run(home: Path, result: RunResult, start_epoch: float, peak_epoch: float) -> None:
    """Fill in step times, rows loaded, the error and the step at peak memory from the run's
    event log."""
    from dagster import DagsterEventType, DagsterInstance

    with DagsterInstance.from_config(str(home)) as instance:
        runs = instance.get_runs(limit=1)
        if not runs:
            return
        records = instance.all_logs(runs[0].run_id)
    if not records:
        return
    result.startup = records[0].timestamp - start_epoch
    starts: dict[str, float] = {}
    run_start = run_end = None
    failures = []
    for record in records:
        event = record.dagster_event
        if event is None:
            continue
        kind = event.event_type
        if kind == DagsterEventType.RUN_START:
            run_start = record.timestamp
        elif kind in (DagsterEventType.RUN_SUCCESS, DagsterEventType.RUN_FAILURE):
            run_end = record.timestamp
        elif kind == DagsterEventType.STEP_START:
            starts[event.step_key] = record.timestamp
            result.step_order.append(event.step_key)
        elif kind in (DagsterEventType.STEP_SUCCESS, DagsterEventType.STEP_FAILURE):
            if event.step_key in starts:
                result.steps[event.step_key] = record.timestamp - starts[event.step_key]
                if starts[event.step_key] <= peak_epoch <= record.timestamp:
                    result.peak_step = event.step_key
            if kind == DagsterEventType.STEP_FAILURE:
                failures.append(
                    f"{event.step_key}: {_deepest_message(event.step_failure_data.error)}"
                )
        elif kind == DagsterEventType.ASSET_MATERIALIZATION:
            materialization = event.event_specific_data.materialization
            name = materialization.asset_key.to_user_string()
            if name.startswith("staging_"):
                meta = {k: v.value for k, v in materialization.metadata.items()}
                if "rows_added" in meta:
                    result.loaded[name] = int(meta["rows_added"]) + int(meta.get("rows_changed", 0))
    if run_start is not None and run_end is not None:
        result.run_seconds = run_end - run_start
    if failures and not result.error:
        result.error = "; ".join(failures)


def materialize(
    label: str,
    engine_env: dict[str, str],
    lake: Path,
    work: Path,
    *,
    module: str = MODULE,
    extra_env: dict[str, str] | None = None,
    chunk_bytes: int | None = None,
    profile_to: Path | None = None,
    select: str = "*",
) -> RunResult:
    """One `dagster asset materialize --select '*'` in a child process, measured."""
    home = work / f"home-{uuid.uuid4().hex[:8]}"
    home.mkdir(parents=True)
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    env = clean_env(
        {
            **engine_env,
            **(extra_env or {}),
            "SPARKIFY_LAKE": str(lake),
            "DAGSTER_HOME": str(home),
        }
    )
    args = ["asset", "materialize", "-m", module, "--select", select]
    if chunk_bytes is not None:
        env["SPARKIFY_BENCH_CHUNK_BYTES"] = str(chunk_bytes)
        cmd = [sys.executable, "-c", PATCHED_CLI, *args]
    else:
        cmd = [str(BIN / "dagster"), *args]
    if profile_to is not None:
        py_spy = shutil.which("py-spy") or str(BIN / "py-spy")
        cmd = [py_spy, "record", "--format", "raw", "--rate", "50", "--idle", "-o"]
        cmd += [
            str(profile_to),
            "--",
            *([sys.executable, "-c", PATCHED_CLI] if chunk_bytes else [str(BIN / "dagster")]),
            *args,
        ]
    log_path = work / f"{label.replace(' ', '_').replace('/', '_')}-{home.name}.log"
    child = spawn(cmd, env, log_path)
    code = child.code
    result = RunResult(
        label, code == 0, child.wall, child.cpu, child.peak, diagnostic=chunk_bytes is not None
    )
    try:
        read_run(home, result, child.start_epoch, child.peak_epoch)
    except Exception as exc:  # the figures above still stand
        result.error = result.error or f"could not read the run's event log: {exc}"
    if code != 0 and not result.error:
        tail = [line for line in child.text.strip().splitlines() if line.strip()][-3:]
        result.error = " | ".join(tail)[-400:] or f"exit code {code}"
    if code == 0:
        log_path.unlink(missing_ok=True)
    else:  # kept for reading: the work folder goes at the end of the benchmark
        kept = OUT / "logs" / log_path.name
        kept.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(log_path, kept)
        result.error = (result.error or "") + f" (log: {kept.relative_to(ROOT)})"
    shutil.rmtree(home, ignore_errors=True)
    return result


# --- references --------------------------------------------------------------------------------


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


# --- profiles ----------------------------------------------------------------------------------


@dataclass
class Profile:
    title: str
    path: Path
    samples: int
    phases: list[tuple[str, float]]
    project: list[tuple[str, float]]
    leaves: list[tuple[str, float]]


def _short(frame: str) -> str:
    return frame.replace("sparkify_assets/", "")


def summarize_profile(title: str, path: Path) -> Profile:
    """Where the samples of a py-spy raw profile went: by phase, by project call site, by leaf."""
    phases: collections.Counter[str] = collections.Counter()
    project: collections.Counter[str] = collections.Counter()
    leaves: collections.Counter[str] = collections.Counter()
    total = 0
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        n = int(count)
        total += n
        frames = stack.split(";")
        mine = [f for f in frames if "sparkify_assets/" in f and "(<" not in f]
        steps = [f for f in mine if "/assets/" in f or "checks.py" in f]
        if any("_bootstrap" in f for f in frames):
            phase = "imports (loading the code)"
        elif steps:
            phase = "step: " + steps[0].split(" (")[0].replace(
                "_table_checks.<locals>.table_checks", "asset checks"
            )
        elif any("create_run" in f for f in frames):
            phase = "dagster: creating the run (planned events)"
        elif any("execute_plan" in f or "inner_plan_execution" in f for f in frames):
            phase = "dagster: between steps (events, storage)"
        else:
            phase = "dagster CLI (other)"
        phases[phase] += n
        if mine:
            inner = " → ".join(_short(f) for f in mine[-2:])
            project[f"[{phase}] {inner}"] += n
        leaves[frames[-1] or "(native code or idle)"] += n
    if not total:
        return Profile(title, path, 0, [], [], [])

    def top(counter, k):
        return [(name, n / total) for name, n in counter.most_common(k)]

    return Profile(title, path, total, top(phases, 12), top(project, 10), top(leaves, 8))


def git(*args: str) -> str:
    """A read-only git command's output ('' when git is not there)."""
    try:
        return subprocess.run(
            ["git", "--no-optional-locks", *args],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=30,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def code_fingerprint() -> str:
    """A digest of the project's code and SQL as they are on disk (path, size, mtime)."""
    digest = hashlib.sha1()
    for folder, pattern in ((ROOT / "sparkify_assets", "*.py"), (ROOT / "sql", "*")):
        for path in sorted(folder.rglob(pattern)):
            if path.is_file() and "__pycache__" not in path.parts:
                stat = path.stat()
                digest.update(f"{path}:{stat.st_size}:{stat.st_mtime_ns}".encode())
    return digest.hexdigest()


def cpu_pressure_total() -> tuple[float, int] | None:
    """(now, microseconds some task waited for a CPU) from Linux PSI, when the kernel has it."""
    try:
        for line in Path("/proc/pressure/cpu").read_text().splitlines():
            if line.startswith("some"):
                return time.monotonic(), int(line.rsplit("total=", 1)[1])
    except (OSError, ValueError, IndexError):
        return None
    return None


# --- the report --------------------------------------------------------------------------------


def median(values: Iterable[float | None]) -> float | None:
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def ratio_text(runs: list, reference: list, pick: Callable) -> str:
    """'a s vs b s = r x' for the medians of `pick` over the successful runs of each side."""
    a = median(pick(r) for r in runs if r.ok)
    b = median(pick(r) for r in reference if r.ok)
    if not a or not b:
        return "–"
    return f"{fmt_s(a)} s vs {fmt_s(b)} s = {a / b:.2f}x"


def fmt_s(value: float | None) -> str:
    return "–" if value is None else (f"{value:.2f}" if value < 10 else f"{value:.1f}")


def fmt_rate(value: float | None) -> str:
    return "–" if value is None else f"{value:,.0f}"


def fmt_mb(value: float | None) -> str:
    return "–" if value is None else f"{value / MB:,.0f}"


def fmt_peak(runs: list) -> str:
    """The highest peak of `runs` in MB, with the step it happened in when known."""
    if not runs:
        return "–"
    top = max(runs, key=lambda r: r.peak_bytes)
    return fmt_mb(top.peak_bytes) + (f" ({top.peak_step})" if top.peak_step else "")


def peak_text(run) -> str:
    """'1,473 MB = 1.54 GB (in staging_events)'."""
    where = f" (in {run.peak_step})" if run.peak_step else ""
    return f"{run.peak_bytes / MB:,.0f} MB = {run.peak_bytes / 1e9:.2f} GB{where}"


def fmt_ratio(value: float | None) -> str:
    return "–" if value is None else f"{value:.2f}"


def table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(str(c).replace("|", "\\|") for c in row) + " |" for row in rows]
    return "\n".join(lines)


@dataclass
class Target:
    number: int
    title: str
    goal: str
    measured: str = "not run"
    reference: str = "–"
    ratio: float | None = None
    verdict: str = "NOT RUN"
    note: str = ""
    profile: Profile | None = None


@dataclass
class SizeResult:
    engine: str
    spec: LakeSpec
    runs: list[RunResult]
    ref_rates: list[float] = field(default_factory=list)  # events: bare reference rows/s
    ref_peak: int | None = None
    diagnostic: RunResult | None = None

    @property
    def ok_runs(self) -> list[RunResult]:
        return [r for r in self.runs if r.ok]

    def figure(self, pick: Callable[[RunResult], float | None]) -> float | None:
        return median(pick(r) for r in self.ok_runs)


class Bench:
    def __init__(self, args: argparse.Namespace):
        self.args = args
        self.quick = args.quick
        self.reps = args.reps or (1 if self.quick else 3)
        self.started = datetime.now(UTC)
        self.work = OUT / "work" / self.started.strftime("%Y%m%dT%H%M%S")
        self.work.mkdir(parents=True, exist_ok=True)
        self.duck = DuckDBEngine(self.work)
        self.pg: PostgresEngine | None = None
        self.notes: list[str] = []
        self.targets: dict[int, Target] = {}
        self.sizes: list[SizeResult] = []
        self.scale: SizeResult | None = None
        self.incremental: dict[str, dict] = {}
        self.overhead: dict[str, list[RunResult]] = {"graph": [], "trivial": []}
        self.tiny: dict = {}
        self.profiles: list[Profile] = []
        self.diagnostic_profiles: dict[tuple[str, LakeSpec], Profile] = {}
        self.load_before = os.getloadavg()
        self.pressure_before = cpu_pressure_total()
        self.code_start, self.code_print = self.code_version(), code_fingerprint()
        self.plan()

    # The sizes of each mode -------------------------------------------------------------------

    def plan(self) -> None:
        if self.quick:
            self.size_specs = [LakeSpec("10k-events", 1_000, 200, 10, 1_000)]
            self.scale_spec = LakeSpec("year-36k-events", 1_000, 200, 365, 100)
            self.pg_year_spec = self.scale_spec
            self.overhead_pairs = 2
        else:
            self.size_specs = [
                LakeSpec("10k-events", 1_000, 200, 10, 1_000),
                LakeSpec("100k-events", 5_000, 1_000, 20, 5_000),
                LakeSpec("1M-events", 15_000, 5_000, 40, 25_000),
            ]
            # A year of 27,398 events a day: the 10M-event scale lake is the incremental year.
            self.scale_spec = LakeSpec("10M-events-year", 100_000, 10_000, 365, 27_398)
            # PostgreSQL's incremental year is smaller: loading 10M rows into it for each
            # repetition would not fit the time budget.
            self.pg_year_spec = LakeSpec("1M-events-year", 15_000, 5_000, 365, 2_740)
            self.overhead_pairs = 5
        self.tiny_spec = self.size_specs[-1]  # its song_data: 15,000 one-object files (full)

    def log(self, message: str) -> None:
        stamp = time.strftime("%H:%M:%S")
        print(f"[{stamp}] {message}", flush=True)

    def describe(self, result: RunResult) -> str:
        status = "ok" if result.ok else f"FAILED: {result.error}"
        return (
            f"  {result.label}: {result.wall:.1f} s wall, {result.cpu:.1f} s CPU, "
            f"peak {result.peak_bytes / MB:,.0f} MB"
            + (f" (in {result.peak_step})" if result.peak_step else "")
            + f", {status}"
        )

    def run(self, label, engine, handle, lake, **kwargs) -> RunResult:
        result = materialize(label, engine.env(handle), lake, self.work, **kwargs)
        self.log(self.describe(result))
        return result

    # Setup --------------------------------------------------------------------------------------

    def setup_postgres(self) -> None:
        if "postgres" not in self.args.engines:
            return
        pg = PostgresEngine(
            os.environ.get("SPARKIFY_BENCH_DB_HOST", "127.0.0.1"),
            int(os.environ.get("SPARKIFY_BENCH_DB_PORT", "5432")),
            os.environ.get("SPARKIFY_BENCH_DB_USER", "sparkify"),
            os.environ.get("SPARKIFY_BENCH_DB_PASSWORD", "sparkify"),
        )
        try:
            pg.drop_leftovers()
            self.pg_version = pg.server_version()
            self.pg = pg
        except Exception as exc:
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            self.notes.append(f"PostgreSQL skipped: no server at {pg.host}:{pg.port} ({reason}).")
            self.log(self.notes[-1])

    def engines(self) -> list:
        return [self.duck] + ([self.pg] if self.pg else [])

    def all_assets_but(self, excluded: str) -> str:
        from sparkify_assets.definitions import defs

        keys = [
            spec.key.to_user_string() for assets_def in defs.assets for spec in assets_def.specs
        ]
        return ",".join(k for k in keys if k != excluded)

    def write_shape(self) -> Path:
        """The shape of the project's graph, for the trivial graph to copy."""
        from sparkify_assets.definitions import defs

        shape = {"assets": [], "checks": []}
        for assets_def in defs.assets:
            for spec in assets_def.specs:
                shape["assets"].append(
                    {
                        "name": spec.key.to_user_string(),
                        "deps": [d.asset_key.to_user_string() for d in spec.deps],
                        "group": spec.group_name,
                        "kinds": sorted(spec.kinds),
                    }
                )
        for checks_def in defs.asset_checks:
            shape["checks"].append(
                {
                    "name": checks_def.node_def.name,
                    "can_subset": bool(getattr(checks_def, "can_subset", True)),
                    "specs": [
                        {
                            "name": s.name,
                            "asset": s.asset_key.to_user_string(),
                            "blocking": s.blocking,
                        }
                        for s in checks_def.check_specs
                    ],
                }
            )
        path = self.work / "graph_shape.json"
        path.write_text(json.dumps(shape, indent=1))
        return path

    # Target 3: overhead -----------------------------------------------------------------------

    def bench_overhead(self) -> None:
        self.log(
            f"overhead: the graph on the shipped sample vs a trivial graph, "
            f"{self.overhead_pairs} pairs, alternating"
        )
        shape = self.write_shape()
        for i in range(self.overhead_pairs):
            order = ("graph", "trivial") if i % 2 == 0 else ("trivial", "graph")
            for which in order:
                if which == "graph":
                    handle = self.duck.fresh()
                    result = self.run("sample graph", self.duck, handle, SAMPLE_LAKE)
                    self.duck.drop(handle)
                else:
                    result = materialize(
                        "trivial graph",
                        {},
                        SAMPLE_LAKE,
                        self.work,
                        module=TRIVIAL_MODULE,
                        extra_env={"SPARKIFY_BENCH_SHAPE": str(shape)},
                    )
                    self.log(self.describe(result))
                self.overhead[which].append(result)

    # Targets 1, 2, 6: loads by engine and size --------------------------------------------------

    def bench_sizes(self) -> None:
        for spec in self.size_specs:
            lake = ensure_lake(spec, self.log)
            event_files = files_under(lake / "log_data")
            for engine in self.engines():
                self.log(f"{engine.name}, {spec.name}: {self.reps} materialization(s)")
                result = SizeResult(engine.name, spec, [])
                keep = None  # a PostgreSQL database with the staged rows, for the bare COPY
                for rep in range(self.reps):
                    handle = engine.fresh()
                    run = self.run(f"{engine.name} {spec.name} #{rep + 1}", engine, handle, lake)
                    result.runs.append(run)
                    if engine is self.pg and run.ok and keep is None:
                        keep = handle
                    else:
                        engine.drop(handle)
                if not result.ok_runs:
                    largest = spec == self.size_specs[-1]
                    result.diagnostic, handle = self.diagnose(engine, spec, lake, largest)
                    if engine is self.pg and result.diagnostic.ok:
                        keep = handle
                    else:
                        engine.drop(handle)
                if engine is self.duck:
                    for _ in range(self.reps):
                        seconds, rows, peak = bare_read_json(event_files, self.work)
                        result.ref_rates.append(rows / seconds)
                        result.ref_peak = max(result.ref_peak or 0, peak)
                    self.log(f"  bare read_json: {median(result.ref_rates):,.0f} rows/s")
                elif keep is not None:
                    result.ref_rates = bare_copy(
                        self.pg, keep, "staging_events", self.work, self.reps
                    )
                    self.log(f"  bare COPY: {median(result.ref_rates):,.0f} rows/s")
                if keep is not None:
                    engine.drop(keep)
                self.sizes.append(result)

    def diagnose(
        self, engine, spec: LakeSpec, lake: Path, profile: bool = False
    ) -> tuple[RunResult, str]:
        """Rerun a load that failed as shipped, once, with the staging chunk shrunk; return the
        run and its warehouse (the caller drops or keeps it). With `profile`, the rerun is also
        the profile of its target (py-spy at 50 Hz costs a few per cent)."""
        handle = engine.fresh()
        self.log(f"  diagnostic: again with staging chunks of {DIAGNOSTIC_CHUNK_BYTES // MB} MB")
        title = f"{engine.name}, {spec.name} (diagnostic chunk size)"
        path = self.profile_path(title) if profile and self.can_profile() else None
        run = self.run(
            f"{engine.name} {spec.name} diagnostic" + (" (under py-spy)" if path else ""),
            engine,
            handle,
            lake,
            chunk_bytes=DIAGNOSTIC_CHUNK_BYTES,
            profile_to=path,
        )
        if path is not None and path.exists():
            self.diagnostic_profiles[(engine.name, spec)] = summarize_profile(title, path)
        return run, handle

    # Target 4: scale ----------------------------------------------------------------------------

    def bench_scale(self) -> str | None:
        """The scale lake end to end on DuckDB; returns a warehouse holding it (the year)."""
        spec = self.scale_spec
        lake = ensure_lake(spec, self.log)
        self.log(f"scale: {spec.name} ({spec.events:,} events, {spec.songs:,} songs) on DuckDB")
        result = SizeResult("duckdb", spec, [])
        year = None
        reps = 1 if not self.quick and spec.events >= 5_000_000 else self.reps
        for rep in range(reps):
            handle = self.duck.fresh()
            run = self.run(f"duckdb {spec.name} #{rep + 1}", self.duck, handle, lake)
            result.runs.append(run)
            if run.ok and year is None:
                year = handle
            else:
                self.duck.drop(handle)
        if year is None:
            result.diagnostic, handle = self.diagnose(self.duck, spec, lake)
            if result.diagnostic.ok:
                year = handle
            else:
                self.duck.drop(handle)
        event_files = files_under(lake / "log_data")
        ref_reps = 1 if spec.events >= 5_000_000 else self.reps
        for _ in range(ref_reps):
            seconds, rows, peak = bare_read_json(event_files, self.work)
            result.ref_rates.append(rows / seconds)
            result.ref_peak = max(result.ref_peak or 0, peak)
        self.log(f"  bare read_json: {median(result.ref_rates):,.0f} rows/s")
        self.scale = result
        return year

    # Target 5: incremental ------------------------------------------------------------------------

    def bench_incremental(self, engine, year_spec: LakeSpec, year_base: str | None) -> None:
        """The day after the year, into (a) a warehouse holding only the catalogue and (b) one
        holding the year. Both start from a saved state, cloned for each repetition."""
        year_lake = ensure_lake(year_spec, self.log)
        day_lake = ensure_lake(year_spec.next_day(), self.log)
        work = self.work / f"lakes-{engine.name}"
        songs_only = compose_lake(work / "songs-only", [(year_lake, "song_data")])
        empty_plus_day = compose_lake(
            work / "songs-plus-day", [(year_lake, "song_data"), (day_lake, "log_data")]
        )
        year_plus_day = compose_lake(
            work / "year-plus-day", [(year_lake, "song_data"), (year_lake, "log_data")]
        )
        link_tree(day_lake / "log_data", year_plus_day / "log_data")
        entry: dict = {"spec": year_spec, "setup": [], "empty": [], "year": []}
        self.incremental[engine.name] = entry
        self.log(f"incremental on {engine.name}: year = {year_spec.name}")
        if year_base is None:
            handle = engine.fresh()
            run = self.run(f"{engine.name} year setup", engine, handle, year_lake)
            entry["setup"].append(run)
            if not run.ok:
                engine.drop(handle)
                run, handle = self.diagnose(engine, year_spec, year_lake)
                entry["setup"].append(run)
                if not run.ok:
                    engine.drop(handle)
                    handle = None
            year_base = handle
        if year_base is None:
            entry["error"] = "the year could not be loaded, so there is nothing to add a day to"
            return
        # The catalogue state: every asset but staging_events (the project refuses a lake without
        # log_data/), so that the star tables' watermarks already include the catalogue and the
        # timed run takes in the new day only, as in (b).
        songs_base = engine.fresh()
        entry["setup"].append(
            self.run(
                f"{engine.name} catalogue setup",
                engine,
                songs_base,
                songs_only,
                select=self.all_assets_but("staging_events"),
            )
        )
        for rep in range(self.reps):
            for scenario, base, lake in (
                ("empty", songs_base, empty_plus_day),
                ("year", year_base, year_plus_day),
            ):
                handle = engine.clone(base)
                label = f"{engine.name} day into {scenario} #{rep + 1}"
                entry[scenario].append(self.run(label, engine, handle, lake))
                engine.drop(handle)
        entry["bases"] = (songs_base, year_base)
        entry["lakes"] = (empty_plus_day, year_plus_day)

    def release_incremental(self) -> None:
        for name, entry in self.incremental.items():
            engine = self.duck if name == "duckdb" else self.pg
            for base in entry.get("bases", ()):
                engine.drop(base)

    # Target 6: many tiny files ------------------------------------------------------------------

    def bench_tiny(self) -> None:
        lake = ensure_lake(self.tiny_spec, self.log)
        files = files_under(lake / "song_data")
        rates, peaks = [], []
        for _ in range(self.reps):
            seconds, rows, peak = bare_read_json(files, self.work)
            rates.append(rows / seconds)
            peaks.append(peak)
        self.tiny = {"files": len(files), "ref_rates": rates}
        self.log(
            f"many tiny files: bare read_json of {len(files):,} song files: "
            f"{median(rates):,.1f} rows/s"
        )

    # Profiles -----------------------------------------------------------------------------------

    def can_profile(self) -> bool:
        return bool(self.args.profile and (shutil.which("py-spy") or (BIN / "py-spy").exists()))

    def profile_path(self, title: str) -> Path:
        name = "".join(c if c.isalnum() or c in "-." else "_" for c in title)
        path = OUT / "profiles" / f"{name}.txt"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.unlink(missing_ok=True)
        return path

    def profile(
        self,
        title: str,
        engine,
        lake: Path,
        base: str | None = None,
        chunk_bytes: int | None = None,
    ) -> Profile | None:
        """An extra, untimed run of a load under py-spy, summarized."""
        if not self.can_profile():
            return None
        handle = engine.clone(base) if base else engine.fresh()
        path = self.profile_path(title)
        self.log(f"profiling (py-spy): {title}")
        run = materialize(
            title, engine.env(handle), lake, self.work, chunk_bytes=chunk_bytes, profile_to=path
        )
        engine.drop(handle)
        if not path.exists():
            self.log(f"  no profile written ({run.error})")
            return None
        summary = summarize_profile(title, path)
        self.profiles.append(summary)
        return summary

    def profile_misses(self) -> None:
        """A py-spy profile for each missed target, of the load that target measures."""
        if not self.can_profile():
            return
        t = self.targets
        largest = self.size_specs[-1]

        def staging_profile(engine, numbers: str) -> Profile | None:
            known = self.diagnostic_profiles.get((engine.name, largest))
            if known is not None:  # the diagnostic rerun was profiled already
                known.title = f"target {numbers}: {known.title}"
                self.profiles.append(known)
                return known
            return self.profile(
                f"target {numbers}: {engine.name}, {largest.name}",
                engine,
                ensure_lake(largest, self.log),
            )

        if t[1].verdict == "MISS" or t[6].verdict == "MISS":
            t[1].profile = staging_profile(self.duck, "1 and 6")
        if self.pg and t[2].verdict == "MISS":
            t[2].profile = staging_profile(self.pg, "2")
        if t[3].verdict == "MISS":
            t[3].profile = self.profile(
                "target 3: the graph on the sample lake, duckdb", self.duck, SAMPLE_LAKE
            )
        entry = self.incremental.get("duckdb")
        if t[5].verdict == "MISS" and entry and entry.get("bases"):
            t[5].profile = self.profile(
                f"target 5: the new day into the year ({entry['spec'].name}), duckdb",
                self.duck,
                entry["lakes"][1],
                base=entry["bases"][1],
            )
            self.profile(
                "target 5: the new day into the catalogue-only warehouse, duckdb",
                self.duck,
                entry["lakes"][0],
                base=entry["bases"][0],
            )

    # Verdicts -----------------------------------------------------------------------------------

    def judge(self) -> None:
        t = self.targets
        largest = self.size_specs[-1]

        def staging_target(number, engine, title, goal, ref_name):
            target = Target(number, title, goal)
            t[number] = target
            found = [s for s in self.sizes if s.engine == engine and s.spec == largest]
            if not found:
                return
            size = found[0]
            ref = median(size.ref_rates)
            target.reference = f"{fmt_rate(ref)} rows/s ({ref_name}, {largest.events:,} events)"
            if size.ok_runs:
                rate = size.figure(lambda r: r.rate("staging_events"))
                target.measured = f"{fmt_rate(rate)} rows/s"
                target.ratio = rate / ref if rate and ref else None
                target.verdict = "PASS" if target.ratio and target.ratio >= 0.5 else "MISS"
                if target.verdict == "MISS":
                    target.note = (
                        f"{target.ratio:.2f}x the reference: needs {0.5 / target.ratio:.1f}x "
                        "faster staging to reach 0.5x."
                    )
            else:
                target.measured = "failed: " + (size.runs[0].error or "?")
                target.verdict = "MISS"
                diag = size.diagnostic
                if diag is not None and diag.ok and ref:
                    rate = diag.rate("staging_events")
                    ratio = rate / ref if rate else None
                    target.note = (
                        "As shipped the load fails. Diagnostic rerun with "
                        f"{DIAGNOSTIC_CHUNK_BYTES // MB} MB staging chunks: {fmt_rate(rate)} "
                        f"rows/s = {fmt_ratio(ratio)}x the reference."
                    )
                    target.ratio = None

        staging_target(1, "duckdb", "DuckDB staging vs bare read_json", ">= 0.5x", "bare read_json")
        self.judge_staging_at_scale(t[1])
        if self.pg:
            staging_target(
                2, "postgres", "PostgreSQL staging vs bare COPY FROM STDIN", ">= 0.5x", "bare COPY"
            )
        else:
            t[2] = Target(
                2,
                "PostgreSQL staging vs bare COPY FROM STDIN",
                ">= 0.5x",
                note="no PostgreSQL server",
            )

        # 3. overhead
        target = Target(3, "whole graph on the sample vs trivial graph of the same shape", "<= 2x")
        t[3] = target
        graph = median(r.wall for r in self.overhead["graph"] if r.ok)
        trivial = median(r.wall for r in self.overhead["trivial"] if r.ok)
        if graph and trivial:
            target.measured = f"{graph:.2f} s wall (median of {len(self.overhead['graph'])})"
            target.reference = f"{trivial:.2f} s wall (median of {len(self.overhead['trivial'])})"
            target.ratio = graph / trivial
            target.verdict = "PASS" if target.ratio <= 2 else "MISS"
            run_g = median(r.run_seconds for r in self.overhead["graph"] if r.ok)
            run_t = median(r.run_seconds for r in self.overhead["trivial"] if r.ok)
            start_g = median(r.startup for r in self.overhead["graph"] if r.ok)
            start_t = median(r.startup for r in self.overhead["trivial"] if r.ok)
            target.note = (
                f"start-up (process start to first event) {fmt_s(start_g)} s vs "
                f"{fmt_s(start_t)} s; "
                f"run (RUN_START to RUN_SUCCESS) {fmt_s(run_g)} s vs {fmt_s(run_t)} s"
                + (f" = {run_g / run_t:.2f}x" if run_g and run_t else "")
                + "; CPU "
                + ratio_text(self.overhead["graph"], self.overhead["trivial"], lambda r: r.cpu)
                + "."
            )

        # 4. scale
        spec = self.scale_spec
        target = Target(
            4, f"{spec.events:,} events, {spec.songs:,} songs end to end on DuckDB", "peak < 1.5 GB"
        )
        t[4] = target
        if self.scale:
            ok = self.scale.ok_runs
            target.reference = f"bare read_json {fmt_rate(median(self.scale.ref_rates))} rows/s"
            if ok:
                wall = median(r.wall for r in ok)
                peak = max(r.peak_bytes for r in ok)
                top = max(ok, key=lambda r: r.peak_bytes)
                target.measured = f"{wall:.0f} s wall, peak {peak_text(top)}"
                target.ratio = peak / PEAK_MEMORY_LIMIT
                target.verdict = "PASS" if peak < PEAK_MEMORY_LIMIT else "MISS"
            else:
                run = self.scale.runs[0]
                target.measured = (
                    f"failed after {run.wall:.0f} s (peak {run.peak_bytes / MB:,.0f} MB): "
                    f"{run.error}"
                )
                target.verdict = "MISS"
                diag = self.scale.diagnostic
                if diag is not None:
                    target.note = (
                        f"Diagnostic rerun with {DIAGNOSTIC_CHUNK_BYTES // MB} MB staging chunks: "
                        + (
                            f"{diag.wall:.0f} s wall, peak {peak_text(diag)}, "
                            + ("under" if diag.peak_bytes < PEAK_MEMORY_LIMIT else "over")
                            + " the 1.5 GB limit"
                            if diag.ok
                            else f"failed too: {diag.error}"
                        )
                        + "."
                    )
            if self.quick:
                target.note = (
                    target.note + " Quick mode: a small lake, not the target's size."
                ).strip()

        # 5. incremental
        target = Target(
            5, "one new day into a warehouse holding a year vs into an empty one", "<= 1.5x"
        )
        t[5] = target
        entry = self.incremental.get("duckdb")
        if entry and entry["empty"] and entry["year"]:
            empty = median(r.wall for r in entry["empty"] if r.ok)
            year = median(r.wall for r in entry["year"] if r.ok)
            if empty and year:
                target.measured = (
                    f"{year:.2f} s wall into the year ({entry['spec'].events:,} events)"
                )
                target.reference = f"{empty:.2f} s wall into an empty warehouse"
                target.ratio = year / empty
                target.verdict = "PASS" if target.ratio <= 1.5 else "MISS"
                steps_e = median(sum(r.steps.values()) for r in entry["empty"] if r.ok)
                steps_y = median(sum(r.steps.values()) for r in entry["year"] if r.ok)
                if steps_e and steps_y:
                    target.note = (
                        f"Time inside the steps only (no CLI start-up): {steps_y:.2f} s vs "
                        f"{steps_e:.2f} s = {steps_y / steps_e:.2f}x"
                        + (" (would miss 1.5x)" if steps_y / steps_e > 1.5 else "")
                        + "; CPU "
                        + ratio_text(entry["year"], entry["empty"], lambda r: r.cpu)
                        + "."
                    )
            else:
                target.measured = "failed"
                target.verdict = "MISS"
        elif entry and entry.get("error"):
            target.measured = entry["error"]
            target.verdict = "MISS"

        # 6. tiny files
        target = Target(
            6,
            f"{self.tiny.get('files', 0):,} one-object song files: staging vs bare read_json",
            ">= 0.5x",
        )
        t[6] = target
        found = [s for s in self.sizes if s.engine == "duckdb" and s.spec == self.tiny_spec]
        if found and self.tiny:
            size = found[0]
            ref = median(self.tiny["ref_rates"])
            runs = size.ok_runs or [r for r in size.runs if "staging_songs" in r.steps]
            if not runs and size.diagnostic:
                runs = [size.diagnostic]
            rate = median(r.rate("staging_songs") for r in runs)
            target.reference = f"{fmt_rate(ref)} rows/s (bare read_json)"
            if rate:
                target.measured = f"{fmt_rate(rate)} rows/s"
                target.ratio = rate / ref
                target.verdict = "PASS" if target.ratio >= 0.5 else "MISS"
        if self.quick:
            for number in (1, 2, 6):
                t[number].note = (t[number].note + " Quick mode: small sizes.").strip()

    def judge_staging_at_scale(self, target: Target) -> None:
        """Target 1 must hold as the log grows: the scale load (10M events) counts too, and the
        worse of the two ratios decides."""
        scale = self.scale
        if scale is None or not scale.ok_runs or scale.spec.events <= self.size_specs[-1].events:
            return
        rate = scale.figure(lambda r: r.rate("staging_events"))
        ref = median(scale.ref_rates)
        if not rate or not ref:
            return
        ratio = rate / ref
        if target.ratio is not None and ratio >= target.ratio:
            target.note = (
                target.note + f" At {scale.spec.events:,} events: {fmt_rate(rate)} rows/s vs "
                f"{fmt_rate(ref)} = {ratio:.2f}x."
            ).strip()
            return
        before = f" At {self.size_specs[-1].events:,} events: {target.measured}" + (
            f" vs {target.reference} = {fmt_ratio(target.ratio)}x." if target.ratio else "."
        )
        target.measured = f"{fmt_rate(rate)} rows/s ({scale.spec.events:,} events)"
        target.reference = f"{fmt_rate(ref)} rows/s (bare read_json, same files)"
        target.ratio = ratio
        if target.verdict != "MISS" or ratio < 0.5:
            target.verdict = "PASS" if ratio >= 0.5 else "MISS"
        target.note = (
            f"Judged at the larger of the two loads, where it is worse.{before} "
            + (f"Needs {0.5 / ratio:.1f}x faster staging to reach 0.5x." if ratio < 0.5 else "")
            + (" " + target.note if target.note else "")
        ).strip()

    # The report ----------------------------------------------------------------------------------

    def machine(self) -> list[list[str]]:
        import dagster
        import duckdb

        cpu = "?"
        with contextlib.suppress(OSError):
            for line in Path("/proc/cpuinfo").read_text().splitlines():
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
        ram = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
        rows = [
            ["cores", str(os.cpu_count())],
            ["RAM", f"{ram / 1024**3:.1f} GiB"],
            ["CPU", cpu],
            ["OS", f"{platform.system()} {platform.release()}"],
            ["Python", platform.python_version()],
            ["Dagster", dagster.__version__],
            ["DuckDB", duckdb.__version__],
            ["PostgreSQL", getattr(self, "pg_version", "not used")],
            [
                "CPU pressure during the run",
                self.pressure_text(),
            ],
            [
                "load average (1/5/15 min)",
                "before "
                + " / ".join(f"{x:.2f}" for x in self.load_before)
                + ", after "
                + " / ".join(f"{x:.2f}" for x in os.getloadavg()),
            ],
        ]
        return rows

    def pressure_text(self) -> str:
        before, after = self.pressure_before, cpu_pressure_total()
        if not before or not after or after[0] <= before[0]:
            return "not available"
        share = (after[1] - before[1]) / 1e6 / (after[0] - before[0])
        return (
            f"{share:.0%} of the time some task waited for a CPU (Linux PSI, cpu some): "
            "other work shared the machine; wall times are noisy, ratios less so"
        )

    def code_version(self) -> str:
        """The commit and the state of the working tree, now."""
        commit = git("rev-parse", "--short", "HEAD") or "unknown"
        status = git("status", "--porcelain", "--", "sparkify_assets", "sql", "pyproject.toml")
        changed = [line for line in status.splitlines() if line.strip()]
        return f"commit {commit}" + (
            f" with {len(changed)} uncommitted change(s) to the project's code" if changed else ""
        )

    def code_text(self) -> str:
        """Which code was measured; loud when it changed while the benchmark ran."""
        end_version, end_print = self.code_version(), code_fingerprint()
        if end_print == self.code_print:
            return f"{self.code_start} (unchanged during the run)"
        return (
            f"**the project's code changed while this ran** (at the start {self.code_start}; "
            f"at the end {end_version}). Runs measured whatever was on disk when they started, "
            "so figures mix versions: run it again on a quiet tree to compare versions."
        )

    def report(self, command: str, elapsed: float) -> str:
        out = []
        mode = "quick" if self.quick else "full"
        out.append("# Benchmarks\n")
        out.append(
            f"Written by `benchmarks/run.py` ({mode} run) on {self.started:%Y-%m-%d %H:%M} UTC in "
            f"{elapsed / 60:.0f} min; do not edit by hand, run it again. How it measures: "
            "[benchmarks/README.md](../benchmarks/README.md).\n"
        )
        out.append(f"Command: `{command}`  \nCode: {self.code_text()}\n")
        out.append("## Machine\n")
        out.append(table(["", ""], self.machine()) + "\n")
        out.append("## Targets\n")
        out.append(
            "Every figure is a median of the repetitions named, measured in this run; the ratio "
            "is measured / reference (for target 4: peak / 1.5 GB).\n"
        )
        rows = []
        for n in sorted(self.targets):
            tg = self.targets[n]
            rows.append(
                [
                    str(n),
                    tg.title,
                    tg.measured,
                    tg.reference,
                    fmt_ratio(tg.ratio),
                    tg.goal,
                    f"**{tg.verdict}**",
                ]
            )
        out.append(
            table(["#", "target", "measured", "reference", "ratio", "goal", "verdict"], rows) + "\n"
        )
        notes = [
            f"- **{n}.** {self.targets[n].note}"
            for n in sorted(self.targets)
            if self.targets[n].note
        ]
        if notes:
            out.append("\n".join(notes) + "\n")
        out.append(self.report_sizes())
        out.append(self.report_incremental())
        out.append(self.report_overhead())
        out.append(self.report_profiles())
        out.append("## Notes\n")
        notes = self.notes + [
            "Wall time is the CLI child process from start to exit; CPU is its user + system "
            "time. Peak memory is the child's `ru_maxrss` (from `wait4`), or the polled RSS of its "
            "process tree when larger. The PostgreSQL server's own memory is not in it.",
            "Staging rows/s = rows the staging asset loaded (its metadata) / its step time "
            "(STEP_START to STEP_SUCCESS in the run's event log), so it includes listing the lake, "
            "the manifest and the asset's metadata queries.",
            "References run in their own child process: DuckDB `CREATE TABLE t AS SELECT * FROM "
            "read_json([files], format='newline_delimited')` into a fresh database file with "
            "DuckDB's defaults; PostgreSQL: the staged rows exported as CSV, then a timed "
            "`COPY staging_copy FROM STDIN (FORMAT csv)` into a plain table "
            "`(LIKE staging_events)` "
            "in the same database, over the same kind of connection.",
            f"A load that fails as shipped is rerun once as a diagnostic with the project's "
            f"staging chunk (`chunk_bytes`) patched to {DIAGNOSTIC_CHUNK_BYTES // MB} MB in the "
            "child process; its figures are labelled *diagnostic* and never count for a PASS. "
            "The incremental benchmark starts from such a diagnostic load when the year does not "
            "load as shipped (the timed runs are always the unmodified CLI).",
            "Incremental: the states (catalogue only; catalogue and year) are loaded once, saved, "
            "and copied for each repetition (DuckDB file copy, PostgreSQL `CREATE DATABASE ... "
            "TEMPLATE`). The lakes are hard links to the generated files, so object versions "
            "(size and mtime) match the saved manifests and only the new day loads.",
        ]
        out.append("\n".join(f"- {n}" for n in notes) + "\n")
        return "\n".join(out)

    def report_sizes(self) -> str:
        out = ["## Loads by engine and size\n"]
        out.append(
            "A fresh warehouse each time, the whole graph through the CLI. `staging_events` rows/s "
            "against the reference (DuckDB: bare `read_json` of the same files; PostgreSQL: bare "
            "`COPY FROM STDIN` of the same rows).\n"
        )
        rows = []
        all_sizes = list(self.sizes) + ([self.scale] if self.scale else [])
        for size in all_sizes:
            runs = size.ok_runs
            ref = median(size.ref_rates)
            label = f"{size.spec.events:,} events / {size.spec.songs:,} songs"
            if runs:
                rate = size.figure(lambda r: r.rate("staging_events"))
                song_rate = size.figure(lambda r: r.rate("staging_songs"))
                rows.append(
                    [
                        size.engine,
                        label,
                        f"{len(runs)}/{len(size.runs)}",
                        fmt_s(size.figure(lambda r: r.wall)),
                        fmt_s(size.figure(lambda r: r.cpu)),
                        fmt_s(size.figure(lambda r: r.startup)),
                        fmt_s(size.figure(lambda r: r.steps.get("staging_events"))),
                        fmt_rate(rate),
                        fmt_rate(ref),
                        fmt_ratio(rate / ref if rate and ref else None),
                        fmt_rate(song_rate),
                        fmt_peak(runs),
                        "ok",
                    ]
                )
            else:
                first = size.runs[0]
                rows.append(
                    [
                        size.engine,
                        label,
                        f"0/{len(size.runs)}",
                        fmt_s(first.wall),
                        fmt_s(first.cpu),
                        fmt_s(first.startup),
                        fmt_s(first.steps.get("staging_events")),
                        "–",
                        fmt_rate(ref),
                        "–",
                        fmt_rate(first.rate("staging_songs")),
                        fmt_peak([first]),
                        f"FAILED: {first.error}",
                    ]
                )
            diag = size.diagnostic
            if diag is not None:
                rate = diag.rate("staging_events")
                rows.append(
                    [
                        size.engine,
                        label + " *(diagnostic)*",
                        "1" if diag.ok else "0/1",
                        fmt_s(diag.wall),
                        fmt_s(diag.cpu),
                        fmt_s(diag.startup),
                        fmt_s(diag.steps.get("staging_events")),
                        fmt_rate(rate),
                        fmt_rate(ref),
                        fmt_ratio(rate / ref if rate and ref else None),
                        fmt_rate(diag.rate("staging_songs")),
                        fmt_peak([diag]),
                        "ok" if diag.ok else f"FAILED: {diag.error}",
                    ]
                )
        out.append(
            table(
                [
                    "engine",
                    "lake",
                    "runs ok",
                    "wall s",
                    "CPU s",
                    "start-up s",
                    "staging_events s",
                    "events rows/s",
                    "reference rows/s",
                    "ratio",
                    "staging_songs rows/s",
                    "peak MB",
                    "status",
                ],
                rows,
            )
            + "\n"
        )
        out.append("### Time per asset (median seconds, STEP_START to STEP_SUCCESS)\n")
        columns, cells = [], {}
        for size in all_sizes:
            runs = size.ok_runs or (
                [size.diagnostic] if size.diagnostic and size.diagnostic.ok else size.runs[:1]
            )
            name = f"{size.engine} {size.spec.events:,}" + (
                " (diag.)" if runs and runs[0].diagnostic else ""
            )
            columns.append(name)
            for run in runs:
                for step in run.step_order:
                    cells.setdefault(step, {})
            for step in cells:
                cells[step][name] = median(r.steps.get(step) for r in runs)
        rows = [[step] + [fmt_s(cells[step].get(c)) for c in columns] for step in cells]
        rows.append(
            ["**sum of steps**"]
            + [fmt_s(sum(v for s in cells if (v := cells[s].get(c)) is not None)) for c in columns]
        )
        out.append(table(["step"] + columns, rows) + "\n")
        return "\n".join(out)

    def report_incremental(self) -> str:
        out = ["## Incremental day\n"]
        if not self.incremental:
            return "\n".join(out + ["Not run.\n"])
        out.append(
            "The day after the year (same catalogue, users and seed), loaded by the CLI into "
            "(a) a warehouse holding only the song catalogue and (b) one holding the year.\n"
        )
        rows, per_step = [], {}
        for engine_name, entry in self.incremental.items():
            spec = entry["spec"]
            for scenario, title in (("empty", "(a) catalogue only"), ("year", "(b) year")):
                runs = [r for r in entry.get(scenario, []) if r.ok]
                if not runs:
                    rows.append([engine_name, title, "–", "–", "–", "–", "–", "–", "FAILED"])
                    continue
                rows.append(
                    [
                        engine_name,
                        title + (f", {spec.events:,} events" if scenario == "year" else ""),
                        f"{len(runs)}/{len(entry[scenario])}",
                        fmt_s(median(r.wall for r in runs)),
                        fmt_s(median(r.cpu for r in runs)),
                        fmt_s(median(sum(r.steps.values()) for r in runs)),
                        fmt_rate(median(r.rate("staging_events") for r in runs)),
                        fmt_peak(runs),
                        "ok",
                    ]
                )
                name = f"{engine_name} {scenario}"
                per_step[name] = {
                    s: median(r.steps.get(s) for r in runs) for s in runs[0].step_order
                }
            empty = median(r.wall for r in entry.get("empty", []) if r.ok)
            year = median(r.wall for r in entry.get("year", []) if r.ok)
            if empty and year:
                rows.append(
                    [
                        engine_name,
                        "**ratio (b)/(a)**",
                        "",
                        f"**{year / empty:.2f}**",
                        "",
                        "",
                        "",
                        "",
                        "",
                    ]
                )
            for run in entry.get("setup", []):
                self.notes.append(
                    f"Incremental setup on {engine_name}, {run.label}: {run.wall:.0f} s, peak "
                    f"{run.peak_bytes / MB:,.0f} MB, "
                    + ("ok" if run.ok else f"failed: {run.error}")
                    + (" (diagnostic chunk size)" if run.diagnostic else "")
                    + "."
                )
        out.append(
            table(
                [
                    "engine",
                    "warehouse before",
                    "runs ok",
                    "wall s",
                    "CPU s",
                    "sum of steps s",
                    "events rows/s",
                    "peak MB",
                    "status",
                ],
                rows,
            )
            + "\n"
        )
        if per_step:
            steps = list(dict.fromkeys(s for d in per_step.values() for s in d))
            out.append("### Time per asset (median seconds)\n")
            out.append(
                table(
                    ["step"] + list(per_step),
                    [[s] + [fmt_s(per_step[c].get(s)) for c in per_step] for s in steps],
                )
                + "\n"
            )
        return "\n".join(out)

    def report_overhead(self) -> str:
        out = ["## Overhead: the sample graph vs a trivial graph\n"]
        graph = [r for r in self.overhead["graph"] if r.ok]
        trivial = [r for r in self.overhead["trivial"] if r.ok]
        if not graph or not trivial:
            return "\n".join(out + ["Not run, or failed.\n"])
        out.append(
            "Same asset names, dependencies, checks and executor (`in_process_executor`); the "
            "trivial bodies return at once (`benchmarks/trivial_graph.py`). Runs alternate.\n"
        )
        rows = []
        for name, runs in (
            ("sparkify graph, sample lake, DuckDB", graph),
            ("trivial graph", trivial),
        ):
            rows.append(
                [
                    name,
                    str(len(runs)),
                    fmt_s(median(r.wall for r in runs)),
                    f"{fmt_s(min(r.wall for r in runs))}–{fmt_s(max(r.wall for r in runs))}",
                    fmt_s(median(r.cpu for r in runs)),
                    fmt_s(median(r.startup for r in runs)),
                    fmt_s(median(r.run_seconds for r in runs)),
                    fmt_s(median(sum(r.steps.values()) for r in runs)),
                    fmt_peak(runs),
                ]
            )
        out.append(
            table(
                [
                    "graph",
                    "runs",
                    "wall s",
                    "wall range",
                    "CPU s",
                    "start-up s",
                    "run s",
                    "sum of steps s",
                    "peak MB",
                ],
                rows,
            )
            + "\n"
        )
        steps = list(dict.fromkeys(s for r in graph for s in r.step_order))
        out.append("### Time per step (median seconds)\n")
        out.append(
            table(
                ["step", "sparkify", "trivial"],
                [
                    [
                        s,
                        fmt_s(median(r.steps.get(s) for r in graph)),
                        fmt_s(median(r.steps.get(s) for r in trivial)),
                    ]
                    for s in steps
                ],
            )
            + "\n"
        )
        return "\n".join(out)

    def report_profiles(self) -> str:
        if not self.profiles:
            return ""
        out = ["## Where the time goes (py-spy profiles)\n"]
        out.append(
            "One extra run per missed target under `py-spy record --idle --rate 50` (idle time "
            "included, so time waiting on PostgreSQL shows). Raw stacks: "
            "`benchmarks/out/profiles/`.\n"
        )
        for prof in self.profiles:
            out.append(f"### {prof.title} ({prof.samples:,} samples)\n")
            out.append(table(["phase", "share"], [[p, f"{s:.0%}"] for p, s in prof.phases]) + "\n")
            if prof.project:
                out.append(
                    table(
                        ["innermost project frames", "share"],
                        [[f"`{p}`", f"{s:.0%}"] for p, s in prof.project],
                    )
                    + "\n"
                )
            out.append(
                table(
                    ["leaf frame (self time)", "share"],
                    [[f"`{p}`", f"{s:.0%}"] for p, s in prof.leaves],
                )
                + "\n"
            )
        return "\n".join(out)


# --- main --------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="benchmarks/run.py",
        description="Benchmark sparkify_assets against references measured in the same run.",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="small sizes, one repetition: a try-out in a few minutes",
    )
    parser.add_argument(
        "--engines",
        default="duckdb,postgres",
        help="comma-separated: duckdb and/or postgres (default both)",
    )
    parser.add_argument("--reps", type=int, help="repetitions per measurement (default 3, quick 1)")
    parser.add_argument(
        "--profile",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="py-spy profile of each missed target (default: on in the full run, off with --quick)",
    )
    parser.add_argument(
        "--doc",
        type=Path,
        help=f"where to write the report (default {DOC.relative_to(ROOT)}; "
        f"quick: {QUICK_DOC.relative_to(ROOT)})",
    )
    args = parser.parse_args(argv)
    if args.profile is None:
        args.profile = not args.quick
    args.engines = {e.strip() for e in args.engines.split(",") if e.strip()}
    if not args.engines <= {"duckdb", "postgres"} or "duckdb" not in args.engines:
        parser.error("--engines takes duckdb (always) and optionally postgres")
    command = "python benchmarks/run.py" + (
        " " + shlex.join(sys.argv[1:]) if argv is None and sys.argv[1:] else ""
    )
    started = time.perf_counter()
    bench = Bench(args)
    bench.log(f"work folder: {bench.work.relative_to(ROOT)}")
    bench.setup_postgres()
    try:
        bench.bench_overhead()
        bench.bench_sizes()
        bench.bench_tiny()
        year = bench.bench_scale()
        bench.bench_incremental(bench.duck, bench.scale_spec, year)
        if bench.pg and not args.quick:
            bench.bench_incremental(bench.pg, bench.pg_year_spec, None)
        bench.judge()
        bench.profile_misses()
    finally:
        bench.release_incremental()
    text = bench.report(command, time.perf_counter() - started)
    doc = args.doc or (QUICK_DOC if args.quick else DOC)
    doc.parent.mkdir(parents=True, exist_ok=True)
    doc.write_text(text, encoding="utf-8")
    print("\n" + text)
    bench.log(f"report written to {doc}")
    shutil.rmtree(bench.work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
