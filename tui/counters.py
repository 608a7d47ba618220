"""The one registry of counters: every per-counter table in flashtop is derived from it.

A counter's API field name, its table column, its labels (short for the totals line
and CSV-like headers, long for the drill-down) and, for event counters, the words
an alert uses, all live in one :class:`Counter`. Adding a counter is one entry here
(plus a store migration: the history file's chunks hold as many counters as there
were when they were written).

Standard library only: the wire layer (``models``) imports it.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Counter:
    """One counter of ``GET /ai/llm/stats``."""

    #: The API's field name, e.g. ``totalApiCalls``.
    api: str
    #: Key of its column and sort order in the overview, e.g. ``calls``.
    key: str
    #: Column title in the overview table.
    title: str
    #: Column width in cells, and from what screen width the column is shown.
    width: int
    min_screen: int
    #: Label in the overview's totals line.
    short: str
    #: Label in `flashtop stats` headers (upper-cased there).
    label: str
    #: Label in the drill-down's figures.
    long: str
    #: Singular and plural for alerts; set only for event counters (violations,
    #: alerts, blocks), whose every increase is worth telling someone about.
    words: tuple[str, str] | None = None
    #: An increase is an error rather than a warning (blocks).
    severe: bool = False

    @property
    def is_event(self) -> bool:
        return self.words is not None


_C = Counter
# fmt: off
REGISTRY: tuple[Counter, ...] = (
    # api                     key        title     width screen short     label        long
    _C("totalApiCalls",       "calls",   "CALLS",   6, 100, "calls",   "calls",   "API calls"),
    _C("totalTokensIn",       "tok_in",  "TOK IN",  6, 0,   "in",      "tok_in",  "Tokens in"),
    _C("totalTokensOut",      "tok_out", "TOK OUT", 7, 0,   "out",     "tok_out", "Tokens out"),
    _C("totalLlmTokensIn",    "llm_in",  "LLM IN",  6, 120, "llm in",  "llm_in",  "LLM tokens in"),
    _C("totalLlmTokensOut",   "llm_out", "LLM OUT", 7, 120, "llm out", "llm_out", "LLM tokens out"),
    _C("totalPolicyViolations", "viol", "VIOL",   4, 0,   "viol", "violations", "Policy violations",
       words=("violation", "violations")),
    _C("totalAlerts",         "alerts",  "ALRT",    4, 100, "alrt",    "alerts",  "Alerts",
       words=("alert", "alerts")),
    _C("totalBlocks",         "blocks",  "BLK",     4, 0,   "blk",     "blocks",  "Blocks",
       words=("block", "blocks"), severe=True),
)
# fmt: on

#: The API field names, in the order the UI shows them and samples hold them.
COUNTERS: tuple[str, ...] = tuple(c.api for c in REGISTRY)
#: API field name -> index in COUNTERS (and in every values tuple).
IDX: dict[str, int] = {c.api: i for i, c in enumerate(REGISTRY)}
#: API field name -> its Counter.
BY_API: dict[str, Counter] = {c.api: c for c in REGISTRY}
#: Indices of the event counters.
EVENT_INDICES: tuple[int, ...] = tuple(i for i, c in enumerate(REGISTRY) if c.is_event)
#: API field name -> its Prometheus metric (without ``_total``), as `flashtop daemon`
#: exports it and the drill-down reads it back (tui/metrics.py, tui/promsource.py).
METRIC_NAMES: dict[str, str] = {
    c.api: "flashback_ai_llm_"
    + "_".join(part.lower() for part in re.findall(r"[A-Z][a-z]+|[A-Z]+(?![a-z])", c.api[5:]))
    for c in REGISTRY
}
TOKENS_IN = IDX["totalTokensIn"]
TOKENS_OUT = IDX["totalTokensOut"]
CALLS = IDX["totalApiCalls"]


#: The longest ``ai_llm_id`` label value exported as is (metrics and Prometheus queries).
ID_LABEL_MAX = 256


def id_label(ai_llm_id: str) -> str:
    """The ``ai_llm_id`` label value of a configuration: the id itself when it is at
    most :data:`ID_LABEL_MAX` characters of valid UTF-8; else its start, "…" and 12
    hex digits of its SHA-256, so two long ids that start alike stay two series (and
    a lone surrogate from JSON cannot make a whole scrape fail to encode)."""
    clean = ai_llm_id.encode("utf-8", "replace").decode("utf-8")
    if clean == ai_llm_id and len(clean) <= ID_LABEL_MAX:
        return clean
    digest = hashlib.sha256(ai_llm_id.encode("utf-8", "surrogatepass")).hexdigest()[:12]
    return clean[: ID_LABEL_MAX - 14] + "…" + digest
