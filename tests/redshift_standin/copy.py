"""Redshift's `COPY ... FROM 's3://...'`, executed by the stand-in on PostgreSQL.

Rows go into the target through the session's own cursor (`COPY ... FROM STDIN`), so they are
part of the session's transaction; rejected records go to STL_LOAD_ERRORS (provisioned) or
SYS_LOAD_ERROR_DETAIL (Serverless).
"""

from __future__ import annotations

import datetime as dt
import io
import re
from typing import TYPE_CHECKING

from psycopg2 import sql as pgsql

from tests.redshift_standin import copyparse, source
from tests.redshift_standin.convert import Column, FieldError, convert
from tests.redshift_standin.source import LoadFailed, Record

if TYPE_CHECKING:
    from tests.redshift_standin.connection import StandinConnection

DOCS = "https://docs.aws.amazon.com/redshift/latest/dg/"
MAX_JSON_OBJECT_BYTES = 4 * 1024 * 1024  # one JSON object or array, braces included


def run_copy(con: StandinConnection, cur, statement: str) -> int:
    """Run one COPY on `cur` (the real cursor); return the rows loaded, or raise (through the
    server, so the transaction aborts as Redshift's does)."""
    try:
        return _copy(con, cur, copyparse.parse(statement))
    except LoadFailed as failure:
        if failure.started:  # the COPY id moves once the load process has begun
            con.set_last_copy(cur, con.current_copy_id, 0)
        cur.execute("SELECT redshift_sys.fail(%s)", (str(failure),))
        raise AssertionError("unreachable: redshift_sys.fail raises") from None


def _copy(con: StandinConnection, cur, cmd: copyparse.CopyCommand) -> int:
    columns, table_oid = _target(cur, cmd)
    standin = con.standin
    standin.check_role(cmd.iam_role)
    s3 = standin.s3
    _check_region(con, cmd, cmd.source)
    uris = s3.objects(cmd.source, "MANIFEST" in cmd.switches)
    mapping = _json_mapping(con, cmd, columns) if cmd.format == "JSON" else None
    for uri in uris:
        _check_region(con, cmd, uri)
    query = con.new_query_id(cur)
    rows, errors = [], []
    for uri in uris:
        text = source.decode(s3.read(uri), "GZIP" in cmd.switches, uri)
        for record in _records(cmd, text):
            if cmd.format == "JSON" and len(record.raw.encode("utf-8")) > MAX_JSON_OBJECT_BYTES:
                # Not a row error: "If the maximum size of a single JSON object or array is
                # exceeded ... the COPY command fails" (copy-usage_notes-copy-from-json.html).
                raise LoadFailed(
                    f"Invalid JSON object size exceeds the maximum of {MAX_JSON_OBJECT_BYTES} "
                    f"bytes, line {record.line_number}, file {uri}",
                    started=True,
                )
            try:
                rows.append(_row(cmd, columns, mapping, record))
            except FieldError as err:
                errors.append(con.error_row(query, table_oid, uri, record, err))
    name = "sys_load_error_detail" if standin.serverless else "stl_load_errors"
    if len(errors) > cmd.maxerror:
        # More rejected records than MAXERROR (default 0) fails the COPY:
        # https://docs.aws.amazon.com/redshift/latest/dg/copy-parameters-data-load.html
        con.persist_load_errors(errors)
        raise LoadFailed(
            f"Load into table '{cmd.table}' failed.  Check '{name}' system table for details.",
            started=True,
        )
    con.record_load_errors(cur, errors)
    loaded = 0 if "NOLOAD" in cmd.switches else len(rows)  # NOLOAD checks, loads nothing
    if loaded:
        _load(cur, cmd.table, [c.name for c in columns], rows)
    con.set_last_copy(cur, query, loaded)
    return loaded


def _target(cur, cmd: copyparse.CopyCommand) -> tuple[list[Column], int]:
    """The columns COPY fills, in source order. A NOT NULL column left out of the list without a
    DEFAULT fails the COPY: copy-parameters-column-mapping.html."""
    relation = ".".join(pgsql.Identifier(p).as_string(cur) for p in cmd.table.split("."))
    cur.execute(
        "SELECT a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull, a.atthasdef, "
        "a.attrelid::int FROM pg_attribute AS a WHERE a.attrelid = %s::regclass "
        "AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum",
        (relation,),
    )
    found = cur.fetchall()
    table = {name: Column(name, kind, nn, dflt) for name, kind, nn, dflt, _oid in found}
    names = cmd.columns if cmd.columns is not None else list(table)
    for name in names:
        if name not in table:
            raise LoadFailed(f'column "{name}" of relation "{cmd.table}" does not exist')
    for col in table.values():
        if col.name not in names and col.not_null and not col.has_default:
            raise LoadFailed(
                f"NOT NULL column without DEFAULT must be included in column list "
                f'(column "{col.name}" of "{cmd.table}"; see {DOCS}copy-parameters-column-mapping.html)'
            )
    return [table[n] for n in names], found[0][4]


def _check_region(con: StandinConnection, cmd: copyparse.CopyCommand, uri: str) -> None:
    # The bucket must be in the cluster's region, or in the one REGION names:
    # https://docs.aws.amazon.com/redshift/latest/dg/copy-parameters-data-source-s3.html
    bucket, _key = source.split_uri(uri)
    actual = con.standin.s3.bucket_region(bucket)
    expected = cmd.region or con.standin.cluster_region
    if actual != expected:
        raise LoadFailed(
            "S3ServiceException:The bucket you are attempting to access must be addressed using "
            f"the specified endpoint. Bucket '{bucket}' is in region '{actual}', COPY used region "
            f"'{expected}'{' (REGION)' if cmd.region else ' (the cluster region)'},Status 301,"
            "Error PermanentRedirect"
        )


def _json_mapping(con: StandinConnection, cmd: copyparse.CopyCommand, columns: list[Column]):
    """A JSONPath (as a list of steps) per column, or None per column for 'auto'."""
    spec = cmd.json_spec or "auto"
    if spec.lower() in ("auto", "auto ignorecase"):
        return {"auto": spec.lower()}
    _check_region(con, cmd, spec)
    paths = con.standin.s3.jsonpaths(spec)
    if paths is None:
        return {"auto": "auto"}
    if len(paths) != len(columns):
        # copy-usage_notes-copy-from-json.html: one JSONPath expression per column.
        raise LoadFailed(
            "Number of jsonpaths and the number of columns should match. "
            f"JSONPath size: {len(paths)}, Number of columns in table or column list: {len(columns)}"
        )
    return {"paths": [_steps(p) for p in paths]}


def _steps(path: str) -> list:
    if not path.startswith("$"):
        raise LoadFailed(f"Invalid JSONPath format: {path!r}")
    steps = []
    for match in re.finditer(
        r"\[\s*'((?:[^'\\]|\\.)*)'\s*\]|\[\s*\"([^\"]*)\"\s*\]|\[(\d+)\]|\.([^.\[]+)", path[1:]
    ):
        quoted, dquoted, index, dotted = match.groups()
        steps.append(int(index) if index is not None else (quoted or dquoted or dotted))
    return steps


def _records(cmd: copyparse.CopyCommand, text: str):
    if cmd.format == "JSON":
        return source.json_records(text)
    delimiter = cmd.delimiter or ("," if cmd.format == "CSV" else "|")
    records = source.delimited_records(text, delimiter, cmd.quote if cmd.format == "CSV" else None)
    return (r for r in records if r.line_number > cmd.ignoreheader)


def _row(cmd: copyparse.CopyCommand, columns: list[Column], mapping, record: Record) -> list:
    if record.error:
        raise FieldError(1216, record.error)
    values = (
        _json_values(mapping, columns, record.fields)
        if mapping
        else _text_values(cmd, columns, record.fields)
    )
    row = []
    for col, value in zip(columns, values, strict=True):
        try:
            converted = convert(col, value, cmd.switches, cmd.timeformat, cmd.dateformat)
        except FieldError as err:
            err.column, err.value = col, value
            raise
        if converted is None and col.not_null:
            err = FieldError(1213, "Missing data for not-null field")
            err.column, err.value = col, value
            raise err
        row.append(converted)
    return row


def _json_values(mapping, columns, document) -> list:
    if "auto" in mapping:
        if not isinstance(document, dict):
            raise FieldError(1216, "Invalid JSONPath format: the record is not an object")
        lookup = (
            {k.lower(): v for k, v in document.items()} if mapping["auto"] != "auto" else document
        )
        return [lookup.get(c.name) for c in columns]
    values = []
    for steps in mapping["paths"]:
        value = document
        for step in steps:  # a missing element loads NULL
            ok = isinstance(value, dict) and isinstance(step, str) and step in value
            ok = ok or (isinstance(value, list) and isinstance(step, int) and step < len(value))
            value = value[step] if ok else None
            if value is None:
                break
        values.append(value)
    return values


def _text_values(cmd, columns, fields) -> list:
    if len(fields) != len(columns):
        code = 1202 if len(fields) > len(columns) else 1203
        raise FieldError(code, "Extra column(s) found" if code == 1202 else "Delimiter not found")
    null_as = cmd.null_as if cmd.null_as is not None else "\\N"
    # NULL AS matches an unquoted field only (a quoted one is data); see the report.
    return [None if (v == null_as and not q) else v for v, q in fields]


def _load(cur, table: str, names: list[str], rows: list[list]) -> None:
    buffer = io.StringIO()
    for row in rows:
        buffer.write("\t".join(_copy_text(v) for v in row) + "\n")
    buffer.seek(0)
    target = pgsql.SQL("COPY {} ({}) FROM STDIN").format(
        pgsql.SQL(".").join(pgsql.Identifier(p) for p in table.split(".")),
        pgsql.SQL(", ").join(pgsql.Identifier(n) for n in names),
    )
    cur.copy_expert(target.as_string(cur), buffer)


def _copy_text(value) -> str:
    if value is None:
        return "\\N"
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, dt.datetime):
        text = value.isoformat(" ")
    else:
        text = value.isoformat() if isinstance(value, dt.date) else str(value)
    return text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")
