"""Schema drift for objects Redshift COPYs in place: their records never pass through here.

COPY with JSONPaths reads only the keys the JSONPaths map, so it cannot say that a record gained
or lost one. The head of each such object is read instead (its first SAMPLE_BYTES, one ranged
GET, decompressed for gzip) and its whole records' key sets are tallied by the same DuckDB query
the local engines run over every record (json_records.record_keys_query). Drift found this way
counts the sampled records, not all of the object's: a day's first few hundred events, enough to
see a field appear, vanish or be renamed. Objects parsed here are tallied whole, as elsewhere.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

from sparkify_assets.resources.engines import json_records
from sparkify_assets.resources.engines.local_staging import duckdb_execute
from sparkify_assets.resources.lake import Lake, LakeObject
from sparkify_assets.schema_drift import KeyTally

SAMPLE_BYTES = 64 * 1024


def sample_keys(con, lake: Lake, objects: Sequence[LakeObject], tally: KeyTally) -> None:
    """Add the key sets of the records at the head of each of `objects` to `tally`, using the
    DuckDB connection `con`."""
    if not objects:
        return
    with ThreadPoolExecutor(max_workers=lake.concurrency) as pool:
        heads = list(pool.map(lambda o: _head(lake, o), objects))
    params = json_records.body_params([o.key for o in objects], heads)
    for object_key, keys, records in duckdb_execute(
        con, json_records.record_keys_query("bodies"), params
    ).fetchall():
        if keys is not None:
            tally.add(keys, records, object_key)


def _head(lake: Lake, obj: LakeObject) -> bytes:
    """The whole lines of the object's first SAMPLE_BYTES (decompressed)."""
    answer = lake.s3_client().get_object(
        Bucket=lake.bucket, Key=lake.prefix + obj.key, Range=f"bytes=0-{SAMPLE_BYTES - 1}"
    )
    raw = answer["Body"].read()
    text = raw
    if obj.compression == "gzip":
        text = zlib.decompressobj(wbits=31).decompress(raw)  # a prefix decompresses in part
    if obj.size > len(raw):  # the head of a longer object: its last line may be cut
        text = text[: text.rfind(b"\n") + 1]
    return text
