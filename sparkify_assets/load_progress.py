"""Progress of a long staging load, told every few seconds while it runs: objects and rows done
out of how many, the rate and the time left. The run page of the Dagster UI shows the log lines
as they come; the final rate goes into the step's metadata."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator, Sequence

from sparkify_assets.resources.lake import LakeObject

REPORT_EVERY_SECONDS = 5.0


class LoadProgress:
    """Counts what a load has done. Thread-safe: objects are read in one thread while the rows of
    the chunk before are loaded in another."""

    def __init__(self, table: str, log: Callable[[str], None] = lambda _line: None):
        self.table, self.log = table, log
        self._lock = threading.Lock()
        self.objects_total = self.bytes_total = 0
        self.objects_read = self.objects_done = self.bytes_done = self.rows_done = 0
        self.started = time.monotonic()
        self.finished: float | None = None

    def expect(self, objects: Sequence[LakeObject]) -> None:
        with self._lock:
            self.objects_total += len(objects)
            self.bytes_total += sum(o.size for o in objects)

    def read(self, objects: int) -> None:
        with self._lock:
            self.objects_read += objects

    def done(self, objects: Sequence[LakeObject], rows: int) -> None:
        """`objects` are staged, with `rows` rows and rejects between them."""
        with self._lock:
            self.objects_done += len(objects)
            self.bytes_done += sum(o.size for o in objects)
            self.rows_done += rows

    @property
    def seconds(self) -> float:
        return (self.finished or time.monotonic()) - self.started

    def rates(self) -> dict[str, float]:
        """Objects and rows per second over the whole load so far."""
        seconds = max(self.seconds, 1e-9)
        return {
            "objects_per_second": round(self.objects_done / seconds, 1),
            "rows_per_second": round(self.rows_done / seconds, 1),
        }

    def line(self) -> str:
        with self._lock:
            seconds = self.seconds
            share = self.bytes_done / self.bytes_total if self.bytes_total else 0.0
            rows_total = f" of about {self.rows_done / share:,.0f}" if share else ""
            left = f"about {seconds * (1 - share) / share:,.0f} s left" if share else "starting"
            return (
                f"{self.table}: {self.objects_done:,} of {self.objects_total:,} objects staged "
                f"({self.objects_read:,} read), {self.rows_done:,}{rows_total} rows; "
                f"{self.objects_done / seconds:,.0f} objects/s, {self.rows_done / seconds:,.0f} "
                f"rows/s; {left}"
            )

    @contextlib.contextmanager
    def reporting(self, every: float = REPORT_EVERY_SECONDS) -> Iterator[LoadProgress]:
        """Log a progress line every `every` seconds until the block ends."""
        stop = threading.Event()

        def tell() -> None:
            while not stop.wait(every):
                self.log(self.line())

        teller = threading.Thread(target=tell, name="sparkify-progress", daemon=True)
        self.started = time.monotonic()
        teller.start()
        try:
            yield self
        finally:
            stop.set()
            teller.join()
            self.finished = time.monotonic()
