"""Asset checks: each rule passes on good data and fails on crafted bad data with the right count
and keys; a failing blocking check stops what is built below it."""

import pytest
from dagster import AssetCheckSeverity, AssetSelection, materialize

from sparkify_assets.checks import (
    RULES,
    build_checks,
    evaluate,
    latest_events_batch,
    narrow_to_load,
    rule_parameters,
)
from sparkify_assets.definitions import ALL_ASSETS
from sparkify_assets.resources.lake import Lake
from tests.support import STAR_TABLES, every_day, read_table, run_graph

PARAMETERS = rule_parameters(max_reject_rate=0.01)
EVENTS_KEY = "(SELECT MIN(object_key) FROM load_manifest WHERE table_name = 'staging_events')"
FIRST_PLAY = "(SELECT MIN(songplay_id) FROM songplays)"
FIRST_LOGGED_IN_LINE = f"(SELECT MIN(source_line) FROM staging_events WHERE source_key = {EVENTS_KEY} AND userid <> '')"
FIRST_LOGGED_IN_EVENT = f"source_key = {EVENTS_KEY} AND source_line = {FIRST_LOGGED_IN_LINE}"
LATEST_EVENTS_BATCH = (
    "(SELECT MAX(load_batch) FROM load_batches WHERE table_name = 'staging_events')"
)
# Present on purpose: the generated lake, like the real log, holds mis-encoded names.
WARNS_ON_THE_GENERATED_LAKE = {"staging_events.no_repaired_text"}


def duplicate(table: str, key: str) -> tuple[list[str], str]:
    first = f'(SELECT MIN({key}) FROM "{table}")'
    return [
        f'INSERT INTO "{table}" SELECT * FROM "{table}" WHERE {key} = {first}'
    ], f"SELECT {first}"


# rule -> (statements that break it, query giving exactly the rows the check must report, by key)
BREAKS = {
    "staging_events.not_empty": (["DELETE FROM staging_events"], "SELECT 'staging_events'"),
    "staging_events.reject_rate": (
        [
            "UPDATE load_batches SET rows_rejected = rows_loaded WHERE table_name = 'staging_events'",
            f"UPDATE load_manifest SET rows_rejected = 5 WHERE object_key = {EVENTS_KEY}",
        ],
        f"SELECT {EVENTS_KEY}",
    ),
    "staging_events.no_rejects": (
        [
            "INSERT INTO staging_rejects VALUES ('staging_events', 'log_data/x.json', 3, 'invalid JSON', '{', 1)"
        ],
        "SELECT 'log_data/x.json'",
    ),
    "staging_events.level_domain": (
        [f"UPDATE staging_events SET level = 'gold' WHERE {FIRST_LOGGED_IN_EVENT}"],
        f"SELECT {EVENTS_KEY}",
    ),
    "staging_events.not_in_future": (
        [f"UPDATE staging_events SET ts = 32503680000000 WHERE {FIRST_LOGGED_IN_EVENT}"],
        f"SELECT {EVENTS_KEY}",
    ),
    "staging_events.no_duplicate_events": (
        # The count staging recorded (test_load_protocol counts real copies).
        [f"UPDATE load_batches SET duplicate_events = 3 WHERE load_batch = {LATEST_EVENTS_BATCH}"],
        f"SELECT {LATEST_EVENTS_BATCH}",
    ),
    "staging_events.no_repaired_text": ([], f"SELECT {LATEST_EVENTS_BATCH}"),
    "staging_events.no_skipped_objects": (
        [
            "INSERT INTO skipped_objects VALUES ('staging_events', 'log_data/_SUCCESS', 0, 'marker', TIMESTAMP '2018-12-01 00:00:00')"
        ],
        "SELECT 'log_data/_SUCCESS'",
    ),
    "staging_events.no_schema_drift": (
        [
            "INSERT INTO schema_drift SELECT 'staging_events', MAX(load_batch), 'device', 'unmapped', 5, 'log_data/x.json' "
            "FROM load_batches WHERE table_name = 'staging_events'"
        ],
        "SELECT 'device'",
    ),
    "staging_songs.not_empty": (["DELETE FROM staging_songs"], "SELECT 'staging_songs'"),
    "staging_songs.reject_rate": (
        [
            "UPDATE load_batches SET rows_rejected = rows_loaded WHERE table_name = 'staging_songs'",
            "UPDATE load_manifest SET rows_rejected = 1 WHERE table_name = 'staging_songs' AND object_key IN "
            "(SELECT object_key FROM load_manifest WHERE table_name = 'staging_songs' ORDER BY 1 LIMIT 3)",
        ],
        "SELECT object_key FROM load_manifest WHERE table_name = 'staging_songs' ORDER BY 1 LIMIT 3",
    ),
    "staging_songs.no_rejects": (
        [
            "INSERT INTO staging_rejects VALUES ('staging_songs', 'song_data/x.json', NULL, 'not UTF-8', NULL, 1)"
        ],
        "SELECT 'song_data/x.json'",
    ),
    "staging_songs.no_skipped_objects": (
        [
            "INSERT INTO skipped_objects VALUES ('staging_songs', 'song_data/notes.txt', 3, 'other suffix', TIMESTAMP '2018-12-01 00:00:00')"
        ],
        "SELECT 'song_data/notes.txt'",
    ),
    "staging_songs.no_schema_drift": (
        [
            "INSERT INTO schema_drift SELECT 'staging_songs', MAX(load_batch), 'song_id', 'missing', 1, 'song_data/x.json' "
            "FROM load_batches WHERE table_name = 'staging_songs'"
        ],
        "SELECT 'song_id'",
    ),
    "staging_songs.one_version_per_song": (
        [
            "INSERT INTO staging_songs SELECT num_songs, artist_id, artist_latitude, artist_longitude, "
            "artist_location, artist_name, song_id, title || ' (live)', duration, year, 'song_data/z.json', 1, 9 "
            "FROM staging_songs WHERE song_id = (SELECT MIN(song_id) FROM staging_songs)"
        ],
        "SELECT MIN(song_id) FROM staging_songs",
    ),
    "users.key": duplicate("users", "user_id"),
    "users.level_domain": (
        ["UPDATE users SET level = 'gold' WHERE user_id = (SELECT MIN(user_id) FROM users)"],
        "SELECT MIN(user_id) FROM users",
    ),
    "users.gender_domain": (
        ["UPDATE users SET gender = 'X' WHERE user_id = (SELECT MIN(user_id) FROM users)"],
        "SELECT MIN(user_id) FROM users",
    ),
    "users.matches_staging": (
        ["DELETE FROM users WHERE user_id = (SELECT MIN(user_id) FROM users)"],
        "SELECT MIN(user_id) FROM users",
    ),
    "users.level_is_latest": (
        [
            "UPDATE users SET level = CASE level WHEN 'free' THEN 'paid' ELSE 'free' END "
            "WHERE user_id = (SELECT MIN(user_id) FROM users)"
        ],
        "SELECT MIN(user_id) FROM users",
    ),
    "songs.key": duplicate("songs", "song_id"),
    "songs.duration_positive": (
        ["UPDATE songs SET duration = 0 WHERE song_id = (SELECT MIN(song_id) FROM songs)"],
        "SELECT MIN(song_id) FROM songs",
    ),
    "songs.year_plausible": (
        [
            "UPDATE songs SET year = 1800 WHERE song_id IN (SELECT song_id FROM songs ORDER BY 1 LIMIT 2)"
        ],
        "SELECT song_id FROM songs ORDER BY 1 LIMIT 2",
    ),
    "artists.key": duplicate("artists", "artist_id"),
    "artists.coordinates_in_range": (
        [
            "UPDATE artists SET longitude = 181 WHERE artist_id = (SELECT MIN(artist_id) FROM artists)"
        ],
        "SELECT MIN(artist_id) FROM artists",
    ),
    "time.key": duplicate("time", "start_time"),
    "time.parts_in_range": (
        ['UPDATE "time" SET "hour" = 24 WHERE start_time = (SELECT MIN(start_time) FROM "time")'],
        'SELECT MIN(start_time) FROM "time"',
    ),
    "songplays.key": duplicate("songplays", "songplay_id"),
    "songplays.user_in_users": (
        ["DELETE FROM users WHERE user_id = (SELECT MIN(user_id) FROM songplays)"],
        "SELECT songplay_id FROM songplays WHERE user_id = (SELECT MIN(user_id) FROM songplays)",
    ),
    "songplays.start_time_in_time": (
        ['DELETE FROM "time" WHERE start_time = (SELECT MAX(start_time) FROM songplays)'],
        "SELECT songplay_id FROM songplays WHERE start_time = (SELECT MAX(start_time) FROM songplays)",
    ),
    "songplays.song_in_songs": (
        ["DELETE FROM songs WHERE song_id = (SELECT MIN(song_id) FROM songplays)"],
        "SELECT songplay_id FROM songplays WHERE song_id = (SELECT MIN(song_id) FROM songplays)",
    ),
    "songplays.artist_in_artists": (
        ["DELETE FROM artists WHERE artist_id = (SELECT MIN(artist_id) FROM songplays)"],
        "SELECT songplay_id FROM songplays WHERE artist_id = (SELECT MIN(artist_id) FROM songplays)",
    ),
    "songplays.level_domain": (
        [f"UPDATE songplays SET level = NULL WHERE songplay_id = {FIRST_PLAY}"],
        f"SELECT {FIRST_PLAY}",
    ),
    "songplays.not_in_future": (
        [
            f"UPDATE songplays SET start_time = TIMESTAMP '2999-01-01' WHERE songplay_id = {FIRST_PLAY}"
        ],
        f"SELECT {FIRST_PLAY}",
    ),
    "songplays.matches_staging": (
        [f"DELETE FROM songplays WHERE songplay_id = {FIRST_PLAY}"],
        f"SELECT {FIRST_PLAY}",
    ),
}
RULE_BY_ID = {f"{r.table}.{r.name}": r for r in RULES}


def test_every_rule_has_a_bad_case():
    assert set(BREAKS) == set(RULE_BY_ID)


def test_every_rule_passes_on_a_generated_lake_with_all_quirks(built_duckdb_copy):
    with built_duckdb_copy.session() as session:
        for rule_id, rule in RULE_BY_ID.items():
            failing, _header, sample = evaluate(session, rule, PARAMETERS)
            if rule_id in WARNS_ON_THE_GENERATED_LAKE:
                assert failing == 1, (rule, sample)  # the one load, with its repaired values
                assert sample[0][1] > 0
            else:
                assert failing == 0, (rule, sample)


@pytest.mark.parametrize("rule_id", sorted(BREAKS))
def test_rule_fails_on_bad_data_with_count_and_keys(rule_id, built_duckdb_copy):
    statements, expected_query = BREAKS[rule_id]
    with built_duckdb_copy.session() as session:
        expected = sorted(str(row[0]) for row in session.query_text(expected_query)[1])
        assert expected, "the case must pick real rows"
        for statement in statements:
            session.execute(statement)
        failing, _header, sample = evaluate(session, RULE_BY_ID[rule_id], PARAMETERS)
    assert failing == len(expected)
    assert [str(row[0]) for row in sample] == expected[:10]


def test_all_checks_pass_through_dagster_on_every_engine(warehouse, lake_template):
    result = run_graph(warehouse, lake_template)
    evaluations = result.get_asset_check_evaluations()
    assert len(evaluations) >= len(RULES)
    failed = {f"{e.asset_key.to_user_string()}.{e.check_name}" for e in evaluations if not e.passed}
    assert failed == WARNS_ON_THE_GENERATED_LAKE


def test_failing_blocking_check_on_staging_leaves_star_tables_untouched(
    built_duckdb_copy, lake_dir
):
    before = {t: read_table(built_duckdb_copy, t) for t in STAR_TABLES}
    day = sorted((lake_dir / "log_data").rglob("*.json"))[-1]
    good = day.read_text(encoding="utf-8").splitlines()
    broken = [line.replace('"ts":', '"ts": "soon", "x":', 1) for line in good[::3]]
    day.write_text("\n".join(good + broken) + "\n", encoding="utf-8")

    result = materialize(
        [*ALL_ASSETS, *build_checks()],
        resources={"warehouse": built_duckdb_copy, "lake": Lake(url=str(lake_dir))},
        raise_on_error=False,
        tags=every_day(lake_dir),
    )
    assert not result.success
    failed = {
        (e.asset_key.to_user_string(), e.check_name)
        for e in result.get_asset_check_evaluations()
        if not e.passed and e.severity == AssetCheckSeverity.ERROR
    }
    assert failed == {("staging_events", "reject_rate")}
    materialized = {e.asset_key.to_user_string() for e in result.get_asset_materialization_events()}
    assert {"users", "time", "songplays"}.isdisjoint(materialized)
    assert {t: read_table(built_duckdb_copy, t) for t in STAR_TABLES} == before


NARROWED = sorted(rule_id for rule_id, rule in RULE_BY_ID.items() if rule.narrow)


@pytest.mark.parametrize("rule_id", NARROWED)
def test_narrowed_rule_finds_every_row_in_a_load_of_everything_and_none_in_an_empty_one(
    rule_id, built_duckdb_copy
):
    # The built warehouse was loaded in one batch: what that load touched is every row.
    statements, _expected = BREAKS[rule_id]
    with built_duckdb_copy.session() as session:
        for statement in statements:
            session.execute(statement)
        rule = RULE_BY_ID[rule_id]
        every_row = evaluate(session, rule, PARAMETERS)
        (batch,) = session.query_text(
            "SELECT MAX(load_batch) FROM load_batches WHERE table_name = 'staging_events'"
        )[1][0]
        narrow_to_load(session, rule.narrow, batch)
        latest_load = evaluate(session, rule, PARAMETERS, narrowed=True)
        # A load that touched nothing (no rows carry its number): narrowed, nothing to find.
        narrow_to_load(session, rule.narrow, batch + 1)
        untouched = evaluate(session, rule, PARAMETERS, narrowed=True)
    assert every_row[0] > 0
    assert latest_load == every_row
    assert untouched == (0, every_row[1], [])


def check_evaluation(result, table: str, check: str):
    (evaluation,) = [
        e
        for e in result.get_asset_check_evaluations()
        if e.asset_key.to_user_string() == table and e.check_name == check
    ]
    return evaluation


def scope_of(result, table: str, check: str) -> str:
    return check_evaluation(result, table, check).metadata["scope"].value


def test_audits_judge_what_a_run_publishes_and_the_checks_job_every_row(warehouse, lake_dir):
    last_day = sorted((lake_dir / "log_data").rglob("*.json"))[-1]
    held_back = last_day.read_bytes()
    last_day.unlink()
    first = run_graph(warehouse, lake_dir)
    # The first load is everything staged: nothing to narrow.
    assert scope_of(first, "songplays", "key") == "every row, as published"
    assert scope_of(first, "users", "matches_staging") == "every row"
    last_day.write_bytes(held_back)  # the next day arrives
    second = run_graph(warehouse, lake_dir)
    assert scope_of(second, "songplays", "key") == "what this run is about to publish"
    assert scope_of(second, "users", "matches_staging") == "what the latest load touched"
    key = last_day.relative_to(lake_dir).as_posix()
    copy_play = "INSERT INTO songplays SELECT * FROM songplays WHERE songplay_id = "
    with warehouse.session() as session:  # a duplicate among the plays of an older day
        session.execute(
            copy_play + f"(SELECT MIN(songplay_id) FROM songplays WHERE source_key <> '{key}')"
        )

    # A run's audit judges what it publishes: the old duplicate is not in it. The checks job
    # audits every published row, finds it, and changes nothing.
    result = run_graph(warehouse, lake_dir)
    assert result.success
    assert scope_of(result, "songplays", "key") == "what this run is about to publish"
    assert scope_of(result, "songs", "key") == "every row, as published"
    plays = read_table(warehouse, "songplays")
    checks_only = materialize(
        [*ALL_ASSETS, *build_checks()],
        selection=AssetSelection.all_asset_checks(),
        resources={"warehouse": warehouse, "lake": Lake(url=str(lake_dir))},
        raise_on_error=False,
    )
    assert scope_of(checks_only, "songplays", "key") == "every row, as published"
    assert failing_rows(checks_only, "songplays", "key") == 1
    assert checks_only.get_asset_materialization_events() == []
    assert read_table(warehouse, "songplays") == plays

    rule = RULE_BY_ID["songplays.key"]
    with warehouse.session() as session:  # and one among the new day's plays
        session.execute(
            copy_play + f"(SELECT MIN(songplay_id) FROM songplays WHERE source_key = '{key}')"
        )
        assert evaluate(session, rule, PARAMETERS)[0] == 2
        latest = latest_events_batch(session)
        assert latest is not None
        narrow_to_load(session, rule.narrow, latest)
        assert evaluate(session, rule, PARAMETERS, narrowed=True)[0] == 1


def failing_rows(result, table: str, check: str) -> int:
    return check_evaluation(result, table, check).metadata["failing_rows"].value
