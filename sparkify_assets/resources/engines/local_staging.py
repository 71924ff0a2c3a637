"""Staging by parsing raw JSON here, with DuckDB, for the engines that cannot read the lake
themselves (DuckDB, PostgreSQL) and for objects too small to be worth a Redshift COPY each.

Objects go in chunks; DuckDB parses each chunk in one statement (json_records.py) and hands the
rows to a sink: DuckDB inserts them straight into its table, PostgreSQL and Redshift load a file
DuckDB wrote. Clean data is parsed once; a chunk whose rows fall short of its records is parsed a
second time for the rejects alone. Small objects (song files) are read by the lake, many at once
on S3, the next chunk while DuckDB parses this one; big ones (days of events) are files DuckDB
streams.
"""

from __future__ import annotations

import contextlib
import tempfile
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import duckdb

from sparkify_assets.load_progress import LoadProgress
from sparkify_assets.resources.engines import json_records
from sparkify_assets.resources.lake import Lake, LakeObject
from sparkify_assets.schema_drift import KeyTally

# Objects parsed per statement at most: bounds the spool folder on S3 lakes (DuckDB streams the
# files, its memory stays within DUCKDB_CONFIG). Each engine's session sets the bytes.
CHUNK_OBJECTS = 2_000
# Objects under this size are read into memory and parsed from there: for a tiny object,
# DuckDB's cost of opening a file is most of the work. Two chunks of them are held at most (the
# one parsed, the one read meanwhile), each at most BODY_CHUNK_BYTES.
SMALL_OBJECT_BYTES = 1024 * 1024
BODY_CHUNK_BYTES = 64 * 1024 * 1024
# JSON bytes per gzip byte assumed when chunking: app event logs compress about tenfold.
COMPRESSION_RATIO = 10
# Bounded memory (DuckDB spills past it); row order in a table means nothing here.
DUCKDB_CONFIG = {"memory_limit": "768MB", "preserve_insertion_order": False}
GLOB_CHARACTERS = set("*?[]{}")

# load(target table, DuckDB query, parameters) -> rows loaded: puts a query's rows into a table.
Sink = Callable[[str, str, dict[str, Any]], int]


def duckdb_execute(con: duckdb.DuckDBPyConnection, sql: str, params=None):
    """Run a DuckDB statement with the parameters it names: DuckDB refuses extra ones (psycopg2
    ignores them, so callers pass one set for every engine)."""
    return con.execute(sql, {k: v for k, v in (params or {}).items() if f"${k}" in sql})


@contextlib.contextmanager
def parser() -> Iterator[duckdb.DuckDBPyConnection]:
    """An in-memory DuckDB that parses raw JSON for an engine that is not DuckDB."""
    con = duckdb.connect(config={**DUCKDB_CONFIG, "threads": 2})
    try:
        yield con
    finally:
        con.close()


def stage_records(
    con: duckdb.DuckDBPyConnection,
    load: Sink,
    table: str,
    lake: Lake,
    objects: Sequence[LakeObject],
    load_batch: int,
    chunk_bytes: int,
    progress: LoadProgress | None = None,
    key_tally: KeyTally | None = None,
) -> Counter[str]:
    """Parse `objects` with `con` and `load` their rows into `table`, rejects into
    `staging_rejects`, a chunk at a time; return the records of each object that has any. The
    JSON key sets of the records are added to `key_tally` if given (schema_drift.py)."""
    records: Counter[str] = Counter()
    progress = progress or LoadProgress(table)
    progress.expect(objects)
    # A compressed object is streamed to a file, however small: held in memory, a chunk of
    # them would be many times BODY_CHUNK_BYTES once decompressed.
    small: list[LakeObject] = []
    big: list[LakeObject] = []
    for obj in objects:
        is_small = obj.size < SMALL_OBJECT_BYTES and obj.compression is None
        (small if is_small else big).append(obj)
    small_chunks = chunks(small, min(chunk_bytes, BODY_CHUNK_BYTES))
    for chunk, bodies in read_ahead(_bodies(lake, small_chunks, progress)):
        params = json_records.body_params([o.key for o in chunk], bodies)
        chunk_records = _stage_chunk(con, load, table, "bodies", params, load_batch, key_tally)
        records.update(chunk_records)
        progress.done(chunk, chunk_records.total())
    for chunk in chunks(big, chunk_bytes):
        with lake.content_files(o.key for o in chunk) as paths:
            progress.read(len(chunk))
            chunk_records = _stage_files(con, load, table, paths, load_batch, key_tally)
        records.update(chunk_records)
        progress.done(chunk, chunk_records.total())
    return records


def chunks(objects: Sequence[LakeObject], chunk_bytes: int) -> Iterator[list[LakeObject]]:
    """`objects` in chunks of at most CHUNK_OBJECTS objects and `chunk_bytes` of JSON (a
    compressed object counted as what it likely holds, so the spool stays bounded)."""
    chunk: list[LakeObject] = []
    size = 0
    for obj in objects:
        json_bytes = obj.size * (COMPRESSION_RATIO if obj.compression else 1)
        if chunk and (len(chunk) >= CHUNK_OBJECTS or size + json_bytes > chunk_bytes):
            yield chunk
            chunk, size = [], 0
        chunk.append(obj)
        size += json_bytes
    if chunk:
        yield chunk


def _bodies(lake: Lake, chunked: Iterable[list[LakeObject]], progress: LoadProgress):
    """Each chunk with its objects' contents, read one after another (many GETs at once on S3)."""
    for chunk in chunked:
        bodies = []
        for _key, body in lake.read_contents(o.key for o in chunk):
            bodies.append(body)
            progress.read(1)
        yield chunk, bodies


def read_ahead(items: Iterator) -> Iterator:
    """`items`, the next one made in a thread of its own while the caller works on this one."""
    with ThreadPoolExecutor(1, thread_name_prefix="sparkify-read-ahead") as ahead:
        items = iter(items)
        done = object()
        following = ahead.submit(next, items, done)
        while (item := following.result()) is not done:
            following = ahead.submit(next, items, done)
            yield item


def _stage_files(
    con,
    load: Sink,
    table: str,
    paths: dict[str, Path],
    load_batch: int,
    key_tally: KeyTally | None,
) -> Counter[str]:
    keys = list(paths)
    with tempfile.TemporaryDirectory(prefix="sparkify-names-") as aliases:
        files = [_literal_path(paths[k], Path(aliases), n) for n, k in enumerate(keys)]
        params = json_records.file_params(keys, files)
        return _stage_chunk(con, load, table, "files", params, load_batch, key_tally)


def _stage_chunk(
    con,
    load: Sink,
    table: str,
    source: str,
    params: dict,
    load_batch: int,
    key_tally: KeyTally | None,
) -> Counter[str]:
    """Stage one chunk read from `source` with its `params`; return the records of each of its
    objects that has any, and add their key sets to `key_tally` (if given)."""
    params = {"load_batch": load_batch, **params}
    loaded = load(table, json_records.good_rows_query(table, source), params)
    per_object: Counter[str] = Counter()
    by_keys = duckdb_execute(con, json_records.record_keys_query(source), params).fetchall()
    for object_key, keys, records in by_keys:
        per_object[object_key] += records
        if key_tally is not None and keys is not None:
            key_tally.add(keys, records, object_key)
    records = per_object.total()
    rejected = 0
    if loaded < records:
        # Some records broke a rule: a second parse keeps just those (clean data parses once).
        rejected = load("staging_rejects", json_records.rejects_query(table, source), params)
    if loaded + rejected != records:
        raise RuntimeError(
            f"{table}: {loaded} rows and {rejected} rejects do not add up to the {records} "
            "records read; nothing of this load is kept"
        )
    return per_object


def _literal_path(path: Path, aliases: Path, n: int) -> str:
    """A name DuckDB reads as it is: it expands glob characters even in a list of files, so a
    key like `log_data/*.json` would read every file. Such a file is read through a plain link."""
    if not GLOB_CHARACTERS.intersection(str(path)):
        return str(path)
    alias = aliases / f"{n}.json"
    alias.symlink_to(path.resolve())
    return str(alias)
