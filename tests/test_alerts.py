"""Alerts (sparkify_assets/alerts.py) posted to a real HTTP server on loopback.

The sensors are evaluated as the daemon evaluates them (`evaluate_tick` with the cursor the last
tick left) against a real Dagster instance that holds real runs: a run stopped by a failing
blocking check, and freshness checks failing. Each failure must be exactly one message, with
what failed, the asset and check and the run's URL, and never the webhook's secret path.
"""

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from dagster import (
    AssetMaterialization,
    AssetSelection,
    DagsterInstance,
    build_sensor_context,
    materialize,
)
from dagster._core.definitions.asset_checks.asset_check_factories.freshness_checks import (
    last_update,  # whose clock the freshness checks read
)

from sparkify_assets.alerts import AlertError, AlertWebhook, run_failure_alert_sensor
from sparkify_assets.alerts import stale_table_alert_sensor as stale_sensor
from sparkify_assets.checks import build_checks
from sparkify_assets.definitions import ALL_ASSETS
from sparkify_assets.freshness import DAILY_TABLES, freshness_checks
from sparkify_assets.resources.lake import Lake
from tests.support import every_day

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


def test_a_stale_table_is_one_message_until_it_is_fresh_again(
    webhook, duckdb_warehouse, monkeypatch
):
    checks = freshness_checks(26)
    keys = [key for c in checks for key in c.check_keys]

    def run_freshness_checks(instance):
        return materialize(
            [*ALL_ASSETS, *checks],
            selection=AssetSelection.checks(*checks),
            resources={"warehouse": duckdb_warehouse, "lake": Lake(url=".")},
            instance=instance,
            raise_on_error=False,
        )

    with DagsterInstance.ephemeral() as instance:
        alerts = Ticks(stale_sensor(keys), instance, webhook.url)
        alerts.tick()
        assert webhook.bodies == []
        # Nothing ever loaded: every daily table fails its freshness check.
        first = run_freshness_checks(instance)
        alerts.tick()
        alerts.tick()
        run_freshness_checks(instance)  # still stale: the same lapse, not a new one
        alerts.tick()
        lapse = list(webhook.bodies)

        # Every table loads: fresh again, nothing to say.
        for table in DAILY_TABLES:
            instance.report_runless_asset_event(AssetMaterialization(table))
        fresh = run_freshness_checks(instance)
        assert all(e.passed for e in fresh.get_asset_check_evaluations())
        alerts.tick()
        assert webhook.bodies == lapse

        # 27 hours later, with no load since: a new lapse, told once more.
        later = time.time() + 27 * 3600
        monkeypatch.setattr(last_update, "get_current_timestamp", lambda: later)
        second = run_freshness_checks(instance)
        assert not any(e.passed for e in second.get_asset_check_evaluations())
        alerts.tick()
        alerts.tick()
        next_lapse = webhook.bodies[len(lapse) :]

    for bodies, run, why in (
        (lapse, first, "never been observed/materialized"),
        (next_lapse, second, "Asset is overdue"),
    ):
        stale = {fields(body)["Asset"]: fields(body) for body in bodies}
        assert len(bodies) == len(stale) == 4
        assert set(stale) == set(DAILY_TABLES)
        for said in stale.values():
            assert said["Check"] == "freshness_check"
            assert said["Run"] == f"{UI}/runs/{run.run_id}"
            assert why in said["Why"]
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
