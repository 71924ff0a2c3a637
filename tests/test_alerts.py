"""Alerts (sparkify_assets/alerts.py) posted to a real HTTP server on loopback.

The sensors are evaluated as the daemon evaluates them (`evaluate_tick` with the cursor the last
tick left) against a real Dagster instance that holds real runs (a run stopped by a failing
blocking check) and the freshness states Dagster's freshness daemon recorded (tables going
stale). Each failure must be exactly one message, with what failed and where to see it (the
run's or the asset's URL), and never the webhook's secret path.
"""

import json
import threading
import time
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from dagster import DagsterInstance, build_sensor_context, materialize

from sparkify_assets.alerts import AlertError, AlertWebhook, run_failure_alert_sensor
from sparkify_assets.alerts import stale_table_alert_sensor as stale_sensor
from sparkify_assets.checks import build_checks
from sparkify_assets.definitions import ALL_ASSETS
from sparkify_assets.freshness import DAILY_TABLES, freshness_policies
from sparkify_assets.resources.lake import Lake
from tests.support import evaluate_freshness, every_day, record_loads

SECRET = "T0000/B0000/s3cr3t-token"  # the part of a Slack webhook URL that lets anyone post
UI = "https://dagster.example.org"


class Webhook:
    """A loopback HTTP server that keeps every JSON body posted to it."""

    def __init__(self, status: int = 200):
        self.bodies: list[dict] = []
        received = self.bodies

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers["Content-Length"])
                received.append(json.loads(self.rfile.read(length)))
                self.send_response(status)
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args):  # quiet
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/services/{SECRET}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def webhook():
    server = Webhook()
    yield server
    server.close()


class Ticks:
    """A sensor evaluated tick after tick from the cursor the previous tick left."""

    def __init__(self, sensor, instance, webhook_url: str):
        self.sensor, self.instance, self.cursor = sensor, instance, None
        self.resources = {"alert_webhook": AlertWebhook(url=webhook_url, ui_url=UI)}

    def tick(self) -> None:
        context = build_sensor_context(
            instance=self.instance, cursor=self.cursor, resources=self.resources
        )
        self.cursor = self.sensor.evaluate_tick(context).cursor or self.cursor


def utc_time(text: str) -> float:
    """The timestamp of a time as messages write it (`2024-05-01 07:30 UTC`)."""
    return datetime.strptime(text, "%Y-%m-%d %H:%M UTC").replace(tzinfo=UTC).timestamp()


def fields(body: dict) -> dict[str, str]:
    """The message's fields by name, as the Slack blocks carry them."""
    pairs = [f["text"].split("\n", 1) for f in body["blocks"][1]["fields"]]
    return {name.strip("*"): value for name, value in pairs}


def test_a_run_stopped_by_a_blocking_check_is_one_message(webhook, built_duckdb_copy, lake_dir):
    day = sorted((lake_dir / "log_data").rglob("*.json"))[-1]
    good = day.read_text(encoding="utf-8").splitlines()
    broken = [line.replace('"ts":', '"ts": "soon", "x":', 1) for line in good[::3]]
    day.write_text("\n".join(good + broken) + "\n", encoding="utf-8")
    with DagsterInstance.ephemeral() as instance:
        alerts = Ticks(run_failure_alert_sensor(), instance, webhook.url)
        alerts.tick()  # the first tick only marks where the sensor starts
        result = materialize(
            [*ALL_ASSETS, *build_checks()],
            selection=["staging_events", "users"],
            resources={"warehouse": built_duckdb_copy, "lake": Lake(url=str(lake_dir))},
            instance=instance,
            raise_on_error=False,
            tags=every_day(lake_dir),
        )
        assert not result.success
        alerts.tick()
        alerts.tick()  # nothing new: no second message

    (body,) = webhook.bodies
    assert body["text"].startswith("Sparkify run failed: __ephemeral_asset_job__")
    said = fields(body)
    assert said["Failed blocking checks"] == "staging_events:reject_rate"
    assert said["Failed steps"].startswith("staging_events_checks: ")
    assert said["Run"] == f"{UI}/runs/{result.run_id}"
    assert SECRET not in json.dumps(body)


def test_a_stale_table_is_one_message_until_it_is_fresh_again(webhook, tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    with DagsterInstance.local_temp(str(home)) as instance:
        alerts = Ticks(stale_sensor(freshness_policies(26)), instance, webhook.url)

        def daemon_then_ticks(expected_state: str) -> None:
            """The freshness daemon's iteration, then two ticks of the alert sensor."""
            states = evaluate_freshness(instance, {}, tmp_path)
            assert {states[t] for t in DAILY_TABLES} == {expected_state}
            alerts.tick()
            alerts.tick()

        alerts.tick()
        # Never loaded: unknown, not stale.
        daemon_then_ticks("UNKNOWN")
        assert webhook.bodies == []
        # Loaded 25.5 hours ago, within the last hour of the window: a warning, no message.
        record_loads(instance, DAILY_TABLES, hours_ago=25.5)
        daemon_then_ticks("WARN")
        assert webhook.bodies == []
        # 27 hours ago: past the 26-hour window, one message per table.
        record_loads(instance, DAILY_TABLES, hours_ago=27)
        daemon_then_ticks("FAIL")
        lapse = list(webhook.bodies)
        daemon_then_ticks("FAIL")  # still stale: the same lapse, not a new one
        assert webhook.bodies == lapse

        # Every table loads: fresh again, nothing to say.
        record_loads(instance, DAILY_TABLES)
        daemon_then_ticks("PASS")
        assert webhook.bodies == lapse

        # The next load is 28 hours old by now: a new lapse, told once more.
        record_loads(instance, DAILY_TABLES, hours_ago=28)
        daemon_then_ticks("FAIL")
        next_lapse = webhook.bodies[len(lapse) :]

    for bodies, hours_ago in ((lapse, 27), (next_lapse, 28)):
        stale = {fields(body)["Asset"]: fields(body) for body in bodies}
        assert len(bodies) == len(stale) == 4
        assert set(stale) == set(DAILY_TABLES)
        assert all(body["text"].startswith("Sparkify asset is stale: ") for body in bodies)
        for table, said in stale.items():
            assert said["Asset page"] == f"{UI}/assets/{table}"
            loaded, allowed = said["Why"].removeprefix("last materialized ").split("; ")
            assert allowed == "its freshness policy allows 26 h"
            assert abs(utc_time(loaded) - (time.time() - hours_ago * 3600)) < 120
            assert abs(utc_time(said["Stale since"]) - time.time()) < 120
    assert SECRET not in json.dumps(webhook.bodies)


def test_a_webhook_that_refuses_is_reported_without_its_url():
    server = Webhook(status=500)
    try:
        with pytest.raises(AlertError) as error:
            AlertWebhook(url=server.url).post("title", {"Run": "x"})
    finally:
        server.close()
    assert str(error.value) == "the alert webhook answered HTTP 500"
    assert SECRET not in repr(error.value)
