"""``flashtop export``: the samples kept in the local history, as CSV or JSON, for scripts.

Reads the profile's history file read-only (no network, no credentials, no Textual).
Counters are printed with every digit: CSV cells hold the decimal digits, JSON holds
them as strings like the API does; an unknown value is an empty cell / ``null``.
When no history has been recorded yet for the profile, a note goes to stderr, the
output is just the CSV header (or ``[]``), and the exit status is 0: an empty
history is not an error for a script that runs before the monitor ever has.
"""

from __future__ import annotations

import csv
import json
import re
import sqlite3
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import TextIO

from tui.errors import EXIT_OK, UsageError, one_line
from tui.models import COUNTERS
from tui.settings import Settings
from tui.store import HistoryStore, StoredSample, StoreError, fault_kind, store_path

FORMATS = ("csv", "json")
_UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 7 * 86400.0}
_DURATION = re.compile(r"([0-9]+(?:\.[0-9]+)?)\s*([smhdw]?)", re.ASCII)


def parse_duration(text: str) -> float:
    """``90s``, ``15m``, ``1h``, ``7d``, ``2w`` (a bare number is seconds) -> seconds."""
    m = _DURATION.fullmatch(text.strip().lower())
    seconds = float(m.group(1)) * _UNITS[m.group(2) or "s"] if m else 0.0
    if not m or seconds <= 0:
        raise UsageError(
            f"invalid duration '{one_line(text, 40)}' (expected e.g. 90s, 15m, 1h or 7d)"
        )
    return seconds


def iso_utc(at: float) -> str:
    """Epoch seconds as ISO 8601 UTC with milliseconds: 2025-01-01T00:00:00.000Z."""
    return datetime.fromtimestamp(at, tz=UTC).isoformat(timespec="milliseconds")[:-6] + "Z"


def _write_csv(rows: Iterable[StoredSample], out: TextIO) -> None:
    w = csv.writer(out, lineterminator="\n")
    w.writerow(["at", "aiLlmId", *COUNTERS])
    for s in rows:
        w.writerow(
            [
                iso_utc(s.at),
                one_line(s.ai_llm_id, 1000),
                *("" if v is None else v for v in s.values),
            ]
        )


def _write_json(rows: Iterable[StoredSample], out: TextIO) -> None:
    # Streamed one object at a time: a long history never sits in memory as a whole.
    first = True
    out.write("[")
    for s in rows:
        obj: dict[str, str | None] = {"at": iso_utc(s.at), "aiLlmId": s.ai_llm_id}
        for name, value in zip(COUNTERS, s.values, strict=True):
            obj[name] = None if value is None else str(value)
        # ensure_ascii: no raw control or bidi characters from the server reach a terminal.
        out.write(("\n  " if first else ",\n  ") + json.dumps(obj, ensure_ascii=True))
        first = False
    out.write("]\n" if first else "\n]\n")


def export_command(
    settings: Settings,
    ai_llm_id: str | None,
    since: str | None,
    fmt: str | None,
    out: TextIO,
    err: TextIO,
    clock: Callable[[], float] = time.time,
) -> int:
    """Print the stored samples of ``settings.profile``; see the module docstring."""
    fmt = fmt or "csv"
    if fmt not in FORMATS:
        raise UsageError(f"unknown format '{one_line(fmt, 20)}' (csv or json)")
    start = None if since is None else clock() - parse_duration(since)
    write = _write_json if fmt == "json" else _write_csv
    path = store_path(settings.profile)
    if not path.exists():
        err.write(
            f"flashtop: no history recorded yet for profile '{one_line(settings.profile, 60)}' "
            f"({path})\n"
        )
        write([], out)
        return EXIT_OK
    try:
        store = HistoryStore.open(path, readonly=True)
    except (sqlite3.Error, OSError, StoreError) as exc:
        raise StoreError(f"cannot read history file {path}: {_why(exc)}") from None
    try:
        write(store.samples(ai_llm_id, start), out)
    except sqlite3.Error as exc:
        raise StoreError(f"cannot read history file {path}: {_why(exc)}") from None
    finally:
        store.close()
    return EXIT_OK


def _why(exc: BaseException) -> str:
    kind = fault_kind(exc)
    if kind == "error":
        return one_line(str(exc), 120)
    return {
        "corrupt": "it is damaged (the monitor moves it aside at its next start)",
        "locked": "it is locked by another process",
    }.get(kind, one_line(str(exc), 120) or kind)
