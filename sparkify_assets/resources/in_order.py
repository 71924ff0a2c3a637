"""Work on many items at once with a bounded pool, results in the items' order: how the lake
keeps many S3 GETs in flight while staging takes the objects one after another."""

from __future__ import annotations

import collections
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")


def in_order(work: Callable[[T], object], items: Iterable[T], workers: int) -> Iterator:
    """`work(item)` for each of `items`, `workers` at a time, yielded in the items' order.

    At most twice `workers` results wait to be taken: memory stays bounded when the caller is
    slower than the work. Leaving early cancels what has not started.
    """
    pool = ThreadPoolExecutor(workers, thread_name_prefix="sparkify-lake")
    window: collections.deque[Future] = collections.deque()
    try:
        for item in items:
            window.append(pool.submit(work, item))
            if len(window) >= 2 * workers:
                yield window.popleft().result()
        while window:
            yield window.popleft().result()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
