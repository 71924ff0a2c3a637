-- audit_failures: rows a star table's run was about to publish that broke a blocking rule. The
-- run rolled back, so the table never held them; here they are kept for a look, with the run,
-- the rule and the load batches the run took in. Up to 100 rows per rule and run (the first by
-- key), each with how many broke the rule in all.

-- name: create
CREATE TABLE IF NOT EXISTS audit_failures (
    run_id       VARCHAR(64)   NOT NULL,  -- the Dagster run that stopped
    table_name   VARCHAR(64)   NOT NULL,
    rule         VARCHAR(64)   NOT NULL,  -- the asset check's name
    failing_rows BIGINT        NOT NULL,  -- how many rows broke the rule in all
    load_batch   BIGINT        NOT NULL,  -- the newest load batch the run took in
    load_window  VARCHAR(256)  NOT NULL,  -- every batch it took in, e.g. staging_events (3, 5]
    row_key      VARCHAR(1024),           -- the failing row's key (its first column)
    row_values   VARCHAR(4096),           -- the failing row, column by column, as JSON
    failed_at    TIMESTAMP     NOT NULL
)
DISTSTYLE EVEN
SORTKEY (failed_at);

-- name: record
INSERT INTO audit_failures
    (run_id, table_name, rule, failing_rows, load_batch, load_window, row_key, row_values,
     failed_at)
VALUES (%(run_id)s, %(table_name)s, %(rule)s, %(failing_rows)s, %(load_batch)s, %(load_window)s,
        %(row_key)s, %(row_values)s, CAST(%(failed_at)s AS TIMESTAMP));
