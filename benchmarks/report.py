"""The report as markdown: how it was made, the machine, the six targets with their notes, the
sections of measurements (benchmarks/report_sections.py), the py-spy profiles and the notes on
how the figures were measured."""

from __future__ import annotations

from benchmarks.config import DIAGNOSTIC_CHUNK_BYTES, MB
from benchmarks.figures import fmt_ratio, table
from benchmarks.plan import Plan
from benchmarks.provenance import Provenance
from benchmarks.pyspy import Profile
from benchmarks.report_sections import (
    incremental_section,
    overhead_section,
    setup_notes,
    sizes_section,
)
from benchmarks.results import Results
from benchmarks.targets import Target

# The report's standing notes on how the figures are measured.
HOW_IT_MEASURES = [
    "Wall time is the CLI child process from start to exit; CPU is its user + system "
    "time. Peak memory is the child's `ru_maxrss` (from `wait4`), or the polled RSS of its "
    "process tree when larger. The PostgreSQL server's own memory is not in it.",
    "Staging rows/s = rows the staging asset loaded (its metadata) / its step time "
    "(STEP_START to STEP_SUCCESS in the run's event log), so it includes listing the lake, "
    "the manifest and the asset's metadata queries.",
    "References run in their own child process: DuckDB `CREATE TABLE t AS SELECT * FROM "
    "read_json([files], format='newline_delimited')` into a fresh database file with "
    "DuckDB's defaults; PostgreSQL: the staged rows exported as CSV, then a timed "
    "`COPY staging_copy FROM STDIN (FORMAT csv)` into a plain table "
    "`(LIKE staging_events)` "
    "in the same database, over the same kind of connection.",
    f"A load that fails as shipped is rerun once as a diagnostic with the project's "
    f"staging chunk (`chunk_bytes`) patched to {DIAGNOSTIC_CHUNK_BYTES // MB} MB in the "
    "child process; its figures are labelled *diagnostic* and never count for a PASS. "
    "The incremental benchmark starts from such a diagnostic load when the year does not "
    "load as shipped (the timed runs are always the unmodified CLI).",
    "Incremental: the states (catalogue only; catalogue and year) are loaded once, saved, "
    "and copied for each repetition (DuckDB file copy, PostgreSQL `CREATE DATABASE ... "
    "TEMPLATE`). The lakes are hard links to the generated files, so object versions "
    "(size and mtime) match the saved manifests and only the new day loads.",
]


def render(
    plan: Plan,
    results: Results,
    targets: dict[int, Target],
    provenance: Provenance,
    command: str,
    elapsed: float,
) -> str:
    """The whole report."""
    out = []
    mode, started = ("quick" if plan.quick else "full"), provenance.started
    out.append("# Benchmarks\n")
    out.append(
        f"Written by `benchmarks/run.py` ({mode} run) on {started:%Y-%m-%d %H:%M} UTC in "
        f"{elapsed / 60:.0f} min; do not edit by hand, run it again. How it measures: "
        "[benchmarks/README.md](../benchmarks/README.md).\n"
    )
    out.append(f"Command: `{command}`  \nCode: {provenance.code_text()}\n")
    out.append("## Machine\n")
    out.append(table(["", ""], provenance.machine()) + "\n")
    out.append("## Targets\n")
    out.append(
        "Every figure is a median of the repetitions named, measured in this run; the ratio "
        "is measured / reference (for target 4: peak / 1.5 GB).\n"
    )
    rows = []
    for n in sorted(targets):
        tg = targets[n]
        rows.append(
            [
                str(n),
                tg.title,
                tg.measured,
                tg.reference,
                fmt_ratio(tg.ratio),
                tg.goal,
                f"**{tg.verdict}**",
            ]
        )
    out.append(
        table(["#", "target", "measured", "reference", "ratio", "goal", "verdict"], rows) + "\n"
    )
    notes = [f"- **{n}.** {targets[n].note}" for n in sorted(targets) if targets[n].note]
    if notes:
        out.append("\n".join(notes) + "\n")
    out.append(sizes_section(results.all_sizes))
    out.append(incremental_section(results.incremental))
    out.append(overhead_section(results.overhead))
    out.append(profiles_section(results.profiles))
    out.append("## Notes\n")
    notes = results.notes + setup_notes(results.incremental) + HOW_IT_MEASURES
    out.append("\n".join(f"- {n}" for n in notes) + "\n")
    return "\n".join(out)


def profiles_section(profiles: list[Profile]) -> str:
    if not profiles:
        return ""
    out = ["## Where the time goes (py-spy profiles)\n"]
    out.append(
        "One extra run per missed target under `py-spy record --idle --rate 50` (idle time "
        "included, so time waiting on PostgreSQL shows). Raw stacks: "
        "`benchmarks/out/profiles/`.\n"
    )
    for prof in profiles:
        out.append(f"### {prof.title} ({prof.samples:,} samples)\n")
        out.append(table(["phase", "share"], [[p, f"{s:.0%}"] for p, s in prof.phases]) + "\n")
        if prof.project:
            out.append(
                table(
                    ["innermost project frames", "share"],
                    [[f"`{p}`", f"{s:.0%}"] for p, s in prof.project],
                )
                + "\n"
            )
        out.append(
            table(
                ["leaf frame (self time)", "share"],
                [[f"`{p}`", f"{s:.0%}"] for p, s in prof.leaves],
            )
            + "\n"
        )
    return "\n".join(out)
