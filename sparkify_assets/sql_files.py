"""The SQL in `sql/`: one file per table, written once in Amazon Redshift's dialect.

A file holds named sections (`-- name: create`, `-- name: merge`, ...), each one or more
statements. DuckDB and PostgreSQL get the same text translated by sqlglot, with the Redshift-only
table attributes (DISTKEY, SORTKEY, DISTSTYLE) dropped. What only one engine runs (its lock, its
bulk load) is in `sql/engines/<engine>.sql`, in that engine's own dialect, never translated.

A section may hold slots: `${table}` and `${tables}` take names from the project's own tables
(checked, then quoted), `${columns}` a table's column list from its CREATE TABLE, and
`${section_name}` another section of the same file, spliced in as a subquery. Values are never
slots: they always travel as parameters. Redshift's PRIMARY KEY is informational
(never enforced), so it is dropped elsewhere too: every engine then accepts the same rows, and the
asset checks, not a constraint error halfway through a load, report duplicate keys.
"""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass
from pathlib import Path

import sqlglot
from sqlglot import exp
from sqlglot.errors import ErrorLevel
from sqlglot.tokens import TokenType

SQL_DIR = Path(__file__).resolve().parent.parent / "sql"
# The tables that are assets, in load order, and the tables that keep track of loading.
TABLE_ASSETS = ("staging_events", "staging_songs", "users", "songs", "artists", "time", "songplays")
BOOKKEEPING_TABLES = (
    "staging_rejects",
    "load_manifest",
    "load_batches",
    "load_state",
    "text_repairs",
    "audit_failures",
    "skipped_objects",
    "schema_drift",
)
DIALECTS = ("duckdb", "postgres", "redshift")
WRITTEN_IN = "redshift"  # the dialect of sql/: what production runs, so it runs it as written
_SECTION = re.compile(r"^-- name: (\w+)\s*$", re.MULTILINE)
_SLOT = re.compile(r"\$\{(\w+)\}")
# Session-local tables the SQL derives from a project table's name.
_DERIVED_TABLE = re.compile(r"^(?:new_|recent_)?(\w+?)(?:_copy)?$")
ENGINE_SQL_DIR = SQL_DIR / "engines"
_REDSHIFT_ONLY = (exp.DistKeyProperty, exp.DistStyleProperty, exp.SortKeyProperty)


@dataclass(frozen=True)
class Column:
    name: str
    type: str  # the Redshift type as written, e.g. "VARCHAR(512)"
    base_type: str  # "VARCHAR", "SMALLINT", "INTEGER", "BIGINT", "DOUBLE", "TIMESTAMP", ...
    max_bytes: int | None  # the VARCHAR length limit, in bytes as Redshift counts
    not_null: bool
    description: str | None  # the column's trailing comment in the CREATE TABLE


@functools.cache
def sections(name: str) -> dict[str, str]:
    """The named sections of `sql/<name>.sql` (or `sql/engines/<engine>.sql` for
    `engines/<engine>`), as written."""
    text = (SQL_DIR / f"{name}.sql").read_text(encoding="utf-8")
    parts = _SECTION.split(text)
    return {parts[i]: parts[i + 1].strip() for i in range(1, len(parts), 2)}


@functools.cache
def tables() -> frozenset[str]:
    """Every table the project defines: each `sql/<name>.sql` with a `create` section."""
    return frozenset(p.stem for p in SQL_DIR.glob("*.sql") if "create" in sections(p.stem))


def identifier(name: str) -> str:
    """`name` quoted, when it is one of the project's tables or a session table derived from one
    (`new_<t>`, `recent_<t>`, `<t>_copy`, `load_objects`); anything else is refused."""
    match = _DERIVED_TABLE.match(name)
    if name != "load_objects" and not (match and match.group(1) in tables()):
        raise ValueError(f"{name!r} is not a table of this project")
    return f'"{name}"'


def _column_identifier(name: str) -> str:
    if not any(name == c.name for t in tables() for c in columns(t)):
        raise ValueError(f"{name!r} is not a column of this project's tables")
    return f'"{name}"'


def _fill(file: str, text: str, slots: tuple[tuple[str, str], ...]) -> str:
    """`text` with its `${...}` slots filled (see the module docstring)."""
    given = dict(slots)

    def value(match: re.Match) -> str:
        slot = match.group(1)
        if slot == "table":
            return identifier(given["table"])
        if slot == "tables":
            return ", ".join(identifier(t) for t in given["tables"].split(","))
        if slot == "columns" and "columns" in given:
            return ", ".join(_column_identifier(c) for c in given["columns"].split(","))
        if slot == "columns":
            return ", ".join(f'"{c.name}"' for c in columns(given["table"]))
        if slot == "rule" or slot in sections(file):
            spliced = _without_comments(sections(file)[given.get(slot, slot)]).rstrip(";")
            return _fill(file, spliced, slots)
        raise KeyError(f"sql/{file}.sql: no value for slot ${{{slot}}}")

    return _SLOT.sub(value, text)


def _without_comments(text: str) -> str:
    return "\n".join(x for x in text.splitlines() if not x.lstrip().startswith("--")).strip()


def _section_text(name: str, section: str) -> str:
    try:
        return sections(name)[section]
    except KeyError:
        raise KeyError(f"sql/{name}.sql has no section '-- name: {section}'") from None


@functools.cache
def engine_statement(engine: str, section: str, slots: tuple[tuple[str, str], ...] = ()) -> str:
    """The one statement of a section of `sql/engines/<engine>.sql`, slots filled, as written:
    what only that engine runs is never translated."""
    name = f"engines/{engine}"
    text = _fill(name, _without_comments(_section_text(name, section)), slots)
    if text.count(";") > 1 or (";" in text and not text.endswith(";")):
        raise ValueError(f"sql/{name}.sql, section {section}: one statement per section")
    return text.rstrip(";")


@functools.cache
def statements(
    name: str,
    section: str,
    dialect: str,
    narrowed: tuple[str, ...] = (),
    slots: tuple[tuple[str, str], ...] = (),
) -> tuple[str, ...]:
    """The statements of one section, slots filled, ready to run on `dialect`. Each table named
    in `narrowed` is read from the temp table `recent_<table>` instead (see checks.py).

    Redshift gets the text as written: sqlglot re-generating Redshift SQL changes it (it turns
    `current_schema()` into `CURRENT_SCHEMA`, which Redshift has only as a function), so there it
    only splits statements and finds the table names to narrow."""
    if dialect not in DIALECTS:
        raise ValueError(f"unknown SQL dialect {dialect!r}; expected one of {DIALECTS}")
    text = _fill(name, _section_text(name, section), slots)
    if dialect == WRITTEN_IN:
        return tuple(_narrowed_text(s, narrowed) for s in _statement_texts(text))
    out = []
    for tree in sqlglot.parse(text, read=WRITTEN_IN):
        if tree is None:
            continue
        if narrowed:
            tree = _narrow(tree, narrowed)
        tree = _portable(tree)
        if dialect == "duckdb":
            tree = _byte_lengths_for_duckdb(tree)
        out.append(tree.sql(dialect=dialect, unsupported_level=ErrorLevel.RAISE))
    return tuple(out)


def _statement_texts(text: str) -> list[str]:
    """`text` cut at its statement-ending semicolons (found by sqlglot's tokenizer, so never one
    inside a string or a comment), each statement as written, without comments on lines of
    their own and without its semicolon."""
    tokens = sqlglot.Dialect.get_or_raise(WRITTEN_IN).tokenize(text)
    ends = [t.start for t in tokens if t.token_type == TokenType.SEMICOLON] + [len(text)]
    pieces, start = [], 0
    for end in ends:
        piece = _without_comments(text[start:end])
        if piece:
            pieces.append(piece)
        start = end + 1
    return pieces


def _narrowed_text(text: str, tables: tuple[str, ...]) -> str:
    """`text` reading each table in `tables` from `recent_<table>` under the table's own name
    (an alias), edited where the table's name stands so the rest stays as written."""
    if not tables:
        return text
    (tree,) = sqlglot.parse(text, read=WRITTEN_IN)
    edits = []
    for table in tree.find_all(exp.Table):
        if table.name in tables and not table.db:
            where = table.this.meta
            alias = "" if table.alias else f' AS "{table.name}"'
            edits.append((where["start"], where["end"] + 1, f'"recent_{table.name}"{alias}'))
    for start, end, replacement in sorted(edits, reverse=True):
        text = text[:start] + replacement + text[end:]
    return text


@functools.cache
def statement_kinds(name: str, section: str) -> tuple[str, ...]:
    """What each statement of a section does to table `name`: 'insert', 'delete', 'create',
    'select', ...; 'other' for an insert or delete into another table (a temp table)."""
    text = _fill(name, _section_text(name, section), EXAMPLE_SLOTS)
    kinds = []
    for tree in sqlglot.parse(text, read=WRITTEN_IN):
        if tree is None:
            continue
        writes_other = (
            isinstance(tree, exp.Insert | exp.Delete) and tree.find(exp.Table).name != name
        )
        kinds.append("other" if writes_other else tree.key)
    return tuple(kinds)


def _narrow(tree: exp.Expression, tables: tuple[str, ...]) -> exp.Expression:
    """`tree` reading each table in `tables` from `recent_<table>`, under the same alias."""
    tree = tree.copy()
    for table in list(tree.find_all(exp.Table)):
        if table.name in tables and not table.db:
            if not table.alias:
                table.set("alias", exp.TableAlias(this=exp.to_identifier(table.name, quoted=True)))
            table.set("this", exp.to_identifier(f"recent_{table.name}", quoted=True))
    return tree


def _portable(tree: exp.Expression) -> exp.Expression:
    """Drop what only Redshift has (distribution, sort keys) and informational primary keys."""
    return without_nodes(tree, (*_REDSHIFT_ONLY, exp.PrimaryKey, exp.PrimaryKeyColumnConstraint))


def _byte_lengths_for_duckdb(tree: exp.Expression) -> exp.Expression:
    """OCTET_LENGTH(text) as DuckDB spells it, STRLEN: sqlglot passes the name through, and
    DuckDB's OCTET_LENGTH takes only BLOBs."""
    return tree.transform(
        lambda node: (
            exp.Anonymous(this="STRLEN", expressions=node.expressions)
            if isinstance(node, exp.Anonymous) and node.name.upper() == "OCTET_LENGTH"
            else node
        )
    )


def without_nodes(tree: exp.Expression, kinds: tuple[type[exp.Expression], ...]) -> exp.Expression:
    """A copy of `tree` without its nodes of `kinds` (and the constraints or property lists
    left empty by their going)."""
    tree = tree.copy()
    for node in list(tree.find_all(*kinds)):
        parent = node.parent
        node.pop()
        if isinstance(parent, exp.ColumnConstraint) and parent.args.get("kind") is None:
            parent.pop()
    for props in list(tree.find_all(exp.Properties)):
        if not props.expressions:
            props.pop()
    return tree


@functools.cache
def columns(table: str) -> tuple[Column, ...]:
    """The columns of a table, read from its CREATE TABLE in `sql/<table>.sql`."""
    (create,) = sqlglot.parse(sections(table)["create"], read=WRITTEN_IN)
    out = []
    for col in create.this.expressions:
        if not isinstance(col, exp.ColumnDef):
            continue
        kind: exp.DataType = col.args["kind"]
        sizes = [int(e.this.this) for e in kind.expressions if isinstance(e, exp.DataTypeParam)]
        base = kind.this.name
        out.append(
            Column(
                name=col.name,
                type=kind.sql(dialect=WRITTEN_IN),
                base_type=base,
                max_bytes=sizes[0] if base in ("VARCHAR", "CHAR") and sizes else None,
                not_null=any(
                    isinstance(c.args.get("kind"), exp.NotNullColumnConstraint)
                    for c in col.args.get("constraints", [])
                ),
                # A column's trailing comment; sqlglot hangs the last one on a constraint.
                description=" ".join(c.strip() for n in col.walk() for c in n.comments or [])
                or None,
            )
        )
    return tuple(out)


@functools.cache
def added_columns(table: str) -> tuple[str, ...]:
    """The column each statement of `sql/<table>.sql`'s `added_columns` section adds, in order
    (none when the table has no such section)."""
    if "added_columns" not in sections(table):
        return ()
    adds = statements(table, "added_columns", WRITTEN_IN)
    return tuple(sqlglot.parse_one(s, read=WRITTEN_IN).find(exp.ColumnDef).name for s in adds)


@functools.cache
def json_keys(table: str) -> tuple[str, ...]:
    """The raw JSON key of each leading column of a staging table, from `sql/<table>.jsonpaths`.

    The same file is what Redshift's COPY ... FORMAT AS JSON reads, so the mapping lives once.
    """
    paths = json.loads((SQL_DIR / f"{table}.jsonpaths").read_text(encoding="utf-8"))["jsonpaths"]
    keys = []
    for path in paths:
        match = re.fullmatch(r"\$\['([^']+)'\]", path)
        if not match:
            raise ValueError(f"sql/{table}.jsonpaths: unsupported path {path!r}")
        keys.append(match.group(1))
    return tuple(keys)


# Slot values that let every section be translated and checked without a caller's own.
EXAMPLE_SLOTS = (
    ("table", "staging_events"),
    ("tables", "users,load_state"),
    ("rule", "users__key"),
)


def all_statements() -> dict[tuple[str, str, str], tuple[str, ...]]:
    """Every section of every file translated for every engine: fails loudly on any gap."""
    return {
        (path.stem, section, dialect): statements(path.stem, section, dialect, slots=EXAMPLE_SLOTS)
        for path in sorted(SQL_DIR.glob("*.sql"))
        for section in sections(path.stem)
        for dialect in DIALECTS
    }


def all_engine_statements() -> dict[tuple[str, str], str]:
    """Every section of every engine's own file, slots filled with examples."""
    return {
        (path.stem, section): engine_statement(path.stem, section, EXAMPLE_SLOTS)
        for path in sorted(ENGINE_SQL_DIR.glob("*.sql"))
        for section in sections(f"engines/{path.stem}")
    }
