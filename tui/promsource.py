"""Long history from Prometheus: one configuration's counters over days, from the
metrics `flashtop daemon` exports.

The drill-down's 7-day and 30-day windows reach past what a laptop's history file
holds when flashtop has not run all that time; a profile may name the Prometheus
that scrapes a daemon (``prometheus_url``), and its ``query_range`` answers. httpx
against the HTTP API: a client library that pulls pandas is not worth it. No UI
toolkit here.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import httpx

from tui.counters import COUNTERS, METRIC_NAMES, id_label
from tui.errors import FlashtopError, one_line
from tui.history import Sample

#: The exported metric of each counter, in COUNTERS order (see tui/metrics.py).
METRICS: tuple[str, ...] = tuple(f"{METRIC_NAMES[api]}_total" for api in COUNTERS)
_INDEX = {name: i for i, name in enumerate(METRICS)}
#: Points asked for across a window (Prometheus caps a range query at 11,000).
POINTS = 400
TIMEOUT = 10.0
#: Answers larger than this are refused (a window of one configuration is small).
MAX_BYTES = 8 * 1024 * 1024


class PrometheusError(FlashtopError):
    """Prometheus could not answer; the message is one line for the screen."""


def label_value(text: str) -> str:
    """``text`` as a PromQL string literal's inside (backslash and quote escaped)."""
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def query_for(ai_llm_id: str, matchers: Mapping[str, str] | None = None) -> str:
    """The PromQL of every counter of one configuration (and, with ``matchers``, only
    the series with those labels: one daemon's ``instance``), one series per counter:
    several daemons (two profiles, a pair for availability) may export the same
    configuration, and their series interleaved would read as resets. They count the
    same account's running totals, so the largest at each moment is the latest."""
    names = "|".join(METRICS)
    labels = f'__name__=~"{names}",ai_llm_id="{label_value(id_label(ai_llm_id))}"'
    for key, value in (matchers or {}).items():
        labels += f',{key}="{label_value(value)}"'
    return "max by (__name__) ({" + labels + "})"


def samples_from(body: Mapping[str, Any]) -> list[Sample]:
    """A ``query_range`` answer as samples, oldest first: one per timestamp, each
    counter where its series has a value then (None where not; float64 values are
    whole numbers as long as they are below 2^53)."""
    if body.get("status") != "success":
        raise PrometheusError(f"Prometheus said: {one_line(str(body.get('error', '?')), 120)}")
    data = body.get("data")
    if not isinstance(data, dict) or data.get("resultType") != "matrix":
        raise PrometheusError("Prometheus sent no range of samples")
    rows: dict[float, list[int | None]] = {}
    for series in data.get("result") or []:
        if not isinstance(series, dict):
            continue
        metric = series.get("metric") or {}
        index = _INDEX.get(str(metric.get("__name__", "")))
        if index is None:
            continue
        for point in series.get("values") or []:
            try:
                at, text = float(point[0]), str(point[1])
                value = float(text)
            except (TypeError, ValueError, IndexError):
                continue
            if not math.isfinite(value) or value < 0:
                continue
            rows.setdefault(at, [None] * len(METRICS))[index] = int(value)
    return [Sample(at, tuple(values)) for at, values in sorted(rows.items())]


async def fetch_history(
    base_url: str,
    ai_llm_id: str,
    start: float,
    end: float,
    *,
    matchers: Mapping[str, str] | None = None,
    points: int = POINTS,
    client: httpx.AsyncClient | None = None,
) -> list[Sample]:
    """One configuration's counters from ``start`` to ``end`` (epoch seconds).

    Raises :class:`PrometheusError` with a one-line reason when Prometheus cannot be
    reached or answers with an error."""
    step = max(60.0, math.ceil((end - start) / max(1, points)))
    params: dict[str, str | float] = {
        "query": query_for(ai_llm_id, matchers),
        "start": start,
        "end": end,
        "step": step,
    }
    url = base_url.rstrip("/") + "/api/v1/query_range"
    own = client is None
    http = client or httpx.AsyncClient(timeout=TIMEOUT)
    try:
        response = await http.get(url, params=params)
        if len(response.content) > MAX_BYTES:
            raise PrometheusError("Prometheus sent too much for one configuration")
        if response.status_code != 200 and not response.content.startswith(b"{"):
            raise PrometheusError(f"Prometheus answered HTTP {response.status_code}")
        try:
            body = response.json()
        except ValueError:
            raise PrometheusError("Prometheus sent something that is not JSON") from None
        if not isinstance(body, dict):
            raise PrometheusError("Prometheus sent something unexpected")
        return samples_from(body)
    except httpx.HTTPError as exc:
        raise PrometheusError(
            f"Prometheus unreachable ({one_line(type(exc).__name__, 40)})"
        ) from None
    finally:
        if own:
            await http.aclose()
