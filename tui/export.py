"""``flashtop export`` and ``flashtop alerts``: what the local history keeps, for scripts.

``export`` prints the samples, as CSV or JSON; ``alerts`` prints the alert log (the
events of the alert rules), as a table or JSON.

Reads the profile's history file read-only (no network, no credentials, no Textual).
Counters are printed with every digit: CSV cells hold the decimal digits, JSON holds
them as strings like the API does; an unknown value is an empty cell / ``null``.
When no history has been recorded yet for the profile, a note goes to stderr, the
output is just the CSV header (or ``[]``), and the exit status is 0: an empty
history is not an error for a script that runs before the monitor ever has
(``alerts`` says "no alerts recorded", or prints ``[]`` with ``--json``). An
``--id`` that matches no sample is different: the script asked for something that is
not there, so nothing is printed on stdout and the exit status is 7
(:class:`~tui.errors.NoMatchError`). A file that turns out damaged half-way through a
JSON export still ends the array (valid JSON, cut short) before the error (exit 1).
"""

from __future__ import annotations

import csv
import itertools
import json
import math
import sqlite3
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import TextIO

from tui.errors import EXIT_OK, NoMatchError, UsageError, one_line
from tui.models import COUNTERS
from tui.rules import MAX_DURATION_DAYS, Event, parse_seconds
from tui.settings import Settings
from tui.store import HistoryStore, StoredSample, StoreError, fault_kind, store_path

FORMATS = ("csv", "json")


def parse_duration(text: str) -> float:
    """``90s``, ``15m``, ``1h``, ``7d``, ``2w`` (a bare number is seconds) -> seconds > 0
    (the rules' :func:`~tui.rules.parse_seconds`, which also allows 0)."""
    seconds = parse_seconds(text)
    if seconds is None or seconds <= 0:
        raise UsageError(
            f"invalid duration '{one_line(text, 40)}' (expected e.g. 90s, 15m, 1h or 7d; "
            f"at most {MAX_DURATION_DAYS}d)"
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
    # Should reading fail half-way, the array is still closed (valid JSON, cut short)
    # before the error goes up: a script never gets a dangling "[".
    first = True
    out.write("[")
    try:
        for s in rows:
            obj: dict[str, str | None] = {"at": iso_utc(s.at), "aiLlmId": s.ai_llm_id}
            for name, value in zip(COUNTERS, s.values, strict=True):
                obj[name] = None if value is None else str(value)
            # ensure_ascii: no raw control or bidi characters from the server reach a terminal.
            out.write(("\n  " if first else ",\n  ") + json.dumps(obj, ensure_ascii=True))
            first = False
    finally:
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
    """Print the stored samples of ``settings.profile``; see the module docstring.

    With ``ai_llm_id``, no matching sample is a :class:`NoMatchError` (exit status
    7) and nothing is printed on stdout.
    """
    fmt = fmt or "csv"
    if fmt not in FORMATS:
        raise UsageError(f"unknown format '{one_line(fmt, 20)}' (csv or json)")
    start = None if since is None else clock() - parse_duration(since)
    write = _write_json if fmt == "json" else _write_csv
    path = store_path(settings.profile)
    profile = one_line(settings.profile, 60)
    if not path.exists():
        if ai_llm_id is not None:
            raise NoMatchError(
                f"no samples of aiLlmId '{one_line(ai_llm_id, 80)}': no history recorded "
                f"yet for profile '{profile}' ({path})"
            )
        err.write(f"flashtop: no history recorded yet for profile '{profile}' ({path})\n")
        write([], out)
        return EXIT_OK
    try:
        store = HistoryStore.open(path, readonly=True)
    except (sqlite3.Error, OSError, StoreError) as exc:
        raise StoreError(f"cannot read history file {path}: {_why(exc)}") from None
    try:
        rows = store.samples(ai_llm_id, start)
        # The first row is read before anything is printed: a file that cannot be
        # read, or an --id that matches nothing, leaves stdout empty.
        first = next(rows, None)
        if first is None and ai_llm_id is not None:
            known = store.has_config(ai_llm_id)
            what = f"no samples of aiLlmId '{one_line(ai_llm_id, 80)}'"
            if known and since is not None:
                raise NoMatchError(f"{what} in the last {one_line(since, 20)}")
            raise NoMatchError(f"{what} in the history of profile '{profile}'")
        write(rows if first is None else itertools.chain((first,), rows), out)
    except sqlite3.Error as exc:
        raise StoreError(f"cannot read history file {path}: {_why(exc)}") from None
    finally:
        store.close()
    if store.damage_note:
        err.write(f"flashtop: {store.damage_note} (their samples are left out)\n")
    return EXIT_OK


def _why(exc: BaseException) -> str:
    kind = fault_kind(exc)
    if kind == "error":
        return one_line(str(exc), 120)
    return {
        "corrupt": "it is damaged (the monitor moves it aside at its next start)",
        "locked": "it is locked by another process",
    }.get(kind, one_line(str(exc), 120) or kind)


# ---------------------------------------------------------------------------- alerts


def _figure(value: float) -> str:
    """A value or threshold for the table: whole numbers plainly, others to 4 digits."""
    if not math.isfinite(value):
        return "?"
    if value == int(value) and abs(value) < 1e15:
        return f"{int(value):,}"
    return f"{value:,.4g}" if abs(value) >= 1 else f"{value:.4g}"


def _event_json(e: Event) -> dict[str, object]:
    return {
        "at": iso_utc(e.at),
        "rule": e.rule,
        "state": e.state,
        "metric": e.metric,
        "entity": e.entity,
        "name": e.entity_name,
        "value": e.value if math.isfinite(e.value) else None,
        "threshold": e.threshold if math.isfinite(e.threshold) else None,
        "muted": e.muted,
    }


def _write_alert_table(events: list[Event], out: TextIO) -> None:
    header = ["TIME", "RULE", "CONFIGURATION", "STATE", "VALUE", "THRESHOLD"]
    rows = []
    for e in events:
        who = one_line(e.entity_name, 40) or "-"
        if e.entity and e.entity_name != e.entity and not e.entity.startswith("budget:"):
            who += f" ({one_line(e.entity, 40)})"
        rows.append(
            [
                time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(e.at)),
                one_line(e.rule, 40),
                who,
                e.state + (" (muted)" if e.muted else ""),
                _figure(e.value),
                _figure(e.threshold),
            ]
        )
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    for r in [header, *rows]:
        cells = [
            c.rjust(w) if i >= 4 else c.ljust(w)
            for i, (c, w) in enumerate(zip(r, widths, strict=True))
        ]
        out.write("  ".join(cells).rstrip() + "\n")


def alerts_command(
    settings: Settings,
    since: str | None,
    as_json: bool,
    out: TextIO,
    err: TextIO,
    clock: Callable[[], float] = time.time,
) -> int:
    """Print the alert log of ``settings.profile`` (read-only; see the module docstring)."""
    start = None if since is None else clock() - parse_duration(since)
    path = store_path(settings.profile)
    events: list[Event] = []
    if path.exists():
        try:
            store = HistoryStore.open(path, readonly=True)
        except (sqlite3.Error, OSError, StoreError) as exc:
            raise StoreError(f"cannot read history file {path}: {_why(exc)}") from None
        try:
            events = store.events(start)
        except sqlite3.Error as exc:
            raise StoreError(f"cannot read history file {path}: {_why(exc)}") from None
        finally:
            store.close()
    if as_json:
        if not events:
            err.write("flashtop: no alerts recorded\n")
        # ensure_ascii: no raw control or bidi characters from the server reach a terminal.
        out.write(json.dumps([_event_json(e) for e in events], indent=2, ensure_ascii=True))
        out.write("\n")
    elif events:
        _write_alert_table(events, out)
    else:
        out.write("no alerts recorded\n")
    return EXIT_OK
