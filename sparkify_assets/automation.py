"""Declarative automation: the star tables and the report update because their inputs changed.

The lake sensors request only the staging assets (`staging_events` for the days whose objects
are new or changed, `staging_songs`); `automation_sensor` (on by default, every 30 s or
SPARKIFY_SENSOR_INTERVAL_SECONDS) evaluates
each downstream asset's condition and requests what it finds true, in one run per tick:

- `users`, `time`, `songplays` and the report after a day of `staging_events` loads;
  `songs`, `artists`, `songplays` and the report after `staging_songs` loads;
- never while an input, or the asset itself, is being written (it would merge half a change);
- never past an input whose blocking checks failed: a star table whose audit failed published
  nothing, and what is downstream of it waits until it passes.
"""

from dagster import (
    AssetSelection,
    AutomationCondition,
    AutomationConditionSensorDefinition,
    DefaultSensorStatus,
)

# Not `eager()`: it waits while any input partition is missing, and most days of the event log
# (every day without a file, before the first and after the last) always are.
AFTER_INPUTS_CHANGE = (
    AutomationCondition.any_deps_updated().since_last_handled()
    & ~AutomationCondition.any_deps_in_progress()
    & ~AutomationCondition.in_progress()
    & AutomationCondition.all_deps_blocking_checks_passed()
).with_label("after its inputs change")

DEFAULT_INTERVAL_SECONDS = 30  # Dagster's own default for an automation sensor


def automation_sensor(interval_seconds: int | None = None) -> AutomationConditionSensorDefinition:
    """The sensor that evaluates every automation condition, every `interval_seconds`."""
    return AutomationConditionSensorDefinition(
        "automation_sensor",
        target=AssetSelection.all(),
        default_status=DefaultSensorStatus.RUNNING,
        minimum_interval_seconds=interval_seconds or DEFAULT_INTERVAL_SECONDS,
        description="Requests the star tables and the report when their inputs change (each "
        "asset's automation condition); the lake sensors request only the staging assets.",
    )
