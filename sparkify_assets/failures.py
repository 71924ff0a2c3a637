"""What a failed step says, and which failures skip the step's retries.

Every warehouse step retries (WAREHOUSE_STEP's retry policy) because most failures pass. A
refusal (refusals.py: a wrong password, an unknown role or database, a missing privilege) does
not: retrying it only waits, and logs more failed logins on the server. `refusals_fail_at_once`
turns one into a `Failure` that bypasses the retry policy, its description the error's message.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from dagster import Failure

from sparkify_assets.resources.engines.refusals import is_refusal

REASON_CHARS = 300  # of a reason's one line: enough to act on, short enough to read
# The errors Dagster wraps a step's own error in, that name only the step or the retries spent.
WRAPPERS = ("DagsterExecutionStepExecutionError", "RetryRequestedFromPolicy")


@contextlib.contextmanager
def refusals_fail_at_once() -> Iterator[None]:
    """Around an asset step's work: a refusal fails the step now, without a retry."""
    try:
        yield
    except Exception as error:
        if not is_refusal(error):
            raise
        # The engines' messages hold no secret (base.ServerWarehouse.unavailable); the original
        # error is left out, as its traceback adds nothing to act on.
        raise Failure(description=str(error).strip(), allow_retries=False) from None


def first_line(text: str | None) -> str:
    """The first non-empty line of `text`, at most REASON_CHARS long."""
    lines = (text or "").strip().splitlines()
    return lines[0][:REASON_CHARS] if lines else ""


def failure_reason(failure) -> str:
    """A failed step's reason in one line (`failure`: a STEP_FAILURE event's data): a
    `Failure`'s description, else the first line of the error the step's code raised (its last
    attempt's, when the retries ran out)."""
    if failure.user_failure_data and failure.user_failure_data.description:
        return first_line(failure.user_failure_data.description)
    error = failure.error
    while error is not None and error.cls_name in WRAPPERS and error.cause:
        error = error.cause
    return first_line(error.message) if error else ""
