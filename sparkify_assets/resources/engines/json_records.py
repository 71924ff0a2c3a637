"""Raw JSON objects → staging rows, for the engines that do not COPY from S3 themselves.

One DuckDB query reads a chunk of lake objects with DuckDB's own file reader and JSON functions
(set-based, no Python loop over records) and yields, per record, either its typed staging
columns or the reason it is rejected. The DuckDB engine inserts the result directly; the
PostgreSQL engine streams it into `COPY ... FROM STDIN`. The rules are those of Redshift's
`COPY ... FORMAT AS JSON` (docs/tables.md): numbers in text columns keep their text, values that
do not fit their column without loss are rejected, not truncated or rounded.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass

import sqlglot
from sqlglot import exp

from sparkify_assets import sql_files
from sparkify_assets.resources.compression import GZIP_MAGIC

RAW_TEXT_CHARS = 300
# Redshift's COPY takes JSON records of at most 4 MB; larger ones are rejected on every engine
# (and never parsed: a 50 MB line would only cost memory).
MAX_RECORD_BYTES = 4 * 1024 * 1024

_GZIP_MAGIC = "".join(f"\\x{b:02X}" for b in GZIP_MAGIC)  # as a DuckDB BLOB literal spells it
_INTEGER_TYPES = {"SMALLINT", "INT", "INTEGER", "BIGINT"}
_DUCKDB_TYPE = {"INT": "INTEGER"}


@dataclass(frozen=True)
class RawColumn:
    name: str
    key: str
    base_type: str
    max_bytes: int | None
    required: bool


def raw_columns(table: str) -> tuple[RawColumn, ...]:
    """The staging columns filled from JSON: the leading columns, one per JSONPaths entry."""
    keys = sql_files.json_keys(table)
    cols = sql_files.columns(table)[: len(keys)]
    return tuple(
        RawColumn(c.name, key, c.base_type, c.max_bytes, c.not_null)
        for c, key in zip(cols, keys, strict=True)
    )


def _typed(col: RawColumn, text: str) -> str:
    """SQL turning the JSON value's text into the column's type, or NULL when it would lose data."""
    if col.base_type in _INTEGER_TYPES:
        sql_type = _DUCKDB_TYPE.get(col.base_type, col.base_type)
        # A whole number as digits or as an integral float (1540344794796.0): its double and
        # its integer agree. A fraction rounds when cast to an integer, so they differ.
        return (
            f"CASE WHEN TRY_CAST({text} AS DOUBLE) = TRY_CAST({text} AS BIGINT) "
            f"THEN TRY_CAST({text} AS {sql_type}) END"
        )
    if col.base_type == "DOUBLE":
        return f"CASE WHEN isfinite(TRY_CAST({text} AS DOUBLE)) THEN TRY_CAST({text} AS DOUBLE) END"
    if col.base_type == "VARCHAR":
        return text
    raise ValueError(f"no JSON rule for column {col.name} of type {col.base_type}")


def _reject_reason(table: str, cols: tuple[RawColumn, ...]) -> str:
    """SQL naming the first rule a record breaks, or NULL for a good record."""
    whens = [
        ("line IS NULL AND still_gzip", "'object is not valid gzip'"),
        ("line IS NULL", "'object is not valid UTF-8'"),
        ("oversized", f"'record longer than {MAX_RECORD_BYTES} bytes'"),
        ("NOT is_json", "'invalid JSON'"),
        ("json_kind <> 'OBJECT'", "'not a JSON object'"),
        # No engine stores a NUL (PostgreSQL's text cannot, Redshift's JSON COPY has no NULL AS
        # for it): JSON writes it \u0000, so only records with that text are looked into.
        (
            "contains(line, '\\u0000') "
            "AND len(list_filter(raw_values, lambda v: contains(v, chr(0)))) > 0",
            "'a value holds a NUL character'",
        ),
    ]
    for i, col in enumerate(cols, start=1):
        text = f"raw_values[{i}]"
        if col.max_bytes is not None:
            whens.append(
                (
                    f"strlen({text}) > {col.max_bytes}",
                    f"'{col.key}: longer than {col.max_bytes} bytes'",
                )
            )
        else:
            kind = "a whole number" if col.base_type in _INTEGER_TYPES else "a number"
            if col.base_type != "DOUBLE":
                kind += f" that fits {_DUCKDB_TYPE.get(col.base_type, col.base_type)}"
            whens.append((f"{text} IS NOT NULL AND {col.name} IS NULL", f"'{col.key}: not {kind}'"))
    whens += [(f"{c.name} IS NULL", f"'missing {c.key}'") for c in cols if c.required]
    checks = " ".join(f"WHEN {cond} THEN {reason}" for cond, reason in whens)
    return f"COALESCE(CASE {checks} END, {record_rules(table)})"


@functools.cache
def record_rules(table: str) -> str:
    """The CASE of `sql/<table>.sql`'s `record_rules` section in DuckDB's dialect (NULL where the
    table has none): the same rules Redshift applies after its COPY, written once."""
    if "record_rules" not in sql_files.sections(table):
        return "NULL"
    (select,) = sqlglot.parse(sql_files.sections(table)["record_rules"], read=sql_files.WRITTEN_IN)
    return select.find(exp.Case).sql(dialect="duckdb")


# DuckDB reads the blobs of one read_blob() call, or the values of one unnest(), in one thread,
# and the work on them stays in that thread: a chunk's objects are dealt into this many groups so
# that every core parses.
READ_GROUPS = max(1, min(os.cpu_count() or 1, 8))

# Where the bytes of a chunk's objects come from, per group: (object_key, content) rows.
# "files": local files DuckDB reads itself, streamed (big objects). "bodies": the bytes the lake
# read, passed as parameters (small objects, where DuckDB's cost per file would dominate).
_SOURCES = {
    "files": "SELECT $keys[list_position($files, filename)] AS object_key, content "
    "FROM read_blob($files_{g})",
    "bodies": "SELECT unnest($keys_{g}) AS object_key, unnest($bodies_{g}) AS content",
}
SOURCES = tuple(_SOURCES)


def _dealt(name: str, values: list) -> dict[str, list]:
    return {f"{name}_{g}": values[g::READ_GROUPS] for g in range(READ_GROUPS)}


def file_params(keys: list[str], files: list[str]) -> dict[str, list[str]]:
    """The parameters of the "files" queries below for a chunk of objects: their keys, and the
    local files holding them in the same order."""
    return {"keys": keys, "files": files} | _dealt("files", files)


def body_params(keys: list[str], bodies: list[bytes]) -> dict[str, list]:
    """The parameters of the "bodies" queries below: the objects' keys and bytes, in order."""
    return _dealt("keys", keys) | _dealt("bodies", bodies)


# Per record of a chunk's objects: its object, line number and text. An object that is one JSON
# value (a song file, even pretty-printed) is one record at line 1; otherwise it is JSON lines,
# numbered from 1, blank lines skipped. An object that is not UTF-8 is one record with a NULL line;
# `still_gzip` says its bytes are gzip's that did not decompress (the lake decompresses the rest).
@functools.cache
def _records(source: str) -> str:
    groups = " UNION ALL ".join(_SOURCES[source].format(g=g) for g in range(READ_GROUPS))
    return f"""
objects AS (
    SELECT object_key, try(decode(content)) AS body,
           content[1:2] = '{_GZIP_MAGIC}'::BLOB AS still_gzip
    FROM ({groups})
),
split AS (
    SELECT object_key, body, still_gzip, string_split(body, chr(10)) AS lines FROM objects
),
grouped AS (
    -- Only when the first line is not JSON can the object be one multi-line JSON value.
    SELECT object_key, still_gzip,
           CASE WHEN body IS NULL THEN [NULL]
                WHEN json_valid(lines[1]) THEN lines
                WHEN json_valid(body) THEN [body]
                ELSE lines END AS lines
    FROM split
),
numbered AS (
    SELECT object_key, still_gzip, unnest(lines) AS line,
           unnest(range(1, len(lines) + 1)) AS source_line
    FROM grouped
),
records AS (
    SELECT object_key, still_gzip, CASE WHEN line IS NOT NULL THEN source_line END AS source_line,
           -- drop a CRLF file's carriage return (cheaper than rtrim with a character list)
           CASE WHEN ends_with(line, chr(13)) THEN line[:-2] ELSE line END AS line
    FROM numbered
    -- a record starts with a brace; only other lines are looked at for being blank
    WHERE line IS NULL OR starts_with(line, '{{') OR NOT regexp_full_match(line, '[ \t\r]*')
)"""


def parsed_query(table: str, source: str) -> str:
    """DuckDB SQL reading a chunk's objects from `source` (its parameters: file_params or
    body_params): per record, the typed columns of `table`, where it came from and, for a
    record that breaks a rule, the reason and its text.

    One JSON parse per record, streamed: nothing is stored between the raw text and the rows
    the caller keeps."""
    cols = raw_columns(table)
    paths = ", ".join(f"'$.\"{c.key}\"'" for c in cols)
    typed = ",\n        ".join(
        f"{_typed(c, f'raw_values[{i}]')} AS {c.name}" for i, c in enumerate(cols, 1)
    )
    names = ", ".join(c.name for c in cols)
    return f"""
WITH {_records(source)},
valued AS (
    SELECT object_key, still_gzip, source_line, line,
           strlen(line) > {MAX_RECORD_BYTES} AS oversized,
           -- NULL for text that is not JSON (never parsed when oversized)
           CASE WHEN strlen(line) <= {MAX_RECORD_BYTES}
                THEN try(json_extract_string(line, [{paths}])) END AS raw_values
    FROM records
),
kinded AS (
    -- Valid JSON that starts with a brace is an object: only other lines need json_type.
    SELECT *, raw_values IS NOT NULL AS is_json,
           CASE WHEN raw_values IS NULL THEN NULL
                WHEN starts_with(line, '{{') THEN 'OBJECT'
                ELSE json_type(line) END AS json_kind
    FROM valued
),
typed AS (
    SELECT *, {typed}
    FROM kinded
),
judged AS (
    SELECT *, {_reject_reason(table, cols)} AS reject_reason FROM typed
)
SELECT {names}, object_key AS source_key, source_line, reject_reason,
       -- a NUL byte only in text that is not JSON, never written to a COPY: U+FFFD stands for it
       CASE WHEN reject_reason IS NOT NULL
            THEN replace(left(line, {RAW_TEXT_CHARS}), chr(0), chr(65533)) END AS raw_text
FROM judged
"""


@functools.cache
def good_rows_query(table: str, source: str) -> str:
    """The staging rows of the records that break no rule, tagged with $load_batch."""
    names = ", ".join(c.name for c in raw_columns(table))
    return (
        f"SELECT {names}, source_key, source_line, CAST($load_batch AS BIGINT) AS load_batch "
        f"FROM ({parsed_query(table, source)}) WHERE reject_reason IS NULL"
    )


@functools.cache
def rejects_query(table: str, source: str) -> str:
    """The `staging_rejects` rows of the records that break a rule, tagged with $load_batch."""
    return (
        f"SELECT '{table}' AS table_name, source_key, source_line, reject_reason AS reason, "
        f"raw_text, CAST($load_batch AS BIGINT) AS load_batch "
        f"FROM ({parsed_query(table, source)}) WHERE reject_reason IS NOT NULL"
    )


@functools.cache
def record_keys_query(source: str) -> str:
    """Records of each object of a chunk, good or bad, by the list of JSON keys they hold
    (NULL for a record that is not a JSON object): (object_key, keys, records).

    One pass for two jobs. The counts: a chunk whose good rows add up to them needs no second
    look for rejects, and the load manifest takes each object's count from here, not from a
    scan of the table. The key sets: schema drift (schema_drift.py), from the few distinct
    sets of each object, never from a loop over records."""
    return f"""
WITH {_records(source)}
-- Grouped by a hash of the key list, not the list (or the list sorted): 0.53 s against 1.27 s
-- for 315,000 events, where counting alone takes 0.26 s. Key order may split a set in two
-- groups; schema_drift.py merges them.
SELECT object_key, any_value(keys) AS keys, COUNT(*) AS records
FROM (
    SELECT object_key,
           CASE WHEN strlen(line) <= {MAX_RECORD_BYTES}
                     AND (starts_with(line, '{{') OR try(json_type(line)) = 'OBJECT')
                THEN try(json_keys(line)) END AS keys
    FROM records
)
GROUP BY object_key, hash(keys)"""
