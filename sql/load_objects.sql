-- load_objects: a session-local list of lake objects (key and version) that a load or a sensor
-- tick is asking about, and once a load has staged them, how many records each held. Each engine
-- fills it its own fastest way (sql/engines/<engine>.sql).

-- name: create_temp
DROP TABLE IF EXISTS load_objects;
CREATE TEMP TABLE load_objects (
    object_key VARCHAR(1024) NOT NULL,
    etag       VARCHAR(128)  NOT NULL,
    size       BIGINT        NOT NULL,
    records    BIGINT                  -- rows and rejects together; NULL until staged
);
