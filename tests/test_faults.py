"""Faults on real components: a run killed mid-load, two runs at once. Nothing lost, nothing
doubled: afterwards every table equals what a clean run builds."""

import contextlib
import json
import os
import shutil
import signal
import subprocess
import time

import pytest
from dagster import AssetSpec, Backoff, materialize
from dagster._core.instance.config import dagster_instance_config

from sparkify_assets import sql_files
from sparkify_assets.checks import build_checks
from sparkify_assets.definitions import ALL_ASSETS, build_definitions
from sparkify_assets.resources.engines.base import WAREHOUSE_POOL, WarehouseUnavailable
from sparkify_assets.resources.engines.postgres import PostgresWarehouse
from sparkify_assets.resources.lake import Lake, LakeError
from tests.reference import compute
from tests.s3_server import latency_proxy
from tests.support import (
    ALL_TABLES,
    DAGSTER,
    EARLY_SONG,
    PRODUCTION_INSTANCE,
    STAR_TABLES,
    Relay,
    add_day,
    assert_matches_reference,
    cli_env,
    connect_to,
    free_port,
    held_by_another_process,
    in_order,
    kill_hard,
    output_of,
    paused_env,
    production_instance,
    read_table,
    run_graph,
    service_unavailable,
    song,
    start_cli,
    wait_for_blocked,
    wait_for_marker,
)


def test_killed_in_the_middle_of_a_staging_load_postgres(
    built_postgres, lake_dir, tmp_path, blocker
):
    changed = sorted((lake_dir / "log_data").rglob("*.json"))[0]
    changed_key = changed.relative_to(lake_dir).as_posix()
    first_line = changed.read_text(encoding="utf-8").splitlines()[0]
    changed.write_text(changed.read_text(encoding="utf-8") + first_line + "\n", encoding="utf-8")
    staged_before = read_table(built_postgres, "staging_events")
    with blocker.cursor() as cur:  # the load replaces the object's rows, then waits on its
        cur.execute(  # manifest row: the kill lands with the new rows written, not committed
            "SELECT * FROM load_manifest WHERE object_key = %s FOR UPDATE", (changed_key,)
        )
    process = start_cli(cli_env(built_postgres, lake_dir, tmp_path / "home"), tmp_path)
    wait_for_blocked(built_postgres.database, "DELETE FROM load_manifest", process)
    with contextlib.closing(connect_to(built_postgres.database)) as con:
        with con.cursor() as cur:  # the run has written staging rows: INSERT's lock is held
            cur.execute(
                "SELECT COUNT(*) FROM pg_locks AS l JOIN pg_stat_activity AS a USING (pid) "
                "WHERE a.application_name = 'sparkify_assets' AND l.mode = 'RowExclusiveLock' "
                "AND l.relation = 'staging_events'::regclass"
            )
            assert cur.fetchone()[0] == 1
    kill_hard(process)
    blocker.rollback()

    assert read_table(built_postgres, "staging_events") == staged_before

    run_graph(built_postgres, lake_dir)
    assert_matches_reference(built_postgres, lake_dir)


def songplays_heap_bytes(database: str) -> int:
    """The size of songplays' heap on disk: what every transaction wrote into it, committed
    or not (rows another transaction has written and not committed are invisible to a query,
    not to the file's size)."""
    with contextlib.closing(connect_to(database)) as con, con.cursor() as cur:
        cur.execute("SELECT pg_relation_size('songplays')")
        return cur.fetchone()[0]


def test_killed_in_the_middle_of_a_star_merge_postgres(built_postgres, lake_dir, tmp_path, blocker):
    add_day(lake_dir, 4)
    new_plays = len(compute(lake_dir).songplays) - len(read_table(built_postgres, "songplays"))
    assert new_plays > 100
    songplays_before = read_table(built_postgres, "songplays")
    heap_before = songplays_heap_bytes(built_postgres.database)
    with blocker.cursor() as cur:  # songplays merges, then waits to move its watermark
        cur.execute("SELECT * FROM load_state WHERE consumer = 'songplays' FOR UPDATE")
    process = start_cli(cli_env(built_postgres, lake_dir, tmp_path / "home"), tmp_path)
    wait_for_blocked(built_postgres.database, "DELETE FROM load_state", process)
    # The kill lands after the merge wrote the new plays: in the heap, not yet committed (a
    # play takes well over 100 bytes there).
    assert songplays_heap_bytes(built_postgres.database) - heap_before >= 100 * new_plays
    assert read_table(built_postgres, "songplays") == songplays_before
    kill_hard(process)
    blocker.rollback()

    assert read_table(built_postgres, "songplays") == songplays_before  # nothing half-written
    run_graph(built_postgres, lake_dir)
    assert_matches_reference(built_postgres, lake_dir)


BOOKKEEPING = ("load_manifest", "load_batches", "load_state")


def rows_of(warehouse, tables) -> dict[str, list[tuple]]:
    """Every row of each table, every column (load batches and times too)."""
    with warehouse.session() as session:
        return {t: in_order(session.query_text(f'SELECT * FROM "{t}"')[1]) for t in tables}


def killed_while_paused(env: dict, folder, at: str) -> dict:
    """Run the CLI until it pauses `at`, inside its open transaction; SIGKILL it there. Return
    what it reported from inside the transaction."""
    env, marker = paused_env(env, folder, at)
    process = start_cli(env, folder)
    try:
        inside = wait_for_marker(marker, process)
    finally:
        kill_hard(process)
    assert process.returncode == -signal.SIGKILL
    return inside


def test_killed_inside_an_open_write_transaction_duckdb(built_duckdb_copy, lake_dir, tmp_path):
    """SIGKILL while a run's transaction holds rows it wrote and has not committed (the child
    says so from inside it, see support.install_pause): in a staging load, then in a star merge.
    Every table is as the last commit left it, and the next run completes as a clean one."""
    add_day(lake_dir, 4)  # new work for the killed runs
    tables = (*ALL_TABLES, "staging_rejects", *BOOKKEEPING)
    before = rows_of(built_duckdb_copy, tables)
    env = cli_env(built_duckdb_copy, lake_dir, tmp_path / "home")

    # The staging load is the run's first write: nothing of the run is left.
    inside = killed_while_paused(env, tmp_path, "stage:staging_events")
    assert inside["rows_in_transaction"] > len(before["staging_events"])  # written, uncommitted
    assert rows_of(built_duckdb_copy, tables) == before

    # The songplays merge runs after staging and the dimensions committed: those stay, the
    # merge and its watermark are gone.
    inside = killed_while_paused(env, tmp_path, "merge:songplays")
    assert inside["rows_in_transaction"] > len(before["songplays"])
    after = rows_of(built_duckdb_copy, tables)
    assert after["songplays"] == before["songplays"]
    state = [r for r in after["load_state"] if r[0] == "songplays"]
    assert state and state == [r for r in before["load_state"] if r[0] == "songplays"]
    expected = compute(lake_dir)
    for table in ("staging_events", "users", "time"):
        assert read_table(built_duckdb_copy, table) == in_order(getattr(expected, table)), table

    run_graph(built_duckdb_copy, lake_dir)
    assert_matches_reference(built_duckdb_copy, lake_dir)


@pytest.mark.parametrize("engine", ["duckdb", "postgres"])
def test_two_runs_at_the_same_moment_neither_lose_nor_double_rows(
    engine, request, postgres_warehouse, lake_dir, tmp_path
):
    """Both runs on the production instance (deploy/dagster.yaml: storage on PostgreSQL, the
    `warehouse` pool): both succeed, and the tables are those of one clean run."""
    warehouse = request.getfixturevalue(f"{engine}_warehouse")
    home = tmp_path / "home"
    instance_storage = production_instance(home, postgres_warehouse.database)
    env = cli_env(warehouse, lake_dir, home) | instance_storage
    # As in production, the instance's storage and the pool's limit are set up once, before
    # runs share them (two runs creating the limit at once would collide in Dagster's storage).
    for setup in (["migrate"], ["concurrency", "set", WAREHOUSE_POOL, "1"]):
        subprocess.run([str(DAGSTER), "instance", *setup], env=env, check=True, capture_output=True)
    runs = [start_cli(env, tmp_path) for _ in range(2)]
    assert_runs_built_one_clean_run(runs, warehouse, lake_dir)
    assert_warehouse_steps_took_turns(postgres_warehouse.database)


def assert_runs_built_one_clean_run(runs, warehouse, lake_dir) -> None:
    """Every CLI run in `runs` succeeded, and the tables are those of one clean run: nothing
    lost, nothing doubled."""
    for process in runs:
        assert process.wait(timeout=300) == 0, output_of(process)
    assert_matches_reference(warehouse, lake_dir)
    expected = compute(lake_dir)
    for table in STAR_TABLES:
        assert len(read_table(warehouse, table)) == len(getattr(expected, table))


def waiting_sessions(database: str) -> int:
    """How many engine connections wait on a lock in `database` right now."""
    with contextlib.closing(connect_to(database)) as con, con.cursor() as cur:
        cur.execute(
            "SELECT COUNT(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
            "AND application_name = 'sparkify_assets' AND datname = %s",
            (database,),
        )
        return cur.fetchone()[0]


def wait_until(done, runs, what: str, timeout: float = 120.0) -> None:
    """Poll `done()` until true; fails if a run ends first or `timeout` passes."""
    deadline = time.monotonic() + timeout
    while not done():
        for process in runs:
            assert process.poll() is None, output_of(process)
        assert time.monotonic() < deadline, f"never {what}: " + "".join(map(output_of, runs))
        time.sleep(0.1)


@pytest.mark.parametrize("engine", ["duckdb", "postgres"])
def test_two_runs_at_the_same_moment_without_the_pool_neither_lose_nor_double_rows(
    engine, request, lake_dir, tmp_path
):
    """No pool to make them take turns: each run has an instance of its own. Both wait for the
    warehouse, which the test holds, at their first load, and go at the same moment once it
    lets go: the warehouse's own locks (PostgreSQL's table locks, DuckDB's file) keep the loads
    apart. Both succeed, and the tables are those of one clean run."""
    warehouse = request.getfixturevalue(
        f"built_{engine}" if engine == "postgres" else "built_duckdb_copy"
    )
    add_day(lake_dir, 4)  # new work for both
    envs = [cli_env(warehouse, lake_dir, tmp_path / f"home-{n}") for n in (1, 2)]
    if engine == "postgres":
        blocker = request.getfixturevalue("blocker")
        with blocker.cursor() as cur:  # every load's first step touches the manifest
            cur.execute("LOCK TABLE load_manifest IN ACCESS EXCLUSIVE MODE")
        runs = [start_cli(env, tmp_path) for env in envs]
        # A run's steps run one at a time (in process): both runs wait.
        wait_until(lambda: waiting_sessions(warehouse.database) == 2, runs, "both waiting")
        blocker.rollback()
    else:
        with held_by_another_process(warehouse.path):
            runs = [start_cli(env, tmp_path) for env in envs]
            started = 'STEP_START - Started execution of step "staging_events"'
            wait_until(
                lambda: all(started in p.log_path.read_text() for p in runs), runs, "both waiting"
            )
    assert_runs_built_one_clean_run(runs, warehouse, lake_dir)


def warehouse_steps() -> set[str]:
    """The step of every asset and asset check that works in the warehouse."""
    defs = build_definitions({})
    return {
        d.node_def.name
        for d in [*defs.assets, *defs.asset_checks]
        if not isinstance(d, AssetSpec) and "warehouse" in d.required_resource_keys
    }


def assert_warehouse_steps_took_turns(storage_database: str) -> None:
    """In the instance's event log: both runs ran every warehouse step, and no two warehouse
    steps of different runs were ever running at the same moment (the pool's one slot)."""
    with contextlib.closing(connect_to(storage_database)) as con, con.cursor() as cur:
        cur.execute(
            "SELECT run_id, step_key, dagster_event_type, timestamp FROM event_logs "
            "WHERE dagster_event_type IN ('STEP_START', 'STEP_SUCCESS') ORDER BY id"
        )
        events = cur.fetchall()
    spans: dict[tuple[str, str], list] = {}
    for run_id, step, kind, at in events:
        spans.setdefault((run_id, step), [None, None])[kind == "STEP_SUCCESS"] = at
    steps = warehouse_steps()
    spans = {key: span for key, span in spans.items() if key[1] in steps}
    runs = {run_id for run_id, _ in spans}
    assert len(runs) == 2
    for run_id in runs:
        assert {step for r, step in spans if r == run_id} == steps
    assert all(start is not None and end is not None for start, end in spans.values())
    for (run_a, step_a), (start_a, end_a) in spans.items():
        for (run_b, step_b), (start_b, end_b) in spans.items():
            if run_a < run_b:
                assert end_a <= start_b or end_b <= start_a, (step_a, step_b)


def test_production_instance_queues_runs_and_pools_every_warehouse_step():
    """deploy/dagster.yaml, read and checked as Dagster reads it: runs wait in a queue that starts
    one at a time, and every pool (the `warehouse` pool too) has one slot, claimed per step inside
    the run, so runs started outside the queue (`dagster asset materialize`) take turns too."""
    config, _ = dagster_instance_config(str(PRODUCTION_INSTANCE.parent))
    coordinator = config["run_coordinator"]
    assert (coordinator["module"], coordinator["class"]) == (
        "dagster.core.run_coordinator",
        "QueuedRunCoordinator",
    )
    assert config["concurrency"]["runs"]["max_concurrent_runs"] == 1
    pools = config["concurrency"]["pools"]
    assert pools["default_limit"] == 1
    assert pools.get("granularity", "op") == "op"
    assert config["storage"]["postgres"]["postgres_db"]["password"] == {
        "env": "DAGSTER_PG_PASSWORD"
    }
    # The instance recovers by itself (tests/test_deployment.py shows it on real processes): a
    # dead run's slots are freed, a crashed run worker's run is retried, a failed step's never.
    monitoring = config["run_monitoring"]
    assert monitoring["enabled"] and monitoring["free_slots_after_run_end_seconds"] > 0
    assert monitoring["max_runtime_seconds"] > 0
    retries = config["run_retries"]
    assert retries["enabled"] and retries["max_retries"] > 0
    assert retries["retry_on_asset_or_op_failure"] is False
    assert coordinator["config"]["max_user_code_failure_retries"] > 0
    for ticks in ("sensor", "schedule"):
        assert config["retention"][ticks]["purge_after_days"]["skipped"] > 0

    # Every asset and check step that works in the warehouse claims a slot of its pool, and
    # every asset step retries what passes (3 retries, 2 s doubling).
    defs = build_definitions({})
    for job in defs.jobs:  # each job's runs are canceled past a bound of their own
        assert float(job.run_tags["dagster/max_runtime"]) > 0, job.name
    assets = {a.node_def.name: a for a in defs.assets if not isinstance(a, AssetSpec)}
    rule_checks = {c.node_def.name: c for c in defs.asset_checks if c.node_def.pool}
    assert set(assets) == {*sql_files.TABLE_ASSETS, "analytics_report"}
    assert set(rule_checks) == {f"{t}_checks" for t in sql_files.TABLE_ASSETS}
    assert warehouse_steps() == set(assets) | set(rule_checks)
    for name, step in {**assets, **rule_checks}.items():
        assert step.node_def.pool == WAREHOUSE_POOL, name
    for name, asset in assets.items():
        policy = asset.node_def.retry_policy
        assert (policy.max_retries, policy.delay, policy.backoff) == (
            3,
            2,
            Backoff.EXPONENTIAL,
        ), name


def test_hostile_input_is_rejected_or_loaded_by_the_rules_and_the_run_goes_on(warehouse, lake_dir):
    days = lake_dir / "log_data" / "2018" / "11"
    event = json.loads(
        (days / "2018-11-01-events.json").read_text(encoding="utf-8").splitlines()[0]
    )
    for name in (
        "it's a day.json",
        "with space ünï.json",
        'back\\slash "q".json',
        "*.json",
        "x[1]?.json",
    ):
        (days / name).write_text(json.dumps({**event, "sessionId": 777}) + "\n", encoding="utf-8")
    huge = json.dumps({**event, "artist": "x" * 50_000_000})  # a 50 MB line
    (days / "huge.json").write_text(huge + "\n" + json.dumps(event) + "\n", encoding="utf-8")
    deep = '{"nested": ' + "[" * 100_000 + "]" * 100_000 + "}"
    (days / "deep.json").write_text(deep + "\n", encoding="utf-8")
    out_of_range = [
        {**event, "ts": 1e30},
        {**event, "sessionId": 2**40},
        {**event, "status": 70000},
    ]
    (days / "range.json").write_text(
        "\n".join(map(json.dumps, out_of_range)) + "\n", encoding="utf-8"
    )
    (days / "latin1.json").write_bytes(
        json.dumps({**event, "firstName": "Zoë"}, ensure_ascii=False).encode("latin-1")
    )

    run_graph(warehouse, lake_dir, max_reject_rate=1.0)
    assert_matches_reference(warehouse, lake_dir)
    reasons = {
        (r[1].rsplit("/", 1)[-1], r[2]): r[3] for r in read_table(warehouse, "staging_rejects")
    }
    assert reasons[("huge.json", 1)] == "record longer than 4194304 bytes"
    assert reasons[("latin1.json", None)] == "object is not valid UTF-8"
    assert reasons[("range.json", 2)] == "sessionId: not a whole number that fits INTEGER"
    assert ("*.json", 1) not in reasons


@pytest.mark.alone
def test_postgres_restarted_during_a_run_is_retried(built_postgres, lake_dir, tmp_path, blocker):
    """The server goes away mid-run; the step's retry reconnects and the run completes."""
    if os.geteuid() != 0 or not shutil.which("pg_ctlcluster"):
        service_unavailable("restarting PostgreSQL needs root and pg_ctlcluster (as in CI)")
    add_day(lake_dir, 4)
    with blocker.cursor() as cur:  # hold the run inside its first load's transaction
        cur.execute("LOCK TABLE load_batches IN EXCLUSIVE MODE")
    process = start_cli(cli_env(built_postgres, lake_dir, tmp_path / "home"), tmp_path)
    wait_for_blocked(built_postgres.database, "LOCK TABLE", process)
    subprocess.run(["pg_ctlcluster", "15", "main", "restart"], check=True, timeout=120)
    assert process.wait(timeout=300) == 0, output_of(process)
    assert "RETRY" in output_of(process) or "retry" in process.log_path.read_text()
    assert_matches_reference(built_postgres, lake_dir)


def test_unreachable_host_and_wrong_password_say_what_to_fix_and_keep_the_secret(
    postgres_warehouse,
):
    secret = "not-the-password-8c1f"
    unreachable = PostgresWarehouse(host="127.0.0.1", port=free_port(), password=secret)
    wrong_password = postgres_warehouse.model_copy(update={"password": secret})
    for warehouse, reason in (
        (unreachable, "Connection refused"),
        (wrong_password, "password authentication failed"),
    ):
        with pytest.raises(WarehouseUnavailable) as error, warehouse.session():
            pass
        message = str(error.value)
        assert reason in message and warehouse.location in message and "SPARKIFY_DB_HOST" in message
        assert secret not in message and secret not in repr(error.value.__cause__)


def test_lake_without_log_data_stops_before_any_table_changes(
    built_duckdb_copy, lake_dir, tmp_path
):
    before = {t: read_table(built_duckdb_copy, t) for t in ("staging_events", *STAR_TABLES)}
    songs_only = tmp_path / "songs_only"
    shutil.copytree(lake_dir / "song_data", songs_only / "song_data")
    result = materialize(
        [*ALL_ASSETS, *build_checks()],
        resources={"warehouse": built_duckdb_copy, "lake": Lake(url=str(songs_only))},
        raise_on_error=False,
    )
    assert not result.success
    (failure,) = [e for e in result.all_events if e.is_step_failure]
    assert "has nothing under 'log_data/'" in failure.event_specific_data.error.message
    assert failure.step_key == "staging_events"
    assert {t: read_table(built_duckdb_copy, t) for t in before} == before


def test_missing_bucket_says_so(s3_endpoint, aws_credentials):
    lake = Lake(url="s3://no-such-bucket-4e2a/lake", s3_endpoint_url=s3_endpoint)
    with pytest.raises(
        LakeError, match="bucket 'no-such-bucket-4e2a' cannot be listed \\(NoSuchBucket\\)"
    ):
        lake.check("log_data/")


def test_s3_away_for_a_few_seconds_or_slowing_down_is_ridden_out_by_the_lake(
    duckdb_warehouse, lake_dir, s3_endpoint, s3_client, s3_lake
):
    """The lake's own retries carry its reads through: no step fails and is retried for it (a
    step's retry would hide a lake that never retries, and costs seconds of backoff)."""
    bucket, prefix = s3_lake[5:].split("/", 1)
    for path in sorted(p for p in lake_dir.rglob("*") if p.is_file()):
        s3_client.upload_file(
            str(path), bucket, f"{prefix}/{path.relative_to(lake_dir).as_posix()}"
        )
    proxy = Relay(int(s3_endpoint.rsplit(":", 1)[1]))
    proxy.outage(4.0)  # the run starts while the server is away
    result = run_graph(duckdb_warehouse, s3_lake, s3_endpoint_url=f"http://127.0.0.1:{proxy.port}")
    assert [e.step_key for e in result.all_events if e.is_step_up_for_retry] == []
    assert_matches_reference(duckdb_warehouse, lake_dir)

    # S3's 503 SlowDown, once, to the GET of a day of events and of a song: each read again.
    day = add_day(lake_dir, 4)
    s3_client.upload_file(str(lake_dir / day), bucket, f"{prefix}/{day}")
    (lake_dir / EARLY_SONG).parent.mkdir(parents=True)
    (lake_dir / EARLY_SONG).write_bytes(song("SOEARLY00000000001", "Read Again"))
    s3_client.upload_file(str(lake_dir / EARLY_SONG), bucket, f"{prefix}/{EARLY_SONG}")
    with latency_proxy(s3_endpoint, delay=0) as (endpoint, stats):
        stats.fail_once.update({f"/{bucket}/{prefix}/{day}", f"/{bucket}/{prefix}/{EARLY_SONG}"})
        result = run_graph(duckdb_warehouse, s3_lake, s3_endpoint_url=endpoint)
    assert stats.fail_once == set()  # both were answered 503 once
    assert [e.step_key for e in result.all_events if e.is_step_up_for_retry] == []
    assert_matches_reference(duckdb_warehouse, lake_dir)
