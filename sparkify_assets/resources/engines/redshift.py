"""Amazon Redshift, the production engine: a provisioned cluster or a Serverless workgroup.

Staging runs Redshift's own COPY from S3 for each lake object big enough to be worth one: the data
never passes through this process. COPY cannot say which line a row came from, so each object is
one COPY and its rows carry its key. COPY loads every raw field as text; `typed_copy` in
sql/<table>.sql then types it by the rules the other engines apply, so Redshift's own conversions
never decide a row. An object with a record those rules doubt, or that COPY rejected, is parsed
here instead with the code the other engines use, so its rows and rejects, lines and reasons, are
exactly theirs. Objects smaller than `copy_min_object_bytes` (song files: thousands of one-record
files, a COPY each would take hours) are parsed here too, in chunks, and reach Redshift as
JSON-lines files COPY loads. Files COPY reads that this process writes go to their own temp
location (redshift_temp.py), never into the lake.

Every transaction is serializable or snapshot (new clusters' default) and takes its snapshot at
its first read or write: the load protocol locks first and creates tables in a transaction of
their own. Writers lock only `load_lock`, so readers never wait. Statements go out as written in
sql/ (slots filled); values travel as psycopg2 parameters; COPY authenticates with an IAM role, so
no secret is ever in a statement's text. Connections are psycopg2's own: dagster-aws's
RedshiftClient opens one per query, takes no parameters and logs every query, while an asset's
work here is one transaction on one connection.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import tempfile
from collections.abc import Iterator, Sequence

import psycopg2
from dagster import get_dagster_logger
from psycopg2 import connect as psycopg2_connect
from psycopg2.extras import execute_values
from pydantic import Field

from sparkify_assets import sql_files
from sparkify_assets.resources.engines import json_records, redshift_preflight
from sparkify_assets.resources.engines.base import (
    DbApiSession,
    ServerWarehouse,
    WarehouseBusy,
    slots,
)
from sparkify_assets.resources.engines.local_staging import duckdb_execute, parser, stage_records
from sparkify_assets.resources.engines.redshift_drift import sample_keys
from sparkify_assets.resources.engines.redshift_login import temporary_login
from sparkify_assets.resources.engines.redshift_temp import TempFiles, put_jsonpaths
from sparkify_assets.resources.lake import Lake, LakeObject
from sparkify_assets.schema_drift import KeyTally

# Below this size an object costs Redshift more as a COPY of its own (seconds each) than parsing
# it here and loading it with others in one COPY.
COPY_MIN_OBJECT_BYTES = 1024 * 1024
# The compressions COPY is told of, and the section prefix of each (sql/engines/redshift.sql).
COPY_COMPRESSIONS = {None: "", "gzip": "gzip_"}
# TCP keepalives: a long COPY or merge behind a NAT that drops idle connections would otherwise
# wait forever for an answer that never comes.
KEEPALIVES = {
    "keepalives": 1,
    "keepalives_idle": 60,
    "keepalives_interval": 15,
    "keepalives_count": 4,
}
# The region in a cluster's or workgroup's endpoint host name.
_ENDPOINT_REGION = re.compile(
    r"\.([a-z]{2}(?:-[a-z]+)+-\d+)\.redshift(?:-serverless)?\.amazonaws\.com"
)


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
        self.sampled_bytes = 0  # read by the last `stage` from objects COPYed in place

    def lock(self, *tables):
        # `tables` stay unlocked: Redshift's LOCK would make their readers wait (load_lock.sql).
        self.execute(engine_sql("lock"))

    def fill_load_objects(self, objects, records=None):
        self.run("load_objects", "create_temp")
        with self.con.cursor() as cur:
            rows = self.load_object_rows(objects, records)
            execute_values(cur, engine_sql("fill_load_objects"), rows, page_size=1000)

    def stage(self, table, lake, objects, load_batch, progress=None):
        if not lake.is_s3:
            raise ValueError("the redshift engine loads from S3: set SPARKIFY_LAKE=s3://...")
        with self.warehouse.temp_files(lake) as temp:
            big = [o for o in objects if o.size >= self.warehouse.copy_min_object_bytes]
            parse_here = [o for o in objects if o.size < self.warehouse.copy_min_object_bytes]
            copied: dict[str, int] = {}
            if big:
                not_copied, copied = self._copy_objects(table, lake, temp, big, load_batch)
                parse_here += not_copied
            self.staged_keys = KeyTally()
            with parser() as con:
                in_place = [o for o in big if o.key in copied]
                self.sampled_bytes = sample_keys(con, lake, in_place, self.staged_keys)
                load = self._json_loader(con, temp)
                parsed = stage_records(
                    con, load, table, lake, parse_here, load_batch, self.chunk_bytes, progress,
                    self.staged_keys,
                )  # fmt: skip
            return {**copied, **parsed}

    def _copy_objects(
        self, table, lake, temp, objects, load_batch
    ) -> tuple[list[LakeObject], dict[str, int]]:
        """COPY each object in place; return those to parse here instead (a record COPY
        rejected or typed_copy doubts, or one COPY cannot take at all) and the rows of each of
        the others."""
        refused = self.warehouse.objects_copy_refuses(table, lake, temp, objects)
        self.run(table, "create_copy_target")
        jsonpaths_uri = put_jsonpaths(temp, table)
        not_copied, copied = [o for o in objects if o.key in refused], {}
        for obj in objects:
            if obj.key in refused:
                continue
            rejected = self.copy_objects(
                table, temp, [lake.s3_uri(obj.key)], jsonpaths_uri, obj.compression
            )
            (doubtful,) = self.fetch(table, "copy_violations")[0]
            if rejected or doubtful:
                not_copied.append(obj)
            else:
                (copied[obj.key],) = self.run(
                    table, "from_copy_target", {"source_key": obj.key, "load_batch": load_batch}
                )
            self.run(table, "empty_copy_target")
        return not_copied, copied

    def copy_objects(
        self,
        table: str,
        temp: TempFiles,
        uris: Sequence[str],
        jsonpaths_uri: str,
        compression: str | None = None,
        noload: bool = False,
    ) -> int:
        """COPY lake objects, all plain or all of one `compression`, into `<table>_copy` (or,
        with `noload`, only check them); return how many records COPY rejected."""
        if compression not in COPY_COMPRESSIONS:
            raise ValueError(f"COPY takes {sorted(COPY_COMPRESSIONS)} objects, not {compression}")
        manifest_uri = temp.put("objects.manifest", manifest(uris))
        columns = [c.name for c in json_records.raw_columns(table)]
        section = f"{'check' if noload else 'copy'}_{COPY_COMPRESSIONS[compression]}object"
        statement = engine_sql(section, f"{table}_copy", columns=columns)
        params = {**self._copy_params(manifest_uri), "jsonpaths_uri": jsonpaths_uri}
        return self._rejects_of(statement, params)

    def _rejects_of(self, copy_statement: str, params) -> int:
        """Run one COPY; return how many records it rejected. On a cluster the STL view names
        the COPY (pg_last_copy_id); Serverless's SYS view is not documented to share that id, so
        there the session's count of load errors is read before and after."""
        if self.warehouse.serverless:
            (before,) = self.query_text(engine_sql("load_errors_serverless"))[1][0]
            self.execute(copy_statement, params)
            (after,) = self.query_text(engine_sql("load_errors_serverless"))[1][0]
            return after - before
        self.execute(copy_statement, params)
        return self.query_text(engine_sql("load_errors"))[1][0][0]

    def _json_loader(self, con, temp: TempFiles):
        """Put a DuckDB query's rows into a table: JSON lines to S3, then one COPY."""

        def load(target, query, params):
            with tempfile.TemporaryDirectory(prefix="sparkify-rows-") as tmp:
                path = os.path.join(tmp, "rows.json")
                (rows,) = duckdb_execute(
                    con, f"COPY ({query}) TO '{path}' (FORMAT json)", params
                ).fetchone()
                if not rows:
                    return 0
                uri = temp.put_file(f"{target}.json", path)
            manifest_uri = temp.put(f"{target}.manifest", manifest([uri]))
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


class RedshiftWarehouse(ServerWarehouse):
    """The star schema in Amazon Redshift (a cluster, or a Serverless workgroup)."""

    engine = "redshift"
    port: int = 5439
    sslmode: str = "require"
    iam_role_arn: str = Field(description="The IAM role COPY assumes to read the lake")
    aws_region: str = Field(description="The lake bucket's region, for COPY")
    temp_uri: str = Field(
        description="s3://bucket/prefix this process writes the files COPY reads to (manifests, "
        "JSONPaths, parsed rows), in the lake's region; never under the lake"
    )
    redshift_region: str | None = Field(
        default=None,
        description="The cluster's or workgroup's region, for IAM login (default: the region "
        "in the endpoint's host name)",
    )
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

    @property
    def login_region(self) -> str | None:
        """Where IAM gives temporary credentials: the cluster's region, not the bucket's."""
        if self.redshift_region:
            return self.redshift_region
        match = _ENDPOINT_REGION.search(self.host)
        return match.group(1) if match else None

    def temp_files(self, lake: Lake) -> TempFiles:
        """A load's own folder in the temp location, written with the lake's S3 client (the
        same credentials and endpoint)."""
        return TempFiles(lake.s3_client(), self.temp_uri)

    def ensure_tables(self, tables, wait=True):
        super().ensure_tables([*tables, "load_lock"], wait)

    def busy(self) -> bool:
        """Whether a load holds load_lock now: a sensor tick then skips (it would not wait on
        a reader's side, but it would start a run that only queues behind the load)."""
        with self.session(wait=False) as session:
            return session.query_text(engine_sql("load_running"))[1][0][0] > 0

    def objects_copy_refuses(
        self, table: str, lake: Lake, temp: TempFiles, objects: Sequence[LakeObject]
    ) -> set[str]:
        """The keys of `objects` that COPY cannot load at all. One JSON record over 4 MB fails
        a whole COPY, and a failed COPY aborts the transaction it runs in, so objects that can
        hold one (over 4 MB) are first checked with COPY ... NOLOAD in a session of their own:
        all at once, then, only if that fails, one by one. Those are parsed here, where such a
        record is one reject. A compression COPY is not told of is refused the same way."""
        # A compressed object's size says nothing of its records': it is always checked.
        limit = json_records.MAX_RECORD_BYTES
        checked = [o for o in objects if o.size > limit or o.compression]
        refused: set[str] = set()
        for compression in {o.compression for o in checked}:
            group = {lake.s3_uri(o.key): o.key for o in checked if o.compression == compression}
            if self._copy_takes(table, temp, list(group), compression):
                continue
            refused |= {
                key
                for uri, key in group.items()
                if not self._copy_takes(table, temp, [uri], compression)
            }
        if refused:
            get_dagster_logger().warning(
                f"{table}: COPY refused {len(refused)} object(s) whole (a record over 4 MB, "
                f"say); parsed here instead: {sorted(refused)[:5]}"
            )
        return refused

    def _copy_takes(
        self, table: str, temp: TempFiles, uris: list[str], compression: str | None
    ) -> bool:
        try:
            with self.session() as session:
                session.run(table, "create_copy_target")
                jsonpaths_uri = put_jsonpaths(temp, table)
                session.copy_objects(table, temp, uris, jsonpaths_uri, compression, noload=True)
                session.rollback()
        except psycopg2.DatabaseError:
            return False
        return True

    def preflight(self, lake, samples):
        findings = super().preflight(lake, samples)
        if not all(f.passed for f in findings):
            return findings
        return findings + redshift_preflight.findings(self, lake, samples)

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
                **KEEPALIVES,
            )
        except psycopg2.OperationalError as exc:
            raise self.unavailable(exc, password) from None
        with contextlib.closing(con):
            session = RedshiftSession(con, self)
            if not wait:
                session.execute(engine_sql("no_waiting"))
                con.commit()
            try:
                yield session
            except psycopg2.errors.QueryCanceled as exc:
                if wait:
                    raise
                raise WarehouseBusy(f"a statement waited too long: {exc}".strip()) from None
