"""What the UI test drives: the Dagster webserver in a subprocess, and headless Chromium.

The webserver serves `workspace.yaml` (what `make dev` serves) from a private `DAGSTER_HOME`, on
a free loopback port, on the embedded default: the shipped sample lake and a DuckDB file in a
temporary folder. Its instance uses Dagster's `DefaultRunCoordinator`, so a run launched from the
page starts at once in a subprocess of the webserver: no daemon is needed, and none runs, so no
sensor or schedule tick can start a run of its own in the middle of the test.

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

from tests.support import REPO, free_port

WORKSPACE = REPO / "workspace.yaml"
WEBSERVER = Path(sys.executable).parent / "dagster-webserver"
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
# Runs launched from the UI start at once, as subprocesses of the webserver; no telemetry.
# Freshness evaluation on, as in production: the UI shows the policies' states (which the test
# has Dagster's freshness daemon evaluate, no daemon running).
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
    def __init__(self, url: str, process: subprocess.Popen, log: Path, home: Path):
        self.url = url
        self.process = process
        self.log = log
        self.home = home  # its DAGSTER_HOME

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
    env = {k: v for k, v in os.environ.items() if k not in FOREIGN_SETTINGS}
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
    server = Webserver(f"http://127.0.0.1:{port}", process, log, home)
    try:
        wait_for("dagster-webserver to answer /server_info", server._answers, startup_timeout)
        wait_for("the code location to load", server._location_loaded, startup_timeout)
        yield server
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
