"""The report's sections of measurements: loads by engine and size, the incremental day and the
overhead, each a table of runs and a table of time per step."""

from __future__ import annotations

from benchmarks.config import MB
from benchmarks.figures import fmt_peak, fmt_rate, fmt_ratio, fmt_s, median, ok_median, table
from benchmarks.results import RunResult, SizeResult


def load_row(
    size: SizeResult,
    label: str,
    count: str,
    runs: list[RunResult],
    status: str,
    staged: bool = True,
) -> list[str]:
    """A row of the loads table: medians over `runs`; without `staged`, no staging rate."""
    ref = median(size.ref_rates)
    rate = median(r.rate("staging_events") for r in runs) if staged else None
    return [
        size.engine,
        label,
        count,
        fmt_s(median(r.wall for r in runs)),
        fmt_s(median(r.cpu for r in runs)),
        fmt_s(median(r.startup for r in runs)),
        fmt_s(median(r.steps.get("staging_events") for r in runs)),
        fmt_rate(rate),
        fmt_rate(ref),
        fmt_ratio(rate / ref if rate and ref else None),
        fmt_rate(median(r.rate("staging_songs") for r in runs)),
        fmt_peak(runs),
        status,
    ]


def step_table(columns: dict[str, list[RunResult]], sum_row: bool = False) -> str:
    """Median seconds per step, a column for each group of runs, the steps in the order they first
    ran; with `sum_row`, a last row with each column's sum."""
    steps = list(dict.fromkeys(s for runs in columns.values() for r in runs for s in r.step_order))
    cells = {
        name: {s: median(r.steps.get(s) for r in runs) for s in steps}
        for name, runs in columns.items()
    }
    rows = [[s] + [fmt_s(cells[c][s]) for c in columns] for s in steps]
    if sum_row:
        sums = [sum(v for v in cells[c].values() if v is not None) for c in columns]
        rows.append(["**sum of steps**"] + [fmt_s(v) for v in sums])
    return table(["step", *columns], rows)


def audit_table(columns: dict[str, list[RunResult]]) -> str:
    """Median seconds of each star table's audit (its blocking rules judging what the step is
    about to publish, inside the step) and its share of the step, a column per group of runs."""
    tables = list(dict.fromkeys(t for runs in columns.values() for r in runs for t in r.audits))

    def cell(runs: list[RunResult], table_name: str) -> str:
        audit = median(r.audits.get(table_name) for r in runs)
        step = median(r.steps.get(table_name) for r in runs)
        if audit is None:
            return "–"
        share = f" ({audit / step:.0%})" if step else ""
        return fmt_s(audit) + share

    rows = [[t] + [cell(runs, t) for runs in columns.values()] for t in tables]
    return table(["table (audit s, share of step)", *columns], rows)


def sizes_section(all_sizes: list[SizeResult]) -> str:
    out = ["## Loads by engine and size\n"]
    out.append(
        "A fresh warehouse each time, the whole graph through the CLI. `staging_events` rows/s "
        "against the reference (DuckDB: bare `read_json` of the same files; PostgreSQL: bare "
        "`COPY FROM STDIN` of the same rows).\n"
    )
    rows = []
    for size in all_sizes:
        label = f"{size.spec.events:,} events / {size.spec.songs:,} songs"
        if size.ok_runs:
            count = f"{len(size.ok_runs)}/{len(size.runs)}"
            rows.append(load_row(size, label, count, size.ok_runs, "ok"))
        else:
            first = size.runs[0]
            count = f"0/{len(size.runs)}"
            status = f"FAILED: {first.error}"
            rows.append(load_row(size, label, count, [first], status, staged=False))
        diag = size.diagnostic
        if diag is not None:
            label += " *(diagnostic)*"
            status = "ok" if diag.ok else f"FAILED: {diag.error}"
            rows.append(load_row(size, label, "1" if diag.ok else "0/1", [diag], status))
    out.append(
        table(
            [
                "engine",
                "lake",
                "runs ok",
                "wall s",
                "CPU s",
                "start-up s",
                "staging_events s",
                "events rows/s",
                "reference rows/s",
                "ratio",
                "staging_songs rows/s",
                "peak MB",
                "status",
            ],
            rows,
        )
        + "\n"
    )
    out.append("### Time per asset (median seconds, STEP_START to STEP_SUCCESS)\n")
    columns = {}
    for size in all_sizes:
        runs = size.ok_runs or (
            [size.diagnostic] if size.diagnostic and size.diagnostic.ok else size.runs[:1]
        )
        name = f"{size.engine} {size.spec.events:,}" + (
            " (diag.)" if runs and runs[0].diagnostic else ""
        )
        columns[name] = runs
    out.append(step_table(columns, sum_row=True) + "\n")
    out.append("### Audit cost per star table (median seconds, share of its step)\n")
    out.append(audit_table(columns) + "\n")
    return "\n".join(out)


def incremental_section(incremental: dict[str, dict]) -> str:
    out = ["## Incremental day\n"]
    if not incremental:
        return "\n".join(out + ["Not run.\n"])
    out.append(
        "The day after the year (same catalogue, users and seed), loaded by the CLI into "
        "(a) a warehouse holding only the song catalogue and (b) one holding the year.\n"
    )
    rows, columns = [], {}
    for engine_name, entry in incremental.items():
        spec = entry["spec"]
        for scenario, title in (("empty", "(a) catalogue only"), ("year", "(b) year")):
            runs = [r for r in entry.get(scenario, []) if r.ok]
            if not runs:
                rows.append([engine_name, title, "–", "–", "–", "–", "–", "–", "FAILED"])
                continue
            rows.append(
                [
                    engine_name,
                    title + (f", {spec.events:,} events" if scenario == "year" else ""),
                    f"{len(runs)}/{len(entry[scenario])}",
                    fmt_s(median(r.wall for r in runs)),
                    fmt_s(median(r.cpu for r in runs)),
                    fmt_s(median(sum(r.steps.values()) for r in runs)),
                    fmt_rate(median(r.rate("staging_events") for r in runs)),
                    fmt_peak(runs),
                    "ok",
                ]
            )
            columns[f"{engine_name} {scenario}"] = runs
        empty = ok_median(entry.get("empty", []), lambda r: r.wall)
        year = ok_median(entry.get("year", []), lambda r: r.wall)
        if empty and year:
            rows.append(
                [
                    engine_name,
                    "**ratio (b)/(a)**",
                    "",
                    f"**{year / empty:.2f}**",
                    "",
                    "",
                    "",
                    "",
                    "",
                ]
            )
    out.append(
        table(
            [
                "engine",
                "warehouse before",
                "runs ok",
                "wall s",
                "CPU s",
                "sum of steps s",
                "events rows/s",
                "peak MB",
                "status",
            ],
            rows,
        )
        + "\n"
    )
    if columns:
        out.append("### Time per asset (median seconds)\n")
        out.append(step_table(columns) + "\n")
        out.append("### Audit cost per star table (median seconds, share of its step)\n")
        out.append(audit_table(columns) + "\n")
    return "\n".join(out)


def overhead_section(overhead: dict[str, list[RunResult]]) -> str:
    out = ["## Overhead: the sample graph vs a trivial graph\n"]
    graph = [r for r in overhead["graph"] if r.ok]
    trivial = [r for r in overhead["trivial"] if r.ok]
    if not graph or not trivial:
        return "\n".join(out + ["Not run, or failed.\n"])
    out.append(
        "Same asset names, dependencies, checks and executor (`in_process_executor`); the "
        "trivial bodies return at once (`benchmarks/trivial_graph.py`). Runs alternate.\n"
    )
    rows = []
    for name, runs in (
        ("sparkify graph, sample lake, DuckDB", graph),
        ("trivial graph", trivial),
    ):
        rows.append(
            [
                name,
                str(len(runs)),
                fmt_s(median(r.wall for r in runs)),
                f"{fmt_s(min(r.wall for r in runs))}–{fmt_s(max(r.wall for r in runs))}",
                fmt_s(median(r.cpu for r in runs)),
                fmt_s(median(r.startup for r in runs)),
                fmt_s(median(r.run_seconds for r in runs)),
                fmt_s(median(sum(r.steps.values()) for r in runs)),
                fmt_peak(runs),
            ]
        )
    out.append(
        table(
            [
                "graph",
                "runs",
                "wall s",
                "wall range",
                "CPU s",
                "start-up s",
                "run s",
                "sum of steps s",
                "peak MB",
            ],
            rows,
        )
        + "\n"
    )
    out.append("### Time per step (median seconds)\n")
    out.append(step_table({"sparkify": graph, "trivial": trivial}) + "\n")
    return "\n".join(out)


def setup_notes(incremental: dict[str, dict]) -> list[str]:
    """A note on each run that set up an incremental benchmark's saved states."""
    return [
        f"Incremental setup on {engine_name}, {run.label}: {run.wall:.0f} s, peak "
        f"{run.peak_bytes / MB:,.0f} MB, "
        + ("ok" if run.ok else f"failed: {run.error}")
        + (" (diagnostic chunk size)" if run.diagnostic else "")
        + "."
        for engine_name, entry in incremental.items()
        for run in entry.get("setup", [])
    ]
