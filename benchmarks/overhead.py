"""Target 3's measurements: the whole graph on the shipped sample lake against a trivial graph of
the same shape (benchmarks/trivial_graph.py), run alternately through the same CLI."""

from __future__ import annotations

from benchmarks.bench import Bench
from benchmarks.config import SAMPLE_LAKE, TRIVIAL_MODULE
from benchmarks.project_graph import write_shape


def measure_overhead(bench: Bench) -> None:
    pairs = bench.plan.overhead_pairs
    bench.log(
        f"overhead: the graph on the shipped sample vs a trivial graph, {pairs} pairs, alternating"
    )
    shape = write_shape(bench.work / "graph_shape.json")
    for i in range(pairs):
        order = ("graph", "trivial") if i % 2 == 0 else ("trivial", "graph")
        for which in order:
            if which == "graph":
                handle = bench.duck.fresh()
                result = bench.run("sample graph", bench.duck, handle, SAMPLE_LAKE)
                bench.duck.drop(handle)
            else:
                result = bench.measure(
                    "trivial graph",
                    {},
                    SAMPLE_LAKE,
                    module=TRIVIAL_MODULE,
                    extra_env={"SPARKIFY_BENCH_SHAPE": str(shape)},
                )
            bench.results.overhead[which].append(result)
