"""Parsed, validated records of the Flashback API with exact integer counters.

Counters arrive as decimal strings "to support large numbers without precision
loss". They become Python ``int`` here and never ``float``. Anything that is not a
plain run of ASCII digits is *invalid* for that one cell; an absent field is
*unknown*. Neither crashes the parse or turns into 0: the cell is ``None`` and the
reason is kept so that the screen can show ``?`` and count it.
"""

from __future__ import annotations

import operator
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType

from tui.counters import COUNTERS as _COUNTERS
from tui.counters import IDX, REGISTRY
from tui.errors import BadResponseError, UnsuccessfulError, one_line

#: The counters' API field names, from the one registry (tui/counters.py).
COUNTERS: tuple[str, ...] = _COUNTERS
#: Labels for `flashtop stats` headers, by API field name.
COUNTER_LABELS: dict[str, str] = {c.api: c.label for c in REGISTRY}

# Longer than any real counter (2**128 has 39 digits) but short enough that int()
# stays cheap and Python's int-from-str digit limit is never reached.
MAX_DIGITS = 64


class CellProblem(StrEnum):
    """Why a counter cell holds no number."""

    MISSING = "missing"
    INVALID = "invalid"


def parse_counter(value: object) -> int | CellProblem:
    """Turn one counter as sent by the API into an exact int, or say why not."""
    if value is None:
        return CellProblem.MISSING
    if not isinstance(value, str):
        # A JSON number where a decimal string belongs may already have lost
        # precision in someone's encoder; bool is an int subclass. Both invalid.
        return CellProblem.INVALID
    # isdigit() alone accepts other scripts' digits ("٣", "²"); with isascii() it is
    # exactly [0-9]+ (an empty string is not digits), and faster than a regex.
    if len(value) > MAX_DIGITS or not (value.isascii() and value.isdigit()):
        return CellProblem.INVALID
    return int(value)


@dataclass(frozen=True, slots=True)
class LlmStats:
    """Usage counters of one LLM configuration at one moment."""

    ai_llm_id: str
    #: Exact values in COUNTERS order; None where the cell is missing or invalid.
    values: tuple[int | None, ...]
    #: Counter field name -> why it has no value, for the cells that have none.
    problems: Mapping[str, CellProblem] = field(default_factory=dict)
    #: The object exactly as the server sent it (for `stats --json`).
    raw: Mapping[str, object] = field(default_factory=dict, repr=False, compare=False)

    def get(self, name: str) -> int | None:
        """Value of one counter by its API field name."""
        return self.values[IDX[name]]

    def __iter__(self) -> Iterator[int | None]:
        return iter(self.values)

    @property
    def invalid_count(self) -> int:
        return sum(1 for p in self.problems.values() if p is CellProblem.INVALID)

    @property
    def missing_count(self) -> int:
        return sum(1 for p in self.problems.values() if p is CellProblem.MISSING)


@dataclass(frozen=True, slots=True)
class StatsPage:
    """One answer of ``GET /ai/llm/stats``, parsed, with what had to be dropped."""

    stats: tuple[LlmStats, ...]
    #: Objects that were not JSON objects or had no usable ``aiLlmId``.
    skipped: int = 0
    #: Ids that appeared more than once (first occurrence kept), each listed once.
    duplicate_ids: tuple[str, ...] = ()

    @property
    def invalid_cells(self) -> int:
        return sum(s.invalid_count for s in self.stats if s.problems)

    @property
    def missing_cells(self) -> int:
        return sum(s.missing_count for s in self.stats if s.problems)

    def by_id(self) -> dict[str, LlmStats]:
        return {s.ai_llm_id: s for s in self.stats}


@dataclass(frozen=True, slots=True)
class LlmConfig:
    """One LLM configuration from ``GET /ai/llm``: what turns an id into a name."""

    id: str
    name: str | None = None
    ai_type: str | None = None
    workspace_id: str | None = None
    created_at: str | None = None


@dataclass(frozen=True, slots=True)
class Workspace:
    """One workspace from ``GET /workspace``."""

    id: str
    name: str | None = None


_ALL_COUNTERS = operator.itemgetter(*COUNTERS)
_NO_PROBLEMS: Mapping[str, CellProblem] = MappingProxyType({})


def parse_stats_object(obj: Mapping[str, object], ai_llm_id: str) -> LlmStats:
    """Parse the counters of one stats object whose id is already known to be good."""
    # The common case at C speed: every counter present, a non-empty string of ASCII
    # digits (joined, they are ASCII digits only if each one is; and none is longer
    # than MAX_DIGITS when all of them together are not).
    try:
        texts = _ALL_COUNTERS(obj)
        joined = "".join(texts)
    except (KeyError, TypeError):
        pass
    else:
        if (
            joined.isascii()
            and joined.isdigit()
            and all(texts)
            and (len(joined) <= MAX_DIGITS or max(map(len, texts)) <= MAX_DIGITS)
        ):
            return LlmStats(ai_llm_id, tuple(map(int, texts)), _NO_PROBLEMS, obj)
    values: list[int | None] = []
    problems: dict[str, CellProblem] = {}
    for name in COUNTERS:
        value = obj.get(name)
        # The common case inline (a str of ASCII digits); anything else the long way.
        if type(value) is str and value.isascii() and value.isdigit() and len(value) <= MAX_DIGITS:
            values.append(int(value))
            continue
        parsed = parse_counter(value)
        if isinstance(parsed, CellProblem):
            problems[name] = parsed
            values.append(None)
        else:
            values.append(parsed)
    return LlmStats(ai_llm_id=ai_llm_id, values=tuple(values), problems=problems, raw=obj)


def _usable_id(value: object) -> str | None:
    if isinstance(value, str) and value.strip():
        return value
    return None


def envelope(body: object, key: str) -> object:
    """Check ``success`` and return ``body[key]``; raise a typed error otherwise."""
    if not isinstance(body, dict):
        raise BadResponseError(
            f"unexpected response: expected a JSON object, got {json_kind(body)}"
        )
    if body.get("success") is False:
        msg = body.get("message")
        text = one_line(msg) if isinstance(msg, str) and msg.strip() else "no reason given"
        raise UnsuccessfulError(f"the server reported failure: {text}")
    if key not in body:
        raise BadResponseError(f"unexpected response: no '{key}' field")
    return body[key]


def json_kind(value: object) -> str:
    if value is None:
        return "null"
    return {dict: "an object", list: "a list", str: "a string", bool: "a boolean"}.get(
        type(value), "a number"
    )


def parse_stats_response(body: object, known: dict[str, LlmStats] | None = None) -> StatsPage:
    """Parse the JSON body of ``GET /ai/llm/stats``.

    ``known``: the configurations of the previous page by id, replaced by this page's.
    An object equal to the one a known configuration was parsed from is that
    configuration again (a dict comparison, in C, instead of parsing its counters):
    from one poll to the next most configurations do not change.
    """
    items = envelope(body, "stats")
    if not isinstance(items, list):
        raise BadResponseError(f"unexpected response: 'stats' is {json_kind(items)}, not a list")
    stats: list[LlmStats] = []
    seen: set[str] = set()
    duplicates: dict[str, None] = {}
    skipped = 0
    for item in items:
        if not isinstance(item, dict):
            skipped += 1
            continue
        ai_llm_id = _usable_id(item.get("aiLlmId"))
        if ai_llm_id is None:
            skipped += 1
            continue
        if ai_llm_id in seen:
            duplicates[ai_llm_id] = None
            continue
        seen.add(ai_llm_id)
        before = known.get(ai_llm_id) if known is not None else None
        if before is not None and before.raw == item:
            stats.append(before)
        else:
            stats.append(parse_stats_object(item, ai_llm_id))
    if known is not None:
        known.clear()
        known.update((s.ai_llm_id, s) for s in stats)
    return StatsPage(stats=tuple(stats), skipped=skipped, duplicate_ids=tuple(duplicates))


def _opt_str(value: object) -> str | None:
    return value if isinstance(value, str) else None


def parse_llms_response(body: object) -> tuple[LlmConfig, ...]:
    """Parse ``GET /ai/llm``. Entries without a usable id are dropped; ``key`` is never kept."""
    items = envelope(body, "aiLlms")
    if not isinstance(items, list):
        raise BadResponseError(f"unexpected response: 'aiLlms' is {json_kind(items)}, not a list")
    out: list[LlmConfig] = []
    for item in items:
        if not isinstance(item, dict):
            continue
        ident = _usable_id(item.get("id"))
        if ident is None:
            continue
        out.append(
            LlmConfig(
                id=ident,
                name=_opt_str(item.get("name")),
                ai_type=_opt_str(item.get("aiType")),
                workspace_id=_opt_str(item.get("workspaceId")),
                created_at=_opt_str(item.get("createdAt")),
            )
        )
    return tuple(out)


def parse_workspaces_response(body: object) -> tuple[Workspace, ...]:
    """Parse ``GET /workspace``."""
    items = envelope(body, "workspaces")
    if not isinstance(items, list):
        raise BadResponseError(
            f"unexpected response: 'workspaces' is {json_kind(items)}, not a list"
        )
    out: list[Workspace] = []
    for item in items:
        if isinstance(item, dict) and (ident := _usable_id(item.get("id"))) is not None:
            out.append(Workspace(id=ident, name=_opt_str(item.get("name"))))
    return tuple(out)
