"""Schedules: what runs by the clock, next to the lake sensors that run on arrival.

- `weekly_checks_schedule` (RUNNING): `checks_job` every Monday 05:00 UTC. Run on its own, every
  check looks at every row (a check run with a load looks at that load only), so this is what
  re-checks the whole warehouse. It reads and never writes, so it is safe to start by default.
- `nightly_load_schedule` (STOPPED): `sparkify_job` every day at 02:00 UTC, for deployments where
  the lake sensors cannot list the lake. The sensors already load each day within minutes, so
  running both would only add empty runs: start it in the UI where the sensors are stopped.
"""

from dagster import DefaultScheduleStatus, ScheduleDefinition


def schedules(checks_job, load_job) -> list[ScheduleDefinition]:
    """The schedules of `checks_job` (every check, every row) and `load_job` (the whole graph)."""
    plan = (
        (
            "weekly_checks_schedule",
            checks_job,
            "0 5 * * 1",
            DefaultScheduleStatus.RUNNING,
            "Every check over every row, each Monday at 05:00 UTC.",
        ),
        (
            "nightly_load_schedule",
            load_job,
            "0 2 * * *",
            DefaultScheduleStatus.STOPPED,
            "Take in what is new in the lake each night at 02:00 UTC; for lakes the sensors "
            "cannot watch (stopped: the sensors load each day as it arrives).",
        ),
    )
    return [
        ScheduleDefinition(
            name=name,
            job=job,
            cron_schedule=cron,
            execution_timezone="UTC",
            default_status=status,
            description=description,
        )
        for name, job, cron, status, description in plan
    ]
