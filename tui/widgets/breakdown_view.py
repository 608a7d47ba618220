"""The drill-down's models-and-hosts view: what a counter cannot say, from ``/aistats``.

Two tables over the chart window, one by model and one by gateway host: calls,
tokens in and out, the share of tokens, the mean latency weighted by calls, the
policy events by severity, and, by model, what the tokens cost at the price table's
base rates. Server text (model and host names) is shown as plain text only.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

from rich.console import Group
from rich.table import Table
from rich.text import Text

from tui.aistats import Breakdown, BreakdownItem
from tui.fmt import compact, safe_text
from tui.pricing import Price, format_usd

#: Rows shown per table (the rest are summed into one "others" line).
MAX_ROWS = 6


def _percent(item: BreakdownItem) -> str:
    share = item.share
    if share is None:
        return "-"
    return f"{float(share) * 100:.1f} %"


def _latency(item: BreakdownItem) -> str:
    ms = item.mean_latency_ms
    if ms is None:
        return "-"
    return f"{ms / 1000:.2f} s" if ms >= 1000 else f"{ms:.0f} ms"


def _count(item: BreakdownItem, name: str) -> str:
    text = compact(item.totals.get(name))
    return text + ("+" if name in item.totals.incomplete else "")


def model_cost(item: BreakdownItem, price_of: Callable[[str], Price | None]) -> Decimal | None:
    """The item's LLM tokens at its model's base rates (None: not in the price table)."""
    price = price_of(item.name)
    if price is None:
        return None
    return price.cost(item.totals.get("llmTokensIn"), item.totals.get("llmTokensOut"))


def breakdown_table(
    result: Breakdown,
    title: str,
    width: int,
    price_of: Callable[[str], Price | None] | None = None,
) -> Table:
    """One table of a breakdown, narrowed to ``width`` by dropping the least
    important columns first (severities, then latency, then the cost)."""
    narrow = width < 100
    table = Table(
        box=None,
        padding=(0, 1),
        expand=False,
        header_style="bold",
        title=Text(title, style="bold"),
        title_justify="left",
    )
    name_width = 40 if width >= 110 else 28 if width >= 90 else 20
    table.add_column(
        result.by.value.upper(), no_wrap=True, overflow="ellipsis", max_width=name_width
    )
    table.add_column("CALLS", justify="right", no_wrap=True)
    table.add_column("TOK IN", justify="right", no_wrap=True)
    table.add_column("TOK OUT", justify="right", no_wrap=True)
    table.add_column("SHARE", justify="right", no_wrap=True)
    show_latency = width >= 70
    show_cost = price_of is not None and width >= 80
    if show_latency:
        table.add_column("LATENCY", justify="right", no_wrap=True)
    if show_cost:
        table.add_column("COST", justify="right", no_wrap=True)
    if not narrow:
        table.add_column("LOW/MED/HIGH", justify="right", no_wrap=True)
    items = list(result.items)
    shown, rest = items[:MAX_ROWS], items[MAX_ROWS:]
    for item in shown:
        cells: list[Text | str] = [
            Text(safe_text(item.name or "(none)", name_width)),
            _count(item, "apiCalls"),
            _count(item, "tokensIn"),
            _count(item, "tokensOut"),
            _percent(item),
        ]
        if show_latency:
            cells.append(_latency(item))
        if show_cost:
            assert price_of is not None
            cost = model_cost(item, price_of)
            cells.append(format_usd(cost) if cost is not None else "n/a")
        if not narrow:
            cells.append(
                "/".join(
                    compact(item.totals.get(n))
                    for n in ("numSeverityLow", "numSeverityMedium", "numSeverityHigh")
                )
            )
        table.add_row(*cells)
    if rest:
        table.add_row(Text(f"… {len(rest)} more", style="dim"))
    if not items:
        table.add_row(Text("no traffic in this window", style="dim"))
    return table


def breakdown_view(
    by_model: Breakdown,
    by_host: Breakdown,
    window: str,
    width: int,
    pricing_note: str,
    price_of: Callable[[str], Price | None] | None = None,
) -> Group:
    """Both tables, by model then by host, with where the figures come from."""
    head = Text.assemble(
        ("Models and hosts", "bold"),
        f", last {window}, from the server's /aistats (m: back to the charts)",
    )
    parts: list[object] = [
        head,
        Text(""),
        breakdown_table(by_model, "By model", width, price_of),
        Text(""),
        breakdown_table(by_host, "By host", width),
    ]
    if pricing_note:
        parts += [Text(""), Text(pricing_note, style="dim")]
    return Group(*parts)  # type: ignore[arg-type]
