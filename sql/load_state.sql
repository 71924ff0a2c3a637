-- load_state: for each star table and each staging table it reads, the last load batch it has
-- taken in. A star table's run reads only the staging rows of later batches.

-- name: create
CREATE TABLE IF NOT EXISTS load_state (
    consumer   VARCHAR(64) NOT NULL,
    source     VARCHAR(64) NOT NULL,
    load_batch BIGINT      NOT NULL
)
DISTSTYLE ALL;

-- name: get
SELECT load_batch FROM load_state WHERE consumer = %(consumer)s AND source = %(source)s;

-- name: set
DELETE FROM load_state WHERE consumer = %(consumer)s AND source = %(source)s;
INSERT INTO load_state (consumer, source, load_batch)
VALUES (%(consumer)s, %(source)s, %(load_batch)s);
