"""The load protocol: what is new in the lake, what each table has taken in, and in what order.

- Staging compares each lake object's version (S3 ETag, or size and mtime) with `load_manifest`
  and loads only new or changed objects, as one numbered load batch (`load_batches`); a changed
  object's earlier rows and rejects are replaced. The sensors ask the same question the same way.
- A star table remembers in `load_state` the last batch of each staging table it took in and
  merges only later ones; after a load that replaced rows it prunes what lost its source.
- Every load is one transaction that starts by locking what it writes against other writers, so
  a second run waits and then sees what the first committed; readers never wait (Redshift, whose
  LOCK would stop them, locks `load_lock` instead). Tables are created before, in a transaction
  of their own: on Redshift the snapshot is taken at a transaction's first read or write, so
  nothing may come before the lock.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime

from sparkify_assets import event_days, schema_drift, sql_files
from sparkify_assets.load_progress import LoadProgress
from sparkify_assets.resources.engines.base import Session, Warehouse
from sparkify_assets.resources.lake import Lake, LakeObject, NotData
from sparkify_assets.schema_drift import Drift
from sparkify_assets.text_repair import repaired

STAGING_BOOKKEEPING = (
    "staging_rejects",
    "load_manifest",
    "load_batches",
    "text_repairs",
    "skipped_objects",
    "schema_drift",
)


@contextlib.contextmanager
def locked(warehouse: Warehouse, writes: Sequence[str], reads: Sequence[str] = ()):
    """A session whose transaction starts by locking `writes`; every table in `writes` and
    `reads` exists (created beforehand in a transaction of its own)."""
    warehouse.ensure_tables(list(dict.fromkeys([*writes, *reads])))
    with warehouse.session() as session:
        session.lock(*writes)
        yield session


def loaded_versions(session: Session, table: str, objects: Iterable[LakeObject]) -> dict[str, str]:
    """The version staging `table` loaded of each of `objects` that it loaded. An object is new
    when this lacks its key or holds another version."""
    session.fill_load_objects(list(objects))
    return dict(session.fetch("load_manifest", "versions_of_objects", {"table_name": table}))


@dataclass(frozen=True)
class StagingLoad:
    """What one staging run did."""

    objects_seen: int
    objects_loaded: int = 0
    rows_loaded: int = 0
    rows_rejected: int = 0
    rows_replaced: int = 0
    load_batch: int | None = None  # None when nothing was new
    duplicate_events: int = 0  # events copying one staged before (another object, or line)
    repaired_values: int = 0  # mis-encoded titles and artist names repaired for matching
    # Keys the load's records and the JSONPaths disagree on; None where the engine cannot tell.
    drift: tuple[Drift, ...] | None = ()


def stage(
    session: Session,
    table: str,
    lake: Lake,
    objects: Sequence[LakeObject],
    full_refresh: bool,
    progress: LoadProgress | None = None,
    days: Sequence[str] | None = None,
) -> StagingLoad:
    """Load the new and changed `objects` (listed from the lake) into staging `table`.

    `days`: `objects` are those of these days (event_days.py), not all the table's sources. A
    full refresh then reloads them, and drops the rows of objects of those days that have left
    the lake (an object whose key names no day cannot be placed once gone: its rows stay until
    a full refresh of every day). Without `days`, a full refresh empties the table first."""
    by_table = {"table_name": table}
    forgotten = 0
    if full_refresh and days is None:
        session.run("tables", "delete_all", table=table)
        session.run("staging_rejects", "delete_all", by_table)
        session.run("load_manifest", "delete_all", by_table)
    elif full_refresh:
        forgotten = forget_gone(session, table, objects, days)
    loaded = {} if full_refresh else loaded_versions(session, table, objects)
    todo = [o for o in objects if loaded.get(o.key) != o.etag]
    if not todo:
        return StagingLoad(len(objects), rows_replaced=forgotten)
    (load_batch,) = session.fetch("load_batches", "next_batch")[0]
    session.fill_load_objects(todo)
    (rows_replaced,) = session.run(table, "delete_objects")
    rows_replaced += forgotten
    session.run("staging_rejects", "delete_objects", by_table)
    sections = sql_files.sections(table)
    counts_duplicates = "duplicates_in_load" in sections
    # Only rows staged before this load can be copied by it; a first load has none.
    held_rows = counts_duplicates and session.fetch("tables", "holds_rows", table=table)[0][0] > 0
    records = session.stage(table, lake, todo, load_batch, progress)
    drift = record_drift(session, table, load_batch)
    session.fill_load_objects(todo, records)  # the manifest's counts, without a scan of the table
    session.analyze(table)
    session.run("load_manifest", "delete_objects", by_table)
    batch = {
        **by_table,
        "load_batch": load_batch,
        "loaded_at": datetime.now(UTC).replace(tzinfo=None).isoformat(sep=" "),
        "rows_replaced": rows_replaced,
        "full_refresh": full_refresh,
        "duplicate_events": 0,
        "repaired_values": 0,
    }
    duplicates = (
        count_duplicates(session, table, load_batch, held_rows) if counts_duplicates else {}
    )
    batch["duplicate_events"] = sum(duplicates.values())
    if "text_to_repair" in sections:
        batch["repaired_values"] = repair_text(session, table, load_batch)
    session.run("load_manifest", "record_objects", batch, table=table)
    session.run_many(
        "load_manifest",
        "record_duplicates",
        [
            {**by_table, "object_key": k, "duplicate_events": n}
            for k, n in sorted(duplicates.items())
        ],
    )
    session.run("load_batches", "record", batch)
    objects_loaded, rows_loaded, rows_rejected = session.fetch("load_batches", "totals", batch)[0]
    return StagingLoad(
        len(objects),
        objects_loaded,
        rows_loaded,
        rows_rejected,
        rows_replaced,
        load_batch,
        batch["duplicate_events"],
        batch["repaired_values"],
        drift,
    )


def forget_gone(
    session: Session, table: str, listed: Sequence[LakeObject], days: Sequence[str]
) -> int:
    """Drop the rows, rejects and manifest entries of objects whose key names one of `days`
    and that the lake no longer lists; return how many rows went."""
    keys, wanted = {o.key for o in listed}, set(days)
    gone = [
        LakeObject(key, "", 0)
        for (key,) in session.fetch("load_manifest", "keys", {"table_name": table})
        if key not in keys and event_days.day_named_in(key) in wanted
    ]
    if not gone:
        return 0
    session.fill_load_objects(gone)
    (rows,) = session.run(table, "delete_objects")
    session.run("staging_rejects", "delete_objects", {"table_name": table})
    session.run("load_manifest", "delete_objects", {"table_name": table})
    return rows


@dataclass(frozen=True)
class ObjectCounts:
    """What one object gave its staging table when it last loaded."""

    rows: int
    rows_rejected: int
    duplicate_events: int


def counts_of_objects(
    session: Session, table: str, objects: Sequence[LakeObject]
) -> dict[str, ObjectCounts]:
    """What each of `objects` that staging `table` loaded gave it, from the load manifest."""
    session.fill_load_objects(objects)
    rows = session.fetch("load_manifest", "counts_of_objects", {"table_name": table})
    return {key: ObjectCounts(*counts) for key, *counts in rows}


def record_drift(session: Session, table: str, load_batch: int) -> tuple[Drift, ...] | None:
    """Record in `schema_drift` what the records load `load_batch` just staged and the table's
    JSONPaths disagree on (from the key sets the engine tallied); None when it tallied none."""
    if session.staged_keys is None:
        return None
    drift = tuple(schema_drift.drift_of(table, session.staged_keys))
    rows = [{"table_name": table, "load_batch": load_batch, **asdict(d)} for d in drift]
    session.run_many("schema_drift", "record", rows)
    return drift


def record_skipped(session: Session, table: str, not_data: Sequence[NotData]) -> None:
    """Replace `skipped_objects`' rows of staging `table` with the objects under its prefix
    that its run listed and did not load as they are not data."""
    session.run("skipped_objects", "delete_all", {"table_name": table})
    listed_at = datetime.now(UTC).replace(tzinfo=None).isoformat(sep=" ")
    rows = [
        {"table_name": table, "object_key": o.key, "size": o.size, "reason": o.reason}
        | {"listed_at": listed_at}
        for o in not_data
    ]
    session.run_many("skipped_objects", "record", rows)


def count_duplicates(
    session: Session, table: str, load_batch: int, held_rows: bool
) -> dict[str, int]:
    """How many events of load `load_batch` of `table` copy an event staged before them, by the
    object they came from: copies in the load itself, and, when the table `held_rows` before
    the load, events earlier loads staged."""
    batch = {"load_batch": load_batch}
    duplicates = dict(session.fetch(table, "duplicates_in_load", batch))
    if held_rows:
        names, ((*span,),) = session.query(table, "load_span", batch)
        span_params = {**batch, **dict(zip(names, span, strict=True))}
        for key, n in session.fetch(table, "duplicates_of_earlier_loads", span_params):
            duplicates[key] = duplicates.get(key, 0) + n
    return duplicates


def repair_text(session: Session, table: str, load_batch: int) -> int:
    """Record in `text_repairs` the mis-encoded text of load `load_batch` of `table` seen for
    the first time, repaired; return how many of the load's values are repaired (each field
    counts). Only distinct non-ASCII values come here: nothing else can need a repair."""
    batch = {"load_batch": load_batch}
    repairs, repaired_fields = [], 0
    for text, fields, known_repair in session.fetch(table, "text_to_repair", batch):
        fixed = known_repair or repaired(text)
        if fixed != text:
            repaired_fields += fields
            if known_repair is None:
                repairs.append({**batch, "raw_text": text, "repaired_text": fixed})
    session.run_many("text_repairs", "record", repairs)
    return repaired_fields


def rejects_sample(session: Session, table: str, load_batch: int) -> tuple[list[str], list]:
    """The first records one load of `table` rejected: key, line and reason."""
    return session.query(
        "staging_rejects", "sample", {"table_name": table, "load_batch": load_batch}
    )


def rejects_by_reason(session: Session, table: str, load_batch: int) -> tuple[list[str], list]:
    """One load of `table`'s rejects by reason (which names the key): records, first object."""
    return session.query(
        "staging_rejects", "by_reason", {"table_name": table, "load_batch": load_batch}
    )


@dataclass(frozen=True)
class Window:
    """The load batches of one staging table that a star table takes in: (after, up_to]."""

    source: str
    after: int
    up_to: int
    rows_replaced: int  # by the loads in the window: the star table prunes after them

    def __str__(self) -> str:
        return f"{self.source} ({self.after}, {self.up_to}]"


@dataclass(frozen=True)
class Merge:
    """What one star-table run did."""

    windows: list[Window]
    rows_written: int
    rows_deleted: int


def open_window(session: Session, table: str, source: str, full_refresh: bool) -> Window:
    """Stage `source`'s batches that `table` has not taken in as temp table `new_<source>`."""
    state = session.fetch("load_state", "get", {"consumer": table, "source": source})
    after = 0 if full_refresh or not state else state[0][0]
    (up_to,) = session.fetch(source, "latest_batch")[0]
    window = {"table_name": source, "after_batch": after, "up_to_batch": up_to}
    session.run(source, "new_rows", window)
    (replaced,) = session.fetch("load_batches", "rows_replaced", window)[0]
    return Window(source, after, up_to, replaced)


def merge(session: Session, table: str, sources: Sequence[str], full_refresh: bool) -> Merge:
    """Merge the staging batches of `sources` that star `table` has not taken in, and move its
    watermarks in the same transaction."""
    if full_refresh:
        session.run("tables", "delete_all", table=table)
    windows = [open_window(session, table, s, full_refresh) for s in sources]
    sections = ["merge"]
    # A changed object may have taken rows away: drop what has no source any more. That costs a
    # pass over the table, so only when a load in the window replaced rows.
    if any(w.rows_replaced for w in windows) and "prune" in sql_files.sections(table):
        sections.append("prune")
    written = deleted = 0
    for section in sections:
        kinds = sql_files.statement_kinds(table, section)
        for kind, count in zip(kinds, session.run(table, section), strict=True):
            written += count if kind == "insert" else 0
            deleted += count if kind == "delete" else 0
    if written or deleted:
        session.analyze(table)
    for window in windows:
        state = {"consumer": table, "source": window.source, "load_batch": window.up_to}
        session.run("load_state", "set", state)
    return Merge(windows, written, deleted)


def star_locks(table: str, sources: Sequence[str]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(what a star table's run writes, what it reads): the arguments of `locked`."""
    return (table, "load_state"), ("load_batches", "text_repairs", *sources)


def staging_locks(table: str) -> tuple[str, ...]:
    """What a staging run writes: its table and the bookkeeping every staging table shares."""
    return (table, *STAGING_BOOKKEEPING)


@contextlib.contextmanager
def reading(warehouse: Warehouse, tables: Sequence[str], wait: bool = True) -> Iterator[Session]:
    """A session that only reads `tables` (checks, reports, sensors): they exist afterwards,
    empty on a fresh warehouse. Without `wait`, WarehouseBusy instead of waiting for a run."""
    warehouse.ensure_tables(tables, wait)
    with warehouse.session(wait) as session:
        yield session
