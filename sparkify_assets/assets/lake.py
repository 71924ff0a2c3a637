"""The lake: `log_data` and `song_data` as external assets, where the graph's lineage starts.

Dagster does not write them; the app does. The lake sensors report a materialization of each when
new objects arrive (sensors.py; of `log_data`, one per day the objects belong to), so the UI shows
when data last came in, day by day, and the freshness policy (freshness.py) judges the event logs
by it.
"""

from collections.abc import Sequence

from dagster import AssetsDefinition, AssetSpec

from sparkify_assets.event_days import EVENT_DAYS
from sparkify_assets.lake_scan import WATCHES, Watch


def lake_key(watch: Watch) -> str:
    """The lake asset a sensor watches: its prefix without the slash (`log_data`)."""
    return watch.prefix.rstrip("/")


DESCRIPTIONS = {
    "log_data": "The app's event logs in the lake: one JSON-lines object per day "
    "(log_data/YYYY/MM/YYYY-MM-DD-events.json), one row per event line, partitioned by the day "
    "each object belongs to. Written by the app; observed by log_data_sensor, day by day.",
    "song_data": "The song catalogue in the lake: one small JSON object per song "
    "(song_data/A/B/C/TR....json), one row per song. Written upstream; observed by "
    "song_data_sensor.",
}


def lake_assets(kind: str, owner: str) -> list[AssetSpec]:
    """One external asset per watched prefix; `kind` is `s3` or `folder`."""
    return [
        AssetSpec(
            lake_key(watch),
            group_name="lake",
            kinds={kind},
            owners=[owner],
            description=DESCRIPTIONS[lake_key(watch)],
            partitions_def=EVENT_DAYS if watch.by_day else None,
        )
        for watch in WATCHES
    ]


def fed_by_the_lake(assets: Sequence[AssetsDefinition]) -> list[AssetsDefinition]:
    """The staging assets with the lake prefix each loads as an upstream dependency."""
    feeds = {watch.staging_asset: lake_key(watch) for watch in WATCHES}

    def with_source(spec):
        source = feeds.get(spec.key.to_user_string())
        return spec.merge_attributes(deps=[source]) if source else spec

    return [a.map_asset_specs(with_source) for a in assets]
