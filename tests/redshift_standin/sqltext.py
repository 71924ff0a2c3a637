"""Statement text as Redshift reads it: tokens, and string literals rewritten for PostgreSQL.

The guard and the COPY parser judge tokens, never raw text, so a word inside a string literal,
a quoted identifier or a comment is never mistaken for a construct.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# Redshift string literals honour backslash escapes (\\ and \'), unlike PostgreSQL's standard
# strings: https://docs.aws.amazon.com/redshift/latest/dg/r_Literals.html
_TOKEN = re.compile(
    r"""
    (?P<space>\s+)
  | (?P<comment>--[^\n]*|/\*.*?\*/)
  | (?P<string>[eE]?'(?:[^'\\]|\\.|'')*')
  | (?P<dollar>\$(?P<tag>[A-Za-z_]*)\$.*?\$(?P=tag)\$)
  | (?P<quoted>"(?:[^"]|"")*")
  | (?P<number>\d+(?:\.\d*)?(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?)
  | (?P<param>\$\d+)
  | (?P<word>[A-Za-z_][A-Za-z0-9_$]*)
  | (?P<op>::|<>|!=|<=|>=|\|\||[-+*/%<>=~!@#^&|`?(),;.\[\]{}:])
    """,
    re.VERBOSE | re.DOTALL,
)


@dataclass(frozen=True)
class Token:
    kind: str  # word, quoted, string, number, op, dollar, param
    text: str
    start: int

    @property
    def upper(self) -> str:
        return self.text.upper() if self.kind == "word" else self.text

    @property
    def name(self) -> str:
        """An identifier's name as Redshift folds it (unquoted names are case-insensitive)."""
        if self.kind == "quoted":
            return self.text[1:-1].replace('""', '"')
        return self.text.lower()


class SqlSyntaxError(ValueError):
    pass


def tokens(sql: str) -> list[Token]:
    """The statement's tokens, without spaces and comments."""
    out, pos = [], 0
    while pos < len(sql):
        match = _TOKEN.match(sql, pos)
        if match is None:
            raise SqlSyntaxError(f"cannot read the statement at {sql[pos : pos + 20]!r}")
        kind = match.lastgroup if match.lastgroup != "tag" else "dollar"
        if kind not in ("space", "comment"):
            out.append(Token(kind, match.group(), pos))
        pos = match.end()
    return out


def string_value(token: Token) -> str:
    """The value of a Redshift string literal."""
    body = token.text[token.text.index("'") + 1 : -1]
    return re.sub(r"''|\\(.)", lambda m: "'" if m.group() == "''" else _unescape(m.group(1)), body)


def _unescape(char: str) -> str:
    return {"n": "\n", "t": "\t", "r": "\r", "b": "\b", "f": "\f"}.get(char, char)


def for_postgres(sql: str) -> str:
    """`sql` with every string literal written so PostgreSQL reads the value Redshift would."""
    parts, last = [], 0
    for token in tokens(sql):
        if token.kind == "string" and "\\" in token.text:
            value = string_value(token)
            parts.append(sql[last : token.start])
            parts.append("E'" + value.replace("\\", "\\\\").replace("'", "''") + "'")
            last = token.start + len(token.text)
    parts.append(sql[last:])
    return "".join(parts)


def split_statements(sql: str) -> list[str]:
    """`sql` cut at top-level semicolons (a psycopg2 user may send several at once)."""
    pieces, last = [], 0
    for token in tokens(sql):
        if token.text == ";":
            pieces.append(sql[last : token.start])
            last = token.start + 1
    pieces.append(sql[last:])
    return [p.strip() for p in pieces if tokens(p)]


def matching_paren(toks: list[Token], open_index: int) -> int:
    """The index of the `)` closing the `(` at `open_index`."""
    depth = 0
    for i in range(open_index, len(toks)):
        if toks[i].text == "(":
            depth += 1
        elif toks[i].text == ")":
            depth -= 1
            if depth == 0:
                return i
    raise SqlSyntaxError("unbalanced parentheses")
