"""The staging assets (assets/staging.py): what a load takes in, rejects and reports."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from dagster import materialize

from sparkify_assets.assets.staging import staging_events
from sparkify_assets.resources.engines.base import Session
from sparkify_assets.resources.engines.postgres import PostgresSession
from sparkify_assets.resources.lake import Lake
from tests.support import (
    assert_matches_reference,
    markdown_rows,
    metadata_of,
    read_table,
    run_graph,
    shown,
)


@pytest.mark.parametrize("chunk_bytes", [None, 1], ids=["as shipped", "an object per chunk"])
def test_bad_records_are_quarantined_and_counted(warehouse, lake_dir, chunk_bytes, monkeypatch):
    if chunk_bytes:  # many statements, and on PostgreSQL many COPYs overlapping the parsing
        monkeypatch.setattr(Session, "chunk_bytes", chunk_bytes)
        monkeypatch.setattr(PostgresSession, "chunk_bytes", chunk_bytes)
    day = sorted((lake_dir / "log_data").rglob("*.json"))[0]
    good = json.loads(day.read_text(encoding="utf-8").splitlines()[0])
    bad_lines = [
        '{"ts": 1541105830796, "page": "NextSong", "broken',  # malformed JSON
        json.dumps({**good, "ts": "yesterday"}),  # cannot become a BIGINT
        json.dumps({**good, "sessionId": None}),  # key field missing
        json.dumps({**good, "itemInSession": 2.5}),  # would lose its fraction
        json.dumps({**good, "userId": "abc"}),  # neither logged out nor a user id
        "[1, 2, 3]",  # not an object
    ]
    with day.open("a", encoding="utf-8") as f:
        f.write("\n".join(bad_lines) + "\n")
    song = sorted((lake_dir / "song_data").rglob("*.json"))[0]
    song.write_bytes(b'{"song_id": "SOBAD", "title": "\xff\xfe"}')  # not UTF-8: rejected whole

    result = run_graph(warehouse, lake_dir, max_reject_rate=0.5)
    assert metadata_of(result, "staging_events")["rows_rejected"] == len(bad_lines)
    assert "invalid JSON" in metadata_of(result, "staging_events")["rejects_sample"]
    assert metadata_of(result, "staging_songs")["rows_rejected"] == 1
    rejects = read_table(warehouse, "staging_rejects")
    reasons = {r[2]: r[3] for r in rejects if r[0] == "staging_events"}
    assert reasons[max(reasons)] == "not a JSON object"
    assert "invalid JSON" in reasons.values() and "missing sessionId" in reasons.values()
    assert [r[2] for r in rejects if r[0] == "staging_songs"] == [None]
    # The sample in the metadata: the load's first rejects by key and line.
    header, sample = markdown_rows(metadata_of(result, "staging_events")["rejects_sample"])
    assert header == ["source_key", "source_line", "reason"]
    first = sorted(r[1:4] for r in rejects if r[0] == "staging_events")[:10]
    assert sample == [[shown(v) for v in r] for r in first]
    assert_matches_reference(warehouse, lake_dir)


def test_a_lake_set_wrong_fails_the_step_once_without_retries(duckdb_warehouse, tmp_path):
    """Retrying cannot fix a setting: one failure, no retry, no table written."""
    (tmp_path / "lake" / "song_data").mkdir(parents=True)
    result = materialize(
        [staging_events],
        resources={"warehouse": duckdb_warehouse, "lake": Lake(url=str(tmp_path / "lake"))},
        raise_on_error=False,
    )
    assert not result.success
    kinds = [e.event_type_value for e in result.all_events if e.step_key == "staging_events"]
    assert "STEP_UP_FOR_RETRY" not in kinds and kinds.count("STEP_FAILURE") == 1
    (failure,) = [e for e in result.all_events if e.is_step_failure]
    assert failure.event_specific_data.user_failure_data.description == (
        f"SPARKIFY_LAKE={str(tmp_path / 'lake')!r} has nothing under 'log_data/': the lake root "
        "should hold song_data/ and log_data/"
    )
    assert not Path(duckdb_warehouse.path).exists()  # checked before any table was touched
