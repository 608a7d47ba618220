"""The samples of the history file (schema 3): polls, chunks and pending samples per tier.

Most configurations are idle in most polls, so a sample is stored only when one of
its counters changed; the polls themselves are kept as runs:

* ``poll``: one row per poll and tier (and writing process): its time and the
  *present set*, the ids of the configurations it saw (runs of consecutive ids, a
  few bytes for a thousand). A configuration in a poll's present set with no stored
  sample at that time was unchanged: its values are those of its latest sample
  before. One missing from a present set was not seen: a gap.
* ``chunk``: up to :data:`CHUNK_SAMPLES` changed samples of one configuration in one
  tier from one writer, encoded by :mod:`tui.chunks` (delta integers, zlib).
* ``pending``: the changed samples of each writer's open chunks, one row each (a few
  bytes), so that every committed poll survives a crash; they are folded into their
  chunk's row when it is full or old (:data:`CHUNK_SPAN_MS`) and, in the coarser
  tiers whose chunks stay open for days, every few samples (:data:`FOLD`), in the
  transaction that writes it.
* ``pending_log``: the same rows, keyed by time first, where a poll writes them; every
  :data:`LOG_POLLS` polls (and when the writer closes) a writer moves its log into
  ``pending`` in one statement. A poll's new rows then land on a page or two at the
  log's end instead of on a page per configuration (each dirty page is written whole
  to the write-ahead log: at 10 % of 1,000 configurations changing, 250 KB a poll
  before). A configuration's rows in the log are always later than its rows in
  ``pending``, so readers take the two in that order. Folding leaves a chunk's rows
  in the log (deleting them would dirty a page per poll they came from): a log row
  at or before the last time of its configuration's newest chunk (same tier and
  writer) is *stale*, skipped by readers and not moved.

Each process writing the file has its own random *writer* id, so two processes
polling the same profile never mix their runs: a configuration's samples are
rebuilt per writer, then merged by time. Reading a tier over a time range
(:func:`read_tier`) needs the polls in the range, the chunks that start in it, each
configuration's last chunk before it (its values at the range's start) and the
pending rows. A chunk that does not decode is skipped (its polls have no sample
for that configuration until its next chunk) and counted, never fatal.

Times are integer epoch milliseconds. No Textual here.
"""

from __future__ import annotations

import bisect
import contextlib
import sqlite3
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass, field

from tui.chunks import (
    ChunkError,
    decode_chunk,
    decode_present,
    encode_chunk,
    encode_present,
    pack_values,
    unpack_values,
)
from tui.counters import COUNTERS

TIER_RAW, TIER_MINUTE, TIER_HOUR = 0, 1, 2
TIERS = (TIER_RAW, TIER_MINUTE, TIER_HOUR)
#: Width of one bucket of each tier, in milliseconds (raw samples are keyed by their time).
BUCKET_MS = {TIER_RAW: 1, TIER_MINUTE: 60_000, TIER_HOUR: 3_600_000}
#: Changed samples per chunk at most (measured: 128 gives ~7 bytes a changed sample
#: for noisy counters, 64 about 9, 256 barely less than 128 but slower to read).
CHUNK_SAMPLES = 128
#: A chunk is closed once it spans this long, so that pruning frees space steadily.
CHUNK_SPAN_MS = {TIER_RAW: 3_600_000, TIER_MINUTE: 86_400_000, TIER_HOUR: 30 * 86_400_000}
#: Pending samples after which an open chunk is folded into its row, and how many
#: folds a poll may do (each reads the chunk back and encodes it again: a few hundred
#: microseconds). A raw chunk closes within the hour, so its samples stay pending
#: until then and it is encoded once; a minute chunk spans up to a day and an hour
#: chunk a month, so theirs are folded in as they come, to keep the pending rows
#: (about three times a chunk's bytes per sample) few.
FOLD = {TIER_RAW: CHUNK_SAMPLES, TIER_MINUTE: 32, TIER_HOUR: 2}
FOLD_BUDGET = 64
#: Chunks of configuration ``c`` close at ``CHUNK_SAMPLES - c % STAGGER`` samples.
STAGGER = 32
#: Writer id of samples migrated from schema 2 (a live writer's id is never 0).
MIGRATED = 0

Values = tuple[int | None, ...]
Key = tuple[int, int]  # (tier, config)

SCHEMA = (
    # present: the configurations the poll saw (tui.chunks.encode_present).
    """CREATE TABLE poll (
        tier INTEGER NOT NULL,
        at INTEGER NOT NULL,
        writer INTEGER NOT NULL,
        present BLOB NOT NULL,
        PRIMARY KEY (tier, at, writer)
    ) WITHOUT ROWID""",
    # first_at, last_at: times of the chunk's first and last sample.
    """CREATE TABLE chunk (
        id INTEGER PRIMARY KEY,
        tier INTEGER NOT NULL,
        config INTEGER NOT NULL,
        writer INTEGER NOT NULL,
        first_at INTEGER NOT NULL,
        last_at INTEGER NOT NULL,
        data BLOB NOT NULL
    )""",
    "CREATE UNIQUE INDEX chunk_config ON chunk (tier, config, writer, first_at)",
    # vals: the counters (tui.chunks.pack_values), the difference from the row before.
    """CREATE TABLE pending (
        tier INTEGER NOT NULL,
        config INTEGER NOT NULL,
        writer INTEGER NOT NULL,
        at INTEGER NOT NULL,
        vals BLOB NOT NULL,
        PRIMARY KEY (tier, config, writer, at)
    ) WITHOUT ROWID""",
)
#: The log of pending rows (added to schema 3 files as they are opened for writing;
#: a flashtop from before it ignores the table).
LOG_SCHEMA = """CREATE TABLE IF NOT EXISTS pending_log (
    tier INTEGER NOT NULL,
    writer INTEGER NOT NULL,
    at INTEGER NOT NULL,
    config INTEGER NOT NULL,
    vals BLOB NOT NULL,
    PRIMARY KEY (tier, writer, at, config)
) WITHOUT ROWID"""
#: Polls after which a writer moves its log into ``pending`` (an hour's raw chunk
#: sees 720 polls at 5 s, so most rows are moved once before they are folded).
LOG_POLLS = 60


# ---------------------------------------------------------------------------- writing


@dataclass
class _Plan:
    """What one poll changes in a writer's state, applied only once it is committed."""

    last: tuple[dict[int, Values], ...] = field(default_factory=lambda: ({}, {}, {}))
    open: tuple[dict[int, _Open], ...] = field(default_factory=lambda: ({}, {}, {}))
    marks: dict[int, tuple[int, int]] = field(default_factory=dict)
    #: (tier, config) whose open chunk was closed.
    closed: list[Key] = field(default_factory=list)
    at: int = -1
    #: Rows this poll adds to the log, by (tier, config); the keys whose logged rows
    #: were folded; whether the log was moved into ``pending``; polls written (0 or 1).
    log: dict[Key, list[tuple[int, bytes]]] = field(default_factory=dict)
    unlog: set[Key] = field(default_factory=set)
    moved: bool = False
    polls: int = 0


#: An open chunk: its first sample's time, how many samples it has, and how many of
#: the last of them are only in ``pending`` (not yet folded into its chunk row). The
#: samples themselves are read back from the file when they are folded, so that the
#: writer holds nothing per sample (at 10,000 configurations its memory, and the
#: garbage collector's walks, stay small).
_Open = tuple[int, int, int]
#: The counters of a pending sample that does not decode.
_UNKNOWN: Values = (None,) * len(COUNTERS)
_UPSERT = (
    "INSERT INTO chunk (tier, config, writer, first_at, last_at, data) VALUES (?, ?, ?, ?, ?, ?) "
    "ON CONFLICT (tier, config, writer, first_at) DO UPDATE SET "
    "last_at = excluded.last_at, data = excluded.data"
)


class TierWriter:
    """One process's writing state: each configuration's last values and open chunk per tier.

    A changed sample is written as a ``pending`` row (a few bytes: the difference
    from the sample before it), so a poll writes only its changed samples. The
    pending samples of an open chunk are *folded* into its chunk row (encoded whole,
    then their rows deleted) when it closes (full or old) and every :data:`FOLD`
    samples, so that an open chunk (the hour tier's stay open for days) costs about
    what a closed one costs. At most
    :data:`FOLD_BUDGET` folds run per poll, so that a minute's first poll (when every
    busy configuration's minute chunk is due) does not stall the writer.
    """

    def __init__(self, writer: int) -> None:
        self.writer = writer
        self._last: tuple[dict[int, Values], ...] = ({}, {}, {})
        self._open: tuple[dict[int, _Open], ...] = ({}, {}, {})
        #: config id -> (minute bucket, hour bucket) this writer last wrote.
        self._marks: dict[int, tuple[int, int]] = {}
        self.newest_ms = -1
        self._plan: _Plan | None = None
        #: The rows this writer has in ``pending_log`` (committed), by (tier, config),
        #: for folding without reading them back; and the polls since it was moved.
        self._log: dict[Key, list[tuple[int, bytes]]] = {}
        self._log_polls = 0

    def write(
        self, conn: sqlite3.Connection, at_ms: int, items: Sequence[tuple[int, Values]]
    ) -> int:
        """Write one poll inside the caller's transaction; return the configurations in
        it. Call :meth:`commit` once the transaction is committed.

        A poll not later than this writer's previous one is ignored (as the in-memory
        history ignores it): the runs of unchanged samples need time order.
        """
        self._plan = None
        if at_ms <= self.newest_ms:
            return 0
        minute, hour = at_ms // BUCKET_MS[TIER_MINUTE], at_ms // BUCKET_MS[TIER_HOUR]
        now = (minute, hour)
        plan = self._plan = _Plan(at=at_ms, polls=1)
        present: tuple[list[int], ...] = ([], [], [])
        changed: tuple[list[tuple[int, Values]], ...] = ([], [], [])
        marks = self._marks
        last_raw = self._last[TIER_RAW]
        new_marks: list[tuple[int, Values, tuple[int, int] | None]] = []
        seen: set[int] = set()
        for cid, values in items:
            if cid in seen:
                continue  # the first of a repeated id, as the old schema's OR IGNORE kept
            seen.add(cid)
            present[TIER_RAW].append(cid)
            if last_raw.get(cid) != values:
                changed[TIER_RAW].append((cid, values))
            mark = marks.get(cid)
            if mark != now:
                new_marks.append((cid, values, mark))
        for cid, values, mark in new_marks:
            last_minute, last_hour = mark or (-1, -1)
            plan.marks[cid] = now
            for tier, moved in (
                (TIER_MINUTE, minute != last_minute),
                (TIER_HOUR, hour != last_hour),
            ):
                if moved:
                    present[tier].append(cid)
                    if self._last[tier].get(cid) != values:
                        changed[tier].append((cid, values))
        w = self.writer
        pending: list[tuple[int, int, int, int, bytes]] = []
        logged = plan.log
        budget = FOLD_BUDGET
        for tier in TIERS:
            opened, span, fold = self._open[tier], CHUNK_SPAN_MS[tier], FOLD[tier]
            plan_open, plan_last, last = plan.open[tier], plan.last[tier], self._last[tier]
            for cid, values in changed[tier]:
                plan_last[cid] = values
                first, count, held = opened.get(cid) or (at_ms, 0, 0)
                # Sizes differ a little between configurations, so that chunks that
                # started together do not all close (and encode) in the same poll.
                size = max(CHUNK_SAMPLES - cid % STAGGER, 1)
                if count and (count >= size or at_ms - first >= span):
                    if held:
                        self._fold(conn, tier, cid, first)
                    first, count, held = at_ms, 0, 0
                elif held >= fold - cid % (fold // 4 + 1) and budget > 0:
                    first = self._fold(conn, tier, cid, first)
                    held = 0
                    budget -= 1
                # The first pending sample is whole; the rest differ from the one before.
                base = last.get(cid) if held else None
                blob = pack_values(values, base)
                pending.append((tier, w, at_ms, cid, blob))
                logged.setdefault((tier, cid), []).append((at_ms, blob))
                plan_open[cid] = (first, count + 1, held + 1)
        conn.executemany(
            "INSERT OR REPLACE INTO poll VALUES (?, ?, ?, ?)",
            [
                (tier, at_ms, w, encode_present(sorted(ids)))
                for tier, ids in enumerate(present)
                if ids
            ],
        )
        conn.executemany("INSERT OR IGNORE INTO pending_log VALUES (?, ?, ?, ?, ?)", pending)
        if self._log_polls + 1 >= LOG_POLLS:
            self.move_log(conn)
        return len(seen)

    def move_log(self, conn: sqlite3.Connection) -> None:
        """Move this writer's rows from ``pending_log`` into ``pending`` (inside the
        caller's transaction, after :meth:`write` or :meth:`seal_old`; :meth:`commit`
        after it)."""
        if self._plan is None:
            self._plan = _Plan(at=self.newest_ms)
        w = self.writer
        for tier in TIERS:
            conn.execute(
                "INSERT OR IGNORE INTO pending SELECT l.tier, l.config, l.writer, l.at, l.vals "
                f"FROM pending_log l WHERE l.tier = ? AND l.writer = ? AND {_LIVE}",
                (tier, w),
            )
            conn.execute("DELETE FROM pending_log WHERE tier = ? AND writer = ?", (tier, w))
        self._plan.moved = True

    def commit(self) -> None:
        """The transaction of the last :meth:`write` (or :meth:`seal_old`) committed."""
        plan = self._plan
        if plan is None:
            return
        for tier in TIERS:
            self._last[tier].update(plan.last[tier])
            self._open[tier].update(plan.open[tier])
        self._marks.update(plan.marks)
        for tier, cid in plan.closed:
            if cid not in plan.open[tier]:
                self._open[tier].pop(cid, None)
        if plan.moved:
            self._log.clear()
            self._log_polls = 0
        else:
            for key in plan.unlog:
                self._log.pop(key, None)
            for key, rows in plan.log.items():
                self._log.setdefault(key, []).extend(rows)
            self._log_polls += plan.polls
        self.newest_ms = max(self.newest_ms, plan.at)
        self._plan = None

    def reset(self, tier: int) -> None:
        """Forget what was written to ``tier`` (its samples were all pruned): the next
        poll stores every configuration's sample again."""
        self._last[tier].clear()
        self._open[tier].clear()
        for key in [k for k in self._log if k[0] == tier]:
            del self._log[key]

    def rollback(self) -> None:
        self._plan = None

    def _fold(self, conn: sqlite3.Connection, tier: int, cid: int, first: int) -> int:
        """Write an open chunk's row whole (what it held and its pending samples, both
        read back) and delete its pending samples; return the row's first time (a new
        row's when the old one does not decode). A pending sample that does not decode
        (damaged on disk, or following one that is) is folded in as unknown values."""
        w = self.writer
        all_times: list[int] = []
        all_rows: list[Values] = []
        rows = conn.execute(
            "SELECT config, writer, at, vals FROM pending "
            "WHERE tier = ? AND config = ? AND writer = ? ORDER BY at",
            (tier, cid, w),
        ).fetchall()
        key = (tier, cid)
        logged = self._log.get(key)
        if logged:
            # Later than the rows in ``pending``; left in the log, stale once folded.
            rows += [(cid, w, at, blob) for at, blob in logged]
            assert self._plan is not None
            self._plan.unlog.add(key)
        for _, _, at, values in _pending_samples(rows):
            all_times.append(at)
            all_rows.append(_UNKNOWN if values is None else values)
        if not all_times:
            return first
        held = conn.execute(
            "SELECT data FROM chunk WHERE tier = ? AND config = ? AND writer = ? AND first_at = ?",
            (tier, cid, w, first),
        ).fetchone()
        if held is not None:
            try:
                old_times, old_rows = decode_chunk(held[0])
                all_times[:0] = old_times
                all_rows[:0] = old_rows
            except ChunkError:
                pass  # damaged: the pending samples start a row of their own
        conn.execute(
            _UPSERT,
            (tier, cid, w, all_times[0], all_times[-1], encode_chunk(all_times, all_rows)),
        )
        conn.execute(
            "DELETE FROM pending WHERE tier = ? AND config = ? AND writer = ? AND at <= ?",
            (tier, cid, w, all_times[-1]),
        )
        return all_times[0]

    def seal_old(self, conn: sqlite3.Connection, now_ms: int | None) -> int:
        """Close the open chunks older than their tier's span, or all of them when
        ``now_ms`` is None (inside the caller's transaction; :meth:`commit` after
        it); return how many."""
        plan = self._plan = _Plan(at=self.newest_ms)
        n = 0
        for tier in TIERS:
            for cid, (first, count, held) in list(self._open[tier].items()):
                if count and (now_ms is None or now_ms - first >= CHUNK_SPAN_MS[tier]):
                    if held:
                        self._fold(conn, tier, cid, first)
                    plan.closed.append((tier, cid))
                    n += 1
        if now_ms is None or set(self._log) <= plan.unlog:
            # Closing, or nothing in the log is live any more (then moving it only
            # deletes it): the stale rows go now rather than at the next move.
            self.move_log(conn)
        return n


def _pending_samples(
    rows: Iterable[tuple[int, int, int, bytes]],
) -> Iterator[tuple[int, int, int, Values | None]]:
    """(config, writer, at, values) of pending rows given in time order for each
    (config, writer); values None where a row (or one before it in its chain) does
    not decode."""
    bases: dict[tuple[int, int], Values | None] = {}
    for cid, w, at, blob in rows:
        key = (cid, w)
        try:
            values: Values | None = unpack_values(blob, bases.get(key))
        except ChunkError:
            values = None
        bases[key] = values
        yield cid, w, at, values


#: Whether the log row ``l`` is not stale (see the module's docstring).
#: The newest chunk is found by its first time (the index), and chunks of one
#: configuration and writer do not overlap, so its last time is the latest.
_LIVE = (
    "l.at > coalesce((SELECT c.last_at FROM chunk c WHERE c.tier = l.tier "
    "AND c.config = l.config AND c.writer = l.writer ORDER BY c.first_at DESC LIMIT 1), -1)"
)


def live_log_rows(conn: sqlite3.Connection) -> int:
    """Rows of ``pending_log`` that are not stale."""
    return int(conn.execute(f"SELECT count(*) FROM pending_log l WHERE {_LIVE}").fetchone()[0])


def has_log(conn: sqlite3.Connection) -> bool:
    """Whether the file has ``pending_log`` (one written before it may not, read-only)."""
    row = conn.execute(
        "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'pending_log'"
    ).fetchone()
    return bool(row[0])


def _pending_tables(conn: sqlite3.Connection) -> tuple[str, ...]:
    """The tables that hold pending rows in this file."""
    return ("pending", "pending_log") if has_log(conn) else ("pending",)


def _pending_rows(
    conn: sqlite3.Connection,
    where: str,
    args: Sequence[object],
    order: str,
    chunked: dict[tuple[int, int], int],
) -> list[tuple[int, int, int, bytes]]:
    """(config, writer, at, vals) of the pending rows matching ``where`` (a condition on
    tier, config, writer, at): those in ``pending`` in ``order``, then those in the log
    in time order, less the stale ones (``chunked``: (config, writer) -> the last time
    of its newest chunk)."""
    rows: list[tuple[int, int, int, bytes]] = conn.execute(
        f"SELECT config, writer, at, vals FROM pending WHERE {where} ORDER BY {order}", args
    ).fetchall()
    if has_log(conn):
        rows += [
            r
            for r in conn.execute(
                f"SELECT config, writer, at, vals FROM pending_log WHERE {where} "
                "ORDER BY tier, writer, at, config",
                args,
            )
            if r[2] > chunked.get((r[0], r[1]), -1)
        ]
    return rows


def compact_orphans(conn: sqlite3.Connection, own: int, now_ms: int) -> int:
    """Turn the pending samples other writers left (a process that ended or was
    killed) into chunks, once they are older than their tier's span twice over (a
    live writer closes its chunks by then); return the chunks written."""
    written = 0
    for tier in TIERS:
        old = now_ms - 2 * CHUNK_SPAN_MS[tier] - 60_000
        tables = _pending_tables(conn)
        writers = sorted(
            {
                int(r[0])
                for table in tables
                for r in conn.execute(
                    f"SELECT DISTINCT writer FROM {table} WHERE tier = ? AND at < ? "
                    "AND writer != ?",
                    (tier, old, own),
                )
            }
        )
        for w in writers:
            per: dict[int, tuple[list[int], list[Values]]] = {}
            chunked = {
                (int(cid), w): int(last)
                for cid, last in conn.execute(
                    "SELECT config, max(last_at) FROM chunk WHERE tier = ? AND writer = ? "
                    "GROUP BY config",
                    (tier, w),
                )
            }
            rows = _pending_rows(conn, "tier = ? AND writer = ?", (tier, w), "config, at", chunked)
            for cid, _, at, values in _pending_samples(rows):
                if values is None:
                    continue  # damaged: left out (its polls will have no sample)
                times, got = per.setdefault(int(cid), ([], []))
                times.append(int(at))
                got.append(values)
            for cid, (times, got) in per.items():
                written += insert_chunks(conn, tier, cid, w, times, got)
            for table in tables:
                conn.execute(f"DELETE FROM {table} WHERE tier = ? AND writer = ?", (tier, w))
    return written


def insert_chunks(
    conn: sqlite3.Connection,
    tier: int,
    cid: int,
    writer: int,
    times: Sequence[int],
    rows: Sequence[Values],
) -> int:
    """Store changed samples (in time order) as chunks of at most :data:`CHUNK_SAMPLES`
    and :data:`CHUNK_SPAN_MS`; return how many chunks."""
    out: list[tuple[int, int, int, int, int, bytes]] = []
    start = 0
    span = CHUNK_SPAN_MS[tier]
    for i in range(1, len(times) + 1):
        if i == len(times) or i - start >= CHUNK_SAMPLES or times[i] - times[start] >= span:
            part_t, part_r = times[start:i], rows[start:i]
            out.append((tier, cid, writer, part_t[0], part_t[-1], encode_chunk(part_t, part_r)))
            start = i
    conn.executemany(_UPSERT, out)
    return len(out)


# ---------------------------------------------------------------------------- reading


def _config_filter(cids: Collection[int] | None) -> tuple[str, list[int]]:
    if cids is None or len(cids) > 500:
        return "", []
    return f" AND config IN ({', '.join('?' * len(cids))})", list(cids)


@dataclass
class Damage:
    """Chunks and present sets found damaged while reading (skipped)."""

    chunks: set[tuple[int, int, int, int]] = field(default_factory=set)
    polls: set[tuple[int, int, int]] = field(default_factory=set)

    def __len__(self) -> int:
        return len(self.chunks) + len(self.polls)


class _Cursor:
    """Where reading one configuration's samples from one writer has got to."""

    __slots__ = ("pos", "times", "values")

    def __init__(self, times: list[int], values: list[Values | None]) -> None:
        self.pos = 0
        self.times = times
        self.values = values


def read_tier(
    conn: sqlite3.Connection,
    tier: int,
    lo_ms: int,
    hi_ms: int,
    cids: Collection[int] | None = None,
    damage: Damage | None = None,
    keep: Callable[[int], bool] | None = None,
) -> dict[int, list[tuple[int, Values]]]:
    """Config id -> its samples of ``tier`` with ``lo_ms <= at <= hi_ms``, in time order.

    ``cids`` limits the configurations; ``keep`` the poll times (a coarser spacing).
    """
    polls = conn.execute(
        "SELECT at, writer, present FROM poll WHERE tier = ? AND at >= ? AND at <= ? "
        "ORDER BY at, writer",
        (tier, lo_ms, hi_ms),
    ).fetchall()
    if keep is not None:
        polls = [p for p in polls if keep(p[0])]
    if not polls:
        return {}
    wanted = None if cids is None else set(cids)
    where, args = _config_filter(wanted)
    explicit: dict[tuple[int, int], dict[int, Values | None]] = {}
    chunks = conn.execute(
        "SELECT config, writer, first_at, last_at, data FROM chunk "
        f"WHERE tier = ? AND first_at >= ? AND first_at <= ?{where}",
        (tier, lo_ms, hi_ms, *args),
    ).fetchall()
    # Each configuration's values as the range starts: its last chunk before it.
    chunks += conn.execute(
        "SELECT config, writer, max(first_at), last_at, data FROM chunk "
        f"WHERE tier = ? AND first_at < ?{where} GROUP BY config, writer",
        (tier, lo_ms, *args),
    ).fetchall()
    chunked: dict[tuple[int, int], int] = {}
    for cid, w, first, last, data in chunks:
        if wanted is not None and cid not in wanted:
            continue
        if last > chunked.get((cid, w), -1):
            chunked[(cid, w)] = last
        known = explicit.setdefault((cid, w), {})
        try:
            chunk_times, rows = decode_chunk(data)
            if not chunk_times or chunk_times[0] != first or chunk_times[-1] != last:
                raise ChunkError("chunk times differ from its row")
        except ChunkError:
            if damage is not None:
                damage.chunks.add((tier, cid, w, first))
            known.setdefault(first, None)  # unknown from here until its next sample
            continue
        known.update(zip(chunk_times, rows, strict=True))
    pending = _pending_rows(conn, f"tier = ?{where}", (tier, *args), "config, writer, at", chunked)
    for cid, w, at, values in _pending_samples(pending):
        if at > hi_ms or (wanted is not None and cid not in wanted):
            continue
        if values is None and damage is not None:
            damage.chunks.add((tier, cid, w, at))
        explicit.setdefault((cid, w), {})[at] = values
    cursors: dict[tuple[int, int], _Cursor] = {}
    out: dict[int, list[tuple[int, Values]]] = {}
    for at, w, present in polls:
        try:
            ids = decode_present(present)
        except ChunkError:
            if damage is not None:
                damage.polls.add((tier, at, w))
            continue
        for cid in ids:
            if wanted is not None and cid not in wanted:
                continue
            key = (cid, w)
            cur = cursors.get(key)
            if cur is None:
                got = explicit.get(key)
                if not got:
                    continue
                order = sorted(got)
                cur = cursors[key] = _Cursor(order, [got[t] for t in order])
            pos = cur.pos
            if pos < len(cur.times) and cur.times[pos] <= at:
                pos = cur.pos = bisect.bisect_right(cur.times, at, pos)
            if pos == 0:
                continue
            values = cur.values[pos - 1]
            if values is None:
                continue
            lst = out.get(cid)
            if lst is None:
                out[cid] = [(at, values)]
            elif lst[-1][0] != at:  # two writers at the same millisecond: the first
                lst.append((at, values))
    return out


def tier_range(conn: sqlite3.Connection, tier: int) -> tuple[int, int] | None:
    """(oldest, newest) poll time of a tier, None when it is empty."""
    lo, hi = conn.execute("SELECT min(at), max(at) FROM poll WHERE tier = ?", (tier,)).fetchone()
    return None if lo is None else (int(lo), int(hi))


def windows(lo: int, hi: int, width: int) -> Iterator[tuple[int, int]]:
    """Consecutive inclusive ranges of ``width`` ms covering ``lo``..``hi``."""
    start = lo
    while start <= hi:
        yield start, min(hi, start + width - 1)
        start += width


# ---------------------------------------------------------------------------- pruning


def live_writers(conn: sqlite3.Connection, tier: int, cutoff_ms: int) -> set[int]:
    return {
        int(r[0])
        for r in conn.execute(
            "SELECT DISTINCT writer FROM poll WHERE tier = ? AND at >= ?", (tier, cutoff_ms)
        )
    }


def prune_tier(
    conn: sqlite3.Connection, tier: int, cutoff_ms: int, batch: int
) -> tuple[int, bool, set[int]]:
    """Delete up to about ``batch`` polls and chunks of ``tier`` older than ``cutoff_ms``
    (inside the caller's transaction); return (rows deleted, whether more are left,
    the writers that still have polls).

    A chunk older than the cutoff stays while it still gives a configuration's values
    after it (it is the configuration's last chunk from a writer with newer polls).
    A writer with no polls left in the tier must drop its state for the tier
    (:meth:`TierWriter.reset`).
    """
    row = conn.execute(
        "SELECT at FROM poll WHERE tier = ? AND at < ? ORDER BY at LIMIT 1 OFFSET ?",
        (tier, cutoff_ms, batch),
    ).fetchone()
    bound = cutoff_ms if row is None else int(row[0])
    n = conn.execute("DELETE FROM poll WHERE tier = ? AND at < ?", (tier, bound)).rowcount
    more = row is not None
    live = live_writers(conn, tier, cutoff_ms)
    marks = ", ".join(str(w) for w in sorted(live)) or "-1"  # no writer is -1
    ids = [
        int(r[0])
        for r in conn.execute(
            "SELECT c.id FROM chunk c WHERE c.tier = ? AND c.last_at < ? AND ("
            f"c.writer NOT IN ({marks}) OR EXISTS (SELECT 1 FROM chunk d WHERE d.tier = c.tier "
            "AND d.config = c.config AND d.writer = c.writer AND d.first_at > c.first_at "
            "AND d.first_at <= ?)) LIMIT ?",
            (tier, cutoff_ms, cutoff_ms, batch + 1),
        )
    ]
    more = more or len(ids) > batch
    ids = ids[:batch]
    if ids:
        n += conn.execute(
            f"DELETE FROM chunk WHERE id IN ({', '.join('?' * len(ids))})", ids
        ).rowcount
    for table in _pending_tables(conn):
        n += conn.execute(
            f"DELETE FROM {table} WHERE tier = ? AND at < ? AND writer NOT IN ({marks})",
            (tier, cutoff_ms),
        ).rowcount
    return n, more, live


# ---------------------------------------------------------------------------- migration


def migrate_rows(conn: sqlite3.Connection) -> None:
    """Move the row-per-sample table of schema 2 (``sample``) into polls and chunks,
    keeping every sample, then drop it (inside the caller's transaction)."""
    for statement in (*SCHEMA, LOG_SCHEMA):
        conn.execute(statement)
    exists = conn.execute(
        "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'sample'"
    ).fetchone()[0]
    if not exists:
        return
    cols = ", ".join(COUNTERS)
    for tier in TIERS:
        # The polls: every distinct time of the tier, with the configurations it has.
        polls: list[tuple[int, int, int, bytes]] = []
        at_now: int | None = None
        ids: list[int] = []
        for at, cid in conn.execute(
            "SELECT at, config FROM sample WHERE tier = ? ORDER BY at, config", (tier,)
        ):
            if at != at_now:
                if ids and at_now is not None:
                    polls.append((tier, at_now, MIGRATED, encode_present(ids)))
                at_now, ids = int(at), []
            if not ids or ids[-1] != cid:
                ids.append(int(cid))
            if len(polls) >= 5000:
                conn.executemany("INSERT OR REPLACE INTO poll VALUES (?, ?, ?, ?)", polls)
                polls = []
        if ids and at_now is not None:
            polls.append((tier, at_now, MIGRATED, encode_present(ids)))
        conn.executemany("INSERT OR REPLACE INTO poll VALUES (?, ?, ?, ?)", polls)
        # The changed samples of each configuration, as chunks.
        cid_now: int | None = None
        times: list[int] = []
        rows: list[Values] = []
        last: Values | None = None
        cur = conn.execute(
            f"SELECT config, at, {cols} FROM sample WHERE tier = ? ORDER BY config, at",
            (tier,),
        )
        for row in _rows(cur):
            cid, at = int(row[0]), int(row[1])  # type: ignore[call-overload]
            values = tuple(
                int(v) if isinstance(v, str) else v if isinstance(v, int) else None for v in row[2:]
            )
            if cid != cid_now:
                if cid_now is not None and times:
                    insert_chunks(conn, tier, cid_now, MIGRATED, times, rows)
                cid_now, times, rows, last = cid, [], [], None
            if values != last:
                times.append(at)
                rows.append(values)
                last = values
        if cid_now is not None and times:
            insert_chunks(conn, tier, cid_now, MIGRATED, times, rows)
    conn.execute("DROP TABLE sample")


def _rows(cur: sqlite3.Cursor) -> Iterable[Sequence[object]]:
    while True:
        batch = cur.fetchmany(10_000)
        if not batch:
            return
        yield from batch


def present_total(blobs: Iterable[bytes]) -> int:
    from tui.chunks import present_count

    total = 0
    for blob in blobs:
        with contextlib.suppress(ChunkError):
            total += present_count(blob)
    return total
