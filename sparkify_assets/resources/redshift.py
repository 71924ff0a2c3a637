"""Amazon Redshift, the production engine.

Connections come from dagster-aws (`RedshiftClientResource`: host, port, SSL mode, timeouts). Its
client opens a connection per query, takes no parameters and logs every query at INFO, so the
engine holds one of the client's connections for the whole asset (one transaction) and sends
values as psycopg2 parameters, never formatted into SQL text. No secret is ever in SQL text: COPY
authenticates with an IAM role, not with keys.

Staging is Redshift's own `COPY ... FROM 's3://...' FORMAT AS JSON`, so the data never passes
through the Dagster process. COPY reads a manifest this engine writes to S3, listing exactly the
objects to load (a plain S3 path would also load every key it is a prefix of), and maps JSON keys
to columns with the repo's JSONPaths file, uploaded beside the manifests: the same mapping the
local engines use. Bad records do not stop the load (MAXERROR); they are read back from
`stl_load_errors` into `staging_rejects`.

COPY cannot say which object a row came from. Event objects (one a day) are therefore loaded one
COPY each, and their rows tagged with the key. Song objects are thousands of one-record files, too
many for a COPY each: they load with one COPY per batch, `source_key` stays NULL, and a changed
song object replaces the rows of the song_ids it holds.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from psycopg2.extras import execute_values
from sqlglot import exp

from sparkify_assets import sql_files
from sparkify_assets.resources import json_records
from sparkify_assets.resources.lake import Lake, LakeObject
from sparkify_assets.resources.warehouse import LOAD_OBJECTS_COLUMNS, PostgresSession

CONTROL_PREFIX = "_sparkify"  # under the lake root; the sensors and loads read only data prefixes
# COPY goes on past bad records (the reject-rate check decides); statistics are left to ANALYZE.
COPY_OPTIONS = "MANIFEST MAXERROR 100000 COMPUPDATE OFF STATUPDATE OFF"


def literal(value: str) -> str:
    """A Redshift string literal, escaped the way Redshift reads it (quotes and backslashes)."""
    return exp.Literal.string(value).sql(dialect="redshift")


def manifest(uris: Sequence[str]) -> str:
    """A COPY manifest listing exactly `uris`; `mandatory` makes a vanished object an error."""
    return json.dumps({"entries": [{"url": u, "mandatory": True} for u in uris]}, indent=1)


def copy_statement(
    table: str,
    columns: Sequence[str],
    manifest_uri: str,
    jsonpaths_uri: str,
    iam_role_arn: str,
    region: str,
) -> str:
    return (
        f"COPY {table} ({', '.join(columns)}) "
        f"FROM {literal(manifest_uri)} "
        f"IAM_ROLE {literal(iam_role_arn)} "
        f"REGION {literal(region)} "
        # ts stays the raw epoch-milliseconds BIGINT (the star SQL converts it), so COPY's
        # TIMEFORMAT 'epochmillisecs' does not apply.
        f"FORMAT AS JSON {literal(jsonpaths_uri)} "
        f"{COPY_OPTIONS}"
    )


# The records the last COPY rejected, as staging_rejects rows (keys relative to the lake root).
READ_LOAD_ERRORS = """
INSERT INTO staging_rejects (table_name, source_key, source_line, reason, raw_text, load_batch)
SELECT %(table_name)s,
       SUBSTRING(TRIM(filename), %(uri_prefix_length)s + 1),
       line_number,
       TRIM(colname) || ': ' || TRIM(err_reason),
       LEFT(TRIM(raw_line), 300),
       %(load_batch)s
FROM stl_load_errors
WHERE query = pg_last_copy_id()
"""
LOAD_ERRORS_BY_KEY = """
SELECT source_key, COUNT(*) FROM staging_rejects
WHERE table_name = %(table_name)s AND load_batch = %(load_batch)s
GROUP BY source_key
"""


class RedshiftSession(PostgresSession):
    dialect = "redshift"

    def __init__(self, con, iam_role_arn: str, region: str):
        super().__init__(con)
        self.iam_role_arn = iam_role_arn
        self.region = region

    def create_table(self, table):
        self.run(table, "create")

    def lock(self, table):
        # Redshift's LOCK has no modes: it blocks other writers (and readers) until commit.
        self.execute(f'LOCK "{table}"')

    def load_objects(self, rows):
        # Redshift has no COPY FROM STDIN: multi-row INSERTs, a thousand rows a statement.
        self.execute("DROP TABLE IF EXISTS load_objects")
        self.execute(
            "CREATE TEMP TABLE load_objects (object_key VARCHAR(1024), etag VARCHAR(128), "
            "size BIGINT, rows_loaded BIGINT, rows_rejected BIGINT)"
        )
        with self.con.cursor() as cur:
            execute_values(
                cur,
                f"INSERT INTO load_objects ({', '.join(LOAD_OBJECTS_COLUMNS)}) VALUES %s",
                rows,
                page_size=1000,
            )

    def stage(
        self, table: str, lake: Lake, objects: Sequence[LakeObject], load_batch: int
    ) -> dict[str, tuple[int, int]]:
        if not lake.is_s3:
            raise ValueError(
                "the redshift engine loads from S3: set SPARKIFY_LAKE=s3://bucket/prefix"
            )
        load_table = f"{table}_load"
        columns = [c.name for c in json_records.raw_columns(table)]
        self.execute(f"DROP TABLE IF EXISTS {load_table}")
        self.execute(f"CREATE TEMP TABLE {load_table} (LIKE {table})")
        jsonpaths_uri = self._put(
            lake,
            f"jsonpaths/{table}.jsonpaths",
            (sql_files.SQL_DIR / f"{table}.jsonpaths").read_text(),
        )
        batch = {
            "table_name": table,
            "load_batch": load_batch,
            "uri_prefix_length": len(lake.s3_uri("")),
        }
        copied: dict[str, int] = {}
        # One COPY per event object, so its rows can carry their key; one COPY for all songs.
        per_object = table == "staging_events"
        groups = [[o] for o in objects] if per_object else [list(objects)]
        for n, group in enumerate(groups):
            manifest_uri = self._put(
                lake,
                f"copy_manifests/{table}-batch-{load_batch}-{n:05d}.manifest",
                manifest([lake.s3_uri(o.key) for o in group]),
            )
            self.execute(
                copy_statement(
                    load_table, columns, manifest_uri, jsonpaths_uri, self.iam_role_arn, self.region
                )
            )
            (copied[group[0].key],) = self.fetch("SELECT pg_last_copy_count()")[0]
            self.execute(READ_LOAD_ERRORS, batch)
            if not per_object:
                # Songs carry no key: a changed object replaces the rows of its song_ids.
                self.execute(
                    f"DELETE FROM {table} USING {load_table} AS l WHERE {table}.song_id = l.song_id"
                )
            self.execute(
                f"INSERT INTO {table} ({', '.join(columns)}, source_key, source_line, load_batch) "
                f"SELECT {', '.join(columns)}, %(source_key)s, NULL, %(load_batch)s "
                f"FROM {load_table}",
                {"source_key": group[0].key if per_object else None, "load_batch": load_batch},
            )
            self.execute(f"DELETE FROM {load_table}")  # not TRUNCATE: it would commit
        rejected = dict(self.fetch(LOAD_ERRORS_BY_KEY, batch))
        # A song object holds one record: loaded unless rejected.
        return {
            o.key: (
                copied[o.key] if per_object else max(1 - rejected.get(o.key, 0), 0),
                rejected.get(o.key, 0),
            )
            for o in objects
        }

    def _put(self, lake: Lake, name: str, body: str) -> str:
        """Write a control file under the lake's `_sparkify/` prefix; return its s3:// URI."""
        key = f"{CONTROL_PREFIX}/{name}"
        lake.s3_client().put_object(Bucket=lake.bucket, Key=lake.prefix + key, Body=body.encode())
        return lake.s3_uri(key)
