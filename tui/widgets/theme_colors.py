"""Rich styles built from the current Textual theme, so cells follow the theme."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rich.style import Style
from textual.app import App
from textual.color import Color


@dataclass(frozen=True, slots=True)
class Palette:
    """The few styles table cells need, resolved from the theme's variables."""

    changed: Style
    warning: Style
    error: Style
    #: Sparklines.
    accent: Style
    muted: Style

    def for_role(self, role: str) -> Style | str:
        """The style of a cell's role (see ``tui.view.Cell``: the roles are these
        fields' names); "" for none."""
        style: Style | None = getattr(self, role) if role else None
        return style or ""

    @classmethod
    def from_app(cls, app: App[Any]) -> Palette:
        variables = app.theme_variables

        def fg(name: str, fallback: str, bold: bool = False) -> Style:
            try:
                color = Color.parse(variables.get(name, fallback)).rich_color
            except Exception:  # a theme without the variable: plain text is fine
                color = None
            return Style(color=color, bold=bold)

        return cls(
            # A changed cell is marked by weight, not hue: in 16 colours the theme's
            # accent often lands on red, which must stay reserved for blocks.
            changed=Style(bold=True, underline=True),
            warning=fg("warning", "yellow", bold=True),
            error=fg("error", "red", bold=True),
            accent=fg("success", "green"),
            # Theme "muted" variables carry alpha, which cell styles cannot blend: dim it.
            muted=Style(dim=True),
        )
