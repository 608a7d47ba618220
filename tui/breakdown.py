"""``flashtop stats --by model|host --since D``: usage split by model or host, for scripts.

One request to ``GET /aistats/minute`` (``/aistats/daily`` for windows over two days),
summed by :func:`tui.aistats.breakdown`: per model (or gateway host) the calls, tokens
in and out, LLM tokens, policy events and severities as exact integers, the share of
tokens and the mean latency weighted by calls. JSON and CSV carry every digit (counts
as decimal strings in JSON, like ``stats --json``); names are server text, so JSON is
ASCII-escaped and tables and CSV cells are made single printable lines.
"""

from __future__ import annotations

import asyncio
import csv
import json
import sys
import time
from collections.abc import Callable, Mapping
from decimal import ROUND_HALF_EVEN, Decimal
from fractions import Fraction
from typing import Any, TextIO

from tui.aistats import (
    DAY,
    MINUTE,
    SUM_FIELDS,
    AiStatsPage,
    AiStatsQuery,
    Breakdown,
    Dimension,
    Totals,
    breakdown,
    bucket_of,
    iso_ms,
)
from tui.errors import EXIT_OK, UsageError, one_line
from tui.export import parse_duration
from tui.settings import Settings

#: Windows longer than this are read from the daily endpoint.
MINUTE_LIMIT = 2 * DAY
DEFAULT_SINCE = "1h"
#: Column titles of the table, by row field.
_TITLES = {
    "apiCalls": "CALLS",
    "tokensIn": "TOKENS IN",
    "tokensOut": "TOKENS OUT",
    "llmTokensIn": "LLM IN",
    "llmTokensOut": "LLM OUT",
    "policyViolations": "VIOL",
    "numAlerts": "ALRT",
    "numBlocks": "BLK",
    "numSeverityLow": "LOW",
    "numSeverityMedium": "MED",
    "numSeverityHigh": "HIGH",
}


def window_for(since: str, now: float) -> tuple[str, float, float]:
    """``(path, start, end)`` to ask for the last ``since`` before ``now``."""
    seconds = parse_duration(since)
    if seconds > MINUTE_LIMIT:
        return "aistats/daily", bucket_of(now - seconds, DAY), now
    return "aistats/minute", bucket_of(now - seconds, MINUTE), now


def share_text(share: Fraction | None, digits: int = 6) -> str | None:
    """An exact fraction as a decimal string rounded to ``digits`` places."""
    if share is None:
        return None
    value = Decimal(share.numerator) / Decimal(share.denominator)
    return str(value.quantize(Decimal(1).scaleb(-digits), rounding=ROUND_HALF_EVEN))


def _latency(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def _figures(t: Totals) -> dict[str, object]:
    out: dict[str, object] = {name: str(t.get(name)) for name in SUM_FIELDS}
    out["latencyMs"] = _latency(t.mean_latency_ms)
    out["incomplete"] = sorted(t.incomplete)
    return out


def _fetch(
    settings: Settings,
    env: Mapping[str, str],
    path: str,
    query: AiStatsQuery,
    session: Any = None,
) -> AiStatsPage:
    from tui.client import client_for
    from tui.credentials import load_credentials

    def warn(message: str) -> None:
        print(f"flashtop: warning: {message}", file=sys.stderr)

    async def run() -> AiStatsPage:
        nonlocal session
        if session is None:
            creds = await asyncio.to_thread(load_credentials, settings, env, warn=warn)
            session = creds.session
        async with client_for(settings, session) as c:
            if path == "aistats/daily":
                return await c.get_aistats_daily(query)
            return await c.get_aistats_minute(query)

    return asyncio.run(run())


def breakdown_command(
    settings: Settings,
    env: Mapping[str, str],
    *,
    by: str,
    since: str | None,
    ai_llm_id: str | None,
    fmt: str | None,
    out: TextIO,
    session: Any = None,
    clock: Callable[[], float] = time.time,
) -> int:
    """Print the breakdown of the last ``since`` (default 1h) by ``by``."""
    try:
        dim = Dimension(by)
    except ValueError:
        raise UsageError(f"--by takes model or host, not '{one_line(by, 20)}'") from None
    if ai_llm_id is not None and (not ai_llm_id.strip() or "," in ai_llm_id):
        raise UsageError("--id takes one configuration id (not empty, no commas)")
    path, start, end = window_for(since or DEFAULT_SINCE, clock())
    query = AiStatsQuery(
        start=start, end=end, ai_llm_ids=(ai_llm_id,) if ai_llm_id is not None else ()
    )
    page = _fetch(settings, env, path, query, session)

    def warn(message: str) -> None:
        print(f"flashtop: warning: {message}", file=sys.stderr)

    if page.skipped:
        warn(f"{page.skipped} row(s) without a usable aiLlmId or timestamp skipped")
    if page.duplicates:
        warn(f"{page.duplicates} duplicate row(s) dropped")
    if page.invalid_cells:
        warn(f"{page.invalid_cells} count(s) are not exact integers (left out of the sums)")
    result = breakdown(
        page.rows,
        dim,
        since=start,
        until=end,
        ai_llm_ids=None if ai_llm_id is None else (ai_llm_id,),
    )
    source = "/" + path
    if fmt == "json":
        _write_json(result, ai_llm_id, source, out)
    elif fmt == "csv":
        _write_csv(result, out)
    else:
        _write_table(result, out)
        print(
            f"flashtop: {source} from {iso_ms(start)} to {iso_ms(end)}: "
            f"{len(page.rows)} row(s); latency is the mean weighted by calls",
            file=sys.stderr,
        )
    return EXIT_OK


def _write_json(result: Breakdown, ai_llm_id: str | None, source: str, out: TextIO) -> None:
    key = result.by.value
    items = [
        {
            key: item.name,
            "configs": item.configs,
            **_figures(item.totals),
            "share": share_text(item.share),
            "callsShare": share_text(item.calls_share),
        }
        for item in result.items
    ]
    doc = {
        "success": True,
        "by": key,
        "source": source,
        "since": None if result.since is None else iso_ms(result.since),
        "until": None if result.until is None else iso_ms(result.until),
        "aiLlmId": ai_llm_id,
        "items": items,
        "total": _figures(result.total),
    }
    # ensure_ascii: no raw control or bidi characters from the server reach a terminal.
    json.dump(doc, out, indent=2, ensure_ascii=True)
    out.write("\n")


def _write_csv(result: Breakdown, out: TextIO) -> None:
    w = csv.writer(out, lineterminator="\n")
    w.writerow([result.by.value, "configs", *SUM_FIELDS, "share", "latencyMs"])
    for item in result.items:
        latency = _latency(item.mean_latency_ms)
        w.writerow(
            [
                one_line(item.name, 1000),
                item.configs,
                *(item.totals.get(name) for name in SUM_FIELDS),
                share_text(item.share) or "",
                "" if latency is None else latency,
            ]
        )


def _write_table(result: Breakdown, out: TextIO) -> None:
    shown: tuple[str, ...] = ("apiCalls", "tokensIn", "tokensOut")
    shown += ("numSeverityLow", "numSeverityMedium", "numSeverityHigh")
    header = [result.by.value.upper(), "CONFIGS", *(_TITLES[f] for f in shown)]
    header += ["SHARE", "LATENCY"]

    def cells(name: str, configs: str, t: Totals, share: Fraction | None) -> list[str]:
        latency = t.mean_latency_ms
        return [
            name,
            configs,
            *(f"{t.get(f):,}" + ("+" if f in t.incomplete else "") for f in shown),
            "-" if share is None else f"{float(share) * 100:.1f}%",
            "-" if latency is None else f"{latency:,.0f} ms",
        ]

    rows = [
        cells(one_line(i.name, 48) or "(none)", str(i.configs), i.totals, i.share)
        for i in result.items
    ]
    if not rows:
        out.write("no usage in this window\n")
        return
    rows.append(cells("TOTAL", "", result.total, Fraction(1) if result.total.tokens else None))
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    for r in [header, *rows]:
        line = [
            c.ljust(w) if i == 0 else c.rjust(w)
            for i, (c, w) in enumerate(zip(r, widths, strict=True))
        ]
        out.write("  ".join(line).rstrip() + "\n")
