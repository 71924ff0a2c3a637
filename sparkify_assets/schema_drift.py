"""Schema drift: the JSON keys a load's records and its table's JSONPaths disagree on.

Staging tallies, set-based in the engine that parses (json_records.record_keys_query: DuckDB's
json_keys grouped by object and key set), how many records hold each distinct set of keys and
the first object holding it; here the few distinct sets become, per key, the drift:

- `unmapped`: records hold a key that `sql/<table>.jsonpaths` does not map (a new field, or a
  renamed one: `session_id` for `sessionId`): its value is not staged anywhere.
- `missing`: records lack a key the JSONPaths map (the other half of a rename): the column is
  NULL, and a required one rejects the record ("missing sessionId").

A key whose value changed type is named by the rejects (staging_rejects, grouped by reason).
Any engine joins by filling a KeyTally from its records (Session.staged_keys) however it reads
them; the rest is this module and `sql/schema_drift.sql`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from sparkify_assets import sql_files

UNMAPPED = "unmapped"
MISSING = "missing"


@dataclass
class KeyTally:
    """Per distinct set of JSON keys seen in a load's records (JSON objects only): how many
    records hold exactly that set, and the first object (in key order) holding it."""

    records: dict[frozenset[str], int] = field(default_factory=dict)
    first_object: dict[frozenset[str], str] = field(default_factory=dict)

    def add(self, keys: Iterable[str], records: int, object_key: str) -> None:
        key_set = frozenset(keys)
        self.records[key_set] = self.records.get(key_set, 0) + records
        first = self.first_object.get(key_set)
        self.first_object[key_set] = object_key if first is None else min(first, object_key)


@dataclass(frozen=True)
class Drift:
    """One key the records and the JSONPaths disagree on."""

    json_key: str
    drift: str  # UNMAPPED or MISSING
    records: int  # records holding it (unmapped) or lacking it (missing)
    first_object: str  # the first object, in key order, where it is so

    def sentence(self, table: str) -> str:
        """This drift as a line of a run's log."""
        if self.drift == UNMAPPED:
            what = f"is in no column (not in sql/{table}.jsonpaths)"
        else:
            what = f"is missing, though sql/{table}.jsonpaths maps it"
        return (
            f"key {self.json_key!r} {what}: {self.records} record(s) of this load, first in "
            f"{self.first_object}"
        )


def drift_of(table: str, tally: KeyTally) -> list[Drift]:
    """What `tally`'s records and `sql/<table>.jsonpaths` disagree on, most records first."""
    mapped = set(sql_files.json_keys(table))
    seen = set().union(*tally.records)
    sets = list(tally.records)
    found = [_drift(k, UNMAPPED, [s for s in sets if k in s], tally) for k in seen - mapped]
    for key in mapped:
        lacking = [s for s in sets if key not in s]
        if lacking:
            found.append(_drift(key, MISSING, lacking, tally))
    return sorted(found, key=lambda d: (-d.records, d.json_key))


def _drift(key: str, drift: str, key_sets: list[frozenset[str]], tally: KeyTally) -> Drift:
    records = sum(tally.records[s] for s in key_sets)
    return Drift(key, drift, records, min(tally.first_object[s] for s in key_sets))
