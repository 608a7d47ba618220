"""Grouping the overview's rows by provider or workspace, with foldable group rows.

Pure data (no UI toolkit): given the configurations in display order, build the
list of lines the table shows (a group line, then its members unless the group is
folded) and each group's sums. A group's sums are the sums of its members, so the
totals line (over the configurations, not the groups) stays exact.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from tui.models import LlmConfig, LlmStats

#: What `g` cycles through.
GROUPINGS: tuple[str, ...] = ("", "provider", "workspace")
#: Group lines' ids start with this: a NUL and a token drawn at start-up, so no id a
#: server sends can pass for a group line.
GROUP_PREFIX = f"\x00group-{secrets.token_hex(8)}:"
NO_PROVIDER = "(no provider)"
NO_WORKSPACE = "(no workspace)"


def is_group(ident: str) -> bool:
    return ident.startswith(GROUP_PREFIX)


def group_id(name: str) -> str:
    return GROUP_PREFIX + name


def group_key(ident: str) -> str:
    return ident[len(GROUP_PREFIX) :]


def key_function(
    grouping: str, configs: Mapping[str, LlmConfig], workspaces: Mapping[str, str]
) -> Callable[[str], tuple[str, str]]:
    """The group a configuration (by id) belongs to under ``grouping``: its key and the
    label shown. Workspaces group by id (two may share a name) and show their name."""

    def provider(ident: str) -> tuple[str, str]:
        cfg = configs.get(ident)
        name = cfg.ai_type if cfg and cfg.ai_type else ""
        return name, name or NO_PROVIDER

    def workspace(ident: str) -> tuple[str, str]:
        cfg = configs.get(ident)
        ws = cfg.workspace_id if cfg else None
        return (ws or ""), (workspaces.get(ws, ws) if ws else NO_WORKSPACE)

    return provider if grouping == "provider" else workspace


@dataclass(slots=True)
class Group:
    """One group: its key (provider, workspace id), label, and members in display order."""

    key: str
    name: str
    members: list[LlmStats] = field(default_factory=list)

    @property
    def id(self) -> str:
        return group_id(self.key)


def groups_of(ordered: Sequence[LlmStats], key: Callable[[str], tuple[str, str]]) -> list[Group]:
    """The groups of ``ordered`` (members keep their order), in order of first member."""
    by_key: dict[str, Group] = {}
    for s in ordered:
        k, label = key(s.ai_llm_id)
        group = by_key.get(k)
        if group is None:
            group = by_key[k] = Group(k, label)
        group.members.append(s)
    return list(by_key.values())


def order_groups(
    groups: list[Group],
    metric: Callable[[Group], float | Decimal | None] | None,
    desc: bool,
) -> list[Group]:
    """Groups by their summed sort metric (``metric`` None: by name); unknowns last."""
    if metric is None:
        return sorted(groups, key=lambda g: (g.name.casefold(), g.key), reverse=desc)
    values = {g.key: metric(g) for g in groups}
    known = [g for g in groups if values[g.key] is not None]
    unknown = [g for g in groups if values[g.key] is None]
    known.sort(key=lambda g: values[g.key], reverse=desc)  # type: ignore[arg-type, return-value]
    return known + unknown


def lines(groups: Sequence[Group], folded: set[str]) -> list[str]:
    """The ids the table shows: each group's line, then its members unless folded
    (``folded`` holds group keys)."""
    out: list[str] = []
    for group in groups:
        out.append(group.id)
        if group.key not in folded:
            out.extend(s.ai_llm_id for s in group.members)
    return out


def sum_trends(trends: Sequence[Sequence[int | None]]) -> tuple[int | None, ...]:
    """Point by point sums of sparklines (a point is a gap only when every member's is)."""
    width = max((len(t) for t in trends), default=0)
    out: list[int | None] = [None] * width
    for trend in trends:
        offset = width - len(trend)  # right-aligned: the newest points line up
        for i, point in enumerate(trend):
            if point is not None:
                j = offset + i
                current = out[j]
                out[j] = point if current is None else current + point
    return tuple(out)
