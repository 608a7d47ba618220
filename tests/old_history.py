"""Writes a history file as flashtop's schema 2 did (one row per sample and tier), for
the migration tests: the tables are the store's own first two migrations, the rows
written the way ``HistoryStore.write_poll`` wrote them before compact samples."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from pathlib import Path

from tui.store import APPLICATION_ID, MIGRATIONS

_INT64_MAX = (1 << 63) - 1
Values = tuple[int | None, ...]


def _to_db(value: int | None) -> int | str | None:
    return value if value is None or value <= _INT64_MAX else str(value)


def write_old_file(path: Path, polls: Iterable[tuple[float, Sequence[tuple[str, Values]]]]) -> None:
    """A schema-2 file holding ``polls`` ((time, [(aiLlmId, values)]) in time order)."""
    conn = sqlite3.connect(path, isolation_level=None)
    for migration in MIGRATIONS[:2]:
        for statement in migration:
            assert isinstance(statement, str)
            conn.execute(statement)
    conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
    conn.execute("PRAGMA user_version = 2")
    ids: dict[str, int] = {}
    marks: dict[int, tuple[int, int]] = {}
    conn.execute("BEGIN")
    for at, items in polls:
        at_ms = round(at * 1000)
        minute, hour = at_ms // 60_000, at_ms // 3_600_000
        for ai_llm_id, values in items:
            cid = ids.get(ai_llm_id)
            if cid is None:
                conn.execute("INSERT INTO config (ai_llm_id) VALUES (?)", (ai_llm_id,))
                cid = ids[ai_llm_id] = len(ids) + 1
            vals = tuple(map(_to_db, values))
            if str in map(type, vals):
                conn.execute("UPDATE config SET big = 1 WHERE id = ?", (cid,))
            rows = [(0, at_ms, cid, at_ms, *vals)]
            last_minute, last_hour = marks.get(cid, (-1, -1))
            if minute != last_minute:
                rows.append((1, minute, cid, at_ms, *vals))
            if hour != last_hour:
                rows.append((2, hour, cid, at_ms, *vals))
            marks[cid] = (minute, hour)
            conn.executemany(
                f"INSERT OR IGNORE INTO sample VALUES ({', '.join('?' * len(rows[0]))})", rows
            )
    conn.execute("COMMIT")
    conn.close()


def old_rows(path: Path, tier: int) -> list[tuple[int, str, int, Values]]:
    """(bucket, aiLlmId, at ms, values) of one tier of a schema-2 file, in key order."""
    conn = sqlite3.connect(path)
    cols = [r[1] for r in conn.execute("PRAGMA table_info(sample)")][4:]
    out = [
        (
            int(row[0]),
            str(row[1]),
            int(row[2]),
            tuple(int(v) if v is not None else None for v in row[3:]),
        )
        for row in conn.execute(
            f"SELECT bucket, ai_llm_id, at, {', '.join(cols)} FROM sample JOIN config "
            "ON config.id = sample.config WHERE tier = ? ORDER BY bucket, ai_llm_id",
            (tier,),
        )
    ]
    conn.close()
    return out
