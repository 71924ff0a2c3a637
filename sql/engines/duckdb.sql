-- What only the DuckDB engine sends, in DuckDB's dialect (sparkify_assets/resources/engines/duckdb.py).

-- name: fill_load_objects
-- Lists as parameters, unnested: one statement, however many objects.
INSERT INTO load_objects (object_key, etag, size, records)
SELECT UNNEST($object_key), UNNEST($etag), UNNEST($size), UNNEST($records);
