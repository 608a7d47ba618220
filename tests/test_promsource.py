"""Long windows from Prometheus: the query, the answer's parsing, and the drill-down's
7-day chart drawn from a (fake) Prometheus on 127.0.0.1, or from local history with a
note when it cannot answer."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from textual.widgets import Static
from ui_helpers import advance, detail_screen, running, static_text, wait_for

from tui.promsource import METRICS, PrometheusError, label_value, query_for, samples_from

DAY = 86400.0


def test_the_query_escapes_the_id_and_names_every_counter() -> None:
    q = query_for('evil"}\\id')
    assert 'ai_llm_id="evil\\"}\\\\id"' in q
    assert all(name in q for name in METRICS)
    assert label_value("a\nb") == "a\\nb"


def matrix(points: dict[str, list[tuple[float, str]]]) -> dict[str, Any]:
    return {
        "status": "success",
        "data": {
            "resultType": "matrix",
            "result": [
                {"metric": {"__name__": name, "ai_llm_id": "x"}, "values": [list(p) for p in pts]}
                for name, pts in points.items()
            ],
        },
    }


def test_an_answer_becomes_samples_by_time_with_gaps_as_none() -> None:
    body = matrix(
        {
            "flashback_ai_llm_tokens_in_total": [(100.0, "10"), (160.0, "25")],
            "flashback_ai_llm_blocks_total": [(160.0, "3"), (220.0, "NaN")],
        }
    )
    samples = samples_from(body)
    assert [s.at for s in samples] == [100.0, 160.0]
    assert samples[0].values[1] == 10 and samples[0].values[7] is None
    assert samples[1].values[1] == 25 and samples[1].values[7] == 3
    with pytest.raises(PrometheusError):
        samples_from({"status": "error", "error": "bad \x1b[31m query"})


class FakePrometheus:
    """Answers query_range with a steady counter: 1,000 tokens in a minute."""

    def __init__(self) -> None:
        self.queries: list[dict[str, list[str]]] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                params = parse_qs(urlsplit(self.path).query)
                fake.queries.append(params)
                start, end = float(params["start"][0]), float(params["end"][0])
                step = float(params["step"][0])
                points, t = [], start
                while t <= end:
                    points.append((t, str(int(1000 * (t - start) / 60))))
                    t += step
                body = json.dumps(matrix({"flashback_ai_llm_tokens_in_total": points})).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def prometheus() -> Iterator[FakePrometheus]:
    fake = FakePrometheus()
    yield fake
    fake.close()


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def seven_days(h: Any) -> Static:
    """Open support-bot's drill-down and show the 7-day window; its status line."""
    assert h.pilot is not None
    await advance(h, 5)
    h.app.overview.table.select_id(h.id_of("support-bot"))
    await h.pilot.press("enter")
    await wait_for(h.pilot, lambda: h.app.screen is not h.app.overview, message="detail")
    screen = detail_screen(h)
    for _ in range(3):  # 5 min -> 1 h -> 24 h -> 7 d
        await h.pilot.press("w")
    return screen.query_one("#detail-status", Static)


async def test_the_seven_day_chart_comes_from_prometheus(prometheus: FakePrometheus) -> None:
    async with running(settings_changes={"prometheus_url": prometheus.url}) as h:
        title = await seven_days(h)
        await wait_for(
            h.pilot,  # type: ignore[arg-type]
            lambda: "from Prometheus" in static_text(title),
            message="the chart from Prometheus",
        )
        # The token chart was drawn from Prometheus' samples, a week of them.
        screen = detail_screen(h)
        key = screen._chart_key
        assert key is not None and h.clock.now - key[1] > 6 * DAY
        spans = {float(q["end"][0]) - float(q["start"][0]) for q in prometheus.queries}
        assert any(abs(span - 7 * DAY) < 1 for span in spans)  # (and 24 h on the way)
        assert all(h.id_of("support-bot") in q["query"][0] for q in prometheus.queries)


async def test_an_unreachable_prometheus_leaves_local_history_with_a_note() -> None:
    url = f"http://127.0.0.1:{closed_port()}"
    async with running(settings_changes={"prometheus_url": url}) as h:
        title = await seven_days(h)
        await wait_for(
            h.pilot,  # type: ignore[arg-type]
            lambda: "Prometheus unreachable" in static_text(title),
            message="the note",
        )
        assert "(local: Prometheus unreachable" in static_text(title)


async def test_without_prometheus_long_windows_are_local_only() -> None:
    async with running() as h:
        title = await seven_days(h)
        assert "Prometheus" not in static_text(title)
