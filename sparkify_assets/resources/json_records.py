"""Raw JSON objects → staging rows, for the engines that do not COPY from S3 themselves.

One DuckDB query reads a chunk of lake objects with DuckDB's own file reader and JSON functions
(set-based, no Python loop over records) and yields, per record, either its typed staging
columns or the reason it is rejected. The DuckDB engine inserts the result directly; the
PostgreSQL engine streams it into `COPY ... FROM STDIN`. The rules are those of Redshift's
`COPY ... FORMAT AS JSON` (docs/tables.md): numbers in text columns keep their text, values that
do not fit their column without loss are rejected, not truncated or rounded.
"""

from __future__ import annotations

from dataclasses import dataclass

from sparkify_assets import sql_files

RAW_TEXT_CHARS = 300
# Redshift's COPY takes JSON records of at most 4 MB; larger ones are rejected on every engine
# (and never parsed: a 50 MB line would only cost memory).
MAX_RECORD_BYTES = 4 * 1024 * 1024
PARSED_TABLE = "parsed_records"

# Record rules that a column type cannot say: (column, reason, SQL that is true for a bad value).
EXTRA_RULES: dict[str, tuple[tuple[str, str, str], ...]] = {
    "staging_events": (
        (
            "userid",
            "userId is neither empty nor a whole number",
            "userid <> '' AND NOT (regexp_full_match(userid, '[0-9]{1,10}') "
            "AND TRY_CAST(userid AS BIGINT) <= 2147483647)",
        ),
        # Beyond these years no engine can turn ts into a timestamp.
        ("ts", "ts is not between 1970 and 9999", "ts NOT BETWEEN 0 AND 253402300799999"),
    ),
}

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
        number = f"TRY_CAST({text} AS DOUBLE)"
        # Digits cast exactly; an integral float (1540344794796.0) only where a double is exact.
        return (
            f"CASE WHEN regexp_full_match(trim({text}), '-?[0-9]+') "
            f"THEN TRY_CAST(trim({text}) AS {sql_type}) "
            f"WHEN {number} = trunc({number}) AND abs({number}) < 9007199254740992 "
            f"THEN TRY_CAST({number} AS {sql_type}) END"
        )
    if col.base_type == "DOUBLE":
        return f"CASE WHEN isfinite(TRY_CAST({text} AS DOUBLE)) THEN TRY_CAST({text} AS DOUBLE) END"
    if col.base_type == "VARCHAR":
        return text
    raise ValueError(f"no JSON rule for column {col.name} of type {col.base_type}")


def _reject_reason(table: str, cols: tuple[RawColumn, ...]) -> str:
    """SQL naming the first rule a record breaks, or NULL for a good record."""
    whens = [
        ("line IS NULL", "'object is not valid UTF-8'"),
        ("oversized", f"'record longer than {MAX_RECORD_BYTES} bytes'"),
        ("NOT is_json", "'invalid JSON'"),
        ("json_kind <> 'OBJECT'", "'not a JSON object'"),
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
    whens += [(bad, f"'{reason}'") for _col, reason, bad in EXTRA_RULES.get(table, ())]
    return "CASE " + " ".join(f"WHEN {cond} THEN {reason}" for cond, reason in whens) + " END"


def parse_query(table: str) -> str:
    """DuckDB SQL creating PARSED_TABLE from the files in temp table `load_files(object_key, path)`.

    Parameter `$paths` is the list of those paths. An object that is one JSON value (a song file,
    even pretty-printed) is one record at line 1; otherwise it is JSON lines, numbered from 1.
    """
    cols = raw_columns(table)
    paths = ", ".join(f"'$.\"{c.key}\"'" for c in cols)
    typed = ",\n        ".join(
        f"{_typed(c, f'raw_values[{i}]')} AS {c.name}" for i, c in enumerate(cols, 1)
    )
    names = ", ".join(c.name for c in cols)
    return f"""
CREATE OR REPLACE TEMP TABLE {PARSED_TABLE} AS
WITH objects AS (
    SELECT f.object_key, try(decode(b.content)) AS body
    FROM read_blob($paths) AS b JOIN load_files AS f ON f.path = b.filename
),
records AS (
    SELECT object_key, 1 AS source_line, body AS line FROM objects WHERE json_valid(body)
    UNION ALL
    SELECT object_key, source_line, line FROM (
        SELECT object_key, unnest(lines) AS line, generate_subscripts(lines, 1) AS source_line
        FROM (
            SELECT object_key, string_split(body, chr(10)) AS lines
            FROM objects WHERE body IS NOT NULL AND NOT json_valid(body)
        )
    ) WHERE trim(line) <> ''
    UNION ALL
    SELECT object_key, NULL, NULL FROM objects WHERE body IS NULL
),
trimmed AS (
    SELECT object_key, source_line, rtrim(line, chr(13)) AS line FROM records
),
checked AS (
    SELECT *, strlen(line) > {MAX_RECORD_BYTES} AS oversized,
           strlen(line) <= {MAX_RECORD_BYTES} AND json_valid(line) AS is_json
    FROM trimmed
),
valued AS (
    SELECT *,
        CASE WHEN is_json THEN json_type(line) END AS json_kind,
        CASE WHEN is_json AND json_type(line) = 'OBJECT'
             THEN json_extract_string(line, [{paths}]) END AS raw_values
    FROM checked
),
typed AS (
    SELECT object_key, source_line, line, oversized, is_json, json_kind, raw_values,
        {typed}
    FROM valued
)
SELECT {names}, object_key AS source_key, source_line,
       {_reject_reason(table, cols)} AS reject_reason,
       left(line, {RAW_TEXT_CHARS}) AS raw_text
FROM typed
"""


def good_rows_query(table: str) -> str:
    names = ", ".join(c.name for c in raw_columns(table))
    return (
        f"SELECT {names}, source_key, source_line, CAST($load_batch AS BIGINT) AS load_batch "
        f"FROM {PARSED_TABLE} WHERE reject_reason IS NULL"
    )


def rejects_query(table: str) -> str:
    return (
        f"SELECT '{table}' AS table_name, source_key, source_line, reject_reason AS reason, "
        f"raw_text, CAST($load_batch AS BIGINT) AS load_batch "
        f"FROM {PARSED_TABLE} WHERE reject_reason IS NOT NULL"
    )


COUNTS_QUERY = f"""
SELECT source_key,
       COUNT(*) FILTER (WHERE reject_reason IS NULL),
       COUNT(*) FILTER (WHERE reject_reason IS NOT NULL)
FROM {PARSED_TABLE} GROUP BY source_key
"""
