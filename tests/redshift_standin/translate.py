"""Redshift statements Redshift accepts, rewritten so PostgreSQL runs them with Redshift's meaning."""

from __future__ import annotations

import sqlglot
from sqlglot import exp

from sparkify_assets.sql_files import without_nodes
from tests.redshift_standin.sqltext import for_postgres, tokens

# Redshift-only functions that sqlglot maps onto PostgreSQL equivalents.
_SQLGLOT_FUNCTIONS = {"NVL", "NVL2", "LEN", "DATEADD", "DATEDIFF", "TOP", "DECODE"}
# Column attributes and table properties only Redshift has, and constraints it never enforces:
# https://docs.aws.amazon.com/redshift/latest/dg/t_Defining_constraints.html
_REDSHIFT_ONLY = (
    exp.DistKeyProperty,
    exp.DistStyleProperty,
    exp.SortKeyProperty,
    exp.EncodeColumnConstraint,
    exp.PrimaryKey,
    exp.PrimaryKeyColumnConstraint,
    exp.UniqueColumnConstraint,
    exp.ForeignKey,
    exp.Reference,
)


def for_postgres_execution(sql: str) -> str:
    """`sql` (already accepted by the guard) as PostgreSQL must run it."""
    toks = tokens(sql)
    words = [t.upper for t in toks]
    if words[:1] == ["LOCK"]:
        # Redshift's LOCK takes ACCESS EXCLUSIVE: other sessions' reads wait too.
        # https://docs.aws.amazon.com/redshift/latest/dg/r_LOCK.html
        tables = sql[toks[2 if words[1:2] == ["TABLE"] else 1].start :]
        return f"LOCK TABLE {tables} IN ACCESS EXCLUSIVE MODE"
    sql = _session_time_functions(sql)
    if words[:1] == ["CREATE"] and "TABLE" in words and "AS" not in words:
        return _create_table(sql)
    if _SQLGLOT_FUNCTIONS.intersection(words):
        return sqlglot.transpile(sql, read="redshift", write="postgres")[0]
    return for_postgres(sql)


def _session_time_functions(sql: str) -> str:
    """GETDATE() and SYSDATE become the stand-in's functions of the same meaning."""
    out, last = [], 0
    toks = tokens(sql)
    for i, t in enumerate(toks):
        if t.kind == "word" and t.upper in ("GETDATE", "SYSDATE"):
            call = i + 2 < len(toks) and toks[i + 1].text == "(" and toks[i + 2].text == ")"
            end = toks[i + 2].start + 1 if call else t.start + len(t.text)
            out += [sql[last : t.start], f"redshift_{t.upper.lower()}()"]
            last = end
    return "".join(out) + sql[last:]


def _create_table(sql: str) -> str:
    """DDL without Redshift-only attributes; VARCHAR and TEXT without length are VARCHAR(256)
    as in Redshift (https://docs.aws.amazon.com/redshift/latest/dg/r_Character_types.html)."""
    tree = without_nodes(sqlglot.parse_one(sql, read="redshift"), _REDSHIFT_ONLY)
    for kind in tree.find_all(exp.DataType):
        if (
            kind.this in (exp.DataType.Type.TEXT, exp.DataType.Type.VARCHAR)
            and not kind.expressions
        ):
            kind.replace(exp.DataType.build("VARCHAR(256)"))
    return tree.sql(dialect="postgres")
