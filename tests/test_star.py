"""The star schema (assets/star.py, sql/<table>.sql): the whole graph materialized in process on
real engines, every table compared with an independent computation over the JSON files
(tests/reference.py)."""

from __future__ import annotations

import hashlib
import json

import pytest

from sparkify_assets.resources.lake import SAMPLE_LAKE
from tests.reference import compute
from tests.support import (
    ALL_TABLES,
    STAR_TABLES,
    assert_matches_reference,
    metadata_of,
    read_table,
    run_graph,
)


def test_graph_matches_reference_and_rerun_changes_nothing(warehouse, lake_dir):
    first = run_graph(warehouse, lake_dir)
    assert_matches_reference(warehouse, lake_dir)
    expected = compute(lake_dir)
    staging = metadata_of(first, "staging_events")
    assert staging["dagster/row_count"] == len(expected.staging_events)
    assert staging["rows_rejected"] == 0
    assert metadata_of(first, "songplays")["dagster/row_count"] == len(expected.songplays)

    before = {t: read_table(warehouse, t) for t in (*ALL_TABLES, "staging_rejects")}
    second = run_graph(warehouse, lake_dir)
    assert {t: read_table(warehouse, t) for t in before} == before
    assert metadata_of(second, "staging_events")["objects_loaded"] == 0
    for table in STAR_TABLES:
        assert metadata_of(second, table)["rows_added"] == 0, table
        assert metadata_of(second, table)["rows_changed"] == 0, table


def test_song_arriving_after_its_plays_fills_their_song_id(warehouse, lake_dir):
    """A play of a song not yet in the catalogue gets its song_id once the song arrives."""
    song_files = sorted((lake_dir / "song_data").rglob("*.json"))
    matched = {
        (e["song"], e["artist"], e["length"])
        for f in (lake_dir / "log_data").rglob("*.json")
        for e in map(json.loads, f.read_text(encoding="utf-8").splitlines())
        if e["page"] == "NextSong"
    }
    late = next(
        f
        for f in song_files
        if (lambda s: (str(s["title"]), str(s["artist_name"]), s["duration"]) in matched)(
            json.loads(f.read_text(encoding="utf-8"))
        )
    )
    held_back = late.read_bytes()
    late.unlink()
    run_graph(warehouse, lake_dir)
    late.write_bytes(held_back)
    run_graph(warehouse, lake_dir)
    assert_matches_reference(warehouse, lake_dir)


@pytest.mark.parametrize("engine", ["duckdb"])
def test_sample_lake_runs_with_no_configuration(engine, duckdb_warehouse):
    run_graph(duckdb_warehouse, SAMPLE_LAKE)
    assert_matches_reference(duckdb_warehouse, SAMPLE_LAKE)


# --- exactly-once plays, repaired text, write-audit-publish --------------------------------------


def day_file(lake_dir, index: int = -1):
    return sorted((lake_dir / "log_data").rglob("*.json"))[index]


def lines_of(path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def write_lines(path, events: list[dict]) -> None:
    text = "".join(json.dumps(e, ensure_ascii=False) + "\n" for e in events)
    path.write_text(text, encoding="utf-8")


def failed_checks(result) -> set[str]:
    return {
        f"{e.asset_key.to_user_string()}.{e.check_name}"
        for e in result.get_asset_check_evaluations()
        if not e.passed
    }


def test_a_redelivered_day_is_one_play_per_event_and_a_lost_copy_keeps_it(warehouse, lake_dir):
    day = day_file(lake_dir, 0)
    run_graph(warehouse, lake_dir)
    plays = read_table(warehouse, "songplays")

    # The producer uploads the day again under another name: staging keeps both copies and
    # counts them; songplays is what it was without the copy.
    copy = day.with_name(day.stem + ".retry-1.json")
    copy.write_bytes(day.read_bytes())
    result = run_graph(warehouse, lake_dir)
    assert read_table(warehouse, "songplays") == plays
    assert metadata_of(result, "staging_events")["duplicate_events"] == len(lines_of(day))
    assert "staging_events.no_duplicate_events" in failed_checks(result)
    assert_matches_reference(warehouse, lake_dir)

    # The original is corrected and loses a play that the copy still carries: the play stays,
    # owned by the copy now.
    events = lines_of(day)
    lost = next(e for e in events if e["page"] == "NextSong" and e["userId"])
    write_lines(day, [e for e in events if e is not lost])
    run_graph(warehouse, lake_dir)
    copy_key = copy.relative_to(lake_dir).as_posix()
    owners = {row[0]: row[-1] for row in read_table(warehouse, "songplays")}
    assert len(owners) == len(plays)
    assert copy_key in owners.values()
    assert_matches_reference(warehouse, lake_dir)


def test_a_copy_named_first_owns_the_plays_and_full_refresh_without_it_restores_them(
    duckdb_warehouse, lake_dir
):
    day = day_file(lake_dir, 0)
    run_graph(duckdb_warehouse, lake_dir)
    plays = read_table(duckdb_warehouse, "songplays")
    copy = day.with_name("0-" + day.name)  # sorts before the original
    copy.write_bytes(day.read_bytes())
    run_graph(duckdb_warehouse, lake_dir)
    moved = read_table(duckdb_warehouse, "songplays")
    assert [row[:-1] for row in moved] == [row[:-1] for row in plays]
    day_key, copy_key = (p.relative_to(lake_dir).as_posix() for p in (day, copy))
    assert {row[-1] for row in moved} == {row[-1] for row in plays} - {day_key} | {copy_key}
    copy.unlink()
    run_graph(duckdb_warehouse, lake_dir, full_refresh=True)
    assert read_table(duckdb_warehouse, "songplays") == plays


def repaired_times(text: str) -> tuple[str, int]:
    """`text` repaired (UTF-8 read as Latin-1 undone), and how many times over it was so."""
    times = 0
    while not text.isascii():
        try:
            text = text.encode("latin-1").decode("utf-8")
        except UnicodeError:
            break
        times += 1
    return text, times


def test_plays_mis_encoded_once_or_twice_match_the_catalogue(warehouse, lake_dir):
    result = run_graph(warehouse, lake_dir)
    assert metadata_of(result, "staging_events")["repaired_values"] > 0
    song_of = {row[0]: row[4] for row in read_table(warehouse, "songplays")}
    artist_names = {row[0]: row[1] for row in read_table(warehouse, "artists")}
    catalogue = {(r[1], artist_names[r[2]]) for r in read_table(warehouse, "songs")}
    matched_by_times = {1: 0, 2: 0}
    for path in (lake_dir / "log_data").rglob("*.json"):
        for e in lines_of(path):
            if e["page"] != "NextSong" or not e["userId"]:
                continue
            (title, title_times), (artist, artist_times) = map(
                repaired_times, (e["song"], e["artist"])
            )
            times = max(title_times, artist_times)
            if times and (title, artist) in catalogue:  # a catalogue song, spelt wrong
                natural_key = f"{e['userId']}:{e['sessionId']}:{e['itemInSession']}:{e['ts']}"
                assert song_of[hashlib.md5(natural_key.encode()).hexdigest()] is not None, e
                matched_by_times[times] += 1
    assert matched_by_times[1] and matched_by_times[2], matched_by_times


def test_a_failing_audit_publishes_nothing_keeps_the_rows_and_publishes_after_the_fix(
    warehouse, lake_dir
):
    run_graph(warehouse, lake_dir)
    star_before = {t: read_table(warehouse, t) for t in STAR_TABLES}
    day = day_file(lake_dir)
    events = lines_of(day)
    bad = next(e for e in reversed(events) if e["page"] == "NextSong" and e["userId"])
    bad["level"] = "premium"
    write_lines(day, events)

    result = run_graph(warehouse, lake_dir, must_succeed=False)
    assert not result.success
    assert {t: read_table(warehouse, t) for t in STAR_TABLES} == star_before
    (users_failure,) = [e for e in result.get_step_failure_events() if e.step_key == "users"]
    message = users_failure.event_specific_data.error.message
    assert "level_domain (1 row(s)" in message
    assert "songplays" not in {
        e.asset_key.to_user_string() for e in result.get_asset_materialization_events()
    }
    with warehouse.session() as session:
        _, kept = session.query_text(
            "SELECT table_name, rule, failing_rows, row_key, load_batch, row_values"
            " FROM audit_failures"
        )
        (latest,) = session.query_text(
            "SELECT MAX(load_batch) FROM load_batches WHERE table_name = 'staging_events'"
        )[1][0]
    assert [k[:5] for k in kept] == [("users", "level_domain", 1, bad["userId"], latest)]
    assert json.loads(kept[0][5])["level"] == "premium"

    bad["level"] = "paid"  # the object is corrected
    write_lines(day, events)
    run_graph(warehouse, lake_dir)
    assert_matches_reference(warehouse, lake_dir)


def test_a_load_with_four_kinds_of_defect_reports_all_four_in_one_run(duckdb_warehouse, lake_dir):
    run_graph(duckdb_warehouse, lake_dir)
    day = day_file(lake_dir)
    events = lines_of(day)
    plays = [e for e in events if e["page"] == "NextSong" and e["userId"]]
    plays[0]["level"] = "gold"  # an unknown level
    plays[1]["ts"] = 32503680000000  # a play in the year 3000
    write_lines(day, events)
    with day.open("a", encoding="utf-8") as out:
        out.write('{"artist": "broken\n')  # a broken record
    song_file = sorted((lake_dir / "song_data").rglob("*.json"))[0]
    song = json.loads(song_file.read_text(encoding="utf-8"))
    song["title"] = f"{song['title']} (another song)"  # the song id reused with another title
    (song_file.parent / "reused.json").write_text(json.dumps(song), encoding="utf-8")

    result = run_graph(duckdb_warehouse, lake_dir, must_succeed=False)
    assert not result.success  # the unknown level stopped a star table's audit
    failed = failed_checks(result)
    assert {
        "staging_events.level_domain",
        "staging_events.not_in_future",
        "staging_events.no_rejects",
        "staging_songs.one_version_per_song",
    } <= failed
    assert {"users.level_domain", "songplays.level_domain"} & failed
