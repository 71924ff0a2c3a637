"""Asset checks: set-based SQL in the warehouse (`sql/checks.sql`) that guards every table.

Each rule selects the rows that break it; a check reports how many and up to 10 of them. Rules
that protect what is built downstream (staging health, keys, references, the level domain) are
blocking: when one fails, the assets below it do not materialize in that run and
`dagster asset materialize` exits non-zero. Softer rules (a song with an odd year, a gender
outside M/F) warn and let the run go on.

A star table's blocking rules are its audit (write-audit-publish, audit.py): the table's own
step judges the rows it is about to publish inside its transaction, before commit.

The other rules run after the fact: one multi-asset check per table keeps the step count low (a
table's rules share one connection); each rule is still its own check in the UI, and can run
alone. Staging tables carry warnings for what a star table's audit would stop on (an unknown
level, a play in the future), so a load's every defect shows in the run that loaded it.

A check that runs in the same run as its table's materialization looks at what that load touched
(the rule's `narrow` tables read as their `recent__<table>` rows in sql/checks.sql), so a daily
load into a warehouse holding years does not re-check years of rows. Run at any other time, from
the checks job or the UI, a check looks at every row. Each result says which in `scope`.
"""

import warnings
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from dagster import (
    AssetCheckExecutionContext,
    AssetCheckKey,
    AssetCheckResult,
    AssetChecksDefinition,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetKey,
    BetaWarning,
    MetadataValue,
    build_column_schema_change_checks,
    multi_asset_check,
)

from sparkify_assets import load_protocol, sql_files
from sparkify_assets.metadata import markdown_table
from sparkify_assets.resources.engines.base import WAREHOUSE_POOL, Session, Warehouse

DEFAULT_MAX_REJECT_RATE = 0.01


@dataclass(frozen=True)
class Rule:
    table: str
    name: str
    description: str
    blocking: bool
    # Tables the rule reads as their latest load's rows when it runs right after that load.
    narrow: tuple[str, ...] = ()

    @property
    def audits(self) -> bool:
        """Judged in its star table's own step, before the rows publish (audit.py)."""
        return self.blocking and not self.table.startswith("staging_")

    @property
    def section(self) -> str:
        """Its query in sql/checks.sql: the table's own, or one both staging tables share."""
        shared = f"staging__{self.name}"
        if self.table.startswith("staging_") and shared in sql_files.sections("checks"):
            return shared
        return f"{self.table}__{self.name}"


PLAYS = ("songplays",)
RULES = (
    Rule("staging_events", "not_empty", "Event objects were loaded, so events are staged.", True),
    Rule(
        "staging_events",
        "reject_rate",
        "The latest load rejected at most the allowed share of records.",
        True,
    ),
    Rule(
        "staging_events", "no_rejects", "No event record is quarantined in staging_rejects.", False
    ),
    Rule(
        "staging_events",
        "level_domain",
        "Every logged-in event's level is 'free' or 'paid'.",
        False,
        ("staging_events",),
    ),
    Rule(
        "staging_events",
        "not_in_future",
        "No event is stamped later than now.",
        False,
        ("staging_events",),
    ),
    Rule(
        "staging_events",
        "no_duplicate_events",
        "The latest load brought no copy of an event staged before.",
        False,
    ),
    Rule(
        "staging_events",
        "no_repaired_text",
        "The latest load held no mis-encoded title or artist name.",
        False,
    ),
    Rule(
        "staging_events",
        "no_skipped_objects",
        "Every object under log_data/ is data: none skipped (a marker, an empty object, "
        "another suffix).",
        False,
    ),
    Rule(
        "staging_events",
        "no_schema_drift",
        "The latest load's records hold the keys sql/staging_events.jsonpaths maps, no more, "
        "no fewer.",
        False,
    ),
    Rule("staging_songs", "not_empty", "Song objects were loaded, so songs are staged.", True),
    Rule(
        "staging_songs",
        "reject_rate",
        "The latest load rejected at most the allowed share of records.",
        True,
    ),
    Rule("staging_songs", "no_rejects", "No song record is quarantined in staging_rejects.", False),
    Rule("staging_songs", "one_version_per_song", "All raw records of a song_id agree.", False),
    Rule(
        "staging_songs",
        "no_skipped_objects",
        "Every object under song_data/ is data: none skipped (a marker, an empty object, "
        "another suffix).",
        False,
    ),
    Rule(
        "staging_songs",
        "no_schema_drift",
        "The latest load's records hold the keys sql/staging_songs.jsonpaths maps, no more, "
        "no fewer.",
        False,
    ),
    Rule("users", "key", "user_id is not null and unique.", True, ("users",)),
    Rule("users", "level_domain", "level is 'free' or 'paid'.", True),
    Rule("users", "gender_domain", "gender is 'M', 'F' or unknown (NULL).", False),
    Rule(
        "users",
        "matches_staging",
        "One user per non-empty userId in staging_events.",
        False,
        ("users", "staging_events"),
    ),
    Rule(
        "users",
        "level_is_latest",
        "Each user's level is that of the user's latest event.",
        False,
        ("users",),
    ),
    Rule("songs", "key", "song_id is not null and unique.", True),
    Rule("songs", "duration_positive", "duration is more than 0 seconds.", False),
    Rule("songs", "year_plausible", "year is 0 (unknown) or from 1900 to next year.", False),
    Rule("artists", "key", "artist_id is not null and unique.", True),
    Rule(
        "artists",
        "coordinates_in_range",
        "latitude within ±90 and longitude within ±180, or NULL.",
        False,
    ),
    Rule("time", "key", "start_time is not null and unique.", True, ("time",)),
    Rule(
        "time",
        "parts_in_range",
        "hour, day, week, month and weekday are within range.",
        False,
        ("time",),
    ),
    Rule("songplays", "key", "songplay_id is not null and unique.", True, PLAYS),
    Rule("songplays", "user_in_users", "Every user_id is in users.", True, PLAYS),
    Rule("songplays", "start_time_in_time", "Every start_time is in time.", True, PLAYS),
    Rule("songplays", "song_in_songs", "Every non-null song_id is in songs.", True, PLAYS),
    Rule("songplays", "artist_in_artists", "Every non-null artist_id is in artists.", True, PLAYS),
    Rule("songplays", "level_domain", "level is 'free' or 'paid'.", True, PLAYS),
    Rule("songplays", "not_in_future", "No play starts in the future.", False, PLAYS),
    Rule(
        "songplays",
        "matches_staging",
        "Every staged play is in songplays, and every play's object carries it.",
        False,
        ("songplays", "staging_events"),
    ),
)
SAMPLE_ROWS = 10  # failing rows a check result shows
# What every check step reads; on a fresh warehouse (the checks job) an absent table is empty.
CHECKED_TABLES = (*sql_files.BOOKKEEPING_TABLES, *sql_files.TABLE_ASSETS)


def rule_parameters(max_reject_rate: float, now: datetime | None = None) -> dict[str, Any]:
    now = now or datetime.now(UTC).replace(tzinfo=None)
    return {
        "max_reject_rate": max_reject_rate,
        "now": now.isoformat(sep=" "),
        "next_year": now.year + 1,
    }


def latest_events_batch(session: Session) -> int | None:
    """The latest event load, unless it is everything staged (nothing to narrow then)."""
    rows = session.fetch("checks", "latest_events_batch")
    return rows[0][0] if rows else None


def narrow_to_load(session: Session, tables: Iterable[str], load_batch: int) -> None:
    """Temp table `recent_<table>` for each of `tables`: the rows event load `load_batch`
    touched (its `recent__<table>` section). Built once, read by every rule of a check step."""
    for table in sorted(set(tables)):
        session.run("checks", f"recent__{table}", {"latest_events_batch": load_batch})


def evaluate(
    session: Session,
    rule: Rule,
    parameters: Mapping[str, Any],
    narrowed: bool = False,
    sample_rows: int = SAMPLE_ROWS,
) -> tuple[int, list[str], list[tuple]]:
    """How many rows break `rule`, and the first `sample_rows` of them (with their column
    names): of every row, or (`narrowed`) of the `recent_<table>` rows set aside before."""
    (query,) = sql_files.statements(
        "checks",
        "failing_sample",
        session.dialect,
        narrowed=rule.narrow if narrowed else (),
        slots=(("rule", rule.section),),
    )
    params = {**parameters, "table_name": rule.table, "sample_rows": sample_rows}
    header, rows = session.query_text(query, params)
    failing = rows[0][-1] if rows else 0
    return failing, header[:-1], [row[:-1] for row in rows]


def check_result(
    rule: Rule, failing: int, header: list[str], sample: list[tuple], scope: str
) -> AssetCheckResult:
    metadata: dict[str, Any] = {"failing_rows": failing, "scope": scope}
    if failing:
        metadata["failing_keys"] = MetadataValue.json([str(row[0]) for row in sample])
        metadata["failing_sample"] = MetadataValue.md(markdown_table(header, sample))
    return AssetCheckResult(
        asset_key=AssetKey(rule.table),
        check_name=rule.name,
        passed=failing == 0,
        severity=AssetCheckSeverity.ERROR if rule.blocking else AssetCheckSeverity.WARN,
        metadata=metadata,
    )


def check_spec(rule: Rule) -> AssetCheckSpec:
    return AssetCheckSpec(
        rule.name, asset=rule.table, description=rule.description, blocking=rule.blocking
    )


def _table_checks(table: str, rules: list[Rule], max_reject_rate: float) -> AssetChecksDefinition:
    specs = [check_spec(r) for r in rules]

    @multi_asset_check(name=f"{table}_checks", specs=specs, can_subset=True, pool=WAREHOUSE_POOL)
    def table_checks(
        context: AssetCheckExecutionContext, warehouse: Warehouse
    ) -> Iterable[AssetCheckResult]:
        selected = context.selected_asset_check_keys
        parameters = rule_parameters(max_reject_rate)
        with load_protocol.reading(warehouse, CHECKED_TABLES) as session:
            chosen = [r for r in rules if AssetCheckKey(AssetKey(table), r.name) in selected]
            latest = None
            if _materialized_by_this_run(context, table):
                latest = latest_events_batch(session)
            if latest is not None:
                narrow_to_load(session, (t for r in chosen for t in r.narrow), latest)
            for rule in chosen:
                narrowed = latest is not None and bool(rule.narrow)
                failing, header, sample = evaluate(session, rule, parameters, narrowed)
                if failing:
                    context.log.warning(f"check {table}.{rule.name} failed: {failing} row(s)")
                scope = "what the latest load touched" if narrowed else "every row"
                yield check_result(rule, failing, header, sample, scope)

    return table_checks


def _materialized_by_this_run(context: AssetCheckExecutionContext, table: str) -> bool:
    event = context.instance.get_latest_materialization_event(AssetKey(table))
    return event is not None and event.run_id == context.run.run_id


def build_checks(max_reject_rate: float = DEFAULT_MAX_REJECT_RATE) -> list[AssetChecksDefinition]:
    """Every rule's check that runs after the fact (the audits are the assets' own), grouped by
    table, plus a check per table that its columns hold."""
    tables = list(dict.fromkeys(r.table for r in RULES))
    after_the_fact = [r for r in RULES if not r.audits]
    rule_checks = [
        _table_checks(t, rules, max_reject_rate)
        for t in tables
        if (rules := [r for r in after_the_fact if r.table == t])
    ]
    with warnings.catch_warnings():
        # The builder is marked beta; it is the one Dagster ships for exactly this rule.
        warnings.simplefilter("ignore", BetaWarning)
        schema_checks = build_column_schema_change_checks(assets=tables)
    return [*rule_checks, *schema_checks]
