"""Amazon Redshift, the production engine: a provisioned cluster or a Serverless workgroup.

Staging runs Redshift's own COPY from S3 for each lake object big enough to be worth one: the data
never passes through this process. COPY cannot say which line a row came from, so each object is
one COPY and its rows carry its key. Redshift applies what COPY cannot (sql/<table>.sql,
`record_rules`) after the COPY; an object that had any bad record is instead parsed here with the
code the other engines use, so its rows and rejects, lines and reasons, are exactly theirs. Objects
smaller than `copy_min_object_bytes` (song files: thousands of one-record files, a COPY each would
take hours) are parsed here too, in chunks, and reach Redshift as JSON-lines files COPY loads.

Every transaction is serializable and takes its snapshot at its first statement: the load
protocol locks first and creates tables in a transaction of their own. Values travel as psycopg2
parameters; COPY authenticates with an IAM role, so no secret is ever in a statement's text.
Connections are psycopg2's own: dagster-aws's RedshiftClient opens one per query, takes no
parameters and logs every query, while an asset's work here is one transaction on one connection.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
import uuid
from collections.abc import Iterator, Sequence

import psycopg2
from psycopg2 import connect as psycopg2_connect
from psycopg2.extras import execute_values
from pydantic import Field

from sparkify_assets import sql_files
from sparkify_assets.resources.engines import json_records
from sparkify_assets.resources.engines.base import (
    DbApiSession,
    Finding,
    ServerWarehouse,
    slots,
    without_secret,
)
from sparkify_assets.resources.engines.local_staging import duckdb_execute, parser, stage_records
from sparkify_assets.resources.engines.redshift_login import temporary_login
from sparkify_assets.resources.lake import Lake, LakeObject

CONTROL_PREFIX = "_sparkify"  # under the lake root; the sensors and loads read only data prefixes
# Below this size an object costs Redshift more as a COPY of its own (seconds each) than parsing
# it here and loading it with others in one COPY.
COPY_MIN_OBJECT_BYTES = 1024 * 1024


def engine_sql(section: str, table: str | None = None, tables=(), columns=()) -> str:
    return sql_files.engine_statement("redshift", section, slots(table, tables, columns))


def manifest(uris: Sequence[str]) -> str:
    """A COPY manifest listing exactly `uris`; `mandatory` makes a vanished object an error."""
    return json.dumps({"entries": [{"url": u, "mandatory": True} for u in uris]}, indent=1)


class RedshiftSession(DbApiSession):
    dialect = "redshift"
    chunk_bytes = 256 * 1024 * 1024  # parsed here, then one COPY per chunk

    def __init__(self, con, warehouse: RedshiftWarehouse):
        super().__init__(con)
        self.warehouse = warehouse

    def lock(self, *tables):
        self.execute(engine_sql("lock", tables=tables))

    def fill_load_objects(self, objects, records=None):
        self.run("load_objects", "create_temp")
        with self.con.cursor() as cur:
            rows = self.load_object_rows(objects, records)
            execute_values(cur, engine_sql("fill_load_objects"), rows, page_size=1000)

    def stage(self, table, lake, objects, load_batch, progress=None):
        if not lake.is_s3:
            raise ValueError("the redshift engine loads from S3: set SPARKIFY_LAKE=s3://...")
        with ControlFiles(lake) as control:
            big = [o for o in objects if o.size >= self.warehouse.copy_min_object_bytes]
            parse_here = [o for o in objects if o.size < self.warehouse.copy_min_object_bytes]
            copied: dict[str, int] = {}
            if big:
                with_errors, copied = self._copy_objects(table, control, big, load_batch)
                parse_here += with_errors
            with parser() as con:
                load = self._json_loader(con, control)
                parsed = stage_records(
                    con, load, table, lake, parse_here, load_batch, self.chunk_bytes, progress
                )
            return {**copied, **parsed}

    def _copy_objects(
        self, table, control, objects, load_batch
    ) -> tuple[list[LakeObject], dict[str, int]]:
        """COPY each object in place; return those with a bad record, for parsing here, and the
        rows of each of the others."""
        self.run(table, "create_copy_target")
        jsonpaths = (sql_files.SQL_DIR / f"{table}.jsonpaths").read_text(encoding="utf-8")
        jsonpaths_uri = control.put(f"{table}.jsonpaths", jsonpaths)
        with_errors, copied = [], {}
        for obj in objects:
            self.copy_object(table, control, obj.key, jsonpaths_uri)
            (violations,) = self.fetch(table, "copy_violations")[0]
            if self.load_errors() or violations:
                with_errors.append(obj)
            else:
                (copied[obj.key],) = self.run(
                    table, "from_copy_target", {"source_key": obj.key, "load_batch": load_batch}
                )
            self.run(table, "empty_copy_target")
        return with_errors, copied

    def copy_object(
        self, table: str, control: ControlFiles, key: str, jsonpaths_uri: str, noload=False
    ) -> None:
        """COPY one lake object into `<table>_copy` (or, with `noload`, only check it)."""
        manifest_uri = control.put("one.manifest", manifest([control.lake.s3_uri(key)]))
        columns = [c.name for c in json_records.raw_columns(table)]
        statement = engine_sql(
            "check_object" if noload else "copy_object", f"{table}_copy", columns=columns
        )
        self.execute(statement, {**self._copy_params(manifest_uri), "jsonpaths_uri": jsonpaths_uri})

    def load_errors(self) -> int:
        """How many records the session's last COPY rejected (STL view, or SYS on Serverless)."""
        section = "load_errors_serverless" if self.warehouse.serverless else "load_errors"
        return self.query_text(engine_sql(section))[1][0][0]

    def _json_loader(self, con, control: ControlFiles):
        """Put a DuckDB query's rows into a table: JSON lines to S3, then one COPY."""

        def load(target, query, params):
            with tempfile.TemporaryDirectory(prefix="sparkify-rows-") as tmp:
                path = os.path.join(tmp, "rows.json")
                (rows,) = duckdb_execute(
                    con, f"COPY ({query}) TO '{path}' (FORMAT json)", params
                ).fetchone()
                if not rows:
                    return 0
                uri = control.put_file(f"{target}.json", path)
            manifest_uri = control.put(f"{target}.manifest", manifest([uri]))
            self.execute(engine_sql("copy_parsed", target), self._copy_params(manifest_uri))
            (copied,) = self.query_text(engine_sql("last_copy_count"))[1][0]
            if copied != rows:
                raise RuntimeError(f"{target}: COPY loaded {copied} of {rows} parsed rows")
            return rows

        return load

    def _copy_params(self, manifest_uri: str) -> dict[str, str]:
        return {
            "manifest_uri": manifest_uri,
            "iam_role": self.warehouse.iam_role_arn,
            "region": self.warehouse.aws_region,
        }


class ControlFiles:
    """Files COPY reads (manifests, JSONPaths, parsed rows) under the lake's `_sparkify/` prefix,
    each name unique to this load and every one removed when the load is done with them."""

    def __init__(self, lake: Lake):
        self.lake = lake
        self.folder = f"{CONTROL_PREFIX}/loads/{uuid.uuid4().hex}"
        self.keys: list[str] = []

    def __enter__(self) -> ControlFiles:
        return self

    def __exit__(self, *exc) -> None:
        client = self.lake.s3_client()
        for start in range(0, len(self.keys), 1000):
            batch = [{"Key": self.lake.prefix + k} for k in self.keys[start : start + 1000]]
            client.delete_objects(Bucket=self.lake.bucket, Delete={"Objects": batch})

    def _key(self, name: str) -> str:
        key = f"{self.folder}/{len(self.keys):06d}-{name}"
        self.keys.append(key)
        return key

    def put(self, name: str, body: str) -> str:
        key = self._key(name)
        self.lake.s3_client().put_object(
            Bucket=self.lake.bucket, Key=self.lake.prefix + key, Body=body.encode("utf-8")
        )
        return self.lake.s3_uri(key)

    def put_file(self, name: str, path: str) -> str:
        key = self._key(name)
        self.lake.s3_client().upload_file(path, self.lake.bucket, self.lake.prefix + key)
        return self.lake.s3_uri(key)


class RedshiftWarehouse(ServerWarehouse):
    """The star schema in Amazon Redshift (a cluster, or a Serverless workgroup)."""

    engine = "redshift"
    port: int = 5439
    sslmode: str = "require"
    iam_role_arn: str = Field(description="The IAM role COPY assumes to read the lake")
    aws_region: str = Field(description="The lake bucket's region, for COPY")
    cluster_identifier: str | None = Field(
        default=None, description="Without a password: log in with IAM credentials for this cluster"
    )
    workgroup: str | None = Field(
        default=None, description="A Serverless workgroup (load errors from the SYS views)"
    )
    aws_endpoint_url: str | None = Field(
        default=None, description="A Redshift API endpoint other than AWS's, for IAM login"
    )
    copy_min_object_bytes: int = COPY_MIN_OBJECT_BYTES

    @property
    def serverless(self) -> bool:
        return bool(self.workgroup)

    def preflight(self, lake, samples):
        findings = super().preflight(lake, samples)
        if not all(f.passed for f in findings):
            return findings
        bucket_region = lake.region()
        findings.append(
            Finding(
                "lake bucket region",
                bucket_region == self.aws_region,
                f"{lake.bucket} is in {bucket_region}"
                + ("" if bucket_region == self.aws_region else "; set SPARKIFY_AWS_REGION to it"),
            )
        )
        for table, key in samples.items():
            findings.append(self._check_copy(lake, table, key))
        return findings

    def _check_copy(self, lake: Lake, table: str, key: str) -> Finding:
        """COPY ... NOLOAD of one object through a manifest and the JSONPaths, then the load
        errors read back: what the first load does, loading nothing."""
        check = f"COPY {table} from {key} (NOLOAD)"
        try:
            with self.session() as session, ControlFiles(lake) as control:
                session.run(table, "create_copy_target")
                jsonpaths = (sql_files.SQL_DIR / f"{table}.jsonpaths").read_text(encoding="utf-8")
                jsonpaths_uri = control.put(f"{table}.jsonpaths", jsonpaths)
                session.copy_object(table, control, key, jsonpaths_uri, noload=True)
                errors = session.load_errors()
                session.rollback()
        except psycopg2.Error as exc:
            reason = without_secret(str(exc), self.password)
            return Finding(
                check,
                False,
                f"{reason} (check SPARKIFY_IAM_ROLE_ARN: the role "
                "must be attached to the cluster and may read the lake bucket)",
            )
        view = "sys_load_error_detail" if self.serverless else "stl_load_errors"
        return Finding(check, True, f"{errors} record(s) would be rejected; read from {view}")

    @contextlib.contextmanager
    def connect(self, wait: bool = True) -> Iterator[RedshiftSession]:
        user, password = self.user, self.password
        if not password:
            user, password = temporary_login(self)
        try:
            con = psycopg2_connect(
                host=self.host,
                port=self.port,
                dbname=self.database,
                user=user,
                password=password,
                sslmode=self.sslmode,
                connect_timeout=10,
                application_name="sparkify_assets",
            )
        except psycopg2.OperationalError as exc:
            raise self.unavailable(exc, password) from None
        with contextlib.closing(con):
            yield RedshiftSession(con, self)
