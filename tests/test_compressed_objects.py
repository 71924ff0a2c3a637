"""Compressed lake objects (resources/compression.py): a day delivered gzip-compressed, as
Kinesis Firehose writes it, stages exactly the rows and rejects of the same day plain, on every
local engine, from a folder and from S3, read into memory or streamed from files."""

from __future__ import annotations

import gzip
import json

import pytest
from dagster import materialize

from sparkify_assets.assets.staging import staging_events
from sparkify_assets.resources.compression import content, declared_compression
from sparkify_assets.resources.engines import local_staging
from sparkify_assets.resources.lake import Lake, LakeObject, is_data_key
from tests.support import every_day, metadata_of, read_table, upload

PLAIN = "log_data/2018/11/2018-11-01-events.json"
GZIPPED = "log_data/2018/12/2018-12-03-events.json.gz"  # Firehose's name for a compressed day
GZIP_BODY_NAMED_JSON = "log_data/2018/12/2018-12-04-events.json"  # gzip bytes, plain name
BROKEN = "log_data/2018/12/2018-12-05-events.json.gz"  # starts like gzip, breaks off


def with_compressed_copies(lake_dir) -> bytes:
    """Give the lake's first day some rejects, then the same day three more times: gzipped (in
    two gzip members, as concatenated deliveries are) under `.json.gz`, gzipped under `.json`,
    and a gzip broken off half way. Return the plain day's bytes."""
    day = lake_dir / PLAIN
    good = json.loads(day.read_text(encoding="utf-8").splitlines()[0])
    with day.open("a", encoding="utf-8") as f:
        f.write('{"broken\n' + json.dumps({**good, "sessionId": None}) + "\n\n")
    plain = day.read_bytes()
    half = len(plain) // 2
    (lake_dir / GZIPPED).parent.mkdir(parents=True, exist_ok=True)
    (lake_dir / GZIPPED).write_bytes(gzip.compress(plain[:half]) + gzip.compress(plain[half:]))
    (lake_dir / GZIP_BODY_NAMED_JSON).write_bytes(gzip.compress(plain))
    whole = gzip.compress(plain)
    (lake_dir / BROKEN).write_bytes(whole[: len(whole) // 2])
    return plain


def staged_by_key(warehouse, table: str) -> dict[str, list[tuple]]:
    """Rows of `table` (staging_events or staging_rejects) by object key, the key left out."""
    rows = read_table(warehouse, table)
    key_at = 18 if table == "staging_events" else 1
    by_key: dict[str, list[tuple]] = {}
    for row in rows:
        by_key.setdefault(row[key_at], []).append(row[:key_at] + row[key_at + 1 :])
    return by_key


@pytest.fixture(params=["bodies", "files"])
def read_path(request, monkeypatch) -> str:
    """Each way an object reaches the parse: its content in memory (small objects not named as
    compressed: here the gzip body named .json), or a file (every object counted as big: the
    S3 spool, or a folder's file decompressed aside; a .json.gz always goes this way)."""
    if request.param == "files":
        monkeypatch.setattr(local_staging, "SMALL_OBJECT_BYTES", 0)
    return request.param


@pytest.mark.parametrize("lake_kind", ["folder", "s3"])
def test_a_gzip_day_stages_the_rows_and_rejects_of_the_same_day_plain(
    warehouse, lake_dir, lake_kind, read_path, request
):
    with_compressed_copies(lake_dir)
    lake = Lake(url=str(lake_dir))
    if lake_kind == "s3":
        s3_lake = request.getfixturevalue("s3_lake")
        upload(request.getfixturevalue("s3_client"), lake_dir, s3_lake)
        lake = Lake(url=s3_lake, s3_endpoint_url=request.getfixturevalue("s3_endpoint"))

    result = materialize(
        [staging_events], resources={"warehouse": warehouse, "lake": lake}, tags=every_day(lake_dir)
    )
    rows, rejects = (
        staged_by_key(warehouse, "staging_events"),
        staged_by_key(warehouse, "staging_rejects"),
    )
    assert rows[PLAIN] and rejects[PLAIN]  # the plain day has both
    for key in (GZIPPED, GZIP_BODY_NAMED_JSON):
        assert rows[key] == rows[PLAIN], key  # same rows, same source lines
        assert rejects[key] == rejects[PLAIN], key  # same lines, reasons, raw text
    assert BROKEN not in rows
    assert rejects[BROKEN] == [("staging_events", None, "object is not valid gzip", None)]
    # The manifest tells a compressed object's versions apart as a plain one's: nothing new on
    # the second run.
    assert metadata_of(result, "staging_events")["objects_loaded"] == 6  # 3 days + 3 copies
    again = materialize(
        [staging_events], resources={"warehouse": warehouse, "lake": lake}, tags=every_day(lake_dir)
    )
    assert metadata_of(again, "staging_events")["objects_loaded"] == 0


def test_compression_is_declared_by_suffix_and_found_by_magic_bytes():
    assert is_data_key(GZIPPED, 10) and is_data_key(PLAIN, 10)
    assert not is_data_key("log_data/2018/12/2018-12-03-events.gz", 10)  # not named as JSON
    assert LakeObject(GZIPPED, "v", 10).compression == declared_compression(GZIPPED) == "gzip"
    assert LakeObject(PLAIN, "v", 10).compression is None
    body = b'{"ts": 1}\n'
    assert content(gzip.compress(body)) == content(body) == body
    assert content(gzip.compress(body)[:8]) == gzip.compress(body)[:8]  # broken: as it is
