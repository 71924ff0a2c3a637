"""Schedules: what runs by the clock, next to the lake sensors that run on arrival.

- `weekly_checks_schedule` (RUNNING): `checks_job` every Monday 05:00 UTC. Run on its own, every
  check looks at every row (a check run with a load looks at that load only), so this is what
  re-checks the whole warehouse. It reads and never writes, so it is safe to start by default.
- `nightly_load_schedule` (STOPPED): `sparkify_job` every day at 02:00 UTC for yesterday and
  today (a late file of yesterday's, and today's first), for deployments where the lake sensors
  cannot list the lake. The sensors already load each day within minutes, so running both would
  only add empty runs: start it in the UI where the sensors are stopped.
"""

from datetime import timedelta

from dagster import (
    DefaultScheduleStatus,
    RunRequest,
    ScheduleDefinition,
    ScheduleEvaluationContext,
    schedule,
)

from sparkify_assets.event_days import range_tags


def schedules(checks_job, load_job) -> list[ScheduleDefinition]:
    """The schedules of `checks_job` (every check, every row) and `load_job` (the graph, for
    yesterday's and today's days)."""
    weekly_checks = ScheduleDefinition(
        name="weekly_checks_schedule",
        job=checks_job,
        cron_schedule="0 5 * * 1",
        execution_timezone="UTC",
        default_status=DefaultScheduleStatus.RUNNING,
        description="Every check over every row, each Monday at 05:00 UTC.",
    )

    @schedule(
        name="nightly_load_schedule",
        job=load_job,
        cron_schedule="0 2 * * *",
        execution_timezone="UTC",
        default_status=DefaultScheduleStatus.STOPPED,
        description="Take in what is new in the lake for yesterday and today, each night at "
        "02:00 UTC; for lakes the sensors cannot watch (stopped: the sensors load each day as "
        "it arrives).",
    )
    def nightly_load(context: ScheduleEvaluationContext) -> RunRequest:
        today = context.scheduled_execution_time.date()
        yesterday = today - timedelta(days=1)
        return RunRequest(tags=range_tags(yesterday.isoformat(), today.isoformat()))

    return [weekly_checks, nightly_load]
