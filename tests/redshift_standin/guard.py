"""Refuse what Amazon Redshift does not accept, before PostgreSQL (which accepts far more) runs it.

Each rule names the construct and the Redshift documentation page that says it is not there.
sqlglot parses all of these happily, so parsing is no evidence; the rules judge tokens.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import psycopg2

from tests.redshift_standin.sqltext import Token, matching_paren, tokens

DOCS = "https://docs.aws.amazon.com/redshift/latest/dg/"
FEATURES = DOCS + "c_unsupported-postgresql-features.html"
FUNCTIONS = DOCS + "c_unsupported-postgresql-functions.html"
TYPES = DOCS + "c_unsupported-postgresql-datatypes.html"
COMMANDS = DOCS + "c_SQL_commands.html"


class UnsupportedByRedshift(psycopg2.ProgrammingError):
    """A statement Redshift would refuse; the message names the construct and the page."""


# Functions the "Unsupported PostgreSQL functions" page lists (by name or by family).
UNSUPPORTED_FUNCTIONS = {
    "string_agg", "array_agg", "every", "xmlagg", "xml_agg", "corr", "covar_pop", "covar_samp",
    "regr_avgx", "regr_avgy", "regr_count", "regr_intercept", "regr_r2", "regr_slope",
    "regr_sxx", "regr_sxy", "regr_syy", "clock_timestamp", "justify_days", "justify_hours",
    "justify_interval", "pg_sleep", "transaction_timestamp", "div", "setseed", "width_bucket",
    "generate_series", "generate_subscripts", "bit_length", "overlay", "convert",
    "convert_from", "convert_to", "encode", "format", "quote_nullable", "regexp_matches",
    "regexp_split_to_array", "regexp_split_to_table", "nextval", "currval", "setval", "lastval",
    "to_regclass", "to_regtype", "to_regproc", "pg_table_is_visible", "pg_relation_size",
    "pg_total_relation_size", "pg_size_pretty", "pg_relation_filepath", "txid_current",
    "pg_export_snapshot", "pg_read_file", "pg_ls_dir", "to_tsvector", "to_tsquery",
    "array_length", "array_to_string", "unnest", "array_append", "cardinality",
    "json_agg", "json_build_object", "json_build_array", "json_object_agg", "to_json",
    "row_to_json", "json_each", "json_array_elements", "jsonb_build_object", "jsonb_agg",
}  # fmt: skip
UNSUPPORTED_FUNCTION_PREFIXES = ("pg_advisory_", "pg_try_advisory_", "jsonb_", "xml")
UNSUPPORTED_TYPES = {
    "json", "jsonb", "serial", "bigserial", "smallserial", "serial4", "serial8", "serial2",
    "bytea", "uuid", "hstore", "xml", "money", "inet", "cidr", "macaddr", "tsvector", "tsquery",
    "txid_snapshot", "int4range", "int8range", "numrange", "tsrange", "tstzrange", "daterange",
    "bit", "varbit", "point", "line", "lseg", "box", "path", "polygon", "circle", "oid",
    "regclass", "name",
}  # fmt: skip
# Window aggregates that need an explicit ROWS frame once they have ORDER BY.
AGGREGATES = {"sum", "count", "avg", "min", "max", "stddev", "stddev_samp", "stddev_pop",
              "variance", "var_samp", "var_pop", "listagg", "median", "bit_and", "bit_or",
              "bool_and", "bool_or"}  # fmt: skip
PG_ONLY_COMMANDS = {
    ("CREATE", "INDEX"): "CREATE INDEX (Redshift has no indexes)",
    ("CREATE", "UNIQUE"): "CREATE UNIQUE INDEX (Redshift has no indexes)",
    ("CREATE", "EXTENSION"): "CREATE EXTENSION",
    ("CREATE", "SEQUENCE"): "CREATE SEQUENCE (sequences)",
    ("CREATE", "TRIGGER"): "CREATE TRIGGER (triggers)",
    ("CREATE", "RULE"): "CREATE RULE",
    ("CREATE", "TYPE"): "CREATE TYPE (composite and enumerated types)",
    ("CREATE", "DOMAIN"): "CREATE DOMAIN",
    ("CREATE", "TABLESPACE"): "CREATE TABLESPACE (tablespaces)",
    ("SAVEPOINT",): "SAVEPOINT",
    ("RELEASE",): "RELEASE SAVEPOINT",
    ("LISTEN",): "LISTEN",
    ("NOTIFY",): "NOTIFY",
    ("REINDEX",): "REINDEX (indexes)",
    ("CLUSTER",): "CLUSTER",
}


def check(sql: str, serverless: bool = False) -> None:
    """Raise UnsupportedByRedshift if Redshift would refuse the statement `sql`."""
    toks = tokens(sql)
    for construct, page in violations(toks, serverless):
        raise UnsupportedByRedshift(f"Redshift does not support {construct} (see {page})")


def violations(toks: list[Token], serverless: bool) -> Iterator[tuple[str, str]]:
    words = [t.upper for t in toks]
    head = tuple(words[:2])
    for command, construct in PG_ONLY_COMMANDS.items():
        if head[: len(command)] == command:
            yield construct, FEATURES if command != ("CREATE", "EXTENSION") else COMMANDS
    if head and head[0] == "COPY":
        yield from _copy_violations(words)
        return  # COPY's own keywords (FORMAT AS JSON, ...) are judged by its own grammar
    for rule in RULES:
        yield from rule(toks, words)
    if serverless:
        # Redshift Serverless has no STL/STV/SVL views: it offers the SYS monitoring views.
        for t in toks:
            if t.kind in ("word", "quoted") and t.name.startswith(("stl_", "stv_", "svl_")):
                yield (
                    f"the system table {t.name} on Redshift Serverless",
                    "https://docs.aws.amazon.com/redshift/latest/mgmt/serverless-monitoring.html",
                )


def _copy_violations(words: list[str]) -> Iterator[tuple[str, str]]:
    # Redshift's COPY reads S3, EMR, DynamoDB or SSH hosts: no client stream either way.
    if "STDIN" in words or "STDOUT" in words or words[:2] == ["COPY", "("] or "TO" in words:
        yield "COPY ... FROM STDIN / TO STDOUT", DOCS + "r_COPY.html"


def _calls(toks: list[Token]) -> Iterator[tuple[int, str]]:
    for i, t in enumerate(toks[:-1]):
        if t.kind == "word" and toks[i + 1].text == "(":
            yield i, t.name


def _functions(toks, words):
    for _i, name in _calls(toks):
        if name in UNSUPPORTED_FUNCTIONS or name.startswith(UNSUPPORTED_FUNCTION_PREFIXES):
            yield f"the PostgreSQL function {name.upper()}()", FUNCTIONS


def _type_positions(toks: list[Token]) -> Iterator[int]:
    """Indexes of tokens that name a data type: after ::, in CAST(... AS type), in column
    definitions of CREATE TABLE / ALTER TABLE ... ADD COLUMN."""
    words = [t.upper for t in toks]
    for i, t in enumerate(toks[:-1]):
        if t.text == "::":
            yield i + 1
    for i, name in _calls(toks):
        if name == "cast":
            close = matching_paren(toks, i + 1)
            depth = 0
            for j in range(i + 1, close):
                depth += {"(": 1, ")": -1}.get(toks[j].text, 0)
                if depth == 1 and words[j] == "AS":
                    yield j + 1
    if words[:1] == ["ALTER"] and "ADD" in words:
        at = words.index("ADD") + (2 if "COLUMN" in words else 1)
        yield at + 1
    if words[:1] == ["CREATE"] and "TABLE" in words and "(" in words:
        open_at = words.index("(")
        if words.index("TABLE") < open_at:
            close = matching_paren(toks, open_at)
            start, depth = open_at + 1, 0
            for j in range(open_at + 1, close + 1):
                depth += {"(": 1, ")": -1}.get(toks[j].text, 0)
                if (toks[j].text == "," and depth == 0) or j == close:
                    if words[start] not in ("LIKE", "PRIMARY", "UNIQUE", "CONSTRAINT", "FOREIGN"):
                        yield start + 1
                    start = j + 1


def _types(toks, words):
    for i in _type_positions(toks):
        if i >= len(toks):
            continue
        name = toks[i].name
        if name in UNSUPPORTED_TYPES:
            yield f"the PostgreSQL data type {name.upper()}", TYPES
        if i + 1 < len(toks) and toks[i + 1].text == "[":
            yield f"the array type {name.upper()}[]", TYPES


def _arrays(toks, words):
    for i, _t in enumerate(toks[:-1]):
        if words[i] == "ARRAY" and toks[i + 1].text in ("[", "("):
            yield "array constructors (ARRAY[...])", FEATURES
        if words[i] in ("ANY", "SOME", "ALL") and toks[i + 1].text == "(":
            if i > 0 and words[i - 1] in ("LIKE", "ILIKE"):
                yield f"{words[i - 1]} {words[i]}(...)", FUNCTIONS
            inner = words[i + 2] if i + 2 < len(words) else ""
            if inner not in ("SELECT", "WITH", "("):
                yield f"{words[i]}(array) (array functions and operators)", FUNCTIONS


def _clauses(toks, words):
    pairs = list(zip(words, words[1:], strict=False))
    if ("ON", "CONFLICT") in pairs:
        yield "INSERT ... ON CONFLICT", DOCS + "r_INSERT_30.html"
    if "RETURNING" in words:
        yield "RETURNING", DOCS + "r_INSERT_30.html"
    if ("DISTINCT", "ON") in pairs:
        yield "SELECT DISTINCT ON", DOCS + "r_SELECT_list.html"
    for i, (a, b) in enumerate(pairs):
        if a == "FILTER" and b == "(" and words[i + 2 : i + 3] == ["WHERE"]:
            yield "an aggregate FILTER (WHERE ...) clause", DOCS + "c_Aggregate_Functions.html"
        if (a, b) in (("IS", "DISTINCT"), ("NOT", "DISTINCT")) and words[i + 2 : i + 3] == ["FROM"]:
            yield "IS [NOT] DISTINCT FROM", FUNCTIONS
        if a == "(" and b == "VALUES":
            yield "a VALUES list used as a constant table", FEATURES
        if a == "ROW" and b == "(":
            yield "row constructors (ROW(...))", FEATURES
        if a in ("INHERITS", "COLLATE", "TABLESPACE") or (a, b) == ("PARTITION", "OF"):
            yield f"{a} (inheritance, collations, tablespaces, partitioning)", FEATURES
        if a in ("CHECK", "EXCLUDE") and b == "(" and words[:1] in (["CREATE"], ["ALTER"]):
            yield f"{a} constraints", FEATURES
        if a in ("RANGE", "GROUPS") and b in ("BETWEEN", "UNBOUNDED", "CURRENT"):
            yield f"{a} window frames (only ROWS)", DOCS + "c_Window_functions.html"


def _lock(toks, words):
    if words[:1] == ["LOCK"] and ("MODE" in words or "NOWAIT" in words or "ONLY" in words):
        yield "LOCK ... IN ... MODE / NOWAIT (Redshift's LOCK has no modes)", DOCS + "r_LOCK.html"
    if words[:1] == ["TRUNCATE"] and ("," in words or {"CASCADE", "RESTART", "ONLY"} & set(words)):
        yield "TRUNCATE of several tables, CASCADE or RESTART IDENTITY", DOCS + "r_TRUNCATE.html"


def _schema_function(toks, words):
    # Redshift documents CURRENT_SCHEMA only as a function, called with parentheses; sqlglot
    # writes it bare (PostgreSQL takes both).
    for i, word in enumerate(words):
        if word == "CURRENT_SCHEMA" and (i + 1 >= len(toks) or toks[i + 1].text != "("):
            yield "CURRENT_SCHEMA without parentheses", DOCS + "r_CURRENT_SCHEMA.html"


def _windows(toks, words):
    for i, _t in enumerate(toks[:-1]):
        if words[i] != "OVER" or toks[i + 1].text != "(" or i == 0 or toks[i - 1].text != ")":
            continue
        depth, j = 0, i - 1  # walk back over the call's arguments to the function name
        while j >= 0:
            depth += {")": 1, "(": -1}.get(toks[j].text, 0)
            if depth == 0:
                break
            j -= 1
        name = toks[j - 1].name if j > 0 else ""
        spec = words[i + 2 : matching_paren(toks, i + 1)]
        if name in AGGREGATES and "ORDER" in spec and "ROWS" not in spec:
            # Redshift: an aggregate window function with ORDER BY needs a ROWS frame clause.
            yield (
                f"{name.upper()}(...) OVER (... ORDER BY ...) without a ROWS frame clause",
                DOCS + "c_Window_functions.html",
            )


RULES: tuple[Callable, ...] = (
    _functions, _types, _arrays, _clauses, _lock, _windows, _schema_function
)  # fmt: skip
