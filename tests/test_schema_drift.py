"""Schema drift (schema_drift.py): the key sets a load's records hold, against the JSONPaths."""

from sparkify_assets import sql_files
from sparkify_assets.schema_drift import MISSING, UNMAPPED, Drift, KeyTally, drift_of

MAPPED = sql_files.json_keys("staging_events")


def test_drift_names_each_key_with_its_records_and_first_object():
    tally = KeyTally()
    tally.add(MAPPED, 100, "log_data/b.json")
    assert drift_of("staging_events", tally) == []  # exactly the mapped keys: no drift
    renamed = [k if k != "sessionId" else "session_id" for k in MAPPED]
    tally.add(reversed(renamed), 3, "log_data/c.json")  # another order is the same set
    tally.add(renamed, 4, "log_data/a.json")
    tally.add([*MAPPED, "device"], 5, "log_data/d.json")
    assert drift_of("staging_events", tally) == [
        Drift("sessionId", MISSING, 7, "log_data/a.json"),
        Drift("session_id", UNMAPPED, 7, "log_data/a.json"),
        Drift("device", UNMAPPED, 5, "log_data/d.json"),
    ]


def test_no_records_no_drift():
    assert drift_of("staging_songs", KeyTally()) == []
