"""The parameters of a Redshift `COPY ... FROM 's3://...'` statement.

Grammar: https://docs.aws.amazon.com/redshift/latest/dg/r_COPY.html (and its parameter pages:
copy-parameters-data-source-s3, -authorization, -data-format, -data-conversion, -data-load).
An option the stand-in does not implement is an error, never silently ignored.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from tests.redshift_standin.guard import UnsupportedByRedshift
from tests.redshift_standin.sqltext import Token, string_value, tokens

# Options that only tune Redshift's own storage work: accepted, nothing to do here.
_NO_EFFECT = {"COMPUPDATE", "STATUPDATE"}
_SWITCHES = {"MANIFEST", "NOLOAD", "GZIP", "EMPTYASNULL", "BLANKSASNULL", "ROUNDEC",
             "TRUNCATECOLUMNS", "ACCEPTANYDATE", "TRIMBLANKS"}  # fmt: skip


@dataclass
class CopyCommand:
    table: str
    columns: list[str] | None
    source: str
    iam_role: str | None = None
    region: str | None = None
    format: str = "TEXT"  # TEXT (pipe-delimited), CSV or JSON
    json_spec: str | None = None  # 'auto', 'auto ignorecase' or the JSONPaths s3:// URI
    delimiter: str | None = None
    quote: str = '"'
    null_as: str | None = None
    timeformat: str | None = None
    dateformat: str | None = None
    ignoreheader: int = 0
    maxerror: int = 0
    switches: set[str] = field(default_factory=set)


class CopySyntaxError(UnsupportedByRedshift):
    pass


def parse(sql: str) -> CopyCommand:
    toks = tokens(sql)
    words = [t.upper for t in toks]
    i = 1
    table, i = _name(toks, i)
    columns = None
    if words[i] == "(":
        columns, i = [], i + 1
        while words[i] != ")":
            if words[i] != ",":
                columns.append(toks[i].name)
            i += 1
        i += 1
    if words[i] != "FROM" or toks[i + 1].kind != "string":
        raise CopySyntaxError("COPY needs FROM 's3://...' (see r_COPY.html)")
    cmd = CopyCommand(table=table, columns=columns, source=string_value(toks[i + 1]))
    i += 2
    while i < len(toks):
        word, i = words[i], i + 1
        if word in ("WITH", "AS", ";"):
            continue
        if word == "IAM_ROLE":
            cmd.iam_role, i = _value(toks, i)
        elif word == "REGION":
            cmd.region, i = _value(toks, i)
        elif word == "FORMAT":
            continue  # FORMAT [AS] JSON|CSV: the format word follows
        elif word == "JSON":
            cmd.format = "JSON"
            cmd.json_spec, i = _value(toks, i)
        elif word == "CSV":
            cmd.format = "CSV"
            if i < len(toks) and words[i] == "QUOTE":
                cmd.quote, i = _value(toks, i + 1)
        elif word == "DELIMITER":
            cmd.delimiter, i = _value(toks, i)
        elif word == "NULL":
            cmd.null_as, i = _value(toks, i + 1 if words[i] == "AS" else i)
        elif word in ("TIMEFORMAT", "DATEFORMAT"):
            value, i = _value(toks, i)
            setattr(cmd, word.lower(), value)
        elif word in ("IGNOREHEADER", "MAXERROR"):
            value, i = _value(toks, i)
            setattr(cmd, word.lower(), int(value))
        elif word in _SWITCHES:
            cmd.switches.add(word)
        elif word in _NO_EFFECT:
            if i < len(toks) and words[i] in ("ON", "OFF", "TRUE", "FALSE", "PRESET"):
                i += 1
        else:
            raise CopySyntaxError(f"COPY option {word} is not implemented by the stand-in")
    if cmd.iam_role is None:
        raise CopySyntaxError("COPY from S3 needs authorization: IAM_ROLE (see r_COPY.html)")
    return cmd


def _name(toks: list[Token], i: int) -> tuple[str, int]:
    parts = [toks[i].name]
    while i + 2 < len(toks) and toks[i + 1].text == ".":
        parts.append(toks[i + 2].name)
        i += 2
    return ".".join(parts), i + 1


def _value(toks: list[Token], i: int) -> tuple[str, int]:
    if i < len(toks) and toks[i].upper == "AS":
        i += 1
    t = toks[i]
    if t.kind == "string":
        return string_value(t), i + 1
    if t.kind in ("number", "word"):
        return t.text, i + 1
    raise CopySyntaxError(f"COPY: a value was expected at {t.text!r}")
