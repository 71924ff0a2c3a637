-- schema_drift: per staging load, the JSON keys its records and the table's JSONPaths
-- (sql/<table>.jsonpaths) disagree on: a key records hold that no column takes ('unmapped'), or
-- a key a column takes that records lack ('missing'), with how many records and the first
-- object (in key order) where it is so. sparkify_assets/schema_drift.py computes it.

-- name: create
CREATE TABLE IF NOT EXISTS schema_drift (
    table_name   VARCHAR(64)   NOT NULL,
    load_batch   BIGINT        NOT NULL,
    json_key     VARCHAR(256)  NOT NULL,
    drift        VARCHAR(16)   NOT NULL,
    records      BIGINT        NOT NULL,
    first_object VARCHAR(1024) NOT NULL
)
DISTSTYLE ALL
SORTKEY (table_name, load_batch);

-- name: record
INSERT INTO schema_drift (table_name, load_batch, json_key, drift, records, first_object)
VALUES (%(table_name)s, %(load_batch)s, %(json_key)s, %(drift)s, %(records)s, %(first_object)s);

-- name: of_load
-- One load's drift, for its asset's metadata: most records first.
SELECT json_key, drift, records, first_object
FROM schema_drift
WHERE table_name = %(table_name)s AND load_batch = %(load_batch)s
ORDER BY records DESC, json_key;
