"""The SQLite history: tiers and retention on a fake clock, exact values, restarts, export,
and every fault (corrupt, locked, read-only, full, two writers, kill -9 mid-write)."""

from __future__ import annotations

import collections
import itertools
import json
import os
import signal
import sqlite3
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tui.cli import main
from tui.counters import TOKENS_IN, TOKENS_OUT
from tui.errors import EXIT_NO_MATCH
from tui.history import History
from tui.models import COUNTERS, LlmStats
from tui.settings import Settings
from tui.store import (
    APPLICATION_ID,
    NOTES,
    SCHEMA_VERSION,
    TIER_HOUR,
    TIER_MINUTE,
    TIER_RAW,
    HistoryStore,
    Retention,
    StoreWriter,
    open_store_for,
    start_history,
    store_path,
)
from tui.view import trend_points

REPO = Path(__file__).resolve().parent.parent
T0 = 1_800_000_003.0  # not on a minute boundary, so buckets are really exercised
BIG = 1234567890123456789012345678901234567890  # 40 digits
Values = tuple[int | None, ...]


def values(step: int, k: int = 0) -> Values:
    """Counters that grow with ``step`` (different per configuration ``k``)."""
    return tuple(1_000_000 * (k + 1) + step * (i + 1) * 7 for i in range(len(COUNTERS)))


def poll(step: int, ids: list[str]) -> list[tuple[str, Values]]:
    return [(ai_llm_id, values(step, k)) for k, ai_llm_id in enumerate(ids)]


def ids(n: int) -> list[str]:
    return [f"cfg-{i:04d}" for i in range(n)]


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "history.sqlite3"


@pytest.fixture
def store(path: Path) -> Iterator[HistoryStore]:
    with HistoryStore.open(path) as s:
        yield s


def rows(store: HistoryStore, tier: int) -> list[tuple[int, str, int, Values]]:
    """(bucket, aiLlmId, at ms, values) of one tier, in key order."""
    return store.tier_samples(tier)


# ---------------------------------------------------------------------------- basics


def test_new_file_has_schema_version_wal_and_private_mode(store: HistoryStore, path: Path) -> None:
    conn = store.conn
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert conn.execute("PRAGMA application_id").fetchone()[0] == APPLICATION_ID
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA busy_timeout").fetchone()[0] == 5000
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_store_path_is_per_profile_in_the_data_dir(tmp_path: Path) -> None:
    data = Path(os.environ["XDG_DATA_HOME"]) / "flashtop"
    assert store_path("demo") == data / "history-demo.sqlite3"
    assert store_path("default") == data / "history-default.sqlite3"
    odd = store_path("../x y")
    assert odd.parent == data and "/" not in odd.name[:-8] and odd != store_path("___x_y")


def test_forty_digit_values_and_unknowns_are_stored_exactly(store: HistoryStore) -> None:
    exact: Values = (BIG, 0, None, 2**63 - 1, 2**63, 2**64, 10**63 + 1, 5)
    store.write_poll(T0, [LlmStats("a", exact)])
    [sample] = list(store.samples())
    assert sample.values == exact
    assert all(type(v) is int for v in sample.values if v is not None)
    loaded = store.load_recent(T0 - 60)
    assert loaded["a"][0].values == exact
    # Once its chunks are closed (the hour tier's after 30 days), read back from a
    # chunk (the hour tier's sample, the others pruned): the same.
    store.downsample_and_prune(T0 + 31 * 86400)
    assert store.stored_counts()["pending"] == 0
    [sample] = list(store.samples())
    assert sample.values == exact


def test_a_poll_is_one_transaction_with_rows_for_every_configuration(store: HistoryStore) -> None:
    assert store.write_poll(T0, poll(0, ids(50))) == 50
    assert store.counts() == {TIER_RAW: 50, TIER_MINUTE: 50, TIER_HOUR: 50}


def test_migration_from_an_empty_file_and_refusal_of_a_newer_one(path: Path) -> None:
    path.touch()
    with HistoryStore.open(path) as s:
        assert s.conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.close()
    store, note = open_store_for(Settings(), path=path)
    assert store is None and note == NOTES["newer"]
    assert path.exists()  # a newer file is left alone, not moved aside


def test_a_file_of_another_program_is_not_used_or_moved(path: Path) -> None:
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE notes (body TEXT)")
    conn.commit()
    conn.close()
    store, note = open_store_for(Settings(), path=path)
    assert store is None and note == NOTES["foreign"]
    assert list(path.parent.glob("*.corrupt-*")) == []


# ---------------------------------------------------------------------------- tiers


def test_minute_and_hour_tiers_keep_the_first_sample_of_each_bucket(store: HistoryStore) -> None:
    names = ids(3)
    steps = 2 * 720 + 7  # two hours and a bit at 5 s
    for step in range(steps):
        store.write_poll(T0 + 5 * step, poll(step, names))
    raw = rows(store, TIER_RAW)
    assert len(raw) == steps * 3
    first_of: dict[tuple[int, str], tuple[int, Values]] = {}
    first_of_hour: dict[tuple[int, str], tuple[int, Values]] = {}
    for _, name, at, vals in raw:
        first_of.setdefault((at // 60_000, name), (at, vals))
        first_of_hour.setdefault((at // 3_600_000, name), (at, vals))
    minute = {(b, name): (at, v) for b, name, at, v in rows(store, TIER_MINUTE)}
    hour = {(b, name): (at, v) for b, name, at, v in rows(store, TIER_HOUR)}
    assert minute == first_of
    assert hour == first_of_hour
    assert len(hour) == 3 * 3  # the run touches three clock hours


def test_retention_prunes_each_tier_on_a_fake_clock(path: Path) -> None:
    retention = Retention(raw=600.0, minute=3600.0, hour=4 * 3600.0)
    names = ids(2)
    with HistoryStore.open(path, retention=retention) as s:
        now = T0
        for step in range(6 * 720):  # six hours at 5 s, pruned each minute like the writer
            now = T0 + 5 * step
            s.write_poll(now, poll(step, names))
            if step % 12 == 0:
                s.downsample_and_prune(now)
        s.downsample_and_prune(now)
        now_ms = round(now * 1000)
        raw = rows(s, TIER_RAW)
        assert min(at for _, _, at, _ in raw) >= now_ms - 600_000
        assert len(raw) == 2 * (600 // 5 + 1)
        minute = rows(s, TIER_MINUTE)
        assert min(b for b, _, _, _ in minute) >= (now_ms - 3_600_000) // 60_000
        assert 2 * 60 <= len(minute) <= 2 * 61
        hour = rows(s, TIER_HOUR)
        assert min(b for b, _, _, _ in hour) >= (now_ms - 4 * 3_600_000) // 3_600_000
        assert len(hour) <= 2 * 5

        # The merged view has each moment once, coarse to fine, in time order.
        merged = list(s.samples(ai_llm_id=names[0]))
        times = [x.at for x in merged]
        assert times == sorted(times) and len(set(times)) == len(times)
        gaps = [b - a for a, b in itertools.pairwise(times)]
        assert gaps[-1] == 5.0 and max(gaps) >= 3000.0  # hour rows, minute rows, raw rows
        assert all(x.values == values(round((x.at - T0) / 5), 0) for x in merged)

        # Far in the future every tier empties.
        s.downsample_and_prune(now + 5 * 3600)
        assert s.counts() == {}


def test_default_retention_is_six_hours_seven_days_and_four_hundred_days(path: Path) -> None:
    assert Retention() == Retention(raw=6 * 3600.0, minute=7 * 86400.0, hour=400 * 86400.0)
    day = 86400.0
    with HistoryStore.open(path) as s:
        for step in range(int(9 * day / 300)):  # nine days, a poll every 5 minutes
            s.write_poll(T0 + 300 * step, [("a", values(step))])
        now = T0 + 9 * day
        s.downsample_and_prune(now)
        counts = s.counts()
        assert counts[TIER_RAW] == 6 * 12  # 6 h of 5-minute polls
        assert counts[TIER_MINUTE] in (7 * 288, 7 * 288 + 1)  # 7 days, a row per poll
        assert counts[TIER_HOUR] in (9 * 24, 9 * 24 + 1)  # all nine days
        s.downsample_and_prune(now + 392 * day)  # 400 days after the end of the first day
        assert s.counts() == {TIER_HOUR: 8 * 24}
        s.downsample_and_prune(now + 500 * day)
        assert s.counts() == {}


def test_pruning_deletes_in_small_batches_and_always_progresses(store: HistoryStore) -> None:
    names = ids(20)  # more rows per bucket than the batch size below
    for step in range(30):
        store.write_poll(T0 + 5 * step, poll(step, names))
    later = T0 + 400 * 86400 + 1e6
    deleted = store.downsample_and_prune(later, batch=7, max_batches=1)
    # One statement: 7 polls and at most 7 chunks and the pending samples, not everything.
    assert 0 < deleted <= 7 + 7 + 20
    assert store.counts()[TIER_RAW] == (30 - 7) * 20
    calls = 1
    while store.downsample_and_prune(later, batch=7, max_batches=3) > 0:
        calls += 1
    # 30 raw + 3 minute + 1 hour polls, and 20 chunks per tier, 7 a statement.
    assert calls >= 3
    assert store.counts() == {}
    assert store.stored_counts() == {"poll": 0, "chunk": 0, "pending": 0}


# ---------------------------------------------------------------------------- restart


def test_restart_keeps_series_rates_and_sparklines(path: Path) -> None:
    names = ids(5)
    live = History()
    with HistoryStore.open(path) as s:
        for step in range(240):  # 20 minutes at 5 s
            p = [LlmStats(i, v) for i, v in poll(step, names)]
            live.record(p, T0 + 5 * step)
            s.write_poll(T0 + 5 * step, p)
    now = T0 + 5 * 240
    restored = History()
    with HistoryStore.open(path) as s:
        restored.load(s.load_recent(now - 3600))
    for name in names:
        a, b = live.get(name), restored.get(name)
        assert a is not None and b is not None
        assert b.latest == a.latest
        assert b.interval_deltas((TOKENS_IN, TOKENS_OUT), 12) == a.interval_deltas(
            (TOKENS_IN, TOKENS_OUT), 12
        )
        for window in (60.0, 900.0):
            ra, rb = (
                a.rate_per_minute((TOKENS_IN,), window),
                b.rate_per_minute((TOKENS_IN,), window),
            )
            assert rb is not None and rb == pytest.approx(ra)
        # Compact: every raw sample of the last 2 minutes, coarser before that.
        assert len(b) < 60
        assert b.since(120.0) == a.since(120.0)


def test_load_recent_of_an_empty_store_is_empty(store: HistoryStore) -> None:
    assert store.load_recent(T0) == {}


def history_app(server: Any, clock: Any, profile: str) -> Any:
    """The real app against ``server``, keeping its history in the profile's file."""
    from tui.app import FlashtopApp
    from tui.tokens import AuthSession, TokenSet

    access, refresh = server.issue_tokens()
    session = AuthSession(
        TokenSet(access, refresh, obtained_at=clock.now), source="test", clock=clock
    )
    settings = Settings(profile=profile, base_url=server.base_url, interval=60.0)
    app = FlashtopApp(settings, session, clock=clock, mark_changes=False, keep_history=True)
    app.monitor.poller.min_gap = 0.0  # polls on demand, many a second (see ui_helpers)
    return app


async def test_app_restart_keeps_the_sparklines() -> None:
    from tests.ui_helpers import FakeClock, wait_for
    from tui.demo_server import DemoServer

    clock = FakeClock()
    with DemoServer(clock=clock) as server:
        ident = str(server.llms[0]["id"])
        first = history_app(server, clock, "restart")
        async with first.run_test(size=(120, 40)) as pilot:
            await wait_for(
                pilot, lambda: first.monitor.poller.status.polls >= 1, message="first poll"
            )
            for _ in range(14):
                await wait_for(pilot, lambda: not first.monitor.poller.status.in_flight)
                before = first.monitor.poller.status.polls
                clock.now += 5
                first.monitor.poll_now()
                await wait_for(pilot, lambda n=before: first.monitor.poller.status.polls > n)
            series = first.monitor.history.get(ident)
            assert series is not None
            latest_before = series.latest
            assert latest_before is not None
            # Sparkline points 5 s wide up to the last sample before the restart.
            trend_before = trend_points(series, latest_before.at, 5.0)
            assert sum(p is not None for p in trend_before) >= 10
        assert store_path("restart").exists()

        clock.now += 5
        second = history_app(server, clock, "restart")
        async with second.run_test(size=(120, 40)) as pilot:
            await wait_for(
                pilot, lambda: second.monitor.poller.status.polls >= 1, message="first poll"
            )
            series = second.monitor.history.get(ident)
            assert series is not None
            assert latest_before in series.since(3600.0)  # the samples from before the restart
            # The sparkline carries on where it left off: the same points up to then.
            assert trend_points(series, latest_before.at, 5.0) == trend_before
            latest = series.latest
            assert latest is not None and latest.at > latest_before.at
            row = next(r for r in second.overview.rows if r.id == ident)
            # ... and it is what the table draws (points one poll interval wide).
            assert row.trend == trend_points(series, latest.at, second.monitor.poller.interval)
            assert row.rate is not None and row.rate > 0
            assert not any("history" in n for n in second.overview.status_bar.notes)


async def test_app_with_a_locked_history_file_says_so_and_keeps_monitoring(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from tests.ui_helpers import FakeClock, wait_for
    from tui.demo_server import DemoServer

    path = store_path("locked")
    path.parent.mkdir(parents=True)
    HistoryStore.open(path).close()
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("PRAGMA locking_mode = EXCLUSIVE")
    holder.execute("BEGIN IMMEDIATE")
    holder.execute("INSERT INTO config (ai_llm_id) VALUES ('x')")
    holder.execute("COMMIT")
    clock = FakeClock()
    defaults = start_history.__kwdefaults__
    assert defaults is not None
    monkeypatch.setitem(defaults, "busy_timeout", 0.2)  # do not wait 5 s for the lock
    try:
        with DemoServer(clock=clock) as server:
            app = history_app(server, clock, "locked")
            async with app.run_test(size=(120, 40)) as pilot:
                await wait_for(
                    pilot, lambda: app.monitor.poller.status.polls >= 1, message="first poll"
                )
                clock.now += 5
                app.monitor.poll_now()
                await wait_for(
                    pilot, lambda: app.monitor.poller.status.polls >= 2, message="next poll"
                )
                assert len(app.overview.rows) == 12  # monitoring goes on, in memory
                ident = app.overview.rows[0].id
                series = app.monitor.history.get(ident)
                assert series is not None and len(series) == 2
                notes = app.overview.status_bar.notes
                assert notes.count(NOTES["locked"]) == 1  # said once, not once per poll
                assert NOTES["locked"] in str(app.overview.status_bar.content)
    finally:
        holder.close()


# ---------------------------------------------------------------------------- export


def fill_profile(profile: str, samples: list[tuple[float, str, Values]]) -> Path:
    path = store_path(profile)
    path.parent.mkdir(parents=True, exist_ok=True)
    with HistoryStore.open(path) as s:
        for at, name, vals in samples:
            s.write_poll(at, [(name, vals)])
    return path


def export(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["export", *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_export_prints_exact_forty_digit_values_as_csv_and_json(
    capsys: pytest.CaptureFixture[str],
) -> None:
    now = time.time()
    exact: Values = (BIG, BIG + 1, 0, None, 2**64, 17, 10**39, 3)
    fill_profile("default", [(now - 30, "a", exact), (now - 20, "b", values(1))])

    code, out, err = export(capsys)
    assert code == 0 and err == ""
    lines = out.splitlines()
    assert lines[0] == "at,aiLlmId," + ",".join(COUNTERS)
    assert len(lines) == 3
    assert lines[1].endswith(
        ",a,1234567890123456789012345678901234567890,1234567890123456789012345678901234567891,"
        "0,,18446744073709551616,17,1000000000000000000000000000000000000000,3"
    )
    assert lines[1].startswith(time.strftime("%Y-%m-%dT", time.gmtime(now - 30)))
    assert lines[1].split(",")[0].endswith("Z")

    code, out, _ = export(capsys, "--format", "json")
    body = json.loads(out)
    assert code == 0 and [o["aiLlmId"] for o in body] == ["a", "b"]
    assert body[0]["totalApiCalls"] == "1234567890123456789012345678901234567890"
    assert body[0]["totalLlmTokensIn"] is None
    assert body[1]["totalTokensIn"] == str(values(1)[1])


def test_export_since_and_id_select_what_was_seen(capsys: pytest.CaptureFixture[str]) -> None:
    now = time.time()
    fill_profile(
        "default",
        [
            (now - 7200, "a", values(0)),
            (now - 1800, "a", values(1)),
            (now - 60, "b", values(2)),
            (now - 30, "a", values(3)),
        ],
    )
    code, out, _ = export(capsys, "--since", "1h")
    assert code == 0
    assert [line.split(",")[1] for line in out.splitlines()[1:]] == ["a", "b", "a"]
    _, out, _ = export(capsys, "--since", "90s", "--format", "json")
    assert [(o["aiLlmId"], o["totalTokensIn"]) for o in json.loads(out)] == [
        ("b", str(values(2)[1])),
        ("a", str(values(3)[1])),
    ]
    _, out, _ = export(capsys, "--id", "a")
    assert len(out.splitlines()) == 1 + 3
    code, out, err = export(capsys, "--id", "nobody", "--format", "json")
    assert (code, out) == (EXIT_NO_MATCH, "")  # a filter that matches nothing is an error
    assert "'nobody'" in err and err.count("\n") == 1
    code, out, err = export(capsys, "--id", "b", "--since", "10s")
    assert (code, out) == (EXIT_NO_MATCH, "")
    assert "no samples of aiLlmId 'b' in the last 10s" in err


def test_export_reads_the_demo_and_named_profiles(capsys: pytest.CaptureFixture[str]) -> None:
    fill_profile("demo", [(time.time() - 5, "demo-id", values(0))])
    _, out, _ = export(capsys, "--demo")
    assert "demo-id" in out
    config = Path(os.environ["XDG_CONFIG_HOME"]) / "flashtop" / "config.toml"
    config.parent.mkdir(parents=True)
    config.write_text('[profiles.work]\nbase_url = "https://example.com"\n')
    fill_profile("work", [(time.time() - 5, "work-id", values(0))])
    _, out, _ = export(capsys, "--profile", "work")
    assert "work-id" in out and "demo-id" not in out


@pytest.mark.parametrize("bad", ["abc", "-5m", "0", "1y", "5 minutes", ""])
def test_export_rejects_an_invalid_duration_with_exit_2(
    capsys: pytest.CaptureFixture[str], bad: str
) -> None:
    code, out, err = export(capsys, f"--since={bad}")
    assert code == 2 and out == ""
    assert err.startswith("flashtop: error: invalid duration") and err.count("\n") == 1


def test_export_without_history_says_so_and_prints_an_empty_table(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, err = export(capsys)
    assert code == 0 and out == "at,aiLlmId," + ",".join(COUNTERS) + "\n"
    assert "no history recorded yet for profile 'default'" in err
    code, out, _ = export(capsys, "--format", "json")
    assert code == 0 and json.loads(out) == []
    assert not store_path("default").exists()  # export never creates the file


def test_export_of_a_damaged_file_is_a_one_line_error(capsys: pytest.CaptureFixture[str]) -> None:
    path = store_path("default")
    path.parent.mkdir(parents=True)
    path.write_bytes(b"garbage" * 1000)
    code, out, err = export(capsys)
    assert code == 1 and out == ""
    assert err.startswith("flashtop: error: cannot read history file") and err.count("\n") == 1
    assert path.read_bytes() == b"garbage" * 1000  # export does not move it


def test_export_does_not_import_textual() -> None:
    fill_profile("demo", [(time.time() - 5, "x", values(0))])
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "tui", "export", "--demo", "--since", "1h"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=REPO,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.splitlines()[1].split(",")[1] == "x"
    imported = [line.rsplit("|", 1)[-1].strip() for line in proc.stderr.splitlines()]
    assert "tui.store" in imported
    assert not [m for m in imported if m == "textual" or m.startswith("textual.")]


def test_store_and_export_modules_do_not_import_textual() -> None:
    code = "import sys, tui.store, tui.export; print('textual' in sys.modules)"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO)
    assert proc.stdout.strip() == "False", proc.stderr


# ---------------------------------------------------------------------------- faults


def stats_page(step: int, names: list[str]) -> list[LlmStats]:
    return [LlmStats(i, v) for i, v in poll(step, names)]


def test_corrupt_file_is_moved_aside_and_a_fresh_one_started() -> None:
    path = store_path("default")
    path.parent.mkdir(parents=True)
    garbage = b"this is not a database, it is a shopping list\n" * 200
    path.write_bytes(garbage)
    history = History()
    writer = start_history(Settings(), history, T0)
    try:
        assert writer.problem == NOTES["corrupt"] and writer.active
        aside = list(path.parent.glob(path.name + ".corrupt-*"))
        assert len(aside) == 1 and aside[0].read_bytes() == garbage  # moved, not deleted
        writer.submit(T0, stats_page(0, ["a"]))
        assert writer.flush() and writer.written == 1
    finally:
        writer.close()
    with HistoryStore.open(path) as s:
        assert s.counts()[TIER_RAW] == 1


def test_a_write_delay_holds_polls_back_but_flush_and_close_write_them_at_once() -> None:
    history = History()
    writer = start_history(Settings(), history, T0)
    writer.write_delay = 3600.0  # far longer than any wait below
    try:
        writer.submit(T0, stats_page(0, ["a"]))
        time.sleep(0.2)
        assert writer.written == 0, "held back by the delay"
        assert writer.flush(timeout=5.0) and writer.written == 1  # flush cuts the wait
        writer.submit(T0 + 5, stats_page(1, ["a"]))
    finally:
        writer.close(timeout=5.0)
    with HistoryStore.open(store_path("default")) as s:
        assert s.counts()[TIER_RAW] == 2  # close wrote the held-back poll at once


def test_damage_found_while_loading_moves_the_file_aside_and_monitoring_goes_on() -> None:
    path = store_path("default")
    path.parent.mkdir(parents=True)
    with HistoryStore.open(path) as s:
        for step in range(300):
            s.write_poll(T0 + 5 * step, stats_page(step, ids(20)))
        s.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    size = path.stat().st_size
    page = 4096
    with path.open("r+b") as f:  # keep the header page, scribble over every other page
        for offset in range(page, size, page):
            f.seek(offset)
            f.write(os.urandom(page))
    history = History()
    writer = start_history(Settings(), history, T0 + 1500)
    try:
        assert writer.problem == NOTES["corrupt"]
        assert history.series == {}
        assert len(list(path.parent.glob(path.name + ".corrupt-*"))) == 1
        writer.submit(T0 + 1600, stats_page(0, ["a"]))
        assert writer.flush()
        assert writer.written == 1
    finally:
        writer.close()
    with HistoryStore.open(path) as s:
        assert s.integrity_ok() and s.counts()[TIER_RAW] == 1


def test_locked_database_skips_samples_says_so_once_then_recovers(path: Path) -> None:
    HistoryStore.open(path).close()
    store = HistoryStore.open(path, busy_timeout=0.2)
    writer = StoreWriter(store)
    blocker = sqlite3.connect(path, isolation_level=None)
    try:
        blocker.execute("BEGIN IMMEDIATE")  # another writer holds the lock
        started = time.monotonic()
        for step in range(3):
            writer.submit(T0 + 5 * step, stats_page(step, ["a"]))
        assert time.monotonic() - started < 0.1  # submitting never waits for the lock
        assert writer.flush()
        assert writer.problem == NOTES["locked"]
        assert writer.failed == 3 and writer.written == 0
        blocker.execute("ROLLBACK")
        writer.submit(T0 + 20, stats_page(4, ["a"]))
        assert writer.flush()
        assert writer.problem is None and writer.written == 1
    finally:
        blocker.close()
        writer.close()


def test_database_locked_at_start_means_memory_only_with_a_note(path: Path) -> None:
    HistoryStore.open(path).close()
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("PRAGMA locking_mode = EXCLUSIVE")
    holder.execute("BEGIN IMMEDIATE")
    holder.execute("INSERT INTO config (ai_llm_id) VALUES ('x')")
    holder.execute("COMMIT")  # exclusive mode keeps the lock after the commit
    try:
        store, note = open_store_for(Settings(), path=path, busy_timeout=0.2)
        assert store is None and note == NOTES["locked"]
        assert not list(path.parent.glob("*.corrupt-*"))
    finally:
        holder.close()


def test_full_disk_skips_samples_then_recovers(path: Path) -> None:
    store = HistoryStore.open(path)
    store.write_poll(T0, stats_page(0, ids(10)))
    pages = store.conn.execute("PRAGMA page_count").fetchone()[0]
    store.conn.execute(f"PRAGMA max_page_count = {pages}")  # no room for one more page
    writer = StoreWriter(store)
    try:
        for step in range(1, 40):
            writer.submit(T0 + 5 * step, stats_page(step, ids(200)))
        assert writer.flush()
        assert writer.problem == NOTES["full"] and writer.failed > 0
        store.conn.execute("PRAGMA max_page_count = 1073741823")
        writer.submit(T0 + 500, stats_page(100, ids(10)))
        assert writer.flush()
        assert writer.problem is None
    finally:
        writer.close()
    with HistoryStore.open(path) as s:
        assert s.integrity_ok()
        assert {x.at for x in s.samples()} >= {T0, T0 + 500}


def test_writer_queue_is_bounded_and_drops_the_oldest(path: Path) -> None:
    HistoryStore.open(path).close()
    store = HistoryStore.open(path, busy_timeout=1.0)
    writer = StoreWriter(store, max_pending=4)
    blocker = sqlite3.connect(path, isolation_level=None)
    try:
        blocker.execute("BEGIN IMMEDIATE")
        for step in range(20):
            writer.submit(T0 + 5 * step, stats_page(step, ["a"]))
        assert writer.dropped >= 20 - 4 - 1
        blocker.execute("ROLLBACK")
        assert writer.flush()
    finally:
        blocker.close()
        writer.close()
    with HistoryStore.open(path) as s:
        times = [x.at for x in s.samples()]
    assert times[-1] == T0 + 5 * 19  # the newest polls are the ones kept
    assert len(times) <= 5


READ_ONLY_CHILD = """
import ctypes, json, os, sys
from pathlib import Path
if os.geteuid() == 0:
    # Root ignores file modes; drop CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH, CAP_FOWNER.
    libc = ctypes.CDLL(None, use_errno=True)
    class Hdr(ctypes.Structure):
        _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]
    class Data(ctypes.Structure):
        _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32),
                    ("inheritable", ctypes.c_uint32)]
    hdr, data = Hdr(0x20080522, 0), (Data * 2)()
    assert libc.capget(ctypes.byref(hdr), data) == 0
    data[0].effective &= ~((1 << 1) | (1 << 2) | (1 << 3))
    assert libc.capset(ctypes.byref(hdr), data) == 0
from tui.history import History
from tui.models import LlmStats
from tui.settings import Settings
from tui.store import StoreWriter, open_store_for, HistoryStore
path = Path(sys.argv[1])
try:
    open(path, "r+b").close()
    print(json.dumps({"writable": True}))
    sys.exit(0)
except OSError:
    pass
store, note = open_store_for(Settings(), path=path)
history = History()
if store is not None:
    history.load(store.load_recent(float(sys.argv[2]) - 3600))
writer = StoreWriter(store, note=note)
writer.submit(float(sys.argv[2]), [LlmStats("new", (1,) * 8)])
writer.flush()
writer.close()
print(json.dumps({"writable": False, "note": writer.problem, "active": writer.active,
                  "loaded": {k: len(v) for k, v in history.series.items()}}))
"""


def test_read_only_file_still_loads_history_and_says_new_samples_are_not_saved(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "ro"
    folder.mkdir()
    path = folder / "history.sqlite3"
    with HistoryStore.open(path) as s:
        for step in range(10):
            s.write_poll(T0 + 5 * step, stats_page(step, ["a", "b"]))
    before = path.read_bytes()
    path.chmod(0o444)
    folder.chmod(0o555)
    try:
        proc = subprocess.run(
            [sys.executable, "-c", READ_ONLY_CHILD, str(path), str(T0 + 50)],
            capture_output=True,
            text=True,
            timeout=60,
            cwd=REPO,
        )
    finally:
        folder.chmod(0o755)
        path.chmod(0o644)
    assert proc.returncode == 0, proc.stderr[-2000:]
    result = json.loads(proc.stdout)
    assert result["writable"] is False, "could not make the file read-only here"
    assert result["note"] == NOTES["read-only"]
    assert result["loaded"] == {"a": 10, "b": 10}
    assert result["active"] is False
    assert path.read_bytes() == before
    assert not list(folder.glob("*.corrupt-*"))


WRITER_CHILD = """
import sys, time
from pathlib import Path
from tui.store import HistoryStore
path, tag, polls, n = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
offset = float(sys.argv[5])
store = HistoryStore.open(path, busy_timeout=30.0)
shared = [f"shared-{i}" for i in range(n)]
own = [f"{tag}-{i}" for i in range(n)]
print("ready", flush=True)
for step in range(polls):
    at = 1_800_000_000.0 + 5 * step + offset
    store.write_poll(at, [(name, (step,) * 8) for name in shared + own])
    if step % 50 == 0:
        store.downsample_and_prune(at)
    print(step, flush=True)
store.close()
"""


def test_two_processes_writing_the_same_profile_do_not_corrupt_it(path: Path) -> None:
    polls, n = 300, 20
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER_CHILD, str(path), tag, str(polls), str(n), offset],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=REPO,
        )
        for tag, offset in (("p1", "0.001"), ("p2", "0.002"))
    ]
    for p in procs:
        out, err = p.communicate(timeout=120)
        assert p.returncode == 0, err[-2000:]
        assert out.split()[-1] == str(polls - 1)
    with HistoryStore.open(path) as s:
        assert s.integrity_ok()
        counts = collections.Counter(name for _, name, _, _ in s.tier_samples(TIER_RAW))
        assert len(counts) == 3 * n
        assert all(counts[f"shared-{i}"] == 2 * polls for i in range(n))
        assert all(counts[f"p{k}-{i}"] == polls for k in (1, 2) for i in range(n))
        ids_ = [r[0] for r in s.conn.execute("SELECT id FROM config")]
        assert len(ids_) == len(set(ids_)) == 3 * n


def test_kill_9_mid_write_loses_at_most_the_poll_in_flight(path: Path) -> None:
    n = 300
    proc = subprocess.Popen(
        [sys.executable, "-c", WRITER_CHILD, str(path), "k", "100000", str(n // 2), "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=REPO,
    )
    assert proc.stdout is not None
    committed = -1
    try:
        assert proc.stdout.readline().strip() == "ready"
        while committed < 40:
            committed = int(proc.stdout.readline())
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
        proc.stdout.close()
        if proc.stderr is not None:
            proc.stderr.close()
    assert proc.returncode == -signal.SIGKILL
    with HistoryStore.open(path) as s:
        assert s.integrity_ok()
        per_poll = collections.Counter(at for _, _, at, _ in s.tier_samples(TIER_RAW))
    polls = len(per_poll)
    # Every poll reported committed is there, whole; at most the poll in flight
    # (or the one after the last line read) is missing, and no poll is half written.
    assert polls >= committed + 1
    assert set(per_poll.values()) == {n}
    steps = sorted(round((at / 1000 - 1_800_000_000.0) / 5) for at in per_poll)
    assert steps == list(range(polls))
