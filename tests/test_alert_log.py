"""The alert log in the history database: migration of old files, events written and
read back across restarts, the writer thread, pruning, and ``flashtop alerts``.

Real SQLite files in tmp_path (or the isolated data dir); times are a fake clock.
"""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path

import pytest
from test_cli import run_cli

from tui.errors import EXIT_USAGE
from tui.export import iso_utc
from tui.models import COUNTERS
from tui.rules import Event
from tui.store import (
    APPLICATION_ID,
    MIGRATIONS,
    SCHEMA_VERSION,
    HistoryStore,
    Retention,
    StoreWriter,
    store_path,
)

T0 = 1_800_000_003.0
SECRET = "hooks.example.com/T0KEN-s3cr3t"
URL = f"json://{SECRET}"
HOSTILE = "evil-\x1b]0;pwned\x07\x1b[31mname"


def event(at: float, state: str = "firing", **kw: object) -> Event:
    fields: dict[str, object] = {
        "rule": "any block",
        "entity": "cfg-1",
        "entity_name": "Support bot",
        "state": state,
        "value": 2.0,
        "threshold": 0.0,
        "metric": "blocks",
        "at": at,
        "notify": ("toast", URL),
    }
    fields.update(kw)
    return Event(**fields)  # type: ignore[arg-type]


def old_file(path: Path) -> None:
    """A history file as flashtop wrote it before the alert log (schema version 1),
    holding one sample."""
    conn = sqlite3.connect(path, isolation_level=None)
    for statement in MIGRATIONS[0]:
        conn.execute(statement)
    conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
    conn.execute("PRAGMA user_version = 1")
    conn.execute("INSERT INTO config (ai_llm_id) VALUES ('cfg-1')")
    marks = ", ".join("?" * (4 + len(COUNTERS)))
    at_ms = round(T0 * 1000)
    conn.execute(f"INSERT INTO sample VALUES ({marks})", (0, at_ms, 1, at_ms, *range(8)))
    conn.close()


def test_an_old_file_is_migrated_keeping_its_samples(tmp_path: Path) -> None:
    path = tmp_path / "h.sqlite3"
    old_file(path)
    with HistoryStore.open(path, readonly=True) as ro:  # read as it is, not upgraded
        assert ro.version == 1 and ro.events() == []
        assert [s.values for s in ro.samples()] == [tuple(range(8))]
    with HistoryStore.open(path) as store:
        assert store.version == SCHEMA_VERSION == 3
        assert store.conn.execute("PRAGMA user_version").fetchone()[0] == 3
        assert [s.values for s in store.samples()] == [tuple(range(8))]
        store.write_events([event(T0)])
        assert [e.rule for e in store.events()] == ["any block"]


def test_events_survive_a_restart_and_no_url_is_stored(tmp_path: Path) -> None:
    path = tmp_path / "h.sqlite3"
    written = [
        event(T0),
        event(T0 + 5, "repeat", muted=True),
        event(T0 + 65, "resolved", value=0.0),
        event(T0 + 70, rule="down", entity="", entity_name="polling", metric="no_data"),
    ]
    with HistoryStore.open(path) as store:
        assert store.write_events(written) == 4
        assert store.write_events([]) == 0
    with HistoryStore.open(path) as again:  # a new process, in effect
        got = again.events()
        assert got == [
            Event(
                e.rule,
                e.entity,
                e.entity_name,
                e.state,
                e.value,
                e.threshold,
                e.metric,
                e.at,
                notify=(),
                muted=e.muted,
            )
            for e in written
        ]
        assert [e.at for e in again.events(since=T0 + 5)] == [T0 + 5, T0 + 65, T0 + 70]
        assert [e.at for e in again.events(limit=2)] == [T0 + 65, T0 + 70]
    for file in tmp_path.iterdir():
        assert SECRET.encode() not in file.read_bytes()


def test_the_writer_thread_writes_events_and_loads_them_back(tmp_path: Path) -> None:
    path = tmp_path / "h.sqlite3"
    writer = StoreWriter(HistoryStore.open(path))
    try:
        writer.write_delay = 30.0  # polls wait; events do not
        writer.submit_events([event(T0), event(T0 + 60, "resolved")])
        writer.submit_events([])
        assert writer.flush()
        assert writer.events_written == 2 and writer.problem is None
        assert [e.state for e in writer.load_events(since=T0)] == ["firing", "resolved"]
    finally:
        writer.close()
    assert StoreWriter(None).load_events() == []
    StoreWriter(None).submit_events([event(T0)])  # no store: nothing, no error
    with HistoryStore.open(path) as store:
        assert len(store.events()) == 2


def test_events_wait_while_the_file_is_locked_and_are_written_after(tmp_path: Path) -> None:
    path = tmp_path / "h.sqlite3"
    HistoryStore.open(path).close()
    writer = StoreWriter(HistoryStore.open(path, busy_timeout=0.1))
    blocker = sqlite3.connect(path, isolation_level=None)
    try:
        blocker.execute("BEGIN IMMEDIATE")
        writer.submit_events([event(T0)])
        assert not writer.flush(timeout=0.5)  # still held, not lost
        assert writer.problem is not None and writer.events_written == 0
        blocker.execute("ROLLBACK")
        assert writer.flush(timeout=5.0)
        assert writer.events_written == 1 and writer.problem is None
    finally:
        blocker.close()
        writer.close()


def test_events_are_pruned_with_the_minute_tier(tmp_path: Path) -> None:
    path = tmp_path / "h.sqlite3"
    retention = Retention(raw=60.0, minute=3600.0, hour=86400.0)
    with HistoryStore.open(path, retention=retention) as store:
        store.write_events([event(T0 + k * 600) for k in range(10)])
        deleted = store.downsample_and_prune(T0 + 9 * 600, batch=2)
        assert deleted == 3  # older than an hour: T0, T0 + 600 and T0 + 1200
        assert store.events()[0].at == T0 + 1800


# ---------------------------------------------------------------- flashtop alerts


def test_alerts_without_a_history_file_says_so_and_exits_0() -> None:
    text = run_cli("alerts")
    assert (text.returncode, text.stdout) == (0, "no alerts recorded\n")
    as_json = run_cli("alerts", "--json")
    assert as_json.returncode == 0 and json.loads(as_json.stdout) == []


def test_alerts_json_and_table_after_a_restart_without_secrets() -> None:
    path = store_path("default")
    path.parent.mkdir(parents=True, exist_ok=True)
    old = round(time.time()) - 2 * 86400.0  # beyond --since 1d
    with HistoryStore.open(path) as store:
        store.write_events(
            [
                event(old, entity_name=HOSTILE),
                event(old + 60, "resolved", value=0.0, entity_name=HOSTILE),
                event(old + 90, rule="spend", metric="cost_per_hour", value=12.345, threshold=10),
                event(time.time() - 3600, rule="recent"),
            ]
        )
    proc = run_cli("alerts", "--json")
    assert proc.returncode == 0, proc.stderr
    got = json.loads(proc.stdout)
    assert [(o["rule"], o["state"], o["value"]) for o in got] == [
        ("any block", "firing", 2.0),
        ("any block", "resolved", 0.0),
        ("spend", "firing", 12.345),
        ("recent", "firing", 2.0),
    ]
    assert got[0] == {
        "at": iso_utc(old),
        "rule": "any block",
        "state": "firing",
        "metric": "blocks",
        "entity": "cfg-1",
        "name": HOSTILE,
        "value": 2.0,
        "threshold": 0.0,
        "muted": False,
    }
    assert "\x1b" not in proc.stdout and SECRET not in proc.stdout + proc.stderr
    table = run_cli("alerts")
    assert table.returncode == 0
    lines = table.stdout.splitlines()
    assert lines[0].split() == ["TIME", "RULE", "CONFIGURATION", "STATE", "VALUE", "THRESHOLD"]
    clock = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(old))  # local time is UTC here
    assert lines[1].startswith(f"{clock}  any block")
    assert "\x1b" not in table.stdout and "\x07" not in table.stdout
    assert "(cfg-1)" in lines[1] and lines[3].split()[-2:] == ["12.35", "10"]
    assert SECRET not in table.stdout + table.stderr
    recent = run_cli("alerts", "--since", "1d", "--json")
    assert recent.returncode == 0
    assert [o["rule"] for o in json.loads(recent.stdout)] == ["recent"]


@pytest.mark.parametrize("since", ["yesterday", "0s", "1y"])
def test_alerts_rejects_a_bad_duration_with_exit_2(since: str) -> None:
    proc = run_cli("alerts", "--since", since)
    assert proc.returncode == EXIT_USAGE
    assert len(proc.stderr.splitlines()) == 1 and "invalid duration" in proc.stderr
