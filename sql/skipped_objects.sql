-- skipped_objects: the objects under a staging table's lake prefix that its latest run listed and
-- did not load because they are not data (docs/tables.md: an empty object, a marker such as
-- _SUCCESS, another suffix), with why. Each staging run replaces its table's rows, so this says
-- what the lake holds now, for the staging tables' no_skipped_objects checks.

-- name: create
CREATE TABLE IF NOT EXISTS skipped_objects (
    table_name VARCHAR(64)   NOT NULL,
    object_key VARCHAR(1024) NOT NULL,
    size       BIGINT        NOT NULL,
    reason     VARCHAR(64)   NOT NULL,
    listed_at  TIMESTAMP     NOT NULL
)
DISTSTYLE ALL
SORTKEY (table_name, object_key);

-- name: delete_all
DELETE FROM skipped_objects WHERE table_name = %(table_name)s;

-- name: record
INSERT INTO skipped_objects (table_name, object_key, size, reason, listed_at)
VALUES (%(table_name)s, %(object_key)s, %(size)s, %(reason)s, CAST(%(listed_at)s AS TIMESTAMP));
