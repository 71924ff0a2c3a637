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
import re
from collections.abc import Iterator, Sequence

import psycopg2
from dagster import get_dagster_logger
from psycopg2 import connect as psycopg2_connect
from pydantic import Field

from sparkify_assets.resources.engines import json_records, redshift_preflight
from sparkify_assets.resources.engines.base import ServerWarehouse, WarehouseBusy
from sparkify_assets.resources.engines.redshift_login import temporary_login
from sparkify_assets.resources.engines.redshift_session import RedshiftSession, engine_sql
from sparkify_assets.resources.engines.redshift_temp import TempFiles, put_jsonpaths
from sparkify_assets.resources.lake import Lake, LakeObject

# Below this size an object costs Redshift more as a COPY of its own (seconds each) than parsing
# it here and loading it with others in one COPY.
COPY_MIN_OBJECT_BYTES = 1024 * 1024
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
