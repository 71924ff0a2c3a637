"""A Redshift session: staging by COPY in place, typing in SQL, parsing here what COPY cannot.

See redshift.py for the engine as a whole. Each lake object worth a COPY of its own is COPYed in
place into `<table>_copy` (every raw field as text) and typed by `typed_copy` in sql/<table>.sql;
an object with a record COPY rejected or `typed_copy` doubts, and every object under
`copy_min_object_bytes`, is parsed here with the code the other engines use and reaches Redshift
as JSON-lines files, one COPY per chunk. What COPY reads that this process writes goes to the
temp location (redshift_temp.py); drift of objects COPYed in place is sampled (redshift_drift.py).
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Sequence
from typing import TYPE_CHECKING

from psycopg2.extras import execute_values

from sparkify_assets import sql_files
from sparkify_assets.resources.engines import json_records
from sparkify_assets.resources.engines.base import DbApiSession, slots
from sparkify_assets.resources.engines.local_staging import duckdb_execute, parser, stage_records
from sparkify_assets.resources.engines.redshift_drift import sample_keys
from sparkify_assets.resources.engines.redshift_temp import TempFiles, put_jsonpaths
from sparkify_assets.resources.lake import LakeObject
from sparkify_assets.schema_drift import KeyTally

if TYPE_CHECKING:
    from sparkify_assets.resources.engines.redshift import RedshiftWarehouse

# The compressions COPY is told of, and the section prefix of each (sql/engines/redshift.sql).
COPY_COMPRESSIONS = {None: "", "gzip": "gzip_"}


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
                sample_keys(con, lake, in_place, self.staged_keys)
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
