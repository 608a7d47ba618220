"""``GET /aistats/minute`` and ``/aistats/daily``: queries, parsed rows, grouping, breakdowns.

The wire layer and a little domain for Flashback's per-bucket usage rows (facts and
open questions in ``shared/flashback-stats-api.md``). Standard library only: no
Textual, no httpx (the client in :mod:`tui.client` sends what this builds).

What is known and what is assumed:

* Token fields (``tokensIn`` ...) are typed ``bigint | string``: they arrive as
  decimal strings or as JSON numbers, and become exact ``int`` (Python's JSON reader
  keeps a 40-digit integer literal exact). Other counters are typed ``number``; an
  integral number is accepted, anything else (a fraction, a negative, a boolean, a
  string that is not digits) is *invalid* for that cell, which then holds ``None``.
* ``timestamp`` has no documented unit: it is read by magnitude (seconds,
  milliseconds or microseconds; see :func:`parse_timestamp`), and an ISO 8601 string
  is accepted too.
* One row is one bucket for one combination of repository, configuration, API key,
  provider, model, host, user and conversation: rows with the same bucket, config,
  model and host are *summed*, never taken as duplicates of each other. A row whose
  full identity (all nine fields present) repeats an earlier one is a duplicate and is
  dropped (counted in :attr:`AiStatsPage.duplicates`); when some identity field is
  missing no row is ever dropped, because two such rows can be legitimately distinct.
* ``latency_ms`` is per row (most likely a mean): rows are combined weighted by their
  ``apiCalls``; a row without calls carries no latency weight.

Model and host names are server text: kept here as plain data, exactly as sent, and
made safe only where they are shown.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from enum import StrEnum
from fractions import Fraction
from typing import NamedTuple

from tui.counters import COUNTERS
from tui.errors import BadResponseError, one_line
from tui.models import envelope, json_kind
from tui.tokens import iso_seconds

#: Longer than any real counter, short enough that int() stays cheap.
MAX_DIGITS = 64
#: A joined ``aiLlmId`` list longer than this is not sent: the query asks for every
#: configuration and the rows are filtered here (a 10,000-id URL would be refused).
MAX_FILTER_CHARS = 4000

MINUTE = 60.0
DAY = 86400.0

#: The additive counters of a row, in this order in :class:`Totals` and everywhere.
SUM_FIELDS: tuple[str, ...] = (
    "apiCalls",
    "tokensIn",
    "tokensOut",
    "llmTokensIn",
    "llmTokensOut",
    "policyViolations",
    "numAlerts",
    "numBlocks",
    "numSeverityLow",
    "numSeverityMedium",
    "numSeverityHigh",
)
#: Typed ``bigint | string`` by the client: strings or numbers, both exact.
TOKEN_FIELDS = frozenset({"tokensIn", "tokensOut", "llmTokensIn", "llmTokensOut"})
#: A row field -> the ``/ai/llm/stats`` counter that is its running total.
STATS_COUNTER_OF: dict[str, str] = {
    "apiCalls": "totalApiCalls",
    "tokensIn": "totalTokensIn",
    "tokensOut": "totalTokensOut",
    "llmTokensIn": "totalLlmTokensIn",
    "llmTokensOut": "totalLlmTokensOut",
    "policyViolations": "totalPolicyViolations",
    "numAlerts": "totalAlerts",
    "numBlocks": "totalBlocks",
}
#: The fields that together say which slice of traffic a row is (its grain).
IDENTITY_FIELDS: tuple[str, ...] = (
    "repoId",
    "aiLlmId",
    "repoAiApiKeyId",
    "llmType",
    "llmModel",
    "host",
    "userUuid",
    "conversationUuid",
)

# Epoch values at or above these are milliseconds / microseconds: 1e11 seconds is the
# year 5138, 1e14 milliseconds the year 5138 too.
_MILLIS_FROM = 1e11
_MICROS_FROM = 1e14


# ---------------------------------------------------------------------------- query

_YEAR_10000 = 253_402_300_800.0  # what an ISO 8601 date can still spell


def iso_ms(at: float) -> str:
    """Epoch seconds as JavaScript's ``toISOString()``: ``2026-05-05T10:00:00.000Z``."""
    return datetime.fromtimestamp(at, tz=UTC).isoformat(timespec="milliseconds")[:-6] + "Z"


def _csv_values(name: str, values: Iterable[str]) -> tuple[str, ...]:
    if isinstance(values, str):
        # A bare string is a sequence of characters: "abc" would filter by a, b and c.
        raise ValueError(f"{name}: expected a list of values, not one string")
    out: list[str] = []
    for value in values:
        if not isinstance(value, str):
            raise ValueError(f"{name}: expected text, got {type(value).__name__}")
        if "," in value:
            # The list is comma-joined on the wire: such a value would become two.
            raise ValueError(f"{name}: {one_line(value, 60)!r} contains a comma")
        if value.strip():
            out.append(value)
    return tuple(dict.fromkeys(out))  # order kept, repeats dropped


@dataclass(frozen=True, slots=True)
class AiStatsQuery:
    """The filters of ``GET /aistats/minute`` and ``/aistats/daily``.

    ``start`` and ``end`` are epoch seconds (None: not sent). Each list becomes one
    comma-joined parameter; empty strings are dropped and an empty list is not sent
    at all, so the query never carries an empty ``aiLlmId=`` (which a server could
    read as "the configuration whose id is empty", i.e. nothing). A value containing
    a comma cannot be expressed and raises ValueError.
    """

    start: float | None = None
    end: float | None = None
    ai_llm_ids: Sequence[str] = ()
    repo_ids: Sequence[str] = ()
    repo_ai_api_key_ids: Sequence[str] = ()
    hosts: Sequence[str] = ()
    llm_types: Sequence[str] = ()
    llm_models: Sequence[str] = ()
    user_uuids: Sequence[str] = ()
    conversation_uuids: Sequence[str] = ()

    def __post_init__(self) -> None:
        for f in fields(self):
            if f.name in ("start", "end"):
                value = getattr(self, f.name)
                if value is not None and not (
                    isinstance(value, int | float) and 0 <= value < _YEAR_10000
                ):
                    raise ValueError(f"{f.name}: not a time between 1970 and 9999")
                continue
            object.__setattr__(self, f.name, _csv_values(f.name, getattr(self, f.name)))
        if self.start is not None and self.end is not None and self.start > self.end:
            # The official client refuses this locally too.
            raise ValueError("start is after end")

    def params(self) -> dict[str, str]:
        """Query parameters in the official client's order (a dict keeps it)."""
        out: dict[str, str] = {}
        if self.start is not None:
            out["startDate"] = iso_ms(self.start)
        if self.end is not None:
            out["endDate"] = iso_ms(self.end)
        for key, values in (
            ("repoId", self.repo_ids),
            ("aiLlmId", self.ai_llm_ids),
            ("repoAiApiKeyId", self.repo_ai_api_key_ids),
            ("hosts", self.hosts),
            ("llmType", self.llm_types),
            ("llmModel", self.llm_models),
            ("userUuid", self.user_uuids),
            ("conversationUuid", self.conversation_uuids),
        ):
            if values:
                out[key] = ",".join(values)
        return out

    def ids_too_long(self) -> bool:
        """True when the ``aiLlmId`` list is too long for a URL (see MAX_FILTER_CHARS)."""
        return len(",".join(self.ai_llm_ids)) > MAX_FILTER_CHARS


# ---------------------------------------------------------------------------- rows


def parse_timestamp(value: object) -> float | None:
    """A bucket time as epoch seconds, whatever unit it came in; None if unreadable.

    Numbers (or digit strings) are read by magnitude: below 1e11 seconds, below 1e14
    milliseconds, else microseconds. ISO 8601 strings are accepted as well.
    """
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        number = float(value)
    elif isinstance(value, str):
        text = value.strip()
        try:
            number = float(text) if text and text.replace(".", "", 1).isdigit() else math.nan
        except ValueError:
            number = math.nan
        if math.isnan(number):
            return iso_seconds(text)
    else:
        return None
    if not math.isfinite(number) or number <= 0:
        return None
    if number >= _MICROS_FROM:
        return number / 1e6
    if number >= _MILLIS_FROM:
        return number / 1e3
    return number


def parse_count(value: object) -> int | None:
    """An exact non-negative integer from a JSON number or a decimal string, else None.

    The token fields are typed ``bigint | string``, the others ``number``; both forms
    are accepted for all of them (a server serialising every count as text must not
    blank the screen).
    """
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        return value if value >= 0 else None
    if isinstance(value, float):
        if math.isfinite(value) and value >= 0 and value == int(value) and value < 2**53:
            return int(value)
        return None
    if isinstance(value, str):
        text = value.strip()
        if text and len(text) <= MAX_DIGITS and text.isascii() and text.isdigit():
            return int(text)
    return None


def _latency(value: object) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, str):
        try:
            value = float(value.strip())
        except ValueError:
            return None
    if isinstance(value, int | float) and math.isfinite(value) and value >= 0:
        return float(value)
    return None


@dataclass(frozen=True, slots=True)
class AiStatsRow:
    """One row of ``/aistats/*``, parsed: one bucket of one slice of traffic."""

    #: Bucket start, epoch seconds.
    at: float
    ai_llm_id: str
    #: ``llmModel`` / ``host`` / ``llmType`` as sent ("" when absent or not text).
    model: str = ""
    host: str = ""
    llm_type: str = ""
    #: Exact counts in SUM_FIELDS order; None where missing or invalid.
    counts: tuple[int | None, ...] = (None,) * len(SUM_FIELDS)
    latency_ms: float | None = None
    active_conversations: int | None = None
    repo_id: str = ""
    repo_ai_api_key_id: str = ""
    user_uuid: str = ""
    conversation_uuid: str = ""

    def get(self, name: str) -> int | None:
        """One of SUM_FIELDS by its API name."""
        return self.counts[_SUM_IDX[name]]


_SUM_IDX = {name: i for i, name in enumerate(SUM_FIELDS)}


@dataclass(frozen=True, slots=True)
class AiStatsPage:
    """One answer of ``/aistats/*``, parsed, with what had to be dropped."""

    rows: tuple[AiStatsRow, ...]
    #: Items that were not objects, or had no usable ``aiLlmId`` or ``timestamp``.
    skipped: int = 0
    #: Rows dropped because their full identity repeated an earlier row's.
    duplicates: int = 0
    #: Count cells that were present but not exact non-negative integers.
    invalid_cells: int = 0
    #: Count cells that were absent.
    missing_cells: int = 0


def _text(value: object) -> str:
    return value if isinstance(value, str) else ""


def parse_aistats_row(item: Mapping[str, object]) -> tuple[AiStatsRow | None, int, int]:
    """Parse one row: ``(row or None if unusable, invalid cells, missing cells)``."""
    ai_llm_id = item.get("aiLlmId")
    at = parse_timestamp(item.get("timestamp"))
    if not isinstance(ai_llm_id, str) or not ai_llm_id.strip() or at is None:
        return None, 0, 0
    counts: list[int | None] = []
    invalid = missing = 0
    for name in SUM_FIELDS:
        raw = item.get(name)
        value = parse_count(raw)
        if value is None:
            if raw is None:
                missing += 1
            else:
                invalid += 1
        counts.append(value)
    row = AiStatsRow(
        at=at,
        ai_llm_id=ai_llm_id,
        model=_text(item.get("llmModel")),
        host=_text(item.get("host")),
        llm_type=_text(item.get("llmType")),
        counts=tuple(counts),
        latency_ms=_latency(item.get("latency_ms")),
        active_conversations=parse_count(item.get("activeConversations")),
        repo_id=_text(item.get("repoId")),
        repo_ai_api_key_id=_text(item.get("repoAiApiKeyId")),
        user_uuid=_text(item.get("userUuid")),
        conversation_uuid=_text(item.get("conversationUuid")),
    )
    return row, invalid, missing


def parse_aistats_response(body: object) -> AiStatsPage:
    """Parse the JSON body of ``GET /aistats/minute`` or ``/aistats/daily``."""
    items = envelope(body, "data")
    if not isinstance(items, list):
        raise BadResponseError(f"unexpected response: 'data' is {json_kind(items)}, not a list")
    rows: list[AiStatsRow] = []
    seen: set[tuple[object, ...]] = set()
    skipped = duplicates = invalid = missing = 0
    for item in items:
        if not isinstance(item, dict):
            skipped += 1
            continue
        row, bad, absent = parse_aistats_row(item)
        if row is None:
            skipped += 1
            continue
        identity = tuple(item.get(k) for k in IDENTITY_FIELDS)
        if all(isinstance(v, str) for v in identity):
            key = (row.at, *identity)
            if key in seen:
                duplicates += 1
                continue
            seen.add(key)
        rows.append(row)
        invalid += bad
        missing += absent
    return AiStatsPage(
        rows=tuple(rows),
        skipped=skipped,
        duplicates=duplicates,
        invalid_cells=invalid,
        missing_cells=missing,
    )


# ---------------------------------------------------------------------------- sums


@dataclass(slots=True)
class Totals:
    """Sums of rows: exact counts, latency weighted by calls, and what was unknown."""

    #: Exact sums in SUM_FIELDS order (of the values that were known).
    counts: list[int] = field(default_factory=lambda: [0] * len(SUM_FIELDS))
    #: Fields for which at least one row had no value: their sums are lower bounds.
    incomplete: set[str] = field(default_factory=set)
    rows: int = 0
    #: Sum of latency x calls, and of the calls of rows with a known latency.
    latency_weighted: float = 0.0
    latency_calls: int = 0

    def add(self, row: AiStatsRow) -> None:
        self.rows += 1
        counts = self.counts
        for i, value in enumerate(row.counts):
            if value is None:
                self.incomplete.add(SUM_FIELDS[i])
            else:
                counts[i] += value
        calls = row.counts[0]
        if row.latency_ms is not None and calls:
            self.latency_weighted += row.latency_ms * calls
            self.latency_calls += calls

    def merge(self, other: Totals) -> None:
        self.rows += other.rows
        for i, value in enumerate(other.counts):
            self.counts[i] += value
        self.incomplete |= other.incomplete
        self.latency_weighted += other.latency_weighted
        self.latency_calls += other.latency_calls

    def get(self, name: str) -> int:
        """One of SUM_FIELDS by its API name."""
        return self.counts[_SUM_IDX[name]]

    @property
    def tokens(self) -> int:
        """Tokens in plus out."""
        return self.get("tokensIn") + self.get("tokensOut")

    @property
    def mean_latency_ms(self) -> float | None:
        """Mean latency weighted by calls; None when no row with calls had a latency."""
        if self.latency_calls <= 0:
            return None
        return self.latency_weighted / self.latency_calls

    def stats_counters(self) -> dict[str, int]:
        """The sums under the ``/ai/llm/stats`` counter names (growth of those totals)."""
        return {STATS_COUNTER_OF[name]: self.get(name) for name in STATS_COUNTER_OF}

    def stats_values(self) -> tuple[int | None, ...]:
        """The sums in :data:`tui.counters.COUNTERS` order (like a sample's values),
        None where some row lacked the field (the sum would understate it)."""
        by_counter = {counter: name for name, counter in STATS_COUNTER_OF.items()}
        return tuple(
            None if by_counter[c] in self.incomplete else self.get(by_counter[c]) for c in COUNTERS
        )


class GroupKey(NamedTuple):
    """A bucket of one configuration, perhaps of one model and/or host."""

    at: float
    ai_llm_id: str
    model: str | None = None
    host: str | None = None


def bucket_of(at: float, size: float = MINUTE) -> float:
    """The start of the bucket of ``size`` seconds (aligned to the epoch) holding ``at``."""
    return math.floor(at / size) * size


def group_rows(
    rows: Iterable[AiStatsRow],
    *,
    bucket: float = MINUTE,
    by_model: bool = False,
    by_host: bool = False,
) -> dict[GroupKey, Totals]:
    """Sum rows per (bucket, aiLlmId[, model][, host]); latency weighted by calls."""
    out: dict[GroupKey, Totals] = {}
    for row in rows:
        key = GroupKey(
            bucket_of(row.at, bucket),
            row.ai_llm_id,
            row.model if by_model else None,
            row.host if by_host else None,
        )
        totals = out.get(key)
        if totals is None:
            totals = out[key] = Totals()
        totals.add(row)
    return out


def series_by_config(
    rows: Iterable[AiStatsRow], *, bucket: float = MINUTE
) -> dict[str, list[tuple[float, Totals]]]:
    """Per configuration, its buckets in time order with their sums (for charts and backfill)."""
    out: dict[str, list[tuple[float, Totals]]] = {}
    for key, totals in sorted(group_rows(rows, bucket=bucket).items()):
        out.setdefault(key.ai_llm_id, []).append((key.at, totals))
    return out


# ---------------------------------------------------------------------------- breakdown


class Dimension(StrEnum):
    """What a breakdown splits traffic by."""

    MODEL = "model"
    HOST = "host"


@dataclass(frozen=True, slots=True)
class BreakdownItem:
    """One model (or host) of a breakdown."""

    #: The model or host name as the server sent it ("" when it sent none).
    name: str
    totals: Totals
    #: Share of all tokens (in + out) in the window; None when there were none.
    share: Fraction | None
    #: Share of all calls; None when there were none.
    calls_share: Fraction | None
    #: Configurations with traffic under this name.
    configs: int

    @property
    def mean_latency_ms(self) -> float | None:
        return self.totals.mean_latency_ms


@dataclass(frozen=True, slots=True)
class Breakdown:
    """Traffic of a window split by model or host, largest first."""

    by: Dimension
    items: tuple[BreakdownItem, ...]
    total: Totals
    #: The window's bounds as asked (epoch seconds; None: open).
    since: float | None
    until: float | None


def breakdown(
    rows: Iterable[AiStatsRow],
    by: Dimension | str,
    *,
    since: float | None = None,
    until: float | None = None,
    ai_llm_ids: Collection[str] | None = None,
) -> Breakdown:
    """Split the rows whose bucket starts in ``[since, until]`` by model or host.

    Per name: tokens in/out, LLM tokens, calls, policy events and severities (exact
    sums), the share of tokens and of calls, and the mean latency weighted by calls.
    ``ai_llm_ids`` keeps only those configurations. Items are ordered by tokens, then
    calls, largest first, then by name.
    """
    dim = Dimension(by)
    wanted = None if ai_llm_ids is None else frozenset(ai_llm_ids)
    per: dict[str, Totals] = {}
    configs: dict[str, set[str]] = {}
    total = Totals()
    for row in rows:
        if since is not None and row.at < since:
            continue
        if until is not None and row.at > until:
            continue
        if wanted is not None and row.ai_llm_id not in wanted:
            continue
        name = row.model if dim is Dimension.MODEL else row.host
        totals = per.get(name)
        if totals is None:
            totals = per[name] = Totals()
            configs[name] = set()
        totals.add(row)
        configs[name].add(row.ai_llm_id)
        total.add(row)
    all_tokens, all_calls = total.tokens, total.get("apiCalls")
    items = [
        BreakdownItem(
            name=name,
            totals=t,
            share=Fraction(t.tokens, all_tokens) if all_tokens else None,
            calls_share=Fraction(t.get("apiCalls"), all_calls) if all_calls else None,
            configs=len(configs[name]),
        )
        for name, t in per.items()
    ]
    items.sort(key=lambda i: (-i.totals.tokens, -i.totals.get("apiCalls"), i.name))
    return Breakdown(by=dim, items=tuple(items), total=total, since=since, until=until)
