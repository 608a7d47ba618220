"""The Prometheus/Grafana kit in contrib/: promtool checks and unit-tests the alerting
rules, and every query in the rules and the dashboard names only metrics the daemon
exports.

promtool comes with Debian's ``prometheus`` package, which ``.ci/run`` installs: a
missing promtool fails these tests rather than skipping them.

The metric names are the contract of issue 16 (:data:`EXPORTED`), written out here:
``tui.metrics`` has no single constant listing every exported name (its per-
configuration counters are in ``COUNTER_METRICS`` and ``COST_METRIC``, flashtop's own
metrics are literals in its collector). :func:`test_the_daemon_exports_exactly_the_contract`
ties the two together by collecting from :class:`tui.metrics.MonitorMetrics`, and the
real-Prometheus integration test checks the same set on a live ``/metrics``.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
PROM_DIR = ROOT / "contrib" / "prometheus"
RULES = PROM_DIR / "flashtop-rules.yml"
RULE_TESTS = PROM_DIR / "flashtop-rules.test.yml"
SCRAPE_CONFIG = PROM_DIR / "prometheus.yml"
DASHBOARD = ROOT / "contrib" / "grafana" / "flashtop.json"

#: Per-configuration counters (labels ai_llm_id, name, provider, workspace, profile).
CONFIG_COUNTERS = (
    "flashback_ai_llm_api_calls_total",
    "flashback_ai_llm_tokens_in_total",
    "flashback_ai_llm_tokens_out_total",
    "flashback_ai_llm_llm_tokens_in_total",
    "flashback_ai_llm_llm_tokens_out_total",
    "flashback_ai_llm_policy_violations_total",
    "flashback_ai_llm_alerts_total",
    "flashback_ai_llm_blocks_total",
    "flashback_ai_llm_cost_usd_total",
)
#: flashtop's own metrics; the histogram's series are its _bucket, _sum and _count.
SELF_METRICS = (
    "flashtop_up",
    "flashtop_last_success_timestamp_seconds",
    "flashtop_poll_errors_total",
    "flashtop_alerts_firing",
    "flashtop_build_info",
)
HISTOGRAMS = ("flashtop_poll_duration_seconds",)
#: Every series name the daemon exports (issue 16's list).
EXPORTED = frozenset(
    [
        *CONFIG_COUNTERS,
        *SELF_METRICS,
        *(f"{h}{suffix}" for h in HISTOGRAMS for suffix in ("_bucket", "_sum", "_count")),
    ]
)
#: Names a query may use besides the daemon's: Prometheus' own per-target series.
KNOWN = EXPORTED | {"up"}

#: PromQL words that look like metric names: keywords, operators, aggregations and
#: functions (functions are also recognised by the "(" after them; listed so that
#: ``rate (x)`` with a space parses the same), and the float literals.
PROMQL_WORDS = frozenset(
    """
    by without on ignoring group_left group_right offset bool and or unless atan2
    inf nan start end
    sum min max avg group stddev stdvar count count_values bottomk topk quantile
    abs absent absent_over_time ceil changes clamp clamp_max clamp_min day_of_month
    day_of_week day_of_year days_in_month delta deriv exp floor histogram_quantile
    holt_winters hour idelta increase irate label_join label_replace ln log2 log10
    minute month predict_linear rate resets round scalar sgn sort sort_desc sqrt time
    timestamp vector year avg_over_time min_over_time max_over_time sum_over_time
    count_over_time quantile_over_time stddev_over_time stdvar_over_time
    last_over_time present_over_time
    """.split()  # noqa: SIM905 (a word list reads better than 80 quoted strings)
)
_STRINGS = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`')
_GROUPING = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^()]*\)")
_MATCHERS = re.compile(r"\{[^{}]*\}")
_RANGES = re.compile(r"\[[^\[\]]*\]")
#: An identifier, not part of a longer word, a number (1e3) or a $variable, and not
#: a function call. This finds everything the brief's "followed by {, [, whitespace
#: or )" finds, and also a name at the end or before an operator (``x==0``).
_IDENT = re.compile(r"(?<![\w:.$])([a-zA-Z_:][a-zA-Z0-9_:]*)(?!\s*\()(?![\w:])")
#: Grafana's variables that PromQL needs a value for (inside a range or subquery).
GRAFANA_DURATIONS = {
    "$__rate_interval": "1m",
    "$__interval": "1m",
    "$__range": "1h",
}


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression selects."""
    text = _STRINGS.sub('""', expr)
    text = _GROUPING.sub(" ", text)
    text = _MATCHERS.sub("{}", text)
    text = _RANGES.sub("[]", text)
    return {m for m in _IDENT.findall(text) if m.lower() not in PROMQL_WORDS}


def test_the_parser_finds_metrics_and_only_metrics() -> None:
    """The checks below are only as good as this: names are found in every position,
    label names, strings, durations, numbers and variables are not."""
    assert metric_names(
        'sum by (name, le) (rate(foo_total{name=~"$name", job="x"}[$__rate_interval]))'
        " * 60 > bool 1e3"
    ) == {"foo_total"}
    assert metric_names("flashtop_up==0") == {"flashtop_up"}
    assert metric_names("time() - bar offset 5m") == {"bar"}
    assert metric_names('absent(up{job="flashtop"})') == {"up"}
    assert metric_names("a / on (instance) group_left (version) b unless c") == {"a", "b", "c"}
    assert metric_names('label_replace(x, "dst", "$1", "src", "(.*)")') == {"x"}
    assert metric_names("histogram_quantile(0.9, sum by (le) (rate(h_bucket[5m])))") == {"h_bucket"}
    assert metric_names("sum(rate (x[1m]))") == {"x"}


# ---------------------------------------------------------------------------- the rules


def _promtool() -> str:
    path = shutil.which("promtool")
    if path is None:
        pytest.fail("promtool is not installed: apt-get install prometheus (.ci/run does)")
    return path


def _rules() -> list[dict[str, Any]]:
    doc = yaml.safe_load(RULES.read_text())
    return [rule for group in doc["groups"] for rule in group["rules"]]


def test_promtool_checks_the_rules() -> None:
    result = subprocess.run(
        [_promtool(), "check", "rules", str(RULES)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(_rules())} rules found" in result.stdout


def test_promtool_unit_tests_of_the_rules_pass() -> None:
    # rule_files in the test file are relative to it: run from its directory.
    result = subprocess.run(
        [_promtool(), "test", "rules", RULE_TESTS.name],
        cwd=PROM_DIR,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_promtool_checks_the_example_scrape_config() -> None:
    result = subprocess.run(
        [_promtool(), "check", "config", SCRAPE_CONFIG.name],
        cwd=PROM_DIR,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    doc = yaml.safe_load(SCRAPE_CONFIG.read_text())
    assert [c["job_name"] for c in doc["scrape_configs"]] == ["flashtop"]
    assert doc["rule_files"] == [RULES.name]


def test_every_rule_is_an_alert_with_a_severity_and_a_summary() -> None:
    rules = _rules()
    names = [r["alert"] for r in rules]
    assert len(names) == len(set(names))
    for rule in rules:
        assert rule["labels"]["severity"] in {"info", "warning", "critical"}, rule["alert"]
        assert rule["annotations"]["summary"], rule["alert"]
        assert rule["annotations"]["description"], rule["alert"]
    # flashtop's defaults, each with its own rule.
    exprs = {r["alert"]: r["expr"] for r in rules}
    assert "increase(flashback_ai_llm_blocks_total[5m]) > 0" in exprs.values()
    assert any("flashback_ai_llm_policy_violations_total" in e for e in exprs.values())
    assert any("flashtop_up == 0" in e for e in exprs.values())
    assert any('up{job="flashtop"} == 0' in e for e in exprs.values())
    assert any('absent(up{job="flashtop"})' in e for e in exprs.values())


def test_every_rule_is_unit_tested_firing_and_not_firing() -> None:
    doc = yaml.safe_load(RULE_TESTS.read_text())
    fires: set[str] = set()
    quiet: set[str] = set()
    for case in doc["tests"]:
        for check in case["alert_rule_test"]:
            (fires if check.get("exp_alerts") else quiet).add(check["alertname"])
    alerts = {r["alert"] for r in _rules()}
    assert fires == alerts, f"never seen firing: {alerts - fires}"
    assert quiet == alerts, f"never seen quiet: {alerts - quiet}"


def test_the_rules_and_their_tests_name_only_exported_metrics() -> None:
    for rule in _rules():
        names = metric_names(rule["expr"])
        assert names, rule["alert"]
        assert names <= KNOWN, f"{rule['alert']}: unknown {names - KNOWN}"
    doc = yaml.safe_load(RULE_TESTS.read_text())
    for case in doc["tests"]:
        for series in case["input_series"]:
            names = metric_names(series["series"])
            assert len(names) == 1 and names <= KNOWN, series["series"]


# ---------------------------------------------------------------------------- the dashboard


def _dashboard() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(DASHBOARD.read_text())
    return data


def _panels(panels: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for panel in panels:
        yield panel
        yield from _panels(panel.get("panels", []))


def dashboard_exprs() -> list[tuple[str, str]]:
    """(where, PromQL) for every panel target and every query variable."""
    out = []
    for panel in _panels(_dashboard()["panels"]):
        for target in panel.get("targets", []):
            out.append((f"panel {panel['title']!r} {target['refId']}", target["expr"]))
    for var in _dashboard()["templating"]["list"]:
        if var["type"] != "query":
            continue
        query = var["query"]["query"] if isinstance(var["query"], dict) else var["query"]
        m = re.fullmatch(r"\s*label_values\((.+),\s*\w+\)\s*", query) or re.fullmatch(
            r"\s*query_result\((.+)\)\s*", query
        )
        assert m, f"variable {var['name']}: unsupported query {query!r}"
        out.append((f"variable {var['name']}", m.group(1)))
    return out


def test_the_dashboard_names_only_exported_metrics() -> None:
    exprs = dashboard_exprs()
    assert len(exprs) > 20
    used: set[str] = set()
    for where, expr in exprs:
        names = metric_names(expr)
        assert names, f"{where}: no metric in {expr!r}"
        assert names <= KNOWN, f"{where}: unknown {names - KNOWN} in {expr!r}"
        used |= names
    # And it shows every one of them.
    assert used == KNOWN, f"not on the dashboard: {KNOWN - used}"


def test_promtool_parses_every_dashboard_query(tmp_path: Path) -> None:
    """Each query, with Grafana's duration variables given values, as a recording rule
    for promtool to parse (the label matchers keep their $variables: they are strings)."""
    rules = []
    for i, (where, expr) in enumerate(dashboard_exprs()):
        for var, value in GRAFANA_DURATIONS.items():
            expr = expr.replace(var, value)
        assert "$__" not in expr, f"{where}: a Grafana variable with no value here: {expr!r}"
        rules.append({"record": f"dashboard:query_{i}", "expr": expr})
    path = tmp_path / "dashboard-queries.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}))
    result = subprocess.run(
        [_promtool(), "check", "rules", str(path)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_dashboard_is_sound() -> None:
    dash = _dashboard()
    assert dash["uid"] == "flashtop"
    variables = {v["name"]: v for v in dash["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    ids = []
    for panel in _panels(dash["panels"]):
        ids.append(panel["id"])
        grid = panel["gridPos"]
        assert grid["x"] >= 0 and grid["w"] > 0 and grid["x"] + grid["w"] <= 24, panel["title"]
        if panel["type"] == "row":
            continue
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            assert target["datasource"]["uid"] == "${datasource}", panel["title"]
            assert target["expr"].strip(), panel["title"]
    assert len(ids) == len(set(ids)), "panel ids repeat"
    exprs = [e for _, e in dashboard_exprs()]
    # What the issue asks for: tokens per minute, cost per hour, the events, poll health.
    assert any("rate(flashback_ai_llm_tokens_in_total" in e and "* 60" in e for e in exprs)
    assert any("rate(flashback_ai_llm_cost_usd_total" in e and "* 3600" in e for e in exprs)
    for event in ("policy_violations", "alerts", "blocks"):
        assert any(f"increase(flashback_ai_llm_{event}_total" in e for e in exprs), event
    assert any(
        "histogram_quantile" in e and "flashtop_poll_duration_seconds_bucket" in e for e in exprs
    )


# ---------------------------------------------------------------------------- the daemon


def test_the_daemon_exports_exactly_the_contract() -> None:
    """Collect from the daemon's collector before any poll: every family it reports is
    in :data:`EXPORTED`, and only ``flashtop_last_success_timestamp_seconds`` (which
    waits for a first success) is missing."""
    from tui.metrics import MonitorMetrics

    names: set[str] = set()
    for family in MonitorMetrics("test", 5.0).collect():
        if family.type == "counter":
            names.add(f"{family.name}_total")
        elif family.type == "histogram":
            names |= {f"{family.name}{s}" for s in ("_bucket", "_sum", "_count")}
        else:
            names.add(family.name)
    assert names <= EXPORTED, f"exported but not in the contract: {names - EXPORTED}"
    assert EXPORTED - names == {"flashtop_last_success_timestamp_seconds"}
