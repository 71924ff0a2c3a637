"""Freshness: the tables fed by the daily event logs say how recently they must have loaded.

Dagster's last-update freshness checks, one per table: a table that has not materialized within
the window fails its `freshness_check` (severity ERROR, not blocking), in the UI, in the checks
job and in the freshness sensor's runs. A late day of events means no run (the lake sensor finds
nothing to load), so the window runs out and the tables show it.

Freshness checks, not 1.13's FreshnessPolicy: a policy's state is computed by the daemon only
(with `freshness: enabled` in the instance), never by a job, so `checks_job` could not report it.
"""

import warnings
from collections.abc import Sequence
from datetime import timedelta

from dagster import (
    AssetChecksDefinition,
    AssetCheckSeverity,
    DefaultSensorStatus,
    SensorDefinition,
    build_last_update_freshness_checks,
    build_sensor_for_freshness_checks,
)

# A day of events arrives once a day; two hours more before the tables count as late.
DEFAULT_FRESH_WITHIN_HOURS = 26.0
# The tables each day of events changes.
DAILY_TABLES = ("staging_events", "users", "time", "songplays")
FRESHNESS_CHECK = "freshness_check"  # the name Dagster gives each table's check


def freshness_checks(fresh_within_hours: float) -> Sequence[AssetChecksDefinition]:
    with warnings.catch_warnings():
        # Dagster marks the builders as superseded by FreshnessPolicy; see the docstring.
        warnings.simplefilter("ignore")
        return build_last_update_freshness_checks(
            assets=list(DAILY_TABLES),
            lower_bound_delta=timedelta(hours=fresh_within_hours),
            severity=AssetCheckSeverity.ERROR,
        )


def freshness_sensor(checks: Sequence[AssetChecksDefinition]) -> SensorDefinition:
    """Runs each freshness check when its table could have gone stale since it last passed."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return build_sensor_for_freshness_checks(
            freshness_checks=checks,
            name="freshness_checks_sensor",
            minimum_interval_seconds=600,
            default_status=DefaultSensorStatus.RUNNING,
        )
