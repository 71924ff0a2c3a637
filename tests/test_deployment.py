"""The deployment as production runs it (deploy/): the code in its own server, the daemon and the
webserver as separate processes on loopback ports, the instance of deploy/dagster.yaml on a
PostgreSQL storage database of its own, runs submitted through the webserver's GraphQL API into
the queue. What an operator sees when a run worker is killed or the code server restarts."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
import requests
from dagster import AssetKey, DagsterEventType, DagsterInstance, DagsterRunStatus, RunsFilter
from dagster._core.instance.ref import InstanceRef
from dagster._core.storage.tags import PARENT_RUN_ID_TAG
from dagster_graphql import DagsterGraphQLClient

from sparkify_assets.event_days import RANGE_END_TAG, RANGE_START_TAG
from sparkify_assets.resources.engines.base import WAREHOUSE_POOL
from tests.support import (
    DAGSTER,
    REPO,
    add_day,
    assert_matches_reference,
    cli_env,
    create_database,
    drop_database,
    every_day,
    free_port,
    kill_hard,
    production_instance,
    wait_for_blocked,
)

RUN_SH = REPO / "deploy" / "run.sh"
LOCATION = "sparkify"
FINISHED = {DagsterRunStatus.SUCCESS, DagsterRunStatus.FAILURE, DagsterRunStatus.CANCELED}


class Deployment:
    """deploy/run.sh's processes, each in a process group of its own (a kill reaches its
    children: the code server's run workers), their output in files; an instance to look at the
    runs as the daemon does."""

    def __init__(self, env: dict, folder: Path):
        self.env = env
        self.folder = folder
        self.processes: dict[str, subprocess.Popen] = {}
        self.graphql_port = int(env["SPARKIFY_WEBSERVER_PORT"])
        self.code_server_port = int(env["SPARKIFY_CODE_SERVER_PORT"])
        self.instance = DagsterInstance.from_ref(InstanceRef.from_dir(env["DAGSTER_HOME"]))
        self.started = time.monotonic()
        self.timeline: list[str] = []  # what was waited for, and when it came

    def note(self, what: str) -> None:
        self.timeline.append(f"{time.monotonic() - self.started:6.1f} s  {what}")

    def start(self, name: str) -> subprocess.Popen:
        log = (self.folder / f"{name}-{time.monotonic_ns()}.log").open("wb")
        process = subprocess.Popen(
            [str(RUN_SH), name],
            env=self.env,
            cwd=self.folder,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        process.log_path = Path(log.name)
        log.close()
        self.processes[name] = process
        return process

    def stop(self, name: str) -> None:
        """SIGTERM to the process's group, as a service manager stops it; SIGKILL after 30 s."""
        process = self.processes.pop(name)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            kill_hard(process)
        with contextlib.suppress(ProcessLookupError):  # what the group left behind
            os.killpg(process.pid, signal.SIGKILL)

    def close(self) -> None:
        for name in list(self.processes):
            process = self.processes.pop(name)
            kill_hard(process)
        self.instance.dispose()

    def logs(self) -> str:
        return (
            "\n".join(self.timeline)
            + "\n"
            + "\n".join(
                f"--- {path.name}\n{path.read_text(errors='replace')[-4000:]}"
                for path in sorted(self.folder.glob("*.log"))
            )
        )

    def wait_for_code_server(self, timeout: float = 90) -> None:
        """Until the webserver has the code location loaded from the (new) code server."""
        deadline = time.monotonic() + timeout
        query = (
            "query { workspaceOrError { ... on Workspace { locationEntries { name "
            "locationOrLoadError { __typename } } } } }"
        )
        reload = f'mutation {{ reloadRepositoryLocation(repositoryLocationName: "{LOCATION}") {{ __typename }} }}'
        while time.monotonic() < deadline:
            for process in self.processes.values():
                assert process.poll() is None, self.logs()
            with contextlib.suppress(requests.RequestException):
                self.graphql(reload)
                entries = self.graphql(query)["workspaceOrError"]["locationEntries"]
                loaded = entries and entries[0]["locationOrLoadError"]["__typename"]
                if loaded == "RepositoryLocation":
                    self.note("the code location is loaded")
                    return
            time.sleep(1)
        raise AssertionError(f"the code location never loaded:\n{self.logs()}")

    def graphql(self, query: str) -> dict:
        response = requests.post(
            f"http://127.0.0.1:{self.graphql_port}/graphql", json={"query": query}, timeout=30
        )
        response.raise_for_status()
        body = response.json()
        assert "errors" not in body, body
        return body["data"]

    def stop_sensors(self) -> list[str]:
        """Stop every running sensor, as "Stop" in the UI does: their runs would join the queue
        at moments of their own. Their names."""
        query = (
            f'query {{ sensorsOrError(repositorySelector: {{repositoryName: "__repository__", '
            f'repositoryLocationName: "{LOCATION}"}}) {{ ... on Sensors {{ results {{ name '
            "sensorState { id status } } } } }"
        )
        stopped = []
        for sensor in self.graphql(query)["sensorsOrError"]["results"]:
            if sensor["sensorState"]["status"] == "RUNNING":
                state_id = sensor["sensorState"]["id"]
                result = self.graphql(
                    f'mutation {{ stopSensor(id: "{state_id}") {{ __typename }} }}'
                )["stopSensor"]
                assert result["__typename"] == "StopSensorMutationResult", result
                stopped.append(sensor["name"])
        return stopped

    def submit(self, lake_dir: Path, job: str = "sparkify_job") -> str:
        """A run of `job` over every day of the lake's event log, through the webserver into
        the queue; its id."""
        client = DagsterGraphQLClient("127.0.0.1", port_number=self.graphql_port, timeout=60)
        return client.submit_job_execution(
            job, repository_location_name=LOCATION, tags=every_day(lake_dir)
        )

    def status(self, run_id: str) -> DagsterRunStatus:
        return self.instance.get_run_by_id(run_id).status

    def wait_for(self, condition, what: str, timeout: float):
        """`condition()`'s first truthy value, polled until `timeout` seconds have passed."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if value := condition():
                self.note(what)
                return value
            time.sleep(0.5)
        raise AssertionError(f"not within {timeout:.0f} s: {what}\n{self.logs()}")

    def run_worker_pid(self, run_id: str) -> int:
        """The pid of the run's worker, from its engine event "Started process for run"; checked
        to be a process of the code server's group (a child of this test's code server)."""
        for record in self.instance.all_logs(run_id, of_type=DagsterEventType.ENGINE_EVENT):
            metadata = record.dagster_event.event_specific_data.metadata
            if "pid" in metadata and "Started process" in (record.message or ""):
                pid = int(metadata["pid"].value)
                assert os.getpgid(pid) == self.processes["code-server"].pid
                return pid
        raise AssertionError(f"no run worker pid in the events of run {run_id}")

    def slots_held_by(self, run_id: str) -> int:
        info = self.instance.event_log_storage.get_concurrency_info(WAREHOUSE_POOL)
        return sum(1 for slot in info.claimed_slots if slot.run_id == run_id)

    def retries_of(self, run_id: str) -> list:
        return self.instance.get_runs(filters=RunsFilter(tags={PARENT_RUN_ID_TAG: run_id}))


@contextlib.contextmanager
def deployed(warehouse, lake_dir, tmp_path, monkeypatch, settings=None):
    """The three processes of deploy/run.sh on loopback ports (the daemon started by the test),
    on the production instance with a fresh storage database, the warehouse `warehouse`."""
    if not RUN_SH.exists():
        pytest.fail(f"{RUN_SH} is missing")
    storage = create_database()
    home = tmp_path / "home"
    instance_storage = production_instance(home, storage)
    env = cli_env(warehouse, lake_dir, home) | instance_storage | (settings or {})
    env |= {
        "PATH": os.pathsep.join([str(DAGSTER.parent), os.environ.get("PATH", "")]),
        "SPARKIFY_CODE_SERVER_HOST": "127.0.0.1",
        "SPARKIFY_CODE_SERVER_PORT": str(free_port()),
        "SPARKIFY_WEBSERVER_HOST": "127.0.0.1",
        "SPARKIFY_WEBSERVER_PORT": str(free_port()),
    }
    for name, value in instance_storage.items():  # for this process's view of the instance
        monkeypatch.setenv(name, value)
    deployment = None
    try:
        subprocess.run([str(RUN_SH), "setup"], env=env, check=True, capture_output=True)
        deployment = Deployment(env, tmp_path)
        for name in ("code-server", "webserver"):
            deployment.start(name)
        deployment.wait_for_code_server()
        yield deployment
    finally:
        if deployment is not None:
            deployment.close()
        drop_database(storage)


@pytest.fixture
def deployment(built_postgres, lake_dir, tmp_path, monkeypatch):
    """`deployed` on the warehouse `built_postgres` (the graph loaded once), its sensors
    stopped: the tests submit the runs."""
    with deployed(built_postgres, lake_dir, tmp_path, monkeypatch) as deployment:
        assert "log_data_sensor" in deployment.stop_sensors()
        yield deployment


@pytest.mark.alone
def test_a_run_worker_killed_in_a_star_merge_frees_its_slot_and_is_retried(
    deployment, built_postgres, lake_dir, blocker
):
    """A run's worker SIGKILLed while songplays merges (its rows written, not committed). The run
    fails at once; the daemon frees the `warehouse` slot it held, so the run queued behind it
    starts and completes; the killed run is retried (its worker crashed: no step failed) and
    completes; every table equals the reference."""
    add_day(lake_dir, 4)
    deployment.start("daemon")
    with blocker.cursor() as cur:  # songplays merges, then waits to move its watermark
        cur.execute("SELECT * FROM load_state WHERE consumer = 'songplays' FOR UPDATE")
    killed = deployment.submit(lake_dir)
    wait_for_blocked(built_postgres.database, "DELETE FROM load_state", timeout=120)
    queued = deployment.submit(lake_dir)
    assert deployment.status(queued) == DagsterRunStatus.QUEUED
    assert deployment.slots_held_by(killed) == 1

    os.kill(deployment.run_worker_pid(killed), signal.SIGKILL)
    killed_at = time.monotonic()
    deployment.note("the run worker is killed")
    blocker.rollback()

    deployment.wait_for(
        lambda: deployment.status(killed) == DagsterRunStatus.FAILURE, "the run failed", 30
    )
    deployment.wait_for(
        lambda: deployment.slots_held_by(killed) == 0, "the killed run's slot is free", 60
    )
    freed_after = time.monotonic() - killed_at
    deployment.wait_for(
        lambda: deployment.status(queued) in FINISHED, "the queued run finished", 120
    )
    assert deployment.status(queued) == DagsterRunStatus.SUCCESS, deployment.logs()
    (retry,) = deployment.wait_for(
        lambda: deployment.retries_of(killed), "the killed run was retried", 30
    )
    deployment.wait_for(
        lambda: deployment.status(retry.run_id) in FINISHED, "the retry finished", 120
    )
    assert deployment.status(retry.run_id) == DagsterRunStatus.SUCCESS, deployment.logs()
    assert freed_after < 60
    info = deployment.instance.event_log_storage.get_concurrency_info(WAREHOUSE_POOL)
    assert info.slot_count == 1 and not info.claimed_slots

    assert_matches_reference(built_postgres, lake_dir)
    print("\n".join(deployment.timeline))


@pytest.mark.alone
def test_a_run_queued_while_the_code_server_restarts_completes(
    deployment, built_postgres, lake_dir
):
    """A run waits in the queue; the code server stops (a deploy); the daemon starts meanwhile,
    takes the run off the queue, reaches no code server and puts the run back instead of failing
    it; the code server comes back on its address. The queued run completes on it."""
    add_day(lake_dir, 4)
    queued = deployment.submit(lake_dir)  # no daemon yet: the run waits in the queue
    time.sleep(2)
    assert deployment.status(queued) == DagsterRunStatus.QUEUED

    deployment.stop("code-server")
    deployment.start("daemon")
    deployment.wait_for(  # or failed it: then the assertion below says so at once
        lambda: (
            deployment.status(queued) in FINISHED
            or any(
                "failed to reach the user code server, re-submitting" in (r.message or "")
                for r in deployment.instance.all_logs(queued)
            )
        ),
        "the daemon tried to launch the queued run",
        60,
    )
    assert deployment.status(queued) == DagsterRunStatus.QUEUED, deployment.logs()

    deployment.start("code-server")
    deployment.wait_for(
        lambda: deployment.status(queued) in FINISHED, "the queued run finished", 150
    )
    assert deployment.status(queued) == DagsterRunStatus.SUCCESS, deployment.logs()
    assert_matches_reference(built_postgres, lake_dir)
    print("\n".join(deployment.timeline))


@pytest.mark.alone
def test_the_daemon_alone_loads_a_lake_and_then_a_new_day(
    postgres_warehouse, lake_dir, tmp_path, monkeypatch
):
    """Nothing clicked, nothing submitted: the lake sensors request the staging runs (the event
    log by day), automation requests the star tables and the report after them, and a new day
    in the lake goes the same way."""
    look_often = {"SPARKIFY_SENSOR_INTERVAL_SECONDS": "5"}
    with deployed(postgres_warehouse, lake_dir, tmp_path, monkeypatch, look_often) as deployment:
        deployment.start("daemon")

        def loaded() -> bool:
            try:
                assert_matches_reference(postgres_warehouse, lake_dir)
            except Exception:  # not yet: a table missing, or rows still to come
                return False
            return True

        deployment.wait_for(loaded, "the lake loaded", 240)
        add_day(lake_dir, 4)
        deployment.wait_for(loaded, "the new day loaded", 180)
        deployment.wait_for(
            lambda: all(r.status in FINISHED for r in deployment.instance.get_runs()),
            "every run finished",
            60,
        )
        days = deployment.instance.get_materialized_partitions(AssetKey("staging_events"))
        assert days == {"2018-11-01", "2018-11-02", "2018-11-03", "2018-11-04"}
        runs = deployment.instance.get_runs()
        assert {r.status for r in runs} == {DagsterRunStatus.SUCCESS}, deployment.logs()
        staging_runs = [r for r in runs if r.tags.get("sparkify/lake_prefix") == "log_data/"]
        assert [(r.tags[RANGE_START_TAG], r.tags[RANGE_END_TAG]) for r in staging_runs] == [
            ("2018-11-04", "2018-11-04"),  # newest first
            ("2018-11-01", "2018-11-03"),
        ]
        by_automation = [r for r in runs if "sparkify/lake_prefix" not in r.tags]
        assert by_automation and all(
            AssetKey("staging_events") not in (r.asset_selection or ()) for r in by_automation
        )
        print("\n".join(deployment.timeline))
