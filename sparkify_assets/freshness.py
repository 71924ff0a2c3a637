"""Freshness: the event logs, and the tables each day of them feeds, say how recently they must
have been updated.

Dagster's freshness policies (`FreshnessPolicy.time_window`) on `log_data` and the daily tables:
an asset whose last materialization is older than `SPARKIFY_FRESH_WITHIN_HOURS` is FAIL, one
within the last hour of that window WARN, else PASS; one never materialized is UNKNOWN. A late
day of events means no run (the lake sensor finds nothing to load), so the window runs out and
the tables show it.

Dagster's freshness daemon (part of `dagster-daemon`, on unless the instance sets `freshness:
enabled: false`) evaluates the policies every 30 s and records each change of state in the event
log; the UI shows the state on the asset's page and `stale_table_alert_sensor` (alerts.py) posts
on a change to FAIL. No job evaluates a policy, so `checks_job` says nothing about freshness.

Dagster 1.13 judges a policy by the last materialization only (of any partition): the lake
sensors report a materialization of `log_data`'s day when its objects arrive, so a late day shows
on `log_data` first, then on the tables it feeds.
"""

from collections.abc import Iterable, Mapping
from datetime import timedelta

from dagster import AssetsDefinition, AssetSpec, FreshnessPolicy, map_asset_specs

# A day of events arrives once a day; two hours more before the tables count as late.
DEFAULT_FRESH_WITHIN_HOURS = 26.0
# Dagster refuses a window shorter than a minute.
SHORTEST_WINDOW_HOURS = 1 / 60
# WARN this long before FAIL: time to look before the window runs out. Longer would warn every
# day before the next day's load is even due (24 h of the default 26).
WARN_AHEAD = timedelta(hours=1)
# The tables each day of events changes.
DAILY_TABLES = ("staging_events", "users", "time", "songplays")
# Where the day's events arrive, and what they feed.
FRESH_ASSETS = ("log_data", *DAILY_TABLES)


def freshness_policy(fresh_within_hours: float) -> FreshnessPolicy:
    fail_window = timedelta(hours=fresh_within_hours)
    warn_window = fail_window - WARN_AHEAD
    return FreshnessPolicy.time_window(
        fail_window=fail_window,
        # No warning where the window is too short to leave a minute of one.
        warn_window=warn_window if warn_window >= timedelta(hours=SHORTEST_WINDOW_HOURS) else None,
    )


def freshness_policies(fresh_within_hours: float) -> dict[str, FreshnessPolicy]:
    """Asset name -> its policy: the same window for the event logs and every daily table."""
    policy = freshness_policy(fresh_within_hours)
    return dict.fromkeys(FRESH_ASSETS, policy)


def with_freshness_policies(
    assets: Iterable[AssetSpec | AssetsDefinition],
    policies: Mapping[str, FreshnessPolicy],
) -> list[AssetSpec | AssetsDefinition]:
    """`assets` with each named in `policies` carrying its policy."""

    def attach(spec: AssetSpec) -> AssetSpec:
        policy = policies.get(spec.key.to_user_string())
        return spec.replace_attributes(freshness_policy=policy) if policy else spec

    return map_asset_specs(attach, assets)


def fail_window_text(policy: FreshnessPolicy) -> str:
    """A time-window policy's window as people read it: `26 h`."""
    hours = policy.fail_window.to_timedelta().total_seconds() / 3600
    return f"{hours:g} h"
