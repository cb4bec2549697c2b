"""Which ready jobs a claim takes, decided once for both dialects: claim order, how the
laned and rate-limited backlog is read, and the limits a job must fit (its queue's pause,
concurrency and rate limit; its concurrency lane; its rate key). The dialects read the
candidates and the counts; these functions choose; the dialects mark the chosen running."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple, Protocol

#: A claim's first read of limited jobs takes as many as the claim's limit, at least
#: FIRST_READ_MIN; each further read, READ_GROWTH times more than the one before.
FIRST_READ_MIN = 32
READ_GROWTH = 4
#: A rate-limited job whose key stays full at least this long is parked until then (see
#: `LimitedWalk.parked_keys`); a shorter hold only leaves the key out of reads.
PARK_FROM_S = 1.0
#: How much later than its claim a job's code may start (the claim commits, the worker
#: hands the job to a runner), at most DISPATCH_SHARE of a window: a start counts that much
#: longer in a sliding window, and in the next fixed window too if claimed that close to
#: its end, so that no window of code starts holds more than the limit.
DISPATCH_S = 0.05
DISPATCH_SHARE = 0.25
#: The key a queue's rate limit counts its starts under.
QUEUE_KEY_PREFIX = "queue:"


class ClaimRow(Protocol):
    """A ready job's row as a claim reads it (a PostgreSQL dict or a sqlite3.Row)."""

    def __getitem__(self, key: str) -> Any: ...


def claim_order(row: ClaimRow) -> tuple[Any, ...]:
    """The order claims take ready jobs in: priority first (highest), then run_at, then seq."""
    return (-row["priority"], row["run_at"], row["seq"])


def last_if_full(plain: Sequence[ClaimRow], limit: int) -> tuple[Any, ...] | None:
    """The claim key of the last plain job chosen when plain jobs alone fill the claim."""
    return claim_order(plain[-1]) if len(plain) >= limit else None


# -- queue controls ---------------------------------------------------------------------


class QueueRow(Protocol):
    """A row of the queues table as a claim reads it, with its queue's running jobs
    (`running`) and live rate starts (`started`) counted."""

    def __getitem__(self, key: str) -> Any: ...


def queue_key(queue: str) -> str:
    """The key a queue's rate limit counts its starts under."""
    return f"{QUEUE_KEY_PREFIX}{queue}"


@dataclass(frozen=True, slots=True)
class QueueRoom:
    """What a claim may take from the queues it serves: the queues it may claim from, and
    for each limited one how many more of its jobs may start now."""

    open: tuple[str, ...]
    free: Mapping[str, int]

    def limit_for(self, queue: str, limit: int) -> int:
        return min(limit, self.free.get(queue, limit))


def queue_room(served: Sequence[str], controls: Iterable[QueueRow]) -> QueueRoom:
    """Paused queues are left out, and so are queues at their concurrency or rate limit."""
    free: dict[str, int] = {}
    closed: set[str] = set()
    for row in controls:
        name = row["name"]
        if row["paused"]:
            closed.add(name)
            continue
        room = [
            limit - used
            for limit, used in (
                (row["concurrency"], row["running"]),
                (row["rate_limit"], row["started"]),
            )
            if limit is not None
        ]
        if room:
            free[name] = max(0, min(room))
            if free[name] == 0:
                closed.add(name)
    return QueueRoom(tuple(q for q in served if q not in closed), free)


# -- reading limited jobs ----------------------------------------------------------------


class HeldKeys:
    """Rate keys known to be at their limit until a time, so that claims need not read their
    jobs until then. No start leaves a key's window before its earliest live start expires,
    and other claimers only add starts: what one process learns holds for all of them."""

    def __init__(self) -> None:
        self._until: dict[str, float] = {}
        #: When the first of the keys held may start again (None: none is held).
        self.earliest: float | None = None
        #: When the first parked job comes back, as the last claim read it (None: none is
        #: parked). A key's jobs come back a window apart (`parked_until`), at times that
        #: no key held here may name once its last jobs back were claimed.
        self.parked_next: float | None = None

    def hold(self, key: str, until: float) -> None:
        self._until[key] = until
        if self.earliest is None or until < self.earliest:
            self.earliest = until

    def none_parked_due(self, now: float) -> None:
        """A claim found no parked job due at `now`: a time of `parked_next` up to then was
        another claimer's to bring back, and is forgotten (else an idle worker would claim
        again and again at the least wait)."""
        if self.parked_next is not None and self.parked_next <= now:
            self.parked_next = None

    def next_in(self, now: float) -> float | None:
        """Seconds from `now` until the first held key may start again or the first parked
        job comes back (None: neither is known)."""
        times = [at for at in (self.earliest, self.parked_next) if at is not None]
        return min(times) - now if times else None

    def briefly(self, now: float) -> set[str]:
        """The keys held at `now` for less than PARK_FROM_S more (the others are forgotten
        once free; those held longer are read, so that their jobs get parked). Each claim
        asks: the keys are looked through only when one is free or held briefly."""
        if self.earliest is not None and self.earliest <= now:
            self._until = {key: until for key, until in self._until.items() if until > now}
            self.earliest = min(self._until.values(), default=None)
        if self.earliest is None or self.earliest - now >= PARK_FROM_S:
            return set()
        return {key for key, until in self._until.items() if until - now < PARK_FROM_S}


@dataclass(frozen=True, slots=True)
class LimitedRead:
    """One read of limited jobs: up to `size` ready ones in claim order after `cursor` (the
    claim order of the last one read before; None: from the first), leaving out the jobs of
    `full_keys` and `full_lanes`."""

    size: int
    cursor: tuple[int, Any, int] | None
    full_keys: list[str]
    full_lanes: list[str]


class LimitedWalk:
    """Finds a claim's limited candidates: the first ready jobs with a lane or a rate key
    whose lane and key have room, reading them in claim order a growing batch at a time.

    Each read leaves out the keys and lanes found full so far (and the keys `HeldKeys`
    knows to be held briefly), so a held-back backlog is read at most once per claim; the
    keys held longer are `parked_keys`, whose jobs the claim parks until the key's next
    start, out of what claims read. Rows carry `lane_free` and `rate_free`, the room their
    lane and key had before this claim, and `rate_next`, when the key's earliest live start
    expires.
    """

    def __init__(self, limit: int, after: tuple[Any, ...] | None, held: HeldKeys, now: float):
        self.limit = limit
        #: The last plain job chosen if plain jobs fill the claim: no limited job after it
        #: can be chosen.
        self.after = after
        self.held = held
        #: The queues whose jobs may be chosen (None: all of them).
        self.queues: set[str] | None = None
        self.now = now
        self.full_keys = held.briefly(now)
        #: The keys found full for a while, and until when: the claim parks all their waiting
        #: jobs at once (each until `parked_until`), and its reads leave them out, as full keys.
        self.parked_keys: dict[str, float] = {}
        #: Whether the claim met any limited job (a held one included).
        self.saw_limited = bool(self.full_keys)
        #: Whether a job read has both a lane and a rate key.
        self.saw_both = False
        self.full_lanes: set[str] = set()
        self.fitting: list[ClaimRow] = []
        self._lane_left: dict[str, int] = {}
        self._rate_left: dict[str, int] = {}
        self._next: LimitedRead | None = self._read(max(FIRST_READ_MIN, limit), None)

    def serve(self, queues: Iterable[str], after: tuple[Any, ...] | None) -> None:
        """Count only jobs of these `queues` (the others' rows are read but skipped), and
        stop reading past `after` (see `__init__`), once the claim knows them."""
        self.queues = set(queues)
        self.after = after

    def next_read(self) -> LimitedRead | None:
        """What to read next, or None when the candidates are found."""
        return self._next

    def take(self, rows: Sequence[ClaimRow]) -> None:
        """Count the rows of the last read against their lanes and keys."""
        read = self._next
        assert read is not None
        self.saw_limited = self.saw_limited or bool(rows)
        for row in rows:
            if len(self.fitting) >= self.limit:
                break
            self._fit(row)
        self._next = None
        if len(self.fitting) >= self.limit or len(rows) < read.size:
            return
        last = rows[-1]
        if self.after is not None and claim_order(last) >= self.after:
            return
        cursor = (last["priority"], last["run_at"], last["seq"])
        self._next = self._read(read.size * READ_GROWTH, cursor)

    def _read(self, size: int, cursor: tuple[int, Any, int] | None) -> LimitedRead:
        return LimitedRead(size, cursor, sorted(self.full_keys), sorted(self.full_lanes))

    def _fit(self, row: ClaimRow) -> None:
        if self.queues is not None and row["queue"] not in self.queues:
            return
        lane, key = row["lane"], row["rate_key"]
        self.saw_both = self.saw_both or (lane is not None and key is not None)
        lane_left = None if lane is None else self._lane_left.setdefault(lane, row["lane_free"])
        rate_left = None if key is None else self._rate_left.setdefault(key, row["rate_free"])
        if key is not None and row["rate_free"] <= 0 and row["rate_next"] is not None:
            until = float(row["rate_next"])
            self.held.hold(key, until)
            if until - self.now >= PARK_FROM_S:
                self.parked_keys[key] = until
        lane_full = lane_left is not None and lane_left <= 0
        rate_full = rate_left is not None and rate_left <= 0
        if lane_full:
            self.full_lanes.add(lane)
        if rate_full:
            self.full_keys.add(key)
        if lane_full or rate_full:
            return
        if lane is not None:
            self._lane_left[lane] -= 1
            if self._lane_left[lane] == 0:
                self.full_lanes.add(lane)
        if key is not None:
            self._rate_left[key] -= 1
            if self._rate_left[key] == 0:
                self.full_keys.add(key)
        self.fitting.append(row)


# -- choosing within every limit ----------------------------------------------------------


def choose(
    plain: Sequence[ClaimRow], limited: Sequence[ClaimRow], limit: int, room: QueueRoom
) -> list[ClaimRow]:
    """The jobs a claim takes: in claim order, each only if its queue, its lane and its rate
    key still have room once the jobs before it are counted, up to `limit`. `limited` rows
    carry `lane`, `lane_free`, `rate_key` and `rate_free` (the room each had before this
    claim); so a key at its limit holds back only its own jobs."""
    if not limited and not room.free:
        return list(plain[:limit])  # the common claim: nothing to count
    queue_free = dict(room.free)
    lane_free: dict[str, int] = {}
    rate_free: dict[str, int] = {}
    chosen: list[ClaimRow] = []
    tagged = [(row, False) for row in plain] + [(row, True) for row in limited]
    for row, is_limited in sorted(tagged, key=lambda pair: claim_order(pair[0])):
        if len(chosen) >= limit:
            break
        queue = row["queue"]
        if queue_free.get(queue, 1) <= 0:
            continue
        lane, rate_key = (row["lane"], row["rate_key"]) if is_limited else (None, None)
        if lane is not None and lane_free.setdefault(lane, row["lane_free"]) <= 0:
            continue
        if rate_key is not None and rate_free.setdefault(rate_key, row["rate_free"]) <= 0:
            continue
        if queue in queue_free:
            queue_free[queue] -= 1
        if lane is not None:
            lane_free[lane] -= 1
        if rate_key is not None:
            rate_free[rate_key] -= 1
        chosen.append(row)
    return chosen


def choose_walked(
    plain: Sequence[ClaimRow], walk: LimitedWalk, limit: int, room: QueueRoom
) -> list[ClaimRow]:
    """`choose` among the plain jobs and the limited ones `walk` found, which already fit
    their lanes and keys in claim order: with no plain job and no queue limit, those."""
    if not plain and not room.free:
        return list(walk.fitting[:limit])
    return choose(plain, walk.fitting, limit, room)


def _get(row: ClaimRow, column: str) -> Any:
    """A column that only limited rows carry (plain rows have neither lane nor rate key)."""
    try:
        return row[column]
    except (KeyError, IndexError):
        return None


# -- rate starts --------------------------------------------------------------------------


def parked_until(until: float, window_s: float, limit: int, position: int) -> float:
    """How long a parked job waits, the rule both dialects park by in SQL: a key full until
    `until` (when its oldest live start expires) opens at most `limit` slots per window, so
    its waiting job at `position` in claim order (from 0, among those due; a job not yet due
    takes 0) cannot start earlier than this. A key's jobs come back a window's worth at a
    time, where one time for all of them would bring back every one for each slot that
    opened, and park the rest again. Jobs of one key with different limits take the longest
    limit and the shortest window: never later than they could start."""
    return until + window_s * (position // limit)


def start_expiry(now: float, window_s: float, fixed: bool, dispatch_s: float = DISPATCH_S) -> float:
    """When a start made at `now` stops counting: once the window slides past it, or at the
    end of the fixed window it fell in (see DISPATCH_S for the margin either way; none on a
    clock that stands still while jobs are handed out, as a test's)."""
    margin = min(dispatch_s, window_s * DISPATCH_SHARE)
    if not fixed:
        return now + window_s + margin
    end = (math.floor(now / window_s) + 1) * window_s
    return end + window_s if end - now < margin else end


class RateStart(NamedTuple):
    """A start to record: its key, and when it stops counting (epoch seconds)."""

    key: str
    expires_at: float


def rate_starts(
    chosen: Sequence[ClaimRow],
    queue_rates: Mapping[str, tuple[float, bool]],
    now: float,
    dispatch_s: float = DISPATCH_S,
) -> list[RateStart]:
    """The starts the chosen jobs add: one under a job's rate key, one under its queue's
    key if the queue has a rate limit (`queue_rates`: queue → window, fixed)."""
    keyed = (_keyed(row) for row in chosen)
    starts = key_starts(keyed, now, dispatch_s)
    for row in chosen:
        if (rate := queue_rates.get(row["queue"])) is not None:
            expiry = start_expiry(now, *rate, dispatch_s)
            starts.append(RateStart(queue_key(row["queue"]), expiry))
    return starts


def _keyed(row: ClaimRow) -> tuple[str | None, float, bool]:
    if (key := _get(row, "rate_key")) is None:
        return None, 0.0, False
    return key, row["rate_window_s"], row["rate_fixed"]


def key_starts(
    keyed: Iterable[tuple[str | None, float, bool]], now: float, dispatch_s: float = DISPATCH_S
) -> list[RateStart]:
    """The starts jobs given as (rate key or None, window, fixed) add under their keys."""
    starts = []
    expiries: dict[tuple[float, bool], float] = {}  # one per window: the claim has one `now`
    for key, window_s, fixed in keyed:
        if key is not None:
            window = (window_s, bool(fixed))
            if (expiry := expiries.get(window)) is None:
                expiry = expiries[window] = start_expiry(now, *window, dispatch_s)
            starts.append(RateStart(key, expiry))
    return starts


def queue_rates(controls: Iterable[QueueRow]) -> dict[str, tuple[float, bool]]:
    """Queue → (window, fixed) for the rate-limited queues among `controls`."""
    return {
        row["name"]: (float(row["rate_window_s"]), bool(row["rate_fixed"]))
        for row in controls
        if row["rate_limit"] is not None
    }
