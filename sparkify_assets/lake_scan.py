"""What one sensor tick finds in the lake: list within a budget, compare with the load manifest,
decide what to request. docs/sensors.md says how the cursor keeps the cost flat.
"""

import json
from collections.abc import Iterable
from dataclasses import dataclass, field

from sparkify_assets import event_days, load_protocol
from sparkify_assets.resources.engines.base import Warehouse
from sparkify_assets.resources.lake import PAGE_SIZE, Lake, LakeObject, NotData

RETRY_AFTER_SECONDS = 2 * 3600
MAX_PENDING = 2_000


@dataclass(frozen=True)
class Watch:
    """What one sensor watches: a lake prefix, the staging asset it feeds, a tick's budget."""

    name: str
    prefix: str
    staging_asset: str
    interval_seconds: int
    sweep_pages: int  # pages of already-covered keys re-checked per tick
    tail_pages: int = 20  # pages of keys after the tail per tick (more only while catching up)
    page_size: int = PAGE_SIZE
    by_day: bool = False  # its asset is partitioned by day: a request names the objects' days


EVENTS = Watch(
    name="log_data_sensor",
    prefix="log_data/",
    staging_asset="staging_events",
    interval_seconds=120,
    sweep_pages=2,
    by_day=True,
)
SONGS = Watch(
    name="song_data_sensor",
    prefix="song_data/",
    staging_asset="staging_songs",
    interval_seconds=300,
    sweep_pages=10,
)
WATCHES = (EVENTS, SONGS)


@dataclass(frozen=True)
class Pending:
    """An object version a tick requested that the load manifest does not hold yet."""

    etag: str
    requested_at: int  # epoch seconds
    attempt: int  # 0 for the first request, then one more per retry
    day: str | None = None  # the day partition it belongs to, for a prefix loaded by day


@dataclass(frozen=True)
class Cursor:
    """What a sensor has seen of its prefix; stored by Dagster as compact JSON."""

    tail: str | None = None  # the last key listed so far
    sweep: str | None = None  # the sweep resumes after this key; None: from the start
    pending: dict[str, Pending] = field(default_factory=dict)

    @classmethod
    def parse(cls, text: str | None) -> "Cursor":
        if not text:
            return cls()
        data = json.loads(text)
        pending = {key: Pending(*value) for key, value in data.get("pending", {}).items()}
        return cls(data.get("tail"), data.get("sweep"), pending)

    def dump(self) -> str:
        pending = {
            k: [p.etag, p.requested_at, p.attempt, *([p.day] if p.day else [])]
            for k, p in sorted(self.pending.items())
        }
        return json.dumps(
            {"tail": self.tail, "sweep": self.sweep, "pending": pending}, separators=(",", ":")
        )


# Keys k with after < k <= through; None means from the start, or to the end.
KeyRange = tuple[str | None, str | None]


@dataclass(frozen=True)
class Listing:
    """What one part of a tick listed: data objects by key, the key ranges it covered, and the
    objects it passed over as not data (by key, with why)."""

    objects: dict[str, LakeObject]
    ranges: list[KeyRange]
    pages: int
    not_data: dict[str, NotData] = field(default_factory=dict)


NOTHING = Listing({}, [], 0)


@dataclass(frozen=True)
class Scan:
    """The outcome of one tick: what to request, the next cursor, and what it cost."""

    requested: dict[str, Pending]
    cursor: Cursor
    tail_pages: int  # listing pages read after the tail
    sweep_pages: int  # listing pages read by the sweep
    listed: int  # data keys compared with the manifest
    arrived: tuple[LakeObject, ...] = ()  # new or changed objects this tick found (no retries)
    not_data: tuple[NotData, ...] = ()  # objects listed that are not data, in key order

    @property
    def pages(self) -> int:
        return self.tail_pages + self.sweep_pages


def in_partitions(listing: Listing) -> Listing:
    """For a prefix loaded by day: the objects whose day has no partition moved to `not_data`
    (with why), so a tick names them and never requests a run that could not load them."""
    _, outside = event_days.by_day(listing.objects.values())
    if not outside:
        return listing
    moved = {o.key: o for o in outside}
    objects = {k: o for k, o in listing.objects.items() if k not in moved}
    return Listing(objects, listing.ranges, listing.pages, {**listing.not_data, **moved})


def in_range(key: str, key_range: KeyRange) -> bool:
    after, through = key_range
    return (after is None or key > after) and (through is None or key <= through)


def list_tail(lake: Lake, watch: Watch, tail: str | None) -> tuple[Listing, str | None]:
    """List on from the tail, at most `tail_pages` pages; return the listing and the new tail."""
    objects: dict[str, LakeObject] = {}
    not_data: dict[str, NotData] = {}
    pages, last, more = 0, tail, False
    for page in lake.list_pages(watch.prefix, tail, watch.page_size):
        pages += 1
        objects.update((o.key, o) for o in page.objects)
        not_data.update((o.key, o) for o in page.not_data)
        last, more = page.last_key, page.more
        if pages == watch.tail_pages:
            break
    return Listing(objects, [(tail, last if more else None)], pages, not_data), last


def list_sweep(
    lake: Lake, watch: Watch, sweep: str | None, tail: str | None
) -> tuple[Listing, str | None]:
    """List the next `sweep_pages` pages up to the tail, from where the sweep stopped.

    Return the listing and where the next tick's sweep starts (None: the lap is done, so the
    next one starts from the first key).
    """
    if tail is None:
        return NOTHING, None
    objects: dict[str, LakeObject] = {}
    not_data: dict[str, NotData] = {}
    pages = 0
    for page in lake.list_pages(watch.prefix, sweep, watch.page_size):
        pages += 1
        objects.update((o.key, o) for o in page.objects if o.key <= tail)
        not_data.update((o.key, o) for o in page.not_data if o.key <= tail)
        if page.last_key >= tail or not page.more:
            break
        if pages == watch.sweep_pages:
            return Listing(objects, [(sweep, page.last_key)], pages, not_data), page.last_key
    return Listing(objects, [(sweep, tail)], pages, not_data), None


def loaded_versions(warehouse: Warehouse, table: str, keys: Iterable[str]) -> dict[str, str]:
    """The ETag (or size and mtime) staging `table` loaded for each of `keys` that it loaded.
    Raises WarehouseBusy rather than wait while a run holds the warehouse (a tick has 60 s)."""
    objects = [LakeObject(key, "", 0) for key in sorted(keys)]
    if not objects:
        return {}
    with load_protocol.reading(warehouse, ["load_manifest"], wait=False) as session:
        return load_protocol.loaded_versions(session, table, objects)


def still_pending(
    pending: dict[str, Pending],
    listed: dict[str, LakeObject],
    ranges: list[KeyRange],
    loaded: dict[str, str],
) -> dict[str, Pending]:
    """The pending objects that have neither loaded nor left the lake."""
    kept = {}
    for key, entry in pending.items():
        now_listed = listed.get(key)
        if loaded.get(key) == entry.etag:
            continue  # the requested version loaded
        if now_listed is not None and loaded.get(key) == now_listed.etag:
            continue  # a later version loaded
        if now_listed is None and any(in_range(key, r) for r in ranges):
            continue  # listed over and not there: deleted, or no longer data
        kept[key] = entry
    return kept


def scan(lake: Lake, warehouse: Warehouse, watch: Watch, cursor: Cursor, now: int) -> Scan:
    """One tick's work for one prefix: list within budget, compare, decide what to request."""
    if len(cursor.pending) >= MAX_PENDING:
        # A backlog is still loading: only see what of it has loaded, list nothing new.
        tail_listing, tail, sweep_listing, sweep = NOTHING, cursor.tail, NOTHING, cursor.sweep
    else:
        tail_listing, tail = list_tail(lake, watch, cursor.tail)
        # The sweep re-checks what earlier ticks covered: up to the tail they left.
        sweep_listing, sweep = list_sweep(lake, watch, cursor.sweep, cursor.tail)
    if watch.by_day:
        tail_listing, sweep_listing = in_partitions(tail_listing), in_partitions(sweep_listing)
    listed = {**sweep_listing.objects, **tail_listing.objects}
    loaded = loaded_versions(warehouse, watch.staging_asset, listed.keys() | cursor.pending.keys())
    pending = still_pending(
        cursor.pending, listed, tail_listing.ranges + sweep_listing.ranges, loaded
    )

    def is_new(obj: LakeObject) -> bool:
        waiting = pending.get(obj.key)
        return loaded.get(obj.key) != obj.etag and (waiting is None or waiting.etag != obj.etag)

    from_sweep = [o for o in sweep_listing.objects.values() if is_new(o)]
    from_tail = sorted((o for o in tail_listing.objects.values() if is_new(o)), key=lambda o: o.key)
    room = max(MAX_PENDING - len(pending) - len(from_sweep), 0)
    if len(from_tail) > room:
        # Take the first `room` new keys; the tail stops at the last one taken, and the next
        # ticks list on from there once the backlog has loaded.
        from_tail = from_tail[:room]
        tail = from_tail[-1].key if from_tail else cursor.tail

    arrived = (*from_sweep, *from_tail)
    requested = {
        o.key: Pending(o.etag, now, 0, event_days.day_of(o) if watch.by_day else None)
        for o in arrived
    }
    for key, entry in pending.items():
        if key not in requested and now - entry.requested_at >= RETRY_AFTER_SECONDS:
            requested[key] = Pending(entry.etag, now, entry.attempt + 1, entry.day)
    pending.update(requested)
    return Scan(
        requested=requested,
        cursor=Cursor(tail, sweep, pending),
        tail_pages=tail_listing.pages,
        sweep_pages=sweep_listing.pages,
        listed=len(listed),
        arrived=arrived,
        not_data=tuple(
            sorted(
                {**sweep_listing.not_data, **tail_listing.not_data}.values(), key=lambda o: o.key
            )
        ),
    )
