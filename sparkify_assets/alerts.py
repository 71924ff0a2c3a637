"""Alerts: one message to a chat webhook per failure, in Slack's incoming-webhook format.

Two sensors post, each about failures the other never sees, so a failure is one message:
- `run_failure_alert_sensor`: a run failed (a step raised, or a blocking check failed and so
  stopped the run): the job, the failed steps and failed blocking checks, the run's URL.
- `stale_table_alert_sensor`: an asset's freshness policy, as Dagster's freshness daemon
  evaluates it, went to FAIL (from PASS, WARN or unknown). An asset that stays stale is not
  announced again; once fresh, a new lapse is.

Off unless `SPARKIFY_ALERT_WEBHOOK_URL` is set (definitions.py). The URL is a secret (whoever has
it can post): it travels as an `EnvVar` and no log line, error or message contains it. Messages
hold names, counts and Dagster's first line of an error, which the engines keep free of secrets.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Mapping
from datetime import UTC, datetime

from dagster import (
    AssetKey,
    ConfigurableResource,
    DagsterEventType,
    DefaultSensorStatus,
    FreshnessPolicy,
    RunFailureSensorContext,
    SensorDefinition,
    SensorEvaluationContext,
    SensorResult,
    SkipReason,
    run_failure_sensor,
    sensor,
)

from sparkify_assets.failures import failure_reason, first_line
from sparkify_assets.freshness import fail_window_text

DEFAULT_UI_URL = "http://127.0.0.1:3000"  # what `make dev` serves


class AlertError(RuntimeError):
    """The webhook did not take a message (said without its URL)."""


class AlertWebhook(ConfigurableResource):
    """Where alerts go: a Slack-format incoming webhook, and the UI that run links point to."""

    url: str
    ui_url: str = DEFAULT_UI_URL

    def run_link(self, run_id: str) -> str:
        return f"{self.ui_url.rstrip('/')}/runs/{run_id}"

    def asset_link(self, key: AssetKey) -> str:
        return f"{self.ui_url.rstrip('/')}/assets/{'/'.join(key.path)}"

    def post(self, title: str, fields: dict[str, str]) -> None:
        """One message: `title` as its text, `fields` (name: value) as one section of fields."""
        lines = "\n".join(f"*{name}*: {value}" for name, value in fields.items())
        body = {
            "text": f"{title}\n{lines}",  # what Teams and plain-text tools show
            "blocks": [
                {"type": "section", "text": {"type": "mrkdwn", "text": f"*{title}*"}},
                {
                    "type": "section",
                    "fields": [
                        {"type": "mrkdwn", "text": f"*{name}*\n{value}"}
                        for name, value in fields.items()
                    ],
                },
            ],
        }
        request = urllib.request.Request(
            self.url,
            data=json.dumps(body).encode("utf-8"),
            headers={"Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                response.read()
        except urllib.error.HTTPError as exc:
            raise AlertError(f"the alert webhook answered HTTP {exc.code}") from None
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise AlertError(
                f"the alert webhook could not be reached: {type(reason).__name__}"
            ) from None


def failed_blocking_checks(context: RunFailureSensorContext) -> list[str]:
    """`asset:check` of each blocking check that failed in the run."""
    records = context.instance.all_logs(
        context.dagster_run.run_id, of_type=DagsterEventType.ASSET_CHECK_EVALUATION
    )
    failed = []
    for record in records:
        evaluation = record.dagster_event.event_specific_data
        if not evaluation.passed and evaluation.blocking:
            failed.append(f"{evaluation.asset_key.to_user_string()}:{evaluation.check_name}")
    return sorted(set(failed))


def run_failure_message(
    context: RunFailureSensorContext, run_link: str
) -> tuple[str, dict[str, str]]:
    run = context.dagster_run
    steps = context.get_step_failure_events()
    fields = {"Job": run.job_name}
    if steps:
        fields["Failed steps"] = "; ".join(
            f"{event.step_key}: {failure_reason(event.event_specific_data)}" for event in steps
        )
    else:
        fields["Error"] = first_line(context.failure_event.message)
    assets = sorted({key.to_user_string() for key in run.asset_selection or ()})
    if assets:
        fields["Assets"] = ", ".join(assets)
    checks = failed_blocking_checks(context)
    if checks:
        fields["Failed blocking checks"] = ", ".join(checks)
    fields["Run"] = run_link
    return f"Sparkify run failed: {run.job_name}", fields


def sensor_settings(name: str, every_seconds: int, when: str) -> dict:
    """An alert sensor's settings: running from the start (alerts are off unless configured)."""
    return {
        "name": name,
        "default_status": DefaultSensorStatus.RUNNING,
        "minimum_interval_seconds": every_seconds,
        "description": f"Posts one message to SPARKIFY_ALERT_WEBHOOK_URL {when}.",
    }


def run_failure_alert_sensor() -> SensorDefinition:
    @run_failure_sensor(**sensor_settings("run_failure_alert_sensor", 30, "per failed run"))
    def alert_on_run_failure(context: RunFailureSensorContext, alert_webhook: AlertWebhook):
        run_link = alert_webhook.run_link(context.dagster_run.run_id)
        title, fields = run_failure_message(context, run_link)
        alert_webhook.post(title, fields)

    return alert_on_run_failure


def utc_text(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d %H:%M UTC")


def stale_table_alert_sensor(policies: Mapping[str, FreshnessPolicy]) -> SensorDefinition:
    """Posts when an asset named in `policies` goes to FAIL under its policy."""
    keys = [AssetKey(name) for name in sorted(policies)]

    @sensor(**sensor_settings("stale_table_alert_sensor", 60, "when an asset goes stale"))
    def alert_on_stale_table(context: SensorEvaluationContext, alert_webhook: AlertWebhook):
        # The cursor: when each asset still failing went to FAIL, that is, which lapse was told.
        announced: dict[str, float] = json.loads(context.cursor or "{}")
        # Each asset's latest freshness state change, as the daemon recorded it in the event log.
        states = context.instance.get_freshness_state_records(keys)
        still_failing = {}
        for key in keys:
            state = states.get(key)
            if state is None or state.freshness_state.value != "FAIL":  # its enum is not public
                continue
            name = key.to_user_string()
            since = state.updated_at.timestamp()
            still_failing[name] = since
            if announced.get(name) == since:
                continue  # the same lapse, already told
            loaded = context.instance.get_latest_materialization_event(key)
            last = utc_text(loaded.timestamp) if loaded else "never"
            alert_webhook.post(
                f"Sparkify asset is stale: {name}",
                {
                    "Asset": name,
                    "Why": f"last materialized {last}; its freshness policy allows "
                    f"{fail_window_text(policies[name])}",
                    "Stale since": utc_text(since),
                    "Asset page": alert_webhook.asset_link(key),
                },
            )
            context.log.info(f"alerted: {name} is stale")
        cursor = json.dumps(still_failing, sort_keys=True)
        if cursor == (context.cursor or "{}"):
            return SkipReason("no asset went stale")
        return SensorResult(cursor=cursor)

    return alert_on_stale_table


def alert_sensors(policies: Mapping[str, FreshnessPolicy]) -> list[SensorDefinition]:
    return [run_failure_alert_sensor(), stale_table_alert_sensor(policies)]
