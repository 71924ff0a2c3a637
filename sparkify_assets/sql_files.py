"""The SQL in `sql/`: one file per table, written once in Amazon Redshift's dialect.

A file holds named sections (`-- name: create`, `-- name: merge`, ...), each one or more
statements. DuckDB and PostgreSQL get the same text translated by sqlglot, with the Redshift-only
table attributes (DISTKEY, SORTKEY, DISTSTYLE) dropped. Redshift's PRIMARY KEY is informational
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

SQL_DIR = Path(__file__).resolve().parent.parent / "sql"
# The tables that are assets, in load order, and the tables that keep track of loading.
TABLE_ASSETS = ("staging_events", "staging_songs", "users", "songs", "artists", "time", "songplays")
BOOKKEEPING_TABLES = ("staging_rejects", "load_manifest", "load_batches", "load_state")
DIALECTS = ("duckdb", "postgres", "redshift")
_SECTION = re.compile(r"^-- name: (\w+)\s*$", re.MULTILINE)
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
    """The named sections of `sql/<name>.sql`, as Redshift text."""
    text = (SQL_DIR / f"{name}.sql").read_text(encoding="utf-8")
    parts = _SECTION.split(text)
    return {parts[i]: parts[i + 1].strip() for i in range(1, len(parts), 2)}


@functools.cache
def statements(
    name: str, section: str, dialect: str, narrowed: tuple[str, ...] = ()
) -> tuple[str, ...]:
    """The statements of one section, ready to run on `dialect`. Each table named in `narrowed`
    is read from the temp table `recent_<table>` instead (see checks.narrow_to_load)."""
    if dialect not in DIALECTS:
        raise ValueError(f"unknown SQL dialect {dialect!r}; expected one of {DIALECTS}")
    try:
        text = sections(name)[section]
    except KeyError:
        raise KeyError(f"sql/{name}.sql has no section '-- name: {section}'") from None
    out = []
    for tree in sqlglot.parse(text, read="redshift"):
        if tree is None:
            continue
        if narrowed:
            tree = _narrow(tree, narrowed)
        if dialect != "redshift":
            tree = _portable(tree)
        out.append(tree.sql(dialect=dialect, unsupported_level=ErrorLevel.RAISE))
    return tuple(out)


@functools.cache
def statement_kinds(name: str, section: str) -> tuple[str, ...]:
    """What each statement of a section does: 'insert', 'delete', 'create', 'select', ..."""
    return tuple(t.key for t in sqlglot.parse(sections(name)[section], read="redshift") if t)


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
    tree = tree.copy()
    for node in list(
        tree.find_all(*_REDSHIFT_ONLY, exp.PrimaryKey, exp.PrimaryKeyColumnConstraint)
    ):
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
    (create,) = sqlglot.parse(sections(table)["create"], read="redshift")
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
                type=kind.sql(dialect="redshift"),
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


def all_statements() -> dict[tuple[str, str, str], tuple[str, ...]]:
    """Every section of every file translated for every engine: fails loudly on any gap."""
    return {
        (path.stem, section, dialect): statements(path.stem, section, dialect)
        for path in sorted(SQL_DIR.glob("*.sql"))
        for section in sections(path.stem)
        for dialect in DIALECTS
    }
