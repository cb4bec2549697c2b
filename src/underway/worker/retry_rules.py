"""The retry rules a job's error meets: `raise Retry(after=...)`, `discard_on=` and
`retry_on=`, and the rule that applied, as the recorded error names it."""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import Retry
from ..job_options import JobOptions


@dataclass(frozen=True, slots=True)
class RetryRuling:
    """Whether an error may be retried (if attempts are left), after how long (None: the
    job's backoff), and the rule that decided, if one did."""

    retryable: bool
    after_s: float | None = None
    rule: str | None = None


#: No rule applies: retried with backoff while attempts are left.
NO_RULE = RetryRuling(retryable=True)


def retry_ruling(error: BaseException, options: JobOptions | None) -> RetryRuling:
    """What the rules make of `error`: a Retry the job raised is retried, after its own
    delay; an exception in `discard_on` fails the job at once, as does one not in
    `retry_on` when the job gives it (`discard_on` wins when both name it)."""
    if isinstance(error, Retry):
        after = "" if error.after is None else f"after={error.after:g}"
        return RetryRuling(True, error.after, f"Retry({after})")
    if options is None:
        return NO_RULE
    for kind in options.discard_on:
        if isinstance(error, kind):
            return RetryRuling(False, rule=f"discard_on: {kind.__name__}")
    if options.retry_on is None:
        return NO_RULE
    for kind in options.retry_on:
        if isinstance(error, kind):
            return RetryRuling(True, rule=f"retry_on: {kind.__name__}")
    return RetryRuling(False, rule="not in retry_on")
