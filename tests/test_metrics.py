"""The Prometheus collector against a real loopback demo server: exposition parsed back,
hostile names as label values, scrapes that never call the API, /healthz, the textfile."""

from __future__ import annotations

import asyncio
import os
import threading
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.openmetrics.parser import (
    text_string_to_metric_families as openmetrics_families,
)
from prometheus_client.parser import text_string_to_metric_families
from test_hostile import HOSTILE_TEXT, hostile_payload

import tui.metrics as metrics_module
from tui.counters import COUNTERS, IDX
from tui.demo import DEMO_MODELS, DEMO_PRICES
from tui.demo_server import DemoServer
from tui.errors import NetworkError, ServerError
from tui.metrics import (
    COUNTER_METRICS,
    ERROR_KINDS,
    LABEL_MAX,
    LABELS,
    MetricsServer,
    MonitorMetrics,
    error_kind,
    exposition,
    is_loopback,
    label_value,
    parse_listen,
    text_exposition,
    write_textfile,
)
from tui.monitor import Monitor, PollUpdate
from tui.settings import Settings
from tui.tokens import AuthSession, TokenSet

STATS = "/ai/llm/stats"


@asynccontextmanager
async def on_demo(
    server: DemoServer | None = None, **settings: Any
) -> AsyncIterator[tuple[Monitor, DemoServer, MonitorMetrics]]:
    """A Monitor (real clock) on a demo server, and metrics fed by hand."""
    server = server or DemoServer()
    server.start()
    access, refresh = server.issue_tokens()
    session = AuthSession(TokenSet(access, refresh, obtained_at=time.time()), source="test")
    monitor = Monitor(Settings(profile="p", base_url=server.base_url, **settings), session)
    metrics = MonitorMetrics("p", monitor.poller.interval)
    try:
        yield monitor, server, metrics
    finally:
        await monitor.aclose()
        server.stop()


async def poll(monitor: Monitor, metrics: MonitorMetrics) -> PollUpdate:
    page = await monitor.fetch_overview()
    update = await monitor.ingest(page, time.time(), overview=True)
    metrics.record_poll(update, monitor)
    metrics.record_alerts(monitor.rules)
    return update


def families(metrics: MonitorMetrics) -> dict[str, Any]:
    text = text_exposition(metrics.registry()).decode("utf-8")
    return {f.name: f for f in text_string_to_metric_families(text)}


def by_id(family: Any, suffix: str = "_total") -> dict[str, Any]:
    return {s.labels["ai_llm_id"]: s for s in family.samples if s.name.endswith(suffix)}


async def test_exposition_parses_back_to_the_demos_exact_counters() -> None:
    async with on_demo(models={**DEMO_MODELS, "*-triage": "gpt-4o-mini"}, prices=DEMO_PRICES) as (
        monitor,
        _server,
        metrics,
    ):
        update = await poll(monitor, metrics)
        fams = families(metrics)
        assert len(update.page.stats) == 12
        for api, name in COUNTER_METRICS.items():
            family = fams[name]  # the parser strips _total from a counter's family name
            assert family.type == "counter"
            assert "2^53" in family.documentation
            samples = by_id(family)
            assert set(samples) == {s.ai_llm_id for s in update.page.stats}
            for s in update.page.stats:
                sample = samples[s.ai_llm_id]
                assert sample.name == f"{name}_total"
                assert set(sample.labels) == set(LABELS)
                exact = s.values[IDX[api]]
                assert exact is not None and exact < 2**53
                assert sample.value == exact and int(sample.value) == exact
        one = update.page.stats[0]
        labels = by_id(fams["flashback_ai_llm_api_calls"])[one.ai_llm_id].labels
        cfg = monitor.names[one.ai_llm_id]
        assert labels["name"] == cfg.name and labels["provider"] == cfg.ai_type
        assert labels["workspace"] == monitor.workspaces[cfg.workspace_id or ""]
        assert labels["profile"] == "p"

        # Cost: priced configurations only, equal to Costs.all_time.
        cost = by_id(fams["flashback_ai_llm_cost_usd"])
        sandbox = next(i for i, c in monitor.names.items() if c.name == "sandbox-llama")
        assert sandbox not in cost and len(cost) == 11
        for ident, sample in cost.items():
            values = update.page.by_id()[ident].values
            assert sample.value == pytest.approx(float(monitor.costs.all_time(ident, values) or 0))

        assert fams["flashtop_up"].samples[0].value == 1.0
        assert fams["flashtop_up"].type == "gauge"
        last = fams["flashtop_last_success_timestamp_seconds"].samples[0].value
        assert last == pytest.approx(update.at)
        assert fams["flashtop_build_info"].samples[0].labels == {"version": metrics.version}
        firing = {s.labels["rule"]: s.value for s in fams["flashtop_alerts_firing"].samples}
        assert set(firing) == {r.name for r in monitor.rules.rules}
        errors = {s.labels["kind"]: s.value for s in fams["flashtop_poll_errors"].samples}
        assert errors == dict.fromkeys(ERROR_KINDS, 0.0)
        assert fams["flashtop_poll_duration_seconds"].type == "histogram"


async def test_big_and_invalid_counters() -> None:
    """Above 2**53 the float64 rounds (documented); an invalid value is left out, never 0."""
    big = 2**53 + 1
    forty = "1234567890123456789012345678901234567890"
    extra = [
        {"aiLlmId": "big", **dict.fromkeys(COUNTERS, str(big))},
        {"aiLlmId": "forty", **dict.fromkeys(COUNTERS, forty)},
        {"aiLlmId": "bad", **dict.fromkeys(COUNTERS, "1e3"), "totalApiCalls": "7"},
    ]
    async with on_demo(DemoServer(extra_stats=extra)) as (monitor, _server, metrics):
        await poll(monitor, metrics)
        fams = families(metrics)
        calls = by_id(fams["flashback_ai_llm_api_calls"])
        tokens = by_id(fams["flashback_ai_llm_tokens_in"])
        assert calls["big"].value == float(big) == 2.0**53  # rounded, as the HELP says
        assert tokens["forty"].value == float(int(forty))
        assert calls["bad"].value == 7.0
        assert "bad" not in tokens  # unknown, not 0


async def test_hostile_names_are_escaped_label_values_that_round_trip() -> None:
    stats, llms = hostile_payload()
    server = DemoServer(extra_stats=stats, extra_llms=llms)
    async with on_demo(server) as (monitor, _server, metrics):
        await poll(monitor, metrics)
        registry = metrics.registry()
        text = text_exposition(registry).decode("utf-8")
        calls = by_id(
            {f.name: f for f in text_string_to_metric_families(text)}["flashback_ai_llm_api_calls"]
        )
        for key, hostile in HOSTILE_TEXT.items():
            expected = label_value(hostile)
            sample = calls[f"name-{key}"]
            assert sample.labels["name"] == expected, key
            assert sample.labels["provider"] == expected, key
            assert sample.labels["workspace"] == expected, key
            # A hostile id is a label value too.
            assert f"{label_value(hostile)}#{key}" in calls or len(hostile) > LABEL_MAX
        # Escaped in the text: a newline never starts a new sample line.
        assert "line1\\nline2" in text
        for line in text.rstrip("\n").split("\n"):
            assert line.startswith(("#", "flashback_", "flashtop_")), line[:80]
        assert HOSTILE_TEXT["long"] not in text
        assert calls["name-long"].labels["name"] == "W" * (LABEL_MAX - 1) + "…"
        # OpenMetrics too.
        body, content_type = exposition(registry, "application/openmetrics-text; version=1.0.0")
        assert content_type.startswith("application/openmetrics-text")
        om = {f.name: f for f in openmetrics_families(body.decode("utf-8"))}
        om_calls = by_id(om["flashback_ai_llm_api_calls"])
        assert om_calls["name-newlines"].labels["name"] == HOSTILE_TEXT["newlines"]
        assert om_calls["name-csi"].labels["name"] == HOSTILE_TEXT["csi"]


def test_label_value_mends_lone_surrogates_and_cuts_long_text() -> None:
    assert label_value("a\ud800b") == "a?b"
    assert label_value(None) == "" and label_value("") == ""
    assert len(label_value("x" * 10_000)) == LABEL_MAX


async def test_a_scrape_never_calls_the_api() -> None:
    async with on_demo() as (monitor, server, metrics):
        await poll(monitor, metrics)
        before = server.request_count(STATS)
        assert before == 1
        total = len(server.requests)  # every request to the API, of any path
        with MetricsServer(metrics).start() as srv:
            async with httpx.AsyncClient() as client:
                for _ in range(5):
                    r = await client.get(srv.url + "/metrics")
                    assert r.status_code == 200
                    assert "flashback_ai_llm_tokens_in_total{" in r.text
        assert server.request_count(STATS) == before
        assert len(server.requests) == total


async def test_content_negotiation_and_paths() -> None:
    async with on_demo() as (monitor, _server, metrics):
        await poll(monitor, metrics)
        with MetricsServer(metrics).start() as srv:
            async with httpx.AsyncClient() as client:
                plain = await client.get(srv.url + "/metrics")
                assert plain.headers["content-type"].startswith("text/plain")
                om = await client.get(
                    srv.url + "/metrics",
                    headers={"Accept": "application/openmetrics-text; version=1.0.0"},
                )
                assert om.headers["content-type"].startswith("application/openmetrics-text")
                assert om.text.endswith("# EOF\n")
                assert (await client.get(srv.url + "/nope")).status_code == 404
                head = await client.head(srv.url + "/healthz")
                assert head.status_code == 200 and head.content == b""
                refused = await client.post(srv.url + "/metrics")
                assert refused.status_code == 405 and refused.headers["allow"] == "GET, HEAD"


async def test_healthz_goes_503_across_a_fault_and_back_to_200() -> None:
    async with on_demo(interval=1.0) as (monitor, server, metrics):
        monitor.on_update = lambda u: metrics.record_poll(u, monitor)
        monitor.on_status = metrics.record_status
        monitor.on_poll = metrics.record_fetch
        metrics.interval = 1.0
        with MetricsServer(metrics).start() as srv:
            async with httpx.AsyncClient() as client:

                async def healthz() -> httpx.Response:
                    return await client.get(srv.url + "/healthz")

                first = await healthz()
                assert first.status_code == 503 and "no successful poll yet" in first.text
                task = asyncio.ensure_future(monitor.run())
                try:
                    await until(lambda: metrics.up)
                    ok = await healthz()
                    assert ok.status_code == 200 and ok.text.startswith("ok")

                    server.set_fault("server_error")
                    await until(lambda: not metrics.up)
                    await until(lambda: not metrics.health()[0], timeout=10)
                    bad = await healthz()
                    assert bad.status_code == 503
                    assert "last successful poll" in bad.text and "limit 3 s" in bad.text
                    assert bad.text.count("\n") == 1  # one line
                    fams = families(metrics)
                    kinds = {
                        s.labels["kind"]: s.value for s in fams["flashtop_poll_errors"].samples
                    }
                    assert kinds["server"] >= 1
                    assert fams["flashtop_up"].samples[0].value == 0.0

                    server.set_fault(None)
                    monitor.poll_now()  # skip the backoff
                    await until(lambda: metrics.health()[0], timeout=10)
                    assert (await healthz()).status_code == 200
                    assert families(metrics)["flashtop_up"].samples[0].value == 1.0
                finally:
                    task.cancel()
                    await asyncio.gather(task, return_exceptions=True)


async def until(predicate: Any, timeout: float = 8.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.05)


def test_a_rendered_exposition_is_kept_until_something_changes() -> None:
    metrics = MonitorMetrics("p", 5.0)
    collected = 0
    real = metrics.collect

    def counting() -> Any:
        nonlocal collected
        collected += 1
        return real()

    metrics.collect = counting  # type: ignore[method-assign]
    first, content_type = metrics.render(None)
    assert content_type.startswith("text/plain") and collected == 1
    assert metrics.render("text/plain")[0] is first and collected == 1
    _body, om_type = metrics.render("application/openmetrics-text; version=1.0.0")
    assert om_type.startswith("application/openmetrics") and collected == 2
    metrics.record_fetch(0.1, ServerError("500"))
    again, _ = metrics.render(None)
    assert collected == 3 and again != first and b'kind="server"} 1.0' in again


def test_poll_duration_histogram_and_error_kinds() -> None:
    metrics = MonitorMetrics("p", 5.0)
    metrics.record_fetch(0.03, None)
    metrics.record_fetch(0.7, ServerError("500"))
    metrics.record_fetch(100.0, NetworkError("down"))
    metrics.record_fetch(0.2, ValueError("bug"))
    fams = families(metrics)
    hist = {
        (s.name, s.labels.get("le")): s.value
        for s in fams["flashtop_poll_duration_seconds"].samples
    }
    assert hist[("flashtop_poll_duration_seconds_bucket", "0.05")] == 1
    assert hist[("flashtop_poll_duration_seconds_bucket", "1.0")] == 3
    assert hist[("flashtop_poll_duration_seconds_bucket", "60.0")] == 3
    assert hist[("flashtop_poll_duration_seconds_bucket", "+Inf")] == 4
    assert hist[("flashtop_poll_duration_seconds_count", None)] == 4
    assert hist[("flashtop_poll_duration_seconds_sum", None)] == pytest.approx(100.93)
    kinds = {s.labels["kind"]: s.value for s in fams["flashtop_poll_errors"].samples}
    assert kinds["server"] == 1 and kinds["network"] == 1 and kinds["internal"] == 1
    assert error_kind(ServerError("x")) == "server"
    assert "flashtop_last_success_timestamp_seconds" not in fams  # none yet
    assert fams["flashtop_up"].samples[0].value == 0.0


# ---------------------------------------------------------------------------- textfile


def test_textfile_is_replaced_atomically_never_half_written(tmp_path: Path) -> None:
    target = tmp_path / "flashtop.prom"
    small = b"# small\n" + b"a 1\n" * 10
    large = b"# large\n" + b"b 2\n" * 200_000
    write_textfile(target, small)
    seen: set[bytes] = set()
    stop = threading.Event()

    def reader() -> None:
        while not stop.is_set():
            seen.add(target.read_bytes())

    thread = threading.Thread(target=reader)
    thread.start()
    try:
        for i in range(40):
            write_textfile(target, large if i % 2 else small)
    finally:
        stop.set()
        thread.join()
    assert seen <= {small, large} and seen  # every read was one whole version
    assert sorted(p.name for p in tmp_path.iterdir()) == ["flashtop.prom"]  # no temp left
    assert target.stat().st_mode & 0o777 == 0o644


def test_textfile_uses_os_replace_and_cleans_up_on_failure(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "flashtop.prom"
    calls: list[tuple[str, str]] = []
    real = os.replace

    def spy(src: Any, dst: Any) -> None:
        calls.append((str(src), str(dst)))
        real(src, dst)

    monkeypatch.setattr(metrics_module.os, "replace", spy)
    write_textfile(target, b"x 1\n")
    assert len(calls) == 1 and calls[0][1] == str(target)
    assert Path(calls[0][0]).parent == tmp_path  # same directory: a rename, not a copy

    def broken(src: Any, dst: Any) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(metrics_module.os, "replace", broken)
    with pytest.raises(OSError):
        write_textfile(target, b"x 2\n")
    assert target.read_bytes() == b"x 1\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["flashtop.prom"]


# ---------------------------------------------------------------------------- addresses


def test_parse_listen_and_loopback() -> None:
    assert parse_listen("127.0.0.1:9464") == ("127.0.0.1", 9464)
    assert parse_listen("9464") == ("127.0.0.1", 9464)
    assert parse_listen(":9464") == ("127.0.0.1", 9464)
    assert parse_listen("[::1]:0") == ("::1", 0)
    assert parse_listen("0.0.0.0:9464") == ("0.0.0.0", 9464)
    for bad in ("host:port", "1.2.3.4:70000", "", "127.0.0.1:"):
        with pytest.raises(Exception, match="HOST:PORT"):
            parse_listen(bad)
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("::") and not is_loopback("example.com")


def test_long_ids_that_start_alike_stay_two_series_and_queries_find_them() -> None:
    from tui.counters import ID_LABEL_MAX, id_label
    from tui.promsource import query_for

    a, b = "x" * 300 + "a", "x" * 300 + "b"
    assert id_label("plain-id") == "plain-id"
    assert id_label(a) != id_label(b)
    assert len(id_label(a)) <= ID_LABEL_MAX
    assert id_label(a) == id_label(a)  # stable: the same series every scrape
    lone = "id\ud800"  # a lone surrogate, as JSON may carry
    assert id_label(lone) != id_label("id\ufffd")
    id_label(lone).encode("utf-8")  # encodable: the scrape does not fail
    assert id_label(a) in query_for(a)  # the drill-down asks Prometheus for the same label
