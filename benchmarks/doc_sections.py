"""Sections of docs/benchmarks.md that a benchmark of its own writes (between two HTML comments)
and run.py carries over when it rewrites the rest of the doc."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class OwnSection:
    start: str  # the HTML comment opening the section
    end: str  # the one closing it

    def _pattern(self) -> re.Pattern:
        return re.compile(re.escape(self.start) + ".*?" + re.escape(self.end), re.S)

    def kept(self, doc: Path) -> str:
        """The section as `doc` holds it now ('' when it has none)."""
        old = doc.read_text(encoding="utf-8") if doc.exists() else ""
        found = self._pattern().search(old)
        return found.group(0) if found else ""

    def write(self, doc: Path, text: str) -> None:
        """Put `text` in place of the section in `doc` (or after the rest)."""
        old = doc.read_text(encoding="utf-8") if doc.exists() else ""
        pattern = self._pattern()
        new = (
            pattern.sub(lambda _m: text, old)
            if pattern.search(old)
            else f"{old.rstrip()}\n\n{text}"
        )
        doc.write_text(new.strip() + "\n", encoding="utf-8")
