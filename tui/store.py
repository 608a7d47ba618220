"""The history database: every poll kept in SQLite, downsampled like a round-robin database.

One file per profile at the platform data dir (``history-<profile>.sqlite3``), in WAL
mode with a busy timeout, so that two flashtop processes on the same profile take
turns instead of corrupting it, and a process killed mid-write loses at most the poll
whose transaction had not committed.

Tiers. Every poll is written in one transaction to the *raw* tier, and the first
sample of each minute and of each hour also to the *minute* and the *hour* tier.
Counters are running totals, so any real sample represents its bucket exactly (rates
still divide by the measured time between samples). Retention is per tier
(:class:`Retention`: raw for 6 hours, minute samples for 7 days, hour samples for
400 days by default); :meth:`HistoryStore.downsample_and_prune` deletes what is
older in small batches, each its own short transaction, so no writer holds the lock
for long. Past the profile's ``history_max_mb`` (:attr:`HistoryStore.max_bytes`) the
oldest data of the finest tier goes first, never the newest hour
(:meth:`HistoryStore.enforce_cap`).

Compact samples (schema version 3, :mod:`tui.tiers`): a poll is one row per tier
holding which configurations it saw; a configuration's sample is stored only when a
counter changed, in chunks of up to 128 delta-encoded, zlib-compressed samples
(:mod:`tui.chunks`). An unchanged sample costs a fraction of a byte, a changed one
a few bytes. A file of version 1 or 2 (a row per sample) is converted in place, once,
when opened for writing, keeping every sample; opened read-only, it is converted in
memory and left as it is. A damaged chunk is skipped when read (its configuration
has no samples for that stretch) and counted in :attr:`HistoryStore.damage`, which
the status bar and ``flashtop export`` mention.

Exact integers. Counters may have 40 digits: a chunk column whose values fit in 64
bits is stored as integers, any other (an unknown value, a larger number) as decimal
text. Nothing is ever a float.

Faults. :func:`start_history` opens the store for a profile, loads recent history and
starts a :class:`StoreWriter` thread. A damaged file is moved aside (never deleted) and
a fresh one started; a read-only file still gives its history but takes nothing new; a
locked or full database skips samples until it can write again. Each of these becomes
one short :attr:`StoreWriter.problem` for the status bar, and monitoring carries on in
memory.

Alert log. The events of the alert rules (:class:`~tui.rules.Event`: fired,
resolved, repeat) are kept in the ``alert_event`` table (schema version 2), written
by the :class:`StoreWriter` thread (:meth:`StoreWriter.submit_events`) and pruned with
the *minute* tier's retention (7 days by default), so ``flashtop alerts --since 7d``
has something to show. Notification URLs (secrets) are never stored: an event row
holds its time, rule, entity id and name, state, metric, value and threshold. A file
of version 1 opened read-only (``flashtop export``/``alerts`` before a newer monitor
ran) has no alerts.

No Textual here: ``flashtop export`` reads the same store without a terminal.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import math
import os
import re
import secrets
import sqlite3
import threading
import time
from collections import deque
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

from tui import tiers
from tui.errors import FlashtopError
from tui.history import History, Sample
from tui.models import COUNTERS, LlmStats
from tui.rules import Event
from tui.settings import Settings, data_dir
from tui.tiers import BUCKET_MS, TIER_HOUR, TIER_MINUTE, TIER_RAW, TIERS

__all__ = ["BUCKET_MS", "TIER_HOUR", "TIER_MINUTE", "TIER_RAW"]

#: ``PRAGMA application_id`` of a flashtop history file ("fltp").
APPLICATION_ID = 0x666C7470
#: Rows deleted per statement when pruning.
PRUNE_BATCH = 5000
DEFAULT_BUSY_TIMEOUT = 5.0
_COLS = ", ".join(COUNTERS)

#: Schema migrations: MIGRATIONS[v] takes a file from version v to v + 1 (SQL
#: statements, or a function that rewrites data inside the migration's transaction).
MIGRATIONS: tuple[tuple[str | Callable[[sqlite3.Connection], None], ...], ...] = (
    (
        # big = 1 once any of its counters did not fit in INTEGER (read back as TEXT).
        """CREATE TABLE config (
            id INTEGER PRIMARY KEY,
            ai_llm_id TEXT NOT NULL UNIQUE,
            big INTEGER NOT NULL DEFAULT 0
        )""",
        # tier 0 raw (bucket = at), 1 minute (bucket = at // 60000), 2 hour
        # (bucket = at // 3600000); at = epoch milliseconds of the sample. Counter
        # columns are untyped on purpose: INTEGER when it fits, TEXT digits otherwise.
        f"""CREATE TABLE sample (
            tier INTEGER NOT NULL,
            bucket INTEGER NOT NULL,
            config INTEGER NOT NULL,
            at INTEGER NOT NULL,
            {_COLS},
            PRIMARY KEY (tier, bucket, config)
        ) WITHOUT ROWID""",
    ),
    (
        # The alert log: one row per rule event (at = epoch milliseconds). No notify
        # column: notification URLs are secrets and never leave the config file.
        """CREATE TABLE alert_event (
            id INTEGER PRIMARY KEY,
            at INTEGER NOT NULL,
            rule TEXT NOT NULL,
            entity TEXT NOT NULL,
            entity_name TEXT NOT NULL,
            state TEXT NOT NULL,
            metric TEXT NOT NULL,
            value REAL,
            threshold REAL,
            muted INTEGER NOT NULL DEFAULT 0
        )""",
        "CREATE INDEX alert_event_at ON alert_event (at)",
    ),
    # Compact samples: polls as runs, changed samples in chunks (tui.tiers); every
    # row of the ``sample`` table is moved over, then the table is dropped.
    (tiers.migrate_rows,),
)
SCHEMA_VERSION = len(MIGRATIONS)
#: The first schema version with the alert log.
ALERTS_VERSION = 2
#: The first schema version with compact samples (tables poll, chunk, pending).
COMPACT_VERSION = 3


@dataclass(frozen=True, slots=True)
class Retention:
    """How long each tier is kept, in seconds."""

    raw: float = 6 * 3600.0
    minute: float = 7 * 86400.0
    hour: float = 400 * 86400.0

    def of(self, tier: int) -> float:
        return (self.raw, self.minute, self.hour)[tier]


class StoredSample(NamedTuple):
    """One configuration's counters at one moment, as read back from the store."""

    ai_llm_id: str
    at: float
    values: tuple[int | None, ...]


class PeriodEdge(NamedTuple):
    """The samples either side of a period's start (see :meth:`HistoryStore.period_baselines`)."""

    #: The latest sample at or before the start (within the lookback), else None.
    before: Sample | None
    #: The earliest sample after the start, else None.
    after: Sample | None


class Baseline(NamedTuple):
    """What the store knows of one configuration around some period starts."""

    #: Its newest stored sample.
    newest: Sample
    #: Period start (as asked) -> the samples either side of it.
    edges: Mapping[float, PeriodEdge]


#: How far around a moment the raw and minute tiers are searched (seconds); beyond
#: that the next coarser tier answers (its sample may be up to a bucket farther).
_NEAR = ((0, 120.0), (1, 3600.0))


class StoreError(FlashtopError):
    """The history file cannot be used; ``kind`` says why (see :func:`fault_kind`)."""

    def __init__(self, message: str, kind: str = "error") -> None:
        super().__init__(message)
        self.kind = kind


# ---------------------------------------------------------------------------- faults

_SQLITE_KINDS = {
    5: "locked",  # SQLITE_BUSY
    6: "locked",  # SQLITE_LOCKED
    8: "read-only",  # SQLITE_READONLY
    10: "io",  # SQLITE_IOERR
    11: "corrupt",  # SQLITE_CORRUPT
    13: "full",  # SQLITE_FULL
    14: "cannot open",  # SQLITE_CANTOPEN
    23: "read-only",  # SQLITE_AUTH
    26: "corrupt",  # SQLITE_NOTADB
}
_OS_KINDS = {
    errno.ENOSPC: "full",
    errno.EDQUOT: "full",
    errno.EACCES: "read-only",
    errno.EPERM: "read-only",
    errno.EROFS: "read-only",
}
#: Status-bar notes (short: the bar shows about 60 characters of each).
NOTES = {
    "locked": "history not saved: database locked",
    "full": "history not saved: disk full",
    "read-only": "history read-only: new samples not saved",
    "corrupt": "history file damaged: moved aside",
    "io": "history not saved: I/O error",
    "cannot open": "history in memory only: cannot open file",
    "newer": "history file is from a newer flashtop: not used",
    "foreign": "history file is not flashtop's: not used",
    "error": "history in memory only",
}


def fault_kind(exc: BaseException) -> str:
    """Classify a failure of the store: locked, full, read-only, corrupt, io, ..."""
    if isinstance(exc, StoreError):
        return exc.kind
    if isinstance(exc, sqlite3.Error):
        code = getattr(exc, "sqlite_errorcode", None)
        if isinstance(code, int) and (code & 0xFF) in _SQLITE_KINDS:
            return _SQLITE_KINDS[code & 0xFF]
        text = str(exc).lower()
        for needle, kind in (
            ("locked", "locked"),
            ("busy", "locked"),
            ("readonly", "read-only"),
            ("read-only", "read-only"),
            ("full", "full"),
            ("malformed", "corrupt"),
            ("not a database", "corrupt"),
        ):
            if needle in text:
                return kind
        return "error"
    if isinstance(exc, OSError) and exc.errno in _OS_KINDS:
        return _OS_KINDS[exc.errno]
    return "error"


# ---------------------------------------------------------------------------- paths


def store_path(profile: str) -> Path:
    """``history-<profile>.sqlite3`` in the data dir; odd profile names get a hash suffix."""
    safe = re.sub(r"[^A-Za-z0-9_-]", "_", profile)[:64] or "default"
    if safe != profile:
        safe += "-" + hashlib.sha256(profile.encode()).hexdigest()[:8]
    return data_dir() / f"history-{safe}.sqlite3"


def move_aside(path: Path, now: float | None = None) -> Path:
    """Rename a damaged file (and its -wal/-shm) to ``<name>.corrupt-<time>``; never delete."""
    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime(time.time() if now is None else now))
    target = path.with_name(f"{path.name}.corrupt-{stamp}")
    n = 1
    while target.exists():
        n += 1
        target = path.with_name(f"{path.name}.corrupt-{stamp}-{n}")
    os.replace(path, target)
    for suffix in ("-wal", "-shm"):
        side = path.with_name(path.name + suffix)
        with contextlib.suppress(FileNotFoundError):
            os.replace(side, target.with_name(target.name + suffix))
    return target


# ---------------------------------------------------------------------------- the store


def _real(value: object) -> float:
    """A REAL column as read back (NULL, which SQLite makes of NaN, as NaN again)."""
    return float(value) if isinstance(value, int | float) else math.nan


class HistoryStore:
    """A SQLite file of samples in three tiers; see the module docstring.

    One connection, guarded by a lock, so the thread that opened it may hand it to
    a writer thread. Open with :meth:`open`.
    """

    def __init__(
        self,
        conn: sqlite3.Connection,
        path: Path,
        retention: Retention,
        readonly: bool,
        version: int = SCHEMA_VERSION,
        max_bytes: int | None = None,
    ) -> None:
        self.conn = conn
        self.path = path
        self.retention = retention
        self.readonly = readonly
        #: The file's schema version (older than SCHEMA_VERSION only when read-only).
        self.version = version
        self._lock = threading.RLock()
        self._ids: dict[str, int] = {}
        #: This process's writing state, under a random writer id (never 0, the
        #: id of migrated samples).
        self._writer = tiers.TierWriter(secrets.randbelow((1 << 31) - 1) + 1)
        #: Past this many bytes in use, the oldest samples go (None: no cap).
        self.max_bytes = max_bytes
        #: The cap has made room at least once.
        self.capped = False
        #: Damaged chunks met while reading (skipped).
        self.damage = tiers.Damage()

    @classmethod
    def open(
        cls,
        path: Path,
        *,
        retention: Retention | None = None,
        readonly: bool = False,
        busy_timeout: float = DEFAULT_BUSY_TIMEOUT,
        max_bytes: int | None = None,
    ) -> HistoryStore:
        """Open (creating it, 0600, when writable) and bring the schema up to date.

        A file of an older schema opened read-only is read as it is when only the
        alert log is missing (version 2 and later hold the same samples); one from
        before compact samples is copied into memory and migrated there (the file is
        left as it is).
        """
        path = Path(path)
        if readonly:
            conn = _connect_readonly(path, busy_timeout)
        else:
            if not path.exists():
                fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
                os.close(fd)
            conn = sqlite3.connect(
                str(path), timeout=busy_timeout, isolation_level=None, check_same_thread=False
            )
        try:
            if not readonly:
                _use_wal(conn, busy_timeout)
                # NORMAL in WAL mode: a crashed process loses nothing committed; a power
                # cut may lose the last polls but never corrupts the file.
                conn.execute("PRAGMA synchronous = NORMAL")
                conn.execute("PRAGMA journal_size_limit = 8388608")
            version = _migrate(conn, readonly)
            if not readonly:
                conn.execute(tiers.LOG_SCHEMA)  # files written before the log had none
            if readonly and version < COMPACT_VERSION:
                memory = sqlite3.connect(":memory:", isolation_level=None, check_same_thread=False)
                conn.backup(memory)
                conn.close()
                conn = memory
                _migrate(conn, False)
        except BaseException:
            conn.close()
            raise
        return cls(conn, path, retention or Retention(), readonly, version, max_bytes)

    def close(self) -> None:
        with self._lock:
            if not self.readonly:
                # The log's rows into ``pending``, where a flashtop from before the log
                # finds them too (best effort: the log is read as well).
                with contextlib.suppress(sqlite3.Error):
                    with self._transaction() as conn:
                        self._writer.move_log(conn)
                    self._writer.commit()
                self._writer.rollback()
            self.conn.close()

    def __enter__(self) -> HistoryStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ writing

    def write_poll(
        self, at: float, stats: Iterable[LlmStats | tuple[str, Sequence[int | None]]]
    ) -> int:
        """Write one poll (taken at ``at``) in one transaction; return the configurations in it.

        Only the samples that changed are stored (see :mod:`tui.tiers`); a poll not later
        than this process's previous one is ignored.
        """
        if self.readonly:
            raise StoreError("the history file is read-only", "read-only")
        at_ms = round(at * 1000)
        with self._lock:
            conn = self.conn
            conn.execute("BEGIN IMMEDIATE")
            try:
                new_ids: dict[str, int] = {}
                items: list[tuple[int, tuple[int | None, ...]]] = []
                for item in stats:
                    values: Sequence[int | None]
                    if isinstance(item, LlmStats):
                        ai_llm_id, values = item.ai_llm_id, item.values
                    else:
                        ai_llm_id, values = item
                    cid = self._ids.get(ai_llm_id)
                    if cid is None:
                        cid = new_ids.get(ai_llm_id)
                    if cid is None:
                        cid = new_ids[ai_llm_id] = self._config_id(ai_llm_id)
                    items.append((cid, tuple(values)))
                n = self._writer.write(conn, at_ms, items)
                conn.execute("COMMIT")
            except BaseException:
                self._writer.rollback()
                with contextlib.suppress(sqlite3.Error):
                    conn.execute("ROLLBACK")
                raise
            # Only committed ids and state are remembered: a rolled-back id may be
            # given to another configuration by another process.
            self._ids.update(new_ids)
            self._writer.commit()
        return n

    def _config_id(self, ai_llm_id: str) -> int:
        self.conn.execute("INSERT OR IGNORE INTO config (ai_llm_id) VALUES (?)", (ai_llm_id,))
        row = self.conn.execute("SELECT id FROM config WHERE ai_llm_id = ?", (ai_llm_id,))
        return int(row.fetchone()[0])

    def downsample_and_prune(
        self, now: float, *, batch: int = PRUNE_BATCH, max_batches: int | None = None
    ) -> int:
        """Delete what is older than each tier's retention, ``batch`` rows per transaction;
        then, past :attr:`max_bytes`, the oldest data of the finest tier first (never
        the newest hour: see :meth:`enforce_cap`).

        Downsampling itself happens as each poll is written (the first sample of every
        minute and hour is kept in its tier). Also closes this process's chunks that
        are old enough and turns what ended processes left pending into chunks.
        Returns the number of rows deleted; stops after ``max_batches`` statements.
        """
        if self.readonly:
            return 0
        now_ms = round(now * 1000)
        try:
            with self._transaction() as conn:
                self._writer.seal_old(conn, now_ms)
                tiers.compact_orphans(conn, self._writer.writer, now_ms)
        except BaseException:
            self._writer.rollback()
            raise
        self._writer.commit()
        deleted = statements = 0
        for tier in TIERS:
            cutoff = now_ms - round(self.retention.of(tier) * 1000)
            while max_batches is None or statements < max_batches:
                statements += 1
                n, more = self._prune_batch(tier, cutoff, batch)
                deleted += n
                if not more:
                    break
        # The alert log goes with the minute tier (7 days by default).
        cutoff_ms = now_ms - round(self.retention.minute * 1000)
        while max_batches is None or statements < max_batches:
            statements += 1
            n, more = self._prune_events(cutoff_ms, batch)
            deleted += n
            if not more:
                break
        if self.max_bytes is not None:
            deleted += self.enforce_cap(batch=batch)
        return deleted

    def used_bytes(self) -> int:
        """Bytes of the file in use (its pages less the free ones, which new data reuses)."""
        with self._lock:
            conn = self.conn
            size = int(conn.execute("PRAGMA page_size").fetchone()[0])
            pages = int(conn.execute("PRAGMA page_count").fetchone()[0])
            free = int(conn.execute("PRAGMA freelist_count").fetchone()[0])
        return (pages - free) * size

    def enforce_cap(self, *, batch: int = PRUNE_BATCH, keep: float = 3600.0) -> int:
        """While the file uses more than :attr:`max_bytes`, delete the oldest data, the
        finest tier first, a tenth of what the tier spans at a time, but never the
        last ``keep`` seconds before the newest poll. Sets :attr:`capped` once the
        file is over the cap (even when nothing could go); returns the rows deleted."""
        limit = self.max_bytes
        if self.readonly or limit is None or self.used_bytes() <= limit:
            return 0
        # First, what costs nothing: this process's open chunks, compressed.
        try:
            with self._transaction() as conn:
                self._writer.seal_old(conn, None)
        except BaseException:
            self._writer.rollback()
            raise
        self._writer.commit()
        if self.used_bytes() <= limit:
            return 0
        self.capped = True
        with self._lock:
            newest = self.conn.execute("SELECT max(at) FROM poll").fetchone()[0]
        if newest is None:
            return 0
        floor = int(newest) - round(keep * 1000)
        deleted = 0
        for tier in TIERS:
            while self.used_bytes() > limit:
                with self._lock:
                    span = tiers.tier_range(self.conn, tier)
                if span is None or span[0] >= floor:
                    break
                step = max((span[1] - span[0]) // 10, 60_000)
                cutoff = min(span[0] + step, floor)
                while True:
                    n, more = self._prune_batch(tier, cutoff, batch)
                    deleted += n
                    if not more:
                        break
        return deleted

    def write_events(self, events: Iterable[Event]) -> int:
        """Append alert events to the log in one transaction; return how many.

        Only what :meth:`events` gives back is stored: never the rule's notify list."""
        if self.readonly:
            raise StoreError("the history file is read-only", "read-only")
        rows = [
            (
                round(e.at * 1000),
                e.rule,
                e.entity,
                e.entity_name,
                e.state,
                e.metric,
                e.value,
                e.threshold,
                int(e.muted),
            )
            for e in events
        ]
        if not rows:
            return 0
        with self._transaction() as conn:
            conn.executemany(
                "INSERT INTO alert_event (at, rule, entity, entity_name, state, metric, "
                "value, threshold, muted) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                rows,
            )
        return len(rows)

    def events(self, since: float | None = None, limit: int | None = None) -> list[Event]:
        """The alert log from ``since`` (epoch seconds; None: all kept), oldest first;
        with ``limit``, only the newest ``limit`` of them. Events read back have no
        ``notify`` (it is never stored). A file older than the log has none."""
        if self.version < ALERTS_VERSION:
            return []
        sql = (
            "SELECT at, rule, entity, entity_name, state, metric, value, threshold, muted "
            "FROM alert_event WHERE at >= ? ORDER BY at DESC, id DESC"
        )
        args: list[object] = [-(1 << 62) if since is None else round(since * 1000)]
        if limit is not None:
            sql += " LIMIT ?"
            args.append(max(0, limit))
        with self._lock:
            rows = self.conn.execute(sql, args).fetchall()
        rows.reverse()
        return [
            Event(
                rule=str(rule),
                entity=str(entity),
                entity_name=str(name),
                state=str(state),
                value=_real(value),
                threshold=_real(threshold),
                metric=str(metric),
                at=at / 1000.0,
                notify=(),
                muted=bool(muted),
            )
            for at, rule, entity, name, state, metric, value, threshold, muted in rows
        ]

    def _prune_events(self, cutoff_ms: int, batch: int) -> tuple[int, bool]:
        """Delete up to ``batch`` of the oldest alert events before ``cutoff_ms``."""
        with self._transaction() as conn:
            n = conn.execute(
                "DELETE FROM alert_event WHERE id IN (SELECT id FROM alert_event "
                "WHERE at < ? ORDER BY at LIMIT ?)",
                (cutoff_ms, batch),
            ).rowcount
        return n, n >= batch

    def _prune_batch(self, tier: int, cutoff: int, batch: int) -> tuple[int, bool]:
        """Delete about ``batch`` of the oldest polls and chunks of ``tier`` below ``cutoff``."""
        with self._transaction() as conn:
            n, more, live = tiers.prune_tier(conn, tier, cutoff, batch)
        if self._writer.writer not in live:
            self._writer.reset(tier)
        return n, more

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """One short write transaction under the lock: committed, or rolled back when
        the block raises."""
        with self._lock:
            conn = self.conn
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
                conn.execute("COMMIT")
            except BaseException:
                with contextlib.suppress(sqlite3.Error):
                    conn.execute("ROLLBACK")
                raise

    # ------------------------------------------------------------------ reading

    def has_config(self, ai_llm_id: str) -> bool:
        """True when samples of ``ai_llm_id`` were ever recorded in this file."""
        row = self.conn.execute(
            "SELECT 1 FROM config WHERE ai_llm_id = ? LIMIT 1", (ai_llm_id,)
        ).fetchone()
        return row is not None

    def _configs(self) -> dict[int, str]:
        """Config id -> aiLlmId."""
        rows = self.conn.execute("SELECT id, ai_llm_id FROM config").fetchall()
        return {int(cid): str(name) for cid, name in rows}

    def _read(
        self,
        tier: int,
        lo_ms: int,
        hi_ms: int,
        cids: Collection[int] | None = None,
        keep: Callable[[int], bool] | None = None,
    ) -> dict[int, list[tuple[int, tuple[int | None, ...]]]]:
        """:func:`tui.tiers.read_tier`, counting damaged chunks in :attr:`damage`."""
        return tiers.read_tier(self.conn, tier, lo_ms, hi_ms, cids, self.damage, keep)

    @property
    def damage_note(self) -> str | None:
        """A status-bar note when damaged chunks were skipped while reading."""
        n = len(self.damage)
        if not n:
            return None
        return f"history: {n} damaged chunk{'s' if n != 1 else ''} skipped"

    def load_recent(
        self,
        since: float,
        *,
        raw_window: float = 120.0,
        minute_window: float = 900.0,
        coarse_minutes: int = 5,
    ) -> dict[str, list[Sample]]:
        """Recent samples per id, oldest first, for seeding the in-memory series.

        Counting back from the newest stored sample: every raw sample of the last
        ``raw_window`` seconds (what the sparklines and the 1-minute rate need), one
        per minute for the ``minute_window`` before that, and one per
        ``coarse_minutes`` minutes back to ``since`` (enough for the 15-minute and
        1-hour rates and charts, which divide by measured time).
        """
        with self._lock:
            span = tiers.tier_range(self.conn, TIER_RAW)
            if span is None:
                return {}
            end = span[1]
            since_ms = round(since * 1000)
            raw_start = max(since_ms, end - round(raw_window * 1000))
            fine_start = raw_start - round(minute_window * 1000)
            every = max(1, coarse_minutes)
            width = BUCKET_MS[TIER_MINUTE]

            def keep(at: int) -> bool:
                return at >= fine_start or (at // width) % every == 0

            older = self._read(TIER_MINUTE, since_ms, raw_start - 1, keep=keep)
            recent = self._read(TIER_RAW, raw_start, end)
            names = self._configs()
        out: dict[str, list[Sample]] = {}
        for part in (older, recent):
            for cid, got in part.items():
                name = names.get(cid)
                if name is None:
                    continue
                lst = out.setdefault(name, [])
                lst.extend(Sample(at / 1000.0, values) for at, values in got)
        return out

    def period_baselines(
        self, starts: Sequence[float], lookback: float = 3 * 86400.0
    ) -> dict[str, Baseline]:
        """Per aiLlmId: its newest sample and, for each of ``starts`` (epoch seconds),
        the latest sample at or before it (looking back at most ``lookback`` seconds)
        and the earliest after it; for seeding :class:`tui.ledger.Ledger` at start-up.

        Each tier is read over a short range near each moment: the raw tier within 2
        minutes of it, the minute tier within an hour, the hour tier within
        ``lookback``. So a sample found only in the hour tier is the first of its
        hour, up to an hour farther from the moment than the true one.
        Configurations first seen more than ``lookback`` after a start cost one more
        read of the hour tier. Configurations with no sample in the last
        ``lookback`` before the store's newest are left out.
        """
        with self._lock:
            names = self._configs()
            ends: dict[int, int] = {}
            for tier in TIERS:
                span = tiers.tier_range(self.conn, tier)
                if span is not None:
                    ends[tier] = span[1]
            if not ends:
                return {}
            look_ms = round(lookback * 1000)

            def spans(lo: int, hi: int, newest_first: bool) -> list[tuple[int, int, int]]:
                """(tier, from ms, to ms): each tier near the moment at the far end."""
                out = [(TIER_HOUR, lo, hi)]
                for tier, near in _NEAR:
                    near_ms = round(near * 1000)
                    if newest_first:
                        out.append((tier, max(lo, hi - near_ms), hi))
                    else:
                        out.append((tier, lo, min(hi, lo + near_ms)))
                return out

            def pick(later: bool, parts: list[tuple[int, int, int]]) -> dict[int, Sample]:
                best: dict[int, Sample] = {}
                for tier, lo, hi in parts:
                    if lo > hi:
                        continue
                    for cid, got in self._read(tier, lo, hi).items():
                        at, values = got[-1] if later else got[0]
                        held = best.get(cid)
                        if held is None or (
                            at / 1000.0 > held.at if later else at / 1000.0 < held.at
                        ):
                            best[cid] = Sample(at / 1000.0, values)
                return best

            last = max(ends.values())
            newest = pick(
                True,
                [
                    (TIER_HOUR, last - look_ms, last),
                    *(
                        (tier, max(last - look_ms, ends[tier] - round(near * 1000)), last)
                        for tier, near in _NEAR
                        if tier in ends
                    ),
                ],
            )
            edges: dict[int, dict[float, PeriodEdge]] = {cid: {} for cid in newest}
            for start in dict.fromkeys(starts):
                start_ms = round(start * 1000)
                # at <= start_ms: a sample at the very start belongs before it.
                before = pick(True, spans(start_ms - look_ms, start_ms, True))
                after = pick(False, spans(start_ms + 1, start_ms + look_ms, False))
                late = [
                    cid for cid, s in newest.items() if cid not in after and s.at * 1000 > start_ms
                ]
                if late:
                    more = pick(False, [(TIER_HOUR, start_ms + look_ms + 1, last)])
                    after.update((cid, more[cid]) for cid in late if cid in more)
                for cid, per in edges.items():
                    per[start] = PeriodEdge(before.get(cid), after.get(cid))
        return {
            names[cid]: Baseline(sample, edges[cid])
            for cid, sample in newest.items()
            if cid in names
        }

    def samples(
        self, ai_llm_id: str | None = None, since: float | None = None
    ) -> Iterator[StoredSample]:
        """Every stored sample (each moment once, from the finest tier that has it), by time.

        Hour samples older than the oldest minute sample, minute samples older than the
        oldest raw one, then raw samples; read a window at a time (an hour of the raw
        tier, a day of the minute tier, 30 days of the hour tier). For use from one
        thread (``flashtop export``).
        """
        conn = self.conn
        names = self._configs()
        cids: list[int] | None = None
        if ai_llm_id is not None:
            cids = [cid for cid, name in names.items() if name == ai_llm_id][:1]
            if not cids:
                return
        since_ms = None if since is None else round(since * 1000)
        upper: int | None = None  # samples of a coarser tier must be older than this
        parts: list[tuple[int, int | None]] = []
        for tier in TIERS:
            parts.append((tier, upper))
            span = tiers.tier_range(conn, tier)
            if span is not None:
                start = span[0] // BUCKET_MS[tier] * BUCKET_MS[tier]
                upper = start if upper is None else min(upper, start)
        for tier, below in reversed(parts):
            span = tiers.tier_range(conn, tier)
            if span is None:
                continue
            lo, hi = span
            if since_ms is not None:
                lo = max(lo, since_ms)
            if below is not None:
                hi = min(hi, below - 1)
            for w_lo, w_hi in tiers.windows(lo, hi, tiers.CHUNK_SPAN_MS[tier]):
                got = self._read(tier, w_lo, w_hi, cids)
                rows = [(at, cid, values) for cid, lst in got.items() for at, values in lst]
                rows.sort(key=lambda r: (r[0], r[1]))
                for at, cid, values in rows:
                    name = names.get(cid)
                    if name is not None:
                        yield StoredSample(name, at / 1000.0, values)

    def tier_samples(self, tier: int) -> list[tuple[int, str, int, tuple[int | None, ...]]]:
        """(bucket, aiLlmId, at ms, values) of every sample of one tier, in bucket and
        id order (for tests and benchmarks)."""
        with self._lock:
            span = tiers.tier_range(self.conn, tier)
            if span is None:
                return []
            names = self._configs()
            got = self._read(tier, span[0], span[1])
        width = BUCKET_MS[tier]
        out = [
            (at // width, names[cid], at, values)
            for cid, lst in got.items()
            if cid in names
            for at, values in lst
        ]
        out.sort(key=lambda r: (r[0], r[1], r[2]))
        return out

    def counts(self) -> dict[int, int]:
        """Samples per tier, changed or not (for tests and benchmarks)."""
        out: dict[int, int] = {}
        with self._lock:
            for tier in TIERS:
                blobs = [
                    r[0]
                    for r in self.conn.execute("SELECT present FROM poll WHERE tier = ?", (tier,))
                ]
                n = tiers.present_total(blobs)
                if n:
                    out[tier] = n
        return out

    def stored_counts(self) -> dict[str, int]:
        """Rows of each sample table: polls, chunks, pending samples (for benchmarks)."""
        with self._lock:
            out = {
                table: int(self.conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])
                for table in ("poll", "chunk", "pending")
            }
            if tiers.has_log(self.conn):
                out["pending"] += tiers.live_log_rows(self.conn)
            return out

    def integrity_ok(self) -> bool:
        with self._lock:
            rows = self.conn.execute("PRAGMA integrity_check").fetchall()
        return rows == [("ok",)]


def _connect_readonly(path: Path, busy_timeout: float) -> sqlite3.Connection:
    if not path.exists():
        raise StoreError(f"no history file at {path}", "cannot open")
    uri = path.resolve().as_uri()
    try:
        conn = sqlite3.connect(
            f"{uri}?mode=ro", uri=True, timeout=busy_timeout, check_same_thread=False
        )
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
    except sqlite3.OperationalError:
        # A WAL file in a directory we cannot write: without its -shm, only an
        # "immutable" open can read it (fine when nobody is writing).
        conn = sqlite3.connect(
            f"{uri}?immutable=1", uri=True, timeout=busy_timeout, check_same_thread=False
        )
    conn.isolation_level = None
    return conn


def _use_wal(conn: sqlite3.Connection, busy_timeout: float) -> None:
    """Switch to WAL mode (persistent in the file), retrying while another process opens it.

    Changing the journal mode needs an exclusive lock and SQLite does not wait for it
    with the busy handler, so two processes creating the same file must take turns.
    """
    if str(conn.execute("PRAGMA journal_mode").fetchone()[0]).lower() == "wal":
        return
    deadline = time.monotonic() + busy_timeout
    while True:
        try:
            conn.execute("PRAGMA journal_mode = WAL").fetchone()
            return
        except sqlite3.OperationalError as exc:
            if fault_kind(exc) != "locked" or time.monotonic() >= deadline:
                raise
            time.sleep(0.01)


def _migrate(conn: sqlite3.Connection, readonly: bool) -> int:
    """Check the file is ours and bring its schema to :data:`SCHEMA_VERSION`; return
    the version it has now (an older one only when read-only: it is read as it is)."""

    def state() -> tuple[int, int, int]:
        app_id = int(conn.execute("PRAGMA application_id").fetchone()[0])
        version = int(conn.execute("PRAGMA user_version").fetchone()[0])
        tables = int(conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0])
        return app_id, version, tables

    app_id, version, tables = state()
    if version == SCHEMA_VERSION and app_id == APPLICATION_ID:
        return version
    if app_id not in (0, APPLICATION_ID) or (app_id == 0 and tables):
        raise StoreError("the history file was not written by flashtop", "foreign")
    if version > SCHEMA_VERSION:
        raise StoreError("the history file was written by a newer flashtop", "newer")
    if readonly and version >= 1 and app_id == APPLICATION_ID:
        return version  # read as it is (see HistoryStore.open)
    if readonly:
        raise StoreError("the history file is read-only and needs an upgrade", "read-only")
    conn.execute("BEGIN IMMEDIATE")
    try:
        app_id, version, tables = state()  # another process may have migrated meanwhile
        for v in range(version, SCHEMA_VERSION):
            for statement in MIGRATIONS[v]:
                if isinstance(statement, str):
                    conn.execute(statement)
                else:
                    statement(conn)
        conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        conn.execute("COMMIT")
    except BaseException:
        with contextlib.suppress(sqlite3.Error):
            conn.execute("ROLLBACK")
        raise
    if tables and version < COMPACT_VERSION:
        # The row-per-sample table is gone: give its pages back to the file system
        # (a month of it was about a gigabyte; what is left, a few megabytes).
        with contextlib.suppress(sqlite3.Error):
            conn.execute("VACUUM")
    return SCHEMA_VERSION


# ---------------------------------------------------------------------------- for the app


def open_store_for(
    settings: Settings,
    *,
    retention: Retention | None = None,
    busy_timeout: float = DEFAULT_BUSY_TIMEOUT,
    path: Path | None = None,
) -> tuple[HistoryStore | None, str | None]:
    """Open the profile's store, handling every fault; return (store or None, note or None).

    Its cap is the profile's ``history_max_mb``."""
    path = store_path(settings.profile) if path is None else path
    cap = round(settings.history_max_mb * 1_000_000)
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    except OSError:
        return None, "history in memory only: no data directory"
    exists = path.exists()
    try:
        if exists:
            # Opening for writing is the only honest test (root may lack CAP_DAC_OVERRIDE).
            os.close(os.open(path, os.O_RDWR))
        return (
            HistoryStore.open(path, retention=retention, busy_timeout=busy_timeout, max_bytes=cap),
            None,
        )
    except (sqlite3.Error, OSError, StoreError) as exc:
        kind = fault_kind(exc)
    if kind == "cannot open" and exists:
        kind = "read-only"  # e.g. a directory where the -wal file cannot be created
    if kind == "corrupt" and exists:
        try:
            move_aside(path)
            store = HistoryStore.open(
                path, retention=retention, busy_timeout=busy_timeout, max_bytes=cap
            )
        except (sqlite3.Error, OSError, StoreError):
            return None, NOTES["corrupt"] + "; in memory only"
        return store, NOTES["corrupt"]
    if kind == "read-only" and exists:
        with contextlib.suppress(sqlite3.Error, OSError, StoreError):
            store = HistoryStore.open(
                path, retention=retention, readonly=True, busy_timeout=busy_timeout
            )
            return store, NOTES["read-only"]
        return None, "history read-only and unreadable: in memory only"
    return None, NOTES.get(kind, NOTES["error"])


class StoreWriter:
    """Writes polls to the store on one background thread, never blocking the caller.

    :meth:`submit` queues a poll (at most ``max_pending``; the oldest is dropped when
    the thread falls behind) and returns at once; :meth:`submit_events` queues alert
    events (written before the next poll, without the poll's delay; kept and tried
    again while the file is locked or full, up to :attr:`MAX_EVENTS`). Failures become
    :attr:`problem`, one short line for the status bar; monitoring is never stopped
    by the store.
    """

    #: Alert events held while they cannot be written (the oldest go first beyond).
    MAX_EVENTS = 10_000

    def __init__(
        self,
        store: HistoryStore | None,
        *,
        note: str | None = None,
        max_pending: int = 32,
        prune_every: float = 60.0,
        prune_batches: int = 100,
    ) -> None:
        self.store = store
        self.note = note
        self.error: str | None = None
        self.written = 0
        self.dropped = 0
        self.failed = 0
        self.prune_every = prune_every
        self.prune_batches = prune_batches
        self._pending: deque[tuple[float, list[tuple[str, tuple[int | None, ...]]]]] = deque()
        self._events: list[Event] = []
        self.events_written = 0
        self.events_dropped = 0
        self._max_pending = max_pending
        self._cond = threading.Condition()
        self._busy = False
        self._closed = False
        self._hurry = False
        #: Seconds to wait before writing a poll, so that the frame showing it (and a
        #: key pressed then) is not slowed by this thread holding the interpreter
        #: lock; closing or :meth:`flush` cut the wait short.
        self.write_delay = 0.0
        self._last_prune: float | None = None
        #: A one-time note (the cap reached), handed out once by :meth:`take_notice`.
        self._notice: str | None = None
        self._cap_told = False
        self._thread: threading.Thread | None = None
        if store is not None and not store.readonly:
            self._thread = threading.Thread(target=self._run, name="flashtop-history", daemon=True)
            self._thread.start()

    @property
    def problem(self) -> str | None:
        """What the status bar should say about the history, if anything."""
        return self.error or self.note

    def take_notice(self) -> str | None:
        """A note to show once (the history file reached its cap), then None."""
        notice, self._notice = self._notice, None
        return notice

    @property
    def active(self) -> bool:
        return self._thread is not None and self.store is not None

    def submit(self, at: float, stats: Iterable[LlmStats]) -> None:
        """Queue one poll for writing; never blocks."""
        if not self.active or self._closed:
            return
        items = [(s.ai_llm_id, s.values) for s in stats]
        with self._cond:
            if len(self._pending) >= self._max_pending:
                self._pending.popleft()
                self.dropped += 1
            self._pending.append((at, items))
            self._cond.notify_all()

    def submit_events(self, events: Iterable[Event]) -> None:
        """Queue alert events for the log; never blocks (nothing happens without a
        writable store: the log then lives only in memory)."""
        if not self.active or self._closed:
            return
        batch = list(events)
        if not batch:
            return
        with self._cond:
            self._events.extend(batch)
            self._trim_events()
            self._cond.notify_all()

    def _trim_events(self) -> None:
        over = len(self._events) - self.MAX_EVENTS
        if over > 0:
            del self._events[:over]
            self.events_dropped += over

    def load_events(self, since: float | None = None, limit: int | None = None) -> list[Event]:
        """The alert log kept in the file (see :meth:`HistoryStore.events`); empty
        without a store or when it cannot be read. Blocking: call it off the event loop."""
        store = self.store
        if store is None:
            return []
        try:
            return store.events(since, limit)
        except (sqlite3.Error, StoreError):
            return []

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until everything submitted so far is written (or failed)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            self._hurry = True
            self._cond.notify_all()
            try:
                while (self._pending or self._events or self._busy) and self._thread is not None:
                    left = deadline - time.monotonic()
                    if left <= 0 or not self._thread.is_alive():
                        return False
                    self._cond.wait(left)
            finally:
                self._hurry = False
        return True

    def close(self, timeout: float = 5.0) -> None:
        """Write what is queued (for up to ``timeout`` seconds), then close the store."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive():
                return  # stuck on a lock: the daemon thread dies with the process
        if self.store is not None:
            with contextlib.suppress(sqlite3.Error):
                self.store.close()
            self.store = None

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._pending and not self._events and not self._closed:
                    self._cond.wait()
                if not self._pending and not self._events:
                    return
                if self._events:
                    events, self._events = self._events, []
                    self._busy = True
                else:
                    events = []
            if events:
                try:
                    self._write_events(events)
                finally:
                    with self._cond:
                        self._busy = False
                        self._cond.notify_all()
                if self.store is None:
                    return
                continue
            with self._cond:
                if not self._pending:
                    continue
                if self.write_delay > 0:
                    self._cond.wait_for(lambda: self._closed or self._hurry, self.write_delay)
                if not self._pending:
                    return
                at, items = self._pending.popleft()
                self._busy = True
            try:
                self._write(at, items)
            finally:
                with self._cond:
                    self._busy = False
                    self._cond.notify_all()
            if self.store is None:
                return

    def _write_events(self, events: list[Event]) -> None:
        store = self.store
        if store is None:
            return
        try:
            self.events_written += store.write_events(events)
            self.error = None
        except Exception as exc:  # the store never stops monitoring
            self.failed += 1
            kind = fault_kind(exc)
            self.error = NOTES.get(kind, NOTES["error"])
            if kind in ("corrupt", "read-only"):
                self._give_up(store, kind)
                return
            # Locked or full: keep them for the next try (after the next poll, or a
            # second: not a busy loop while the file stays locked), unless closing.
            with self._cond:
                if self._closed:
                    self.events_dropped += len(events)
                    return
                self._events[:0] = events
                self._trim_events()
                self._cond.wait_for(lambda: self._closed or bool(self._pending), 1.0)

    def _write(self, at: float, items: list[tuple[str, tuple[int | None, ...]]]) -> None:
        store = self.store
        if store is None:
            return
        try:
            store.write_poll(at, items)
            self.written += 1
            self.error = None
            if self._last_prune is None or at - self._last_prune >= self.prune_every:
                self._last_prune = at
                store.downsample_and_prune(at, max_batches=self.prune_batches)
                if store.capped and not self._cap_told and store.max_bytes is not None:
                    self._cap_told = True
                    self._notice = (
                        f"history reached its cap ({store.max_bytes / 1e6:g} MB): "
                        "oldest samples pruned"
                    )
        except Exception as exc:  # the store never stops monitoring
            self.failed += 1
            kind = fault_kind(exc)
            self.error = NOTES.get(kind, NOTES["error"])
            if kind in ("corrupt", "read-only"):
                self._give_up(store, kind)

    def _give_up(self, store: HistoryStore, kind: str) -> None:
        """Stop writing for good; a damaged file is moved aside for the next start."""
        self.store = None
        with contextlib.suppress(sqlite3.Error):
            store.close()
        if kind == "corrupt":
            try:
                move_aside(store.path)
                self.error = NOTES["corrupt"] + "; in memory only"
            except OSError:
                self.error = "history file damaged: in memory only"
        with self._cond:
            self._pending.clear()
            self._events.clear()


def start_history(
    settings: Settings,
    history: History,
    now: float,
    *,
    window: float = 3600.0,
    raw_window: float = 120.0,
    retention: Retention | None = None,
    busy_timeout: float = DEFAULT_BUSY_TIMEOUT,
) -> StoreWriter:
    """Open the profile's store, load its last ``window`` seconds into ``history``, start writing.

    Blocking (file I/O): call it off the UI thread, before the first poll is recorded.
    """
    store, note = open_store_for(settings, retention=retention, busy_timeout=busy_timeout)
    if store is None:
        return StoreWriter(None, note=note)
    try:
        history.load(store.load_recent(now - window, raw_window=raw_window))
    except (sqlite3.Error, StoreError) as exc:
        kind = fault_kind(exc)
        path = store.path
        with contextlib.suppress(sqlite3.Error):
            store.close()
        if kind != "corrupt" or store.readonly:
            return StoreWriter(None, note=NOTES.get(kind, NOTES["error"]))
        try:
            move_aside(path)
            store = HistoryStore.open(
                path,
                retention=retention,
                busy_timeout=busy_timeout,
                max_bytes=round(settings.history_max_mb * 1_000_000),
            )
        except (sqlite3.Error, OSError, StoreError):
            return StoreWriter(None, note=NOTES["corrupt"] + "; in memory only")
        note = NOTES["corrupt"]
    if store.damage_note:
        note = store.damage_note if note is None else f"{note}; {store.damage_note}"
    return StoreWriter(store, note=note)
