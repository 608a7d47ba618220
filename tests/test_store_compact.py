"""The compact history file (schema 3): the chunk codec, round trips through the store
after restarts, migration from schema 2, damaged chunks and the size cap."""

from __future__ import annotations

import itertools
import random
import sqlite3
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from old_history import old_rows, write_old_file

from tui import tiers
from tui.chunks import (
    ChunkError,
    decode_chunk,
    decode_present,
    encode_chunk,
    encode_present,
    pack_values,
    present_count,
    unpack_values,
)
from tui.history import History
from tui.models import COUNTERS, LlmStats
from tui.settings import Settings
from tui.store import (
    SCHEMA_VERSION,
    TIER_HOUR,
    TIER_MINUTE,
    TIER_RAW,
    HistoryStore,
    Retention,
    StoreWriter,
    start_history,
)

T0 = 1_800_000_003.0
BIG = 1234567890123456789012345678901234567890  # 40 digits
N = len(COUNTERS)
Values = tuple[int | None, ...]
KEEP = Retention(1e9, 1e9, 1e9)

counter = st.one_of(
    st.integers(0, 2**63 - 1),
    st.integers(0, 10**40),
    st.just(BIG),
    st.none(),
)
row = st.tuples(*[counter] * N)


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "history.sqlite3"


# ---------------------------------------------------------------------------- codec


@given(
    st.lists(st.tuples(st.integers(0, 2**50), row), max_size=40),
)
def test_a_chunk_decodes_to_exactly_what_was_encoded(samples: list[tuple[int, Values]]) -> None:
    """Any counters (unknown, 40 digits, resets: any order) at any times in ms."""
    times = sorted({t for t, _ in samples})
    rows = [r for _, r in samples][: len(times)]
    times = times[: len(rows)]
    assert decode_chunk(encode_chunk(times, rows)) == (times, rows)


def test_times_beyond_64_bits_are_refused() -> None:
    with pytest.raises(ValueError):
        encode_chunk([0, 2**64], [(1,) * N, (2,) * N])


def test_a_steady_counter_costs_a_few_bytes_a_sample() -> None:
    times = [1_800_000_000_000 + 5000 * k for k in range(128)]
    rows = [tuple(10**9 + 1234 * k * (i + 1) for i in range(N)) for k in range(128)]
    blob = encode_chunk(times, rows)
    assert len(blob) / 128 < 2
    assert decode_chunk(blob) == (times, rows)


@given(st.sets(st.integers(0, 5000)))
def test_a_present_set_decodes_to_its_ids(ids: set[int]) -> None:
    blob = encode_present(sorted(ids))
    assert decode_present(blob) == sorted(ids)
    assert present_count(blob) == len(ids)


def test_a_thousand_consecutive_ids_take_a_few_bytes() -> None:
    assert len(encode_present(range(1, 1001))) <= 4


@given(st.binary(max_size=200))
def test_garbage_is_a_chunk_error_never_garbage_samples(blob: bytes) -> None:
    good = encode_chunk([1, 2, 3], [(1,) * N, (2,) * N, (3,) * N])
    for damaged in (blob, good[:-1], good[:12] + blob, good[: len(good) // 2]):
        try:
            got = decode_chunk(damaged)
        except ChunkError:
            continue
        assert damaged == good or got == ([1, 2, 3], [(1,) * N, (2,) * N, (3,) * N])


# ---------------------------------------------------------------------------- round trip

# A session: polls of up to 4 configurations; each poll (time step, who is present,
# how each changes). Changes: same, up, reset to a small value, unknown, 40 digits.
change = st.sampled_from(["same", "same", "same", "up", "reset", "unknown", "big"])
poll_st = st.tuples(
    st.sampled_from([5.0, 5.0, 5.0, 0.003, 0.0, -3.0, 61.0, 3700.0]),  # <= 0: out of order
    st.lists(st.booleans(), min_size=4, max_size=4),
    st.lists(change, min_size=4, max_size=4),
)
session_st = st.lists(
    st.tuples(st.lists(poll_st, min_size=1, max_size=25), st.booleans(), st.booleans()),
    min_size=1,
    max_size=4,
)


def _advance(old: Values, how: str, k: int) -> Values:
    if how == "same":
        return old
    if how == "unknown":
        return tuple(None if i == k % N else v for i, v in enumerate(old))
    if how == "big":
        return tuple(BIG + k if i % 2 else v for i, v in enumerate(old))
    if how == "reset":
        return tuple(k % 7 for _ in old)
    return tuple((0 if v is None else v) + (i + 1) * (k % 5 + 1) for i, v in enumerate(old))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(session_st)
def test_export_after_restarts_equals_what_was_recorded(
    sessions: list[tuple[list[tuple[float, list[bool], list[str]]], bool, bool]],
) -> None:
    """Any polls (gaps, resets, unknowns, 40-digit values, out-of-order and repeated
    times), written in several sessions with chunks of 3 samples folded every 1-3,
    the pending log moved every 4 polls, closed early or late, or killed (the log not
    moved), read back after a restart: each configuration's samples are exactly those
    the in-memory history accepted, in every tier."""
    names = [f"cfg-{i}" for i in range(4)]
    values: list[Values] = [tuple(range(i, i + N)) for i in range(4)]
    expected: dict[int, dict[str, list[tuple[int, Values]]]] = {
        t: {n: [] for n in names} for t in tiers.TIERS
    }
    marks: dict[str, tuple[int, int]] = {}
    at = T0
    k = 0
    old = tiers.CHUNK_SAMPLES, tiers.FOLD, tiers.FOLD_BUDGET, tiers.LOG_POLLS
    tiers.CHUNK_SAMPLES = 3
    tiers.FOLD = {TIER_RAW: 3, TIER_MINUTE: 2, TIER_HOUR: 1}
    tiers.FOLD_BUDGET = 1  # some folds wait for a later poll
    tiers.LOG_POLLS = 4  # moved within a session, stale rows left between
    try:
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "h.sqlite3"
            last_at = -1.0
            for polls, prune, killed in sessions:
                # A restart comes later than every poll before it (a new writer does
                # not know the old one's last time).
                at = start = max(at, last_at) + 1.0
                with HistoryStore.open(path, retention=KEEP) as store:
                    session_last = -1.0
                    for step, present, hows in polls:
                        at = max(at + step, start)
                        k += 1
                        items = []
                        for i, name in enumerate(names):
                            values[i] = _advance(values[i], hows[i], k)
                            if present[i]:
                                items.append((name, values[i]))
                        store.write_poll(at, items)
                        at_ms = round(at * 1000)
                        if round(session_last * 1000) >= at_ms:
                            continue  # ignored: not later than this writer's last poll
                        session_last = last_at = at
                        minute, hour = at_ms // 60_000, at_ms // 3_600_000
                        for name, v in items:
                            expected[TIER_RAW][name].append((at_ms, v))
                            m, h = marks.get(name, (-1, -1))
                            if minute != m:
                                expected[TIER_MINUTE][name].append((at_ms, v))
                            if hour != h:
                                expected[TIER_HOUR][name].append((at_ms, v))
                            marks[name] = (minute, hour)
                    if prune:
                        store.downsample_and_prune(at)  # closes old chunks; prunes nothing
                    if killed:
                        store.conn.close()  # as a killed process: the log stays as it is
                # A new process is a new writer: its minute/hour marks start afresh.
                marks.clear()
            with HistoryStore.open(path, readonly=True) as ro:
                for tier in tiers.TIERS:
                    got: dict[str, list[tuple[int, Values]]] = {n: [] for n in names}
                    for _, name, at_ms, v in ro.tier_samples(tier):
                        got[name].append((at_ms, v))
                    for lst in got.values():
                        lst.sort()
                    assert got == expected[tier], tier
                exported = [(s.ai_llm_id, round(s.at * 1000), s.values) for s in ro.samples()]
                assert sorted(exported) == sorted(
                    (n, a, v) for n, lst in expected[TIER_RAW].items() for a, v in lst
                )
                assert not ro.damage
    finally:
        tiers.CHUNK_SAMPLES, tiers.FOLD, tiers.FOLD_BUDGET, tiers.LOG_POLLS = old


def test_unchanged_polls_store_no_sample_but_count_as_samples(path: Path) -> None:
    with HistoryStore.open(path) as store:
        for step in range(100):
            # cfg-0 never changes; cfg-1 changes every poll; cfg-2 is gone after 50.
            items = [("cfg-0", (1,) * N), ("cfg-1", (step,) * N)]
            if step < 50:
                items.append(("cfg-2", (7,) * N))
            store.write_poll(T0 + 5 * step, items)
        assert store.counts()[TIER_RAW] == 250
        # cfg-0 and cfg-2: one sample each; cfg-1: one per poll.
        conn = store.conn
        pending = sum(
            conn.execute(f"SELECT count(*) FROM {table} WHERE tier = 0").fetchone()[0]
            for table in ("pending", "pending_log")
        )
        chunked = sum(
            len(decode_chunk(data)[0])
            for (data,) in conn.execute("SELECT data FROM chunk WHERE tier = 0")
        )
        assert pending + chunked == 1 + 100 + 1
        got = [s for s in store.tier_samples(TIER_RAW) if s[1] == "cfg-2"]
        assert [a for _, _, a, _ in got] == [round((T0 + 5 * s) * 1000) for s in range(50)]


# ---------------------------------------------------------------------------- migration


def _old_polls() -> Iterator[tuple[float, list[tuple[str, Values]]]]:
    """Two hours of polls of 6 configurations: idle ones, growing ones, a gap, an
    unknown value, a 40-digit counter, a reset."""
    for step in range(2 * 720):
        at = T0 + 5 * step
        items: list[tuple[str, Values]] = []
        for k in range(6):
            if k == 3 and 100 <= step < 200:
                continue  # a gap
            base = 10**6 * (k + 1) + (step if k % 2 else 0) * (k + 3)
            v: list[int | None] = [base + i for i in range(N)]
            if k == 4:
                v[1] = None if step % 97 == 0 else BIG + step // 10
            if k == 5 and step >= 700:
                v = [step - 700] * N  # reset
            items.append((f"cfg-{k}", tuple(v)))
        yield at, items


def test_a_schema_2_file_is_migrated_in_place_once_keeping_every_sample(path: Path) -> None:
    write_old_file(path, _old_polls())
    before = {tier: old_rows(path, tier) for tier in tiers.TIERS}
    assert len(before[TIER_RAW]) > 8000
    with HistoryStore.open(path, readonly=True) as ro:  # read in memory, file untouched
        assert ro.version == 2
        assert {t: ro.tier_samples(t) for t in tiers.TIERS} == before
    assert sqlite3.connect(path).execute("PRAGMA user_version").fetchone()[0] == 2
    size = path.stat().st_size
    with HistoryStore.open(path) as store:
        # The old table's pages went back to the file system (VACUUM).
        assert store.conn.execute("PRAGMA freelist_count").fetchone()[0] == 0
        assert store.used_bytes() < size / 5
        assert store.version == SCHEMA_VERSION == 3
        for tier in tiers.TIERS:
            assert store.tier_samples(tier) == before[tier]
        tables = {
            r[0] for r in store.conn.execute("SELECT name FROM sqlite_master WHERE type='table'")
        }
        assert "sample" not in tables
        # Far fewer rows than samples: changed samples only, in chunks.
        assert store.stored_counts()["chunk"] < len(before[TIER_RAW]) / 20
        store.write_poll(T0 + 5 * 2 * 720, [("cfg-0", (1,) * N)])
        stored = store.stored_counts()
    with HistoryStore.open(path) as again:  # once: nothing migrated a second time
        assert again.stored_counts()["chunk"] == stored["chunk"]
        assert again.tier_samples(TIER_HOUR)[:-1] == before[TIER_HOUR]


# ---------------------------------------------------------------------------- damage


def test_a_damaged_chunk_is_skipped_with_a_note_and_the_rest_reads(path: Path) -> None:
    with HistoryStore.open(path) as store:
        for step in range(400):
            store.write_poll(T0 + 5 * step, [(f"cfg-{k}", (step * (k + 1),) * N) for k in range(3)])
        store.downsample_and_prune(T0 + 5 * 400)
        full = store.tier_samples(TIER_RAW)
        cid, first, last, data = store.conn.execute(
            "SELECT config, first_at, last_at, data FROM chunk WHERE tier = 0 "
            "ORDER BY config, first_at DESC"
        ).fetchone()
        damaged = data[:-9] + bytes(9)  # a torn write: its end is zeros
        store.conn.execute(
            "UPDATE chunk SET data = ? WHERE tier = 0 AND config = ? AND first_at = ?",
            (damaged, cid, first),
        )
    with HistoryStore.open(path) as store:
        assert store.damage_note is None
        got = store.tier_samples(TIER_RAW)
        assert store.damage_note == "history: 1 damaged chunk skipped"
    name = f"cfg-{cid - 1}"
    lost = [r for r in full if r[1] == name and first <= r[2] <= last]
    assert lost and got == [r for r in full if r not in lost]
    # start_history says so in the status bar and monitoring goes on.
    settings = Settings(profile="damaged")
    history = History()
    writer = _start(settings, history, path)
    try:
        assert writer.problem == "history: 1 damaged chunk skipped"
        assert history.get("cfg-2") is not None
    finally:
        writer.close()


def _start(settings: Settings, history: History, path: Path) -> StoreWriter:
    import tui.store as store_module

    real = store_module.store_path
    store_module.store_path = lambda profile: path  # type: ignore[assignment]
    try:
        return start_history(settings, history, T0 + 5 * 400, window=7200.0)
    finally:
        store_module.store_path = real  # type: ignore[assignment]


# ---------------------------------------------------------------------------- the cap


def test_the_cap_prunes_the_oldest_finest_data_first_and_keeps_the_newest_hour(
    path: Path,
) -> None:
    ids = [f"cfg-{k:03d}" for k in range(60)]
    with HistoryStore.open(path, max_bytes=10_000_000) as store:
        step = 0
        for step in range(6 * 720):  # 6 hours at 5 s; every configuration changing
            at = T0 + 5 * step
            store.write_poll(at, [(n, (step * (k + 7) ** 3,) * N) for k, n in enumerate(ids)])
            if step % 120 == 0:
                store.downsample_and_prune(at)
        end = T0 + 5 * step
        assert not store.capped
        # Just over the cap: the open chunks are closed (compressed) first, then
        # the oldest raw samples go.
        store.max_bytes = store.used_bytes() - 1
        assert store.downsample_and_prune(end) == 0 and not store.capped
        store.max_bytes = store.used_bytes() * 2 // 3
        assert store.downsample_and_prune(end) > 0
        assert store.capped
        assert store.used_bytes() <= store.max_bytes
        raw = store.tier_samples(TIER_RAW)
        minute = store.tier_samples(TIER_MINUTE)
        hour = store.tier_samples(TIER_HOUR)
        # The oldest raw samples went first; the coarser tiers reach back to the start.
        assert min(r[2] for r in raw) > round(T0 * 1000) + 3_600_000
        assert min(r[2] for r in minute + hour) == round(T0 * 1000)
        # A cap nothing can meet: everything goes but the newest hour of every tier.
        store.max_bytes = 1
        store.downsample_and_prune(end)
        raw = store.tier_samples(TIER_RAW)
        minute = store.tier_samples(TIER_MINUTE)
    end_ms = round(end * 1000)
    assert [r for r in raw if r[2] >= end_ms - 3_600_000] == raw
    assert len(raw) == 60 * 721  # the newest hour, whole
    assert len(minute) == 60 * 60  # the newest hour of minutes


def test_two_writers_at_the_same_millisecond_give_one_sample(path: Path) -> None:
    with HistoryStore.open(path) as one, HistoryStore.open(path) as two:
        one.write_poll(T0, [("a", (1,) * N), ("b", (2,) * N)])
        two.write_poll(T0, [("a", (1,) * N)])
        two.write_poll(T0 + 5, [("a", (3,) * N)])
        got = [(name, at, v[0]) for _, name, at, v in one.tier_samples(TIER_RAW)]
    t = round(T0 * 1000)
    assert got == [("a", t, 1), ("b", t, 2), ("a", t + 5000, 3)]


def test_the_writer_tells_once_that_the_cap_was_reached(path: Path) -> None:
    store = HistoryStore.open(path, max_bytes=1)
    writer = StoreWriter(store, prune_every=0.0)
    try:
        for step in range(3):
            writer.submit(T0 + 5 * step, [LlmStats("a", (step,) * N)])
            assert writer.flush()
        assert store.capped
        assert writer.take_notice() == "history reached its cap (1e-06 MB): oldest samples pruned"
        writer.submit(T0 + 20, [LlmStats("a", (9,) * N)])
        assert writer.flush()
        assert writer.take_notice() is None
        assert writer.problem is None  # not a fault: monitoring and writing go on
        assert [s[3][0] for s in store.tier_samples(TIER_RAW)] == [0, 1, 2, 9]
    finally:
        writer.close()


def test_the_profiles_history_max_mb_is_the_stores_cap(path: Path) -> None:
    from tui.store import open_store_for

    store, note = open_store_for(Settings(profile="p", history_max_mb=2.5), path=path)
    assert store is not None and note is None
    try:
        assert store.max_bytes == 2_500_000
    finally:
        store.close()


@given(st.lists(row, min_size=1, max_size=6))
def test_a_pending_sample_packs_as_its_difference_from_the_one_before(rows: list[Values]) -> None:
    base: Values | None = None
    for values in rows:
        blob = pack_values(values, base)
        assert unpack_values(blob, base) == values
        base = values
    with pytest.raises(ChunkError):
        unpack_values(pack_values(rows[0], rows[0]), None)  # its base is missing


def test_a_small_difference_packs_fixed_width_and_the_older_varint_form_still_reads() -> None:
    base = (10, 2_000_000, None, 7) + (0,) * (N - 4)
    known = (10, 2_000_000, 3, 7) + (0,) * (N - 4)
    later = (12, 2_004_000, 3, 7) + (0,) * (N - 4)
    blob = pack_values(later, known)
    assert blob[:2] == bytes((2, 2)) and len(blob) == 2 + 2 * N  # two bytes a counter
    assert unpack_values(blob, known) == later
    assert pack_values(later, base)[0] == 1  # an unknown in the base: variable length
    # Samples written by the first schema-3 writer (variable-length integers, zigzag + 1).
    assert unpack_values(bytes((1, 3, 4)), (10, 20)) == (11, 18)
    assert unpack_values(bytes((0, 11, 0)), None) == (5, None)
    with pytest.raises(ChunkError):
        unpack_values(blob[:-1], known)  # torn


def test_a_damaged_pending_sample_is_folded_in_as_unknown_and_writing_goes_on(
    path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tiers, "CHUNK_SAMPLES", 40)  # raw chunks of 9..40 samples
    monkeypatch.setattr(tiers, "LOG_POLLS", 1)  # every poll's rows move on to ``pending``
    names = [f"cfg-{k}" for k in range(3)]

    def poll(step: int) -> list[tuple[str, Values]]:
        return [(n, (step * (k + 1),) * N) for k, n in enumerate(names)]

    with HistoryStore.open(path, retention=KEEP) as store:
        for step in range(6):
            store.write_poll(T0 + 5 * step, poll(step))
        # A pending sample in the middle of cfg-1's open chunk is torn on disk.
        cid = store.conn.execute("SELECT id FROM config WHERE ai_llm_id = 'cfg-1'").fetchone()[0]
        torn_at = round((T0 + 5 * 3) * 1000)
        store.conn.execute(
            "UPDATE pending SET vals = x'02' WHERE tier = 0 AND config = ? AND at = ?",
            (cid, torn_at),
        )
        for step in range(6, 100):  # its chunk closes (folds) and later ones follow
            store.write_poll(T0 + 5 * step, poll(step))
        assert not store.conn.execute(
            "SELECT count(*) FROM pending WHERE tier = 0 AND config = ? AND at <= ?",
            (cid, torn_at),
        ).fetchone()[0]
    with HistoryStore.open(path, readonly=True) as ro:
        got = {(r[1], r[2]): r[3] for r in ro.tier_samples(TIER_RAW)}
    unknown = (None,) * N
    for step in range(100):
        at = round((T0 + 5 * step) * 1000)
        assert got[("cfg-0", at)] == (step,) * N
        # From the torn sample to the end of its chain (the pending samples of that
        # chunk after it), unknown; whole again from the next chunk on.
        if step < 3:
            assert got[("cfg-1", at)] == (2 * step,) * N
        elif got[("cfg-1", at)] != unknown:
            assert got[("cfg-1", at)] == (2 * step,) * N and step > 6
    assert got[("cfg-1", torn_at)] == unknown
    assert got[("cfg-1", round((T0 + 5 * 99) * 1000))] == (2 * 99,) * N


@given(
    st.lists(st.integers(0, 10**6), min_size=1, max_size=60),
    st.integers(0, 3),
    st.booleans(),
)
def test_counters_that_move_together_decode_exactly(
    steps: list[int], noise: int, unknown: bool
) -> None:
    """Tokens in and LLM tokens in (the column two before) grow together: the second is
    stored as its difference from the first, and decodes to exactly its values."""
    tin = list(itertools.accumulate(steps, initial=10**9))[1:]
    rows: list[Values] = [
        (t // 500, t, 2 * t, t - t // 30 + (k * noise) % 4, 2 * t + noise, 0, 0, 0)
        for k, t in enumerate(tin)
    ]
    if unknown:
        rows[len(rows) // 2] = (None, *rows[len(rows) // 2][1:])
    times = [1_800_000_000_000 + 5000 * k for k in range(len(rows))]
    assert decode_chunk(encode_chunk(times, rows)) == (times, rows)


def test_a_column_that_follows_another_is_stored_as_the_difference() -> None:
    rng = random.Random(5)
    tin = list(itertools.accumulate(rng.randrange(10**4) for _ in range(128)))
    together = [(t, t * 97 // 100) for t in tin]
    apart = [(t, u * 97 // 100) for t, u in zip(tin, reversed(tin), strict=True)]
    times = list(range(128))
    assert len(encode_chunk(times, together)) < 0.85 * len(encode_chunk(times, apart))


# ---------------------------------------------------------------------------- the log


def _raw(path: Path) -> list[tuple[int, Values]]:
    with HistoryStore.open(path, readonly=True) as ro:
        got = [(at, v) for _, _, at, v in ro.tier_samples(TIER_RAW)]
        assert not ro.damage
    return sorted(got)


def test_a_poll_writes_to_the_log_and_the_log_moves_every_few_polls(
    path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tiers, "LOG_POLLS", 3)
    with HistoryStore.open(path, retention=KEEP) as store:
        conn = store.conn

        def rows(table: str) -> int:
            return int(conn.execute(f"SELECT count(*) FROM {table} WHERE tier = 0").fetchone()[0])

        store.write_poll(T0, [("a", (1,) * N), ("b", (2,) * N)])
        assert (rows("pending"), rows("pending_log")) == (0, 2)
        store.write_poll(T0 + 5, [("a", (3,) * N), ("b", (2,) * N)])
        assert (rows("pending"), rows("pending_log")) == (0, 3)
        store.write_poll(T0 + 10, [("a", (4,) * N), ("b", (5,) * N)])  # the third: moved
        assert (rows("pending"), rows("pending_log")) == (5, 0)
        store.write_poll(T0 + 15, [("a", (6,) * N), ("b", (5,) * N)])
        assert (rows("pending"), rows("pending_log")) == (5, 1)
    # Closing moves the log too (a flashtop from before the log reads ``pending`` only).
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT count(*) FROM pending_log").fetchone()[0] == 0
        assert conn.execute("SELECT count(*) FROM pending WHERE tier = 0").fetchone()[0] == 6


def test_folded_rows_left_in_the_log_are_skipped_and_a_killed_writer_loses_nothing(
    path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A chunk folded from rows in ``pending`` and in the log leaves the log's rows
    there (stale); the first of them differs from a row the fold deleted, so read as
    a pending row it would not decode. Readers skip it, orphan compaction too."""
    monkeypatch.setattr(tiers, "CHUNK_SAMPLES", 3)  # configuration 1: chunks of 2
    monkeypatch.setattr(tiers, "LOG_POLLS", 3)
    written = [(round((T0 + 5 * k) * 1000), tuple(range(k, k + N))) for k in range(5)]
    store = HistoryStore.open(path, retention=KEEP)
    for at_ms, v in written:
        store.write_poll(at_ms / 1000, [("a", v)])
    # Poll 2 folded t0-t1 and moved t2; poll 4 folded t2 (pending) and t3 (log).
    conn = store.conn
    assert [r[0] for r in conn.execute("SELECT at FROM pending_log WHERE tier = 0")] == [
        written[3][0],
        written[4][0],
    ]
    conn.close()  # killed: the log stays as it is
    assert _raw(path) == written
    # A later process: the dead writer's rows become chunks once old enough, the
    # stale one left out; nothing is lost or doubled.
    later = T0 + 2 * 3600 + 600
    with HistoryStore.open(path, retention=KEEP) as again:
        again.write_poll(later, [("a", (99,) * N)])
        again.downsample_and_prune(later)
        dead = again.conn.execute(
            "SELECT count(*) FROM pending_log WHERE writer != ?", (again._writer.writer,)
        ).fetchone()[0]
        assert dead == 0
    assert _raw(path) == [*written, (round(later * 1000), (99,) * N)]


def test_a_file_from_before_the_log_reads_as_it_is_and_gets_the_log_when_written(
    path: Path,
) -> None:
    with HistoryStore.open(path, retention=KEEP) as store:
        store.write_poll(T0, [("a", (1,) * N)])
        store.write_poll(T0 + 5, [("a", (2,) * N)])
    with sqlite3.connect(path) as conn:
        conn.execute("DROP TABLE pending_log")  # as the flashtop before it left the file
    assert _raw(path) == [(round(T0 * 1000), (1,) * N), (round((T0 + 5) * 1000), (2,) * N)]
    with HistoryStore.open(path, retention=KEEP) as store:
        store.write_poll(T0 + 10, [("a", (3,) * N)])
        assert tiers.has_log(store.conn)
    assert [v for _, v in _raw(path)] == [(1,) * N, (2,) * N, (3,) * N]
