"""Where the benchmark reads and writes, what it runs, and its fixed limits."""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "benchmarks" / "out"
LAKES = OUT / "lakes"
DOC = ROOT / "docs" / "benchmarks.md"
QUICK_DOC = OUT / "benchmarks-quick.md"
BIN = Path(sys.executable).parent
MODULE = "sparkify_assets.definitions"
TRIVIAL_MODULE = "benchmarks.trivial_graph"
SAMPLE_LAKE = ROOT / "sample_lake"

# Diagnostic only: when a load runs out of memory as shipped, the script reruns it once with the
# staging chunk shrunk to this (the sessions' chunk_bytes, patched in the child process), so that
# the report still has figures, and the incremental benchmark still has its year to start from.
DIAGNOSTIC_CHUNK_BYTES = 32 * 1024 * 1024
PEAK_MEMORY_LIMIT = 1.5e9  # target 4: "under 1.5 GB"
MB = 1024 * 1024
RUN_TIMEOUT = 20 * 60  # a child that runs longer is stopped and reported as failed
