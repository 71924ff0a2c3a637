"""The event log's days: the daily partitions of `log_data` and `staging_events`, and the day each
lake object belongs to.

A day is a UTC calendar day, `YYYY-MM-DD`. An object belongs to the day its key names: the last
`YYYY-MM-DD` in the key (`log_data/2018/11/2018-11-03-events.json` is 2018-11-03). An object whose
key names no day belongs to the day the lake last wrote it (S3's LastModified, a file's mtime),
the day it arrived. The partitions run from SPARKIFY_EVENTS_START (default 2018-11-01) through
today, so an object without a date that arrives today has a day to load into. An object whose day
is outside them is reported with the objects that are not data (`skipped_objects`), never
dropped in silence.
"""

from __future__ import annotations

import os
import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime

from dagster import DailyPartitionsDefinition

from sparkify_assets.resources.lake import Lake
from sparkify_assets.resources.lake_objects import LakeObject, NotData
from sparkify_assets.settings import read_first_day

DEFAULT_FIRST_DAY = "2018-11-01"  # the first day of Sparkify's event log
# The tags that make one run of a range of partitions (what `--partition-range` sets).
RANGE_START_TAG = "dagster/asset_partition_range_start"
RANGE_END_TAG = "dagster/asset_partition_range_end"
_DAY_IN_KEY = re.compile(r"(?<!\d)(\d{4})-(\d{2})-(\d{2})(?!\d)")


def daily_partitions(first_day: str) -> DailyPartitionsDefinition:
    # end_offset=1: today is a partition too (Dagster's last is otherwise yesterday, the last
    # complete day), for objects that name no day and arrive today.
    return DailyPartitionsDefinition(start_date=first_day, end_offset=1, timezone="UTC")


EVENT_DAYS = daily_partitions(read_first_day(os.environ, DEFAULT_FIRST_DAY))


def day_named_in(key: str) -> str | None:
    """The last real date `YYYY-MM-DD` in `key`, or None."""
    for match in reversed(list(_DAY_IN_KEY.finditer(key))):
        try:
            return date(*map(int, match.groups())).isoformat()
        except ValueError:  # 2018-13-45: digits, not a day
            continue
    return None


def day_of(obj: LakeObject) -> str:
    """The day `obj` belongs to: the day its key names, else the day the lake last wrote it."""
    return day_named_in(obj.key) or datetime.fromtimestamp(obj.modified, UTC).date().isoformat()


def range_tags(first: str, last: str) -> dict[str, str]:
    """The tags of one run over the days `first` to `last`."""
    return {RANGE_START_TAG: first, RANGE_END_TAG: last}


def bounds(days: DailyPartitionsDefinition = EVENT_DAYS) -> tuple[str, str]:
    """The first and the last day of the partitions, as of now."""
    return days.get_first_partition_key(), days.get_last_partition_key()


def outside_reason(day: str, days: DailyPartitionsDefinition = EVENT_DAYS) -> str | None:
    """Why an object of `day` has no partition to load into; None when it has one."""
    first, last = bounds(days)
    if first <= day <= last:
        return None
    return (
        f"its day {day} is outside the daily partitions {first} to {last} "
        "(SPARKIFY_EVENTS_START sets the first)"
    )


def by_day(
    objects: Iterable[LakeObject], days: DailyPartitionsDefinition = EVENT_DAYS
) -> tuple[dict[str, list[LakeObject]], list[NotData]]:
    """`objects` by the day each belongs to, and those whose day has no partition."""
    dated: dict[str, list[LakeObject]] = defaultdict(list)
    outside: list[NotData] = []
    for obj in objects:
        day = day_of(obj)
        reason = outside_reason(day, days)
        if reason:
            outside.append(NotData(obj.key, obj.size, reason))
        else:
            dated[day].append(obj)
    return dict(dated), outside


def covering(days: Sequence[str]) -> tuple[str, str] | None:
    """The first and the last of `days` (one run loads them and the days between), or None."""
    return (min(days), max(days)) if days else None


def days_in_lake(lake: Lake) -> tuple[str, str] | None:
    """The first and the last day of the lake's event log objects that have a partition; None
    when it holds none: the range that loads the whole event log in one run."""
    of_day, _ = by_day(lake.list_objects("log_data/"))
    return covering(list(of_day))
