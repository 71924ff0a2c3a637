-- What only the Redshift engine sends, in Redshift's dialect
-- (sparkify_assets/resources/engines/redshift.py). Values are psycopg2 parameters, bound on the
-- client; COPY authenticates with an IAM role, so no secret is ever in a statement's text.

-- name: lock
-- Redshift's LOCK has no modes: it blocks other readers and writers until the transaction ends.
-- So every writer locks load_lock, which no one reads, not the tables it writes: two loads run one
-- after the other and readers never wait (sql/load_lock.sql). It must come before anything the
-- transaction reads: the snapshot is taken at its first read or write.
LOCK load_lock;

-- name: load_running
-- Whether another session holds load_lock (a load runs), for a sensor tick that must not wait
-- on it: SVV_TRANSACTIONS lists the locks held now. Regular users see only their own sessions,
-- so the sensors log in as the user that loads (or a superuser).
SELECT COUNT(*)
FROM svv_transactions AS t
JOIN pg_class AS c ON c.oid = t.relation
JOIN pg_namespace AS n ON n.oid = c.relnamespace
WHERE c.relname = 'load_lock' AND n.nspname = current_schema()
  AND t.granted AND t.pid <> pg_backend_pid();

-- name: no_waiting
-- A session that must not wait (a sensor tick has about 60 s): a statement that would, fails.
SET statement_timeout TO 10000;

-- name: fill_load_objects
-- Redshift has no COPY FROM STDIN: psycopg2's execute_values sends multi-row INSERTs.
INSERT INTO load_objects (object_key, etag, size, records) VALUES %s;

-- name: copy_object
-- One lake object into the COPY target of its table, through a manifest naming exactly that
-- object (a plain S3 path would also load every key it is a prefix of) and the JSONPaths file
-- that maps JSON keys to columns (the same file the local engines read). Bad records do not stop
-- the COPY (MAXERROR, Redshift's largest); the engine reads how many there were.
COPY ${table} (${columns})
FROM %(manifest_uri)s
IAM_ROLE %(iam_role)s
REGION %(region)s
FORMAT AS JSON %(jsonpaths_uri)s
MANIFEST
MAXERROR 100000
COMPUPDATE OFF;

-- name: check_object
-- The same COPY, checked and not loaded: what preflight runs, and the check of objects that may
-- hold a record over COPY's 4 MB limit.
${copy_object}
NOLOAD;

-- name: copy_gzip_object
-- The same COPY of gzip-compressed objects (`.json.gz`).
${copy_object}
GZIP;

-- name: check_gzip_object
${copy_object}
GZIP
NOLOAD;

-- name: copy_parsed
-- Rows this process parsed (small objects, or an object with a bad record) and wrote as JSON
-- lines whose keys are the column names: typed, tagged with key and line, so no error is allowed.
COPY ${table} (${columns})
FROM %(manifest_uri)s
IAM_ROLE %(iam_role)s
REGION %(region)s
FORMAT AS JSON 'auto'
MANIFEST
COMPUPDATE OFF;

-- name: last_copy_count
SELECT pg_last_copy_count();

-- name: load_errors
-- How many records the session's last COPY rejected, on a provisioned cluster.
SELECT COUNT(*) FROM stl_load_errors WHERE query = pg_last_copy_id();

-- name: load_errors_serverless
-- The same on Redshift Serverless, which has no STL views. Its query_id is not documented to
-- equal pg_last_copy_id(), so no join with it: this counts every load error of this session
-- (session_id is the session's process id), and the engine takes the difference across a COPY.
SELECT COUNT(*) FROM sys_load_error_detail WHERE session_id = pg_backend_pid();
