"""What the UI test drives: the Dagster webserver and daemon in subprocesses, and headless Chromium.

The webserver serves `workspace.yaml` (what `make dev` serves) from a private `DAGSTER_HOME`, on
a free loopback port, on the embedded default: the shipped sample lake and a DuckDB file in a
temporary folder. Its instance uses Dagster's `DefaultRunCoordinator`, so a run launched from the
page starts at once in a subprocess of the webserver.

A range of partitions launched from the page is a backfill, which only `dagster-daemon` turns
into runs: `dagster_daemon` runs one on the webserver's instance and environment. While it runs,
the sensors and schedules are stopped in the instance (what the Automation page's switches do),
so no tick starts a run of its own in the middle of the test; once it has stopped they are back
to the status their code declares.

The browser is Debian's `chromium` driven by Selenium through Debian's `chromedriver` (both from
the `chromium` and `chromium-driver` packages): nothing is downloaded at run time.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from tests.support import REPO, free_port, importing_this_checkout

WORKSPACE = REPO / "workspace.yaml"
WEBSERVER = Path(sys.executable).parent / "dagster-webserver"
DAEMON = Path(sys.executable).parent / "dagster-daemon"
CHROMIUM = Path(os.environ.get("SPARKIFY_CHROMIUM", "/usr/bin/chromium"))
CHROMEDRIVER = Path(os.environ.get("SPARKIFY_CHROMEDRIVER", "/usr/bin/chromedriver"))
WINDOW = (1600, 1000)
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",  # we run as root in CI
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    f"--window-size={WINDOW[0]},{WINDOW[1]}",
)
# Runs launched from the UI start at once, as subprocesses of the webserver (or of the daemon, for
# a backfill's runs); no telemetry. Freshness evaluation on, as in production: the UI shows the
# policies' states (the test has Dagster's freshness daemon judge them in its own process when it
# wants them judged; a daemon running for a backfill judges them too).
INSTANCE_YAML = """\
run_coordinator:
  module: dagster.core.run_coordinator
  class: DefaultRunCoordinator
freshness:
  enabled: true
telemetry:
  enabled: false
"""
# Settings of the caller's shell that would point the server somewhere else than the default.
FOREIGN_SETTINGS = (
    "SPARKIFY_LAKE",
    "SPARKIFY_S3_ENDPOINT_URL",
    "SPARKIFY_WAREHOUSE",
    "SPARKIFY_DB_HOST",
    "SPARKIFY_DB_PORT",
    "SPARKIFY_DB_NAME",
    "SPARKIFY_DB_USER",
    "SPARKIFY_DB_PASSWORD",
    "SPARKIFY_MAX_REJECT_RATE",
    "SPARKIFY_FRESH_WITHIN_HOURS",
    "SPARKIFY_EVENTS_START",
)


def browser_unavailable() -> str | None:
    """Why the UI test cannot drive a browser here, or None when it can."""
    missing = [str(p) for p in (CHROMIUM, CHROMEDRIVER) if not os.access(p, os.X_OK)]
    if missing:
        return (
            f"no headless Chromium: {' and '.join(missing)} not installed "
            "(apt-get install chromium chromium-driver)"
        )
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "the selenium package is not installed (pip install -e '.[dev]')"
    return None


def wait_for(what: str, probe: Callable[[], Any], timeout: float, interval: float = 0.25) -> Any:
    """Call `probe` until it returns something truthy; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"waited {timeout:.0f} s for {what}")
        time.sleep(interval)


class Webserver:
    def __init__(self, url: str, process: subprocess.Popen, log: Path, home: Path, env: dict):
        self.url = url
        self.process = process
        self.log = log
        self.home = home  # its DAGSTER_HOME
        self.env = env  # its environment, which the daemon shares
        self.warehouse_path = Path(env["SPARKIFY_DUCKDB_PATH"])  # the DuckDB file runs write

    def log_tail(self, lines: int = 40) -> str:
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    def graphql(self, query: str, variables: dict | None = None) -> dict:
        body = json.dumps({"query": query, "variables": variables or {}}).encode()
        request = urllib.request.Request(
            f"{self.url}/graphql", data=body, headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            answer = json.load(response)
        if answer.get("errors"):
            raise RuntimeError(f"GraphQL error: {answer['errors']}")
        return answer["data"]

    def _answers(self) -> bool:
        if self.process.poll() is not None:
            raise RuntimeError(
                f"dagster-webserver exited with code {self.process.returncode}:\n" + self.log_tail()
            )
        try:
            with urllib.request.urlopen(f"{self.url}/server_info", timeout=2) as response:
                return response.status == 200
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            return False

    def _location_loaded(self) -> bool:
        data = self.graphql(
            """{ workspaceOrError { ... on Workspace { locationEntries {
                 name loadStatus
                 locationOrLoadError { __typename ... on PythonError { message } } } } } }"""
        )
        entries = data["workspaceOrError"]["locationEntries"]
        for entry in entries:
            error = entry["locationOrLoadError"]
            if error and error["__typename"] == "PythonError":
                raise RuntimeError(f"code location {entry['name']} failed: {error['message']}")
        return bool(entries) and all(e["loadStatus"] == "LOADED" for e in entries)


def stop_process_group(process: subprocess.Popen, grace: float = 5.0) -> None:
    """End the process and everything it started (code server, runs): its whole group."""
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 10.0)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            break
        try:
            process.wait(timeout=wait)
        except subprocess.TimeoutExpired:
            continue
    # The leader may be gone while a child it started lives on: the group goes in any case.
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    if process.poll() is None:
        process.wait(timeout=10)


@contextmanager
def dagster_webserver(
    folder: Path,
    startup_timeout: float = 90.0,
    extra_env: dict[str, str] | None = None,
    read_only: bool = False,
) -> Iterator[Webserver]:
    """`dagster-webserver -w workspace.yaml` on a free loopback port, its state in `folder`;
    `extra_env` added to its environment, `--read-only` if asked."""
    home = folder / "dagster_home"
    home.mkdir(parents=True)
    (home / "dagster.yaml").write_text(INSTANCE_YAML)
    env = importing_this_checkout(
        {k: v for k, v in os.environ.items() if k not in FOREIGN_SETTINGS}
    )
    env.update(
        DAGSTER_HOME=str(home),
        SPARKIFY_WAREHOUSE="duckdb",
        SPARKIFY_DUCKDB_PATH=str(folder / "sparkify.duckdb"),
    )
    env.update(extra_env or {})
    port = free_port()
    log = folder / "webserver.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [str(WEBSERVER), "-w", str(WORKSPACE), "-h", "127.0.0.1", "-p", str(port)]
            + (["--read-only"] if read_only else []),
            cwd=REPO,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, ended whole at teardown
        )
    server = Webserver(f"http://127.0.0.1:{port}", process, log, home, env)
    try:
        wait_for("dagster-webserver to answer /server_info", server._answers, startup_timeout)
        wait_for("the code location to load", server._location_loaded, startup_timeout)
        yield server
    finally:
        stop_process_group(process)


REPOSITORY = {"repositoryLocationName": "sparkify", "repositoryName": "__repository__"}
INSTIGATORS = """query ($repo: RepositorySelector!) { repositoryOrError(repositorySelector: $repo) {
  ... on Repository { sensors { name sensorState { id status } }
                      schedules { name scheduleState { id status } } } } }"""
STOP_SENSOR = """mutation ($id: String) { stopSensor(id: $id) {
  __typename ... on PythonError { message } } }"""
STOP_SCHEDULE = """mutation ($id: String) { stopRunningSchedule(id: $id) {
  __typename ... on PythonError { message } } }"""
RESET_SENSOR = """mutation ($selector: SensorSelector!) { resetSensor(sensorSelector: $selector) {
  __typename ... on PythonError { message } } }"""
RESET_SCHEDULE = """mutation ($selector: ScheduleSelector!) {
  resetSchedule(scheduleSelector: $selector) { __typename ... on PythonError { message } } }"""
BACKFILL_DAEMON = """{ instance { daemonHealth { daemonStatus(daemonType: "BACKFILL") {
  healthy } } } }"""


class Daemon:
    def __init__(self, process: subprocess.Popen, log: Path):
        self.process = process
        self.log = log

    def log_tail(self, lines: int = 40) -> str:
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return "\n".join(text.splitlines()[-lines:])


def _mutate(server: Webserver, mutation: str, variables: dict) -> None:
    (answer,) = server.graphql(mutation, variables).values()
    if answer["__typename"] == "PythonError":
        raise RuntimeError(answer["message"])


def stop_automation(server: Webserver) -> list[tuple[str, str]]:
    """Stop every running sensor and schedule in the webserver's instance; which were stopped."""
    repo = server.graphql(INSTIGATORS, {"repo": REPOSITORY})["repositoryOrError"]
    stopped = []
    for kind, mutation in (("sensor", STOP_SENSOR), ("schedule", STOP_SCHEDULE)):
        for instigator in repo[f"{kind}s"]:
            state = instigator[f"{kind}State"]
            if state["status"] == "RUNNING":
                _mutate(server, mutation, {"id": state["id"]})
                stopped.append((kind, instigator["name"]))
    return stopped


def reset_automation(server: Webserver, instigators: list[tuple[str, str]]) -> None:
    """Give each of `instigators` back the status its code declares."""
    for kind, name in instigators:
        if kind == "sensor":
            _mutate(server, RESET_SENSOR, {"selector": {**REPOSITORY, "sensorName": name}})
        else:
            _mutate(server, RESET_SCHEDULE, {"selector": {**REPOSITORY, "scheduleName": name}})


def _backfill_daemon_healthy(server: Webserver, process: subprocess.Popen, log: Path) -> bool:
    if process.poll() is not None:
        text = log.read_text(errors="replace") if log.exists() else ""
        raise RuntimeError(f"dagster-daemon exited with code {process.returncode}:\n{text[-3000:]}")
    status = server.graphql(BACKFILL_DAEMON)["instance"]["daemonHealth"]["daemonStatus"]
    return bool(status["healthy"])


@contextmanager
def dagster_daemon(server: Webserver, startup_timeout: float = 90.0) -> Iterator[Daemon]:
    """`dagster-daemon run -w workspace.yaml` on the webserver's instance, with its environment,
    its log beside the webserver's; the sensors and schedules stopped while it runs (see the
    module's docstring). Ready once its backfill daemon reports healthy to the webserver."""
    stopped = stop_automation(server)
    log = server.log.with_name("daemon.log")
    with log.open("wb") as out:
        process = subprocess.Popen(
            [str(DAEMON), "run", "-w", str(WORKSPACE)],
            cwd=REPO,
            env=server.env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: its code server and runs end with it
        )
    try:
        wait_for(
            "the backfill daemon to report healthy",
            lambda: _backfill_daemon_healthy(server, process, log),
            startup_timeout,
            interval=0.5,
        )
        yield Daemon(process, log)
        stop_process_group(process)
        reset_automation(server, stopped)
    finally:
        stop_process_group(process)


@contextmanager
def chromium(folder: Path) -> Iterator[Any]:
    """Headless Chromium at WINDOW's size, with a fresh profile in `folder`."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    profile = tempfile.mkdtemp(prefix="chromium-profile-", dir=folder)
    options.add_argument(f"--user-data-dir={profile}")
    # Both paths are given, so Selenium Manager has nothing to look up or download.
    service = Service(
        executable_path=str(CHROMEDRIVER), log_output=str(folder / "chromedriver.log")
    )
    driver = webdriver.Chrome(options=options, service=service)
    try:
        # The page itself exactly WINDOW in size, whatever the headless window's frame takes.
        width, height = WINDOW
        driver.execute_cdp_cmd(
            "Emulation.setDeviceMetricsOverride",
            {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False},
        )
        driver.set_page_load_timeout(30)
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)
