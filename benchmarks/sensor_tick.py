"""Benchmark: a sensor tick over a prefix of 20,000 keys with 10 new ones, against listing it all.

Starts moto's S3 server on a loopback port (real HTTP, as the tests do), fills `song_data/` with
20,000 small objects named like real song files (a random track id, so keys arrive in no order),
records all of them in a DuckDB warehouse's `load_manifest` as loaded (as staging would), and
brings the song sensor's cursor to its steady state. Then it measures, with the song sensor's
default budget (20 tail pages, 10 sweep pages of 1,000 keys):

1. ordered arrivals: 10 new keys that sort after every key (as dated event files do): one tick;
2. unordered arrivals: 10 new keys at random places, plus 1 object rewritten in place: the ticks
   of one sweep lap, each bounded, until all of them are found;
3. against: dagster-aws's `get_objects` over the prefix (what a `get_s3_keys` sensor does on
   every tick), and a full reconciliation (list everything, compare all with the manifest).

Requests are counted on the boto3 client (ListObjectsV2 calls). Filling moto takes a minute or
two; the figures after it take seconds. Run from the repository root:

    .venv/bin/python -m benchmarks.sensor_tick [--keys 20000] [--new 10]
"""

import argparse
import os
import random
import string
import tempfile
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

import boto3
from dagster_aws.s3.sensor import get_objects

from sparkify_assets import lake_scan
from sparkify_assets.lake_scan import Cursor, loaded_versions, scan
from sparkify_assets.resources.engines.base import Warehouse
from sparkify_assets.resources.engines.duckdb import DuckDBWarehouse
from sparkify_assets.resources.lake import Lake
from tests.s3_server import FAKE_CREDENTIALS, moto_server

BUCKET = "bench-lake"
ROOT = "raw/"


def song_key(rng: random.Random) -> str:
    track = "TR" + "".join(rng.choices(string.ascii_uppercase + string.digits, k=16))
    return f"song_data/{track[2]}/{track[3]}/{track[4]}/{track}.json"


def fill(client, keys: list[str]) -> None:
    def put(key: str) -> None:
        body = f'{{"song_id": "SO{key[-21:-5]}", "num_songs": 1}}'.encode()
        client.put_object(Bucket=BUCKET, Key=ROOT + key, Body=body)

    with ThreadPoolExecutor(16) as pool:
        list(pool.map(put, keys))


def record_loaded(warehouse: Warehouse, lake: Lake, keys: set[str] | None = None) -> None:
    """Manifest rows for the objects (all, or `keys`), as staging writes them after a load."""
    objects = [o for o in lake.list_objects("song_data/") if keys is None or o.key in keys]
    with warehouse.session() as session:
        for name in ("load_manifest", "staging_events", "staging_songs", "staging_rejects"):
            session.create_table(name)
        session.fill_load_objects(objects, {o.key: 1 for o in objects})  # a song an object
        batch = {"table_name": "staging_songs", "load_batch": 1, "loaded_at": "2018-11-30"}
        session.run("load_manifest", "record_objects", batch, table=batch["table_name"])


class Meter:
    """ListObjectsV2 calls and wall time of a block."""

    def __init__(self, client):
        self.calls: Counter = Counter()
        client.meta.events.register("before-call.s3", self._count)

    def _count(self, model, **_):
        self.calls.update([model.name])

    def measure(self, work):
        self.calls.clear()
        start = time.perf_counter()
        result = work()
        return result, self.calls["ListObjectsV2"], time.perf_counter() - start


def steady_cursor(lake: Lake, warehouse: Warehouse, clock: list[int]) -> Cursor:
    """Tick until the tail is at the end and a sweep lap is complete: the everyday state."""
    cursor = Cursor()
    for _ in range(10):
        clock[0] += lake_scan.SONGS.interval_seconds
        found = scan(lake, warehouse, lake_scan.SONGS, cursor, now=clock[0])
        assert not found.requested, "the warehouse should hold everything already"
        cursor = found.cursor
        if cursor.sweep is None and cursor.tail is not None:
            return cursor
    raise RuntimeError("the sweep never completed a lap")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keys", type=int, default=20_000)
    parser.add_argument("--new", type=int, default=10)
    args = parser.parse_args()
    os.environ.update(FAKE_CREDENTIALS)  # this process only: moto accepts any credentials
    rng = random.Random(20_000)
    with moto_server() as endpoint, tempfile.TemporaryDirectory() as tmp:
        client = boto3.client("s3", endpoint_url=endpoint)
        client.create_bucket(Bucket=BUCKET)
        keys = sorted({song_key(rng) for _ in range(args.keys)})
        start = time.perf_counter()
        fill(client, keys)
        print(f"filled moto with {len(keys):,} keys in {time.perf_counter() - start:.0f} s")

        lake = Lake(url=f"s3://{BUCKET}/{ROOT}", s3_endpoint_url=endpoint)
        warehouse = DuckDBWarehouse(path=str(Path(tmp) / "bench.duckdb"))
        record_loaded(warehouse, lake)
        meter = Meter(lake.s3_client())
        clock = [0]
        cursor = steady_cursor(lake, warehouse, clock)

        def tick():
            clock[0] += lake_scan.SONGS.interval_seconds
            return scan(lake, warehouse, lake_scan.SONGS, cursor, now=clock[0])

        print(
            f"\nsensor tick, song sensor budget (tail {lake_scan.SONGS.tail_pages} pages, sweep "
            f"{lake_scan.SONGS.sweep_pages} pages of 1,000 keys); steady state, nothing new:"
        )
        found, calls, seconds = meter.measure(tick)
        cursor = found.cursor
        print(
            f"  {calls} LIST requests, {found.listed:,} keys compared, {seconds:.2f} s; "
            f"cursor {len(cursor.dump())} bytes"
        )
        events_budget = replace(lake_scan.SONGS, sweep_pages=lake_scan.EVENTS.sweep_pages)
        found, calls, seconds = meter.measure(
            lambda: scan(lake, warehouse, events_budget, cursor, now=clock[0])
        )
        print(
            f"  with the event sensor's budget (sweep {events_budget.sweep_pages} pages): "
            f"{calls} LIST requests, {found.listed:,} keys compared, {seconds:.2f} s"
        )

        ordered = [f"song_data/ZZ/new-{n:02d}.json" for n in range(args.new)]
        fill(client, ordered)
        found, calls, seconds = meter.measure(tick)
        cursor = found.cursor
        assert set(found.requested) == set(ordered), sorted(found.requested)
        print(f"\n1. {args.new} new keys after every key (ordered, like dated event files):")
        print(
            f"  found in 1 tick: {calls} LIST requests ({found.tail_pages} after the tail, which "
            f"found them; {found.sweep_pages} of the sweep), {found.listed:,} keys compared, "
            f"{seconds:.2f} s"
        )
        record_loaded(warehouse, lake, set(ordered))  # their run loaded them

        unordered = sorted({song_key(rng) for _ in range(args.new)})
        fill(client, unordered)
        rewritten = keys[len(keys) // 3]
        client.put_object(Bucket=BUCKET, Key=ROOT + rewritten, Body=b'{"song_id": "changed"}')
        target = {*unordered, rewritten}
        print(
            f"\n2. {args.new} new keys at random places + 1 object rewritten in place "
            f"(unordered, like song files):"
        )
        seen: set[str] = set()
        ticks = total_calls = 0
        total_seconds = 0.0
        while seen != target and ticks < 20:
            found, calls, seconds = meter.measure(tick)
            cursor = found.cursor
            ticks += 1
            total_calls += calls
            total_seconds += seconds
            seen |= set(found.requested)
            print(
                f"  tick {ticks}: {calls} LIST requests, {found.listed:,} keys compared, "
                f"{seconds:.2f} s, found {len(found.requested)}"
            )
        assert seen == target, sorted(target - seen)
        print(
            f"  all {len(target)} found in {ticks} ticks (one sweep lap): {total_calls} LIST "
            f"requests, {total_seconds:.2f} s in all"
        )

        sample = [o.key for o in lake.list_objects("song_data/")][
            : 1000 * lake_scan.SONGS.sweep_pages
        ]
        _, _, seconds = meter.measure(lambda: loaded_versions(warehouse, "staging_songs", sample))
        print(
            f"  of a tick's time, comparing {len(sample):,} keys with the manifest: {seconds:.2f} s"
        )

        print("\n3. against listing everything on every tick:")
        objects, calls, seconds = meter.measure(
            lambda: get_objects(BUCKET, ROOT + "song_data/", client=lake.s3_client())
        )
        print(
            f"  dagster-aws get_objects: {calls} LIST requests, {len(objects):,} keys, "
            f"{seconds:.2f} s (and it cannot tell a new key that sorts early, or a rewrite, "
            "without state of its own)"
        )

        def full_reconciliation():
            listed = {o.key: o.etag for o in lake.list_objects("song_data/")}
            loaded = loaded_versions(warehouse, "staging_songs", listed)
            return [k for k, etag in listed.items() if loaded.get(k) != etag]

        differ, calls, seconds = meter.measure(full_reconciliation)
        print(
            f"  full reconciliation (list all, compare all with the manifest): {calls} LIST "
            f"requests, {seconds:.2f} s, {len(differ)} differ"
        )


if __name__ == "__main__":
    main()
