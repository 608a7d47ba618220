"""Keys as data: the help rows, the palette commands and the [keymap] check come from
the screens' real BINDINGS, so removing a binding (or its text) shows up here."""

from __future__ import annotations

import io
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console
from rich.table import Table
from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Static

from tui.app import FlashtopApp
from tui.errors import ConfigError
from tui.screens.detail import DetailScreen
from tui.screens.help import HelpScreen
from tui.screens.keys import (
    BindingGroup,
    HelpRow,
    all_binding_ids,
    check_keymap,
    help_rows,
    key_label,
    palette_commands,
)
from tui.screens.overview import OverviewScreen
from tui.widgets.stats_table import StatsTable

#: Every binding id the help must list, with the group it is listed in and one of
#: its keys as the help shows it.
EXPECTED: dict[str, tuple[str, str]] = {
    "quit": ("Every screen", "q"),
    "help": ("Every screen", "?"),
    "open-detail": ("Monitor", "enter"),
    "filter": ("Monitor", "/"),
    "sort-next": ("Monitor", "s"),
    "sort-reverse": ("Monitor", "S"),
    "refresh": ("Monitor", "r"),
    "pause": ("Monitor", "p"),
    "faster": ("Monitor", "+"),
    "slower": ("Monitor", "-"),
    "back": ("Monitor", "escape"),
    "login": ("Monitor", "l"),
    "detail-back": ("Detail", "escape"),
    "detail-next": ("Detail", "down"),
    "detail-prev": ("Detail", "up"),
    "detail-window": ("Detail", "w"),
    "detail-copy": ("Detail", "c"),
    "detail-refresh": ("Detail", "r"),
    "detail-breakdown": ("Detail", "m"),
}


def real_groups() -> list[BindingGroup]:
    """The groups the app's help shows, built from the classes' own BINDINGS."""
    return [
        ("Every screen", list(FlashtopApp.BINDINGS)),
        ("Monitor", [*OverviewScreen.BINDINGS, *StatsTable.BINDINGS]),
        ("Detail", list(DetailScreen.BINDINGS)),
    ]


def row_for(rows: Iterable[HelpRow], group: str, binding: Binding) -> HelpRow:
    """The row listing ``binding`` (found by its text, which help_rows takes from it)."""
    text = binding.tooltip or binding.description
    found = [r for r in rows if r.group == group and r.text == text]
    assert len(found) == 1, f"{group}: no single row for {binding!r} in {list(rows)}"
    return found[0]


def keys_of(row: HelpRow) -> list[str]:
    return row.keys.split(" / ")


def binding_with_id(bindings: Iterable[Any], binding_id: str) -> Binding:
    found = [b for b in bindings if isinstance(b, Binding) and b.id == binding_id]
    assert found, f"no binding with id {binding_id!r}"
    return found[0]


def plain(renderable: object) -> str:
    out = io.StringIO()
    Console(file=out, width=200, color_system=None).print(renderable)
    return out.getvalue()


# ---------------------------------------------------------------- help rows from BINDINGS


@pytest.mark.parametrize("binding_id", sorted(EXPECTED))
def test_each_binding_of_the_screens_is_listed_in_help_with_its_key(binding_id: str) -> None:
    group, key = EXPECTED[binding_id]
    bindings = dict(real_groups())[group]
    binding = binding_with_id(bindings, binding_id)
    assert binding.description, f"{binding_id} has no description, so help skips it"
    row = row_for(help_rows(real_groups()), group, binding)
    assert key in keys_of(row)


def test_the_drill_down_refresh_is_listed() -> None:
    rows = [r for r in help_rows(real_groups()) if r.group == "Detail"]
    assert HelpRow("Detail", "r", "poll this configuration now") in rows


def test_long_texts_are_the_bindings_tooltips() -> None:
    rows = help_rows(real_groups())
    assert HelpRow("Monitor", "r", "poll now (also while paused)") in rows
    assert any("ctrl+p" in keys_of(r) and "command palette" in r.text for r in rows)
    for group, bindings in real_groups():
        for b in bindings:
            assert isinstance(b, Binding)
            if b.description:
                assert b.tooltip, f"{group}: {b.key!r} ({b.action}) has no tooltip (long help)"


def test_every_described_binding_has_each_of_its_keys_in_its_group() -> None:
    rows = help_rows(real_groups())
    for group, bindings in real_groups():
        shown = {k for r in rows if r.group == group for k in keys_of(r)}
        for b in bindings:
            assert isinstance(b, Binding)
            if b.description:
                for key in b.key.split(","):
                    assert key_label(key) in shown, f"{group}: {key!r} of {b.action} not listed"


def test_a_remapped_id_shows_its_new_keys_and_not_the_old_one() -> None:
    keymap = {"detail-refresh": "ctrl+r,f5"}
    rows = help_rows(real_groups(), keymap)
    detail_refresh = binding_with_id(DetailScreen.BINDINGS, "detail-refresh")
    assert keys_of(row_for(rows, "Detail", detail_refresh)) == ["ctrl+r", "f5"]
    # Only that id moved: the overview's refresh keeps r.
    refresh = binding_with_id(OverviewScreen.BINDINGS, "refresh")
    assert keys_of(row_for(rows, "Monitor", refresh)) == ["r"]


def test_help_rows_merge_by_id_and_action_and_skip_undescribed() -> None:
    groups: list[BindingGroup] = [
        (
            "G",
            [
                Binding("enter", "open", "Open", id="open"),
                Binding("o,enter", "select", "Open", id="open", tooltip="open it"),
                Binding("down", "step", "Down", tooltip="move down"),
                Binding("j", "step", "Down"),
                Binding("x", "secret", ""),
                ("question_mark", "help", "Help"),
            ],
        ),
        ("H", [Binding("escape", "back", "Back", id="back")]),
    ]
    assert help_rows(groups, {"back": "b"}) == [
        HelpRow("G", "enter / o", "open it"),
        HelpRow("G", "down / j", "move down"),
        HelpRow("G", "?", "Help"),
        HelpRow("H", "b", "Back"),
    ]


@pytest.mark.parametrize(
    ("key", "shown"),
    [
        ("question_mark", "?"),
        ("slash", "/"),
        ("plus", "+"),
        ("minus", "-"),
        ("equals_sign", "="),
        ("escape", "escape"),
        ("enter", "enter"),
        ("up", "up"),
        ("down", "down"),
        ("pageup", "pgup"),
        ("pagedown", "pgdn"),
        ("home", "home"),
        ("S", "S"),
        ("?", "?"),
        ("ctrl+r", "ctrl+r"),
        ("ctrl+question_mark", "ctrl+?"),
        (" f5 ", "f5"),
    ],
)
def test_key_label(key: str, shown: str) -> None:
    assert key_label(key) == shown


def test_all_binding_ids_are_every_id_of_the_groups() -> None:
    ids = all_binding_ids(real_groups())
    assert set(EXPECTED) <= ids
    assert all_binding_ids([("G", [Binding("a", "x", "X", id="x"), Binding("b", "y", "Y")])]) == {
        "x"
    }


# ---------------------------------------------------------------- the [keymap] check


def test_check_keymap_accepts_known_ids() -> None:
    check_keymap(
        {"refresh": "ctrl+r,f5", "detail-refresh": "f5"}, {"refresh", "detail-refresh"}, None
    )
    check_keymap(
        {"detail-refresh": "ctrl+r"}, all_binding_ids(real_groups()), Path("/c/config.toml")
    )


def test_check_keymap_names_an_unknown_id_and_the_file() -> None:
    with pytest.raises(ConfigError) as err:
        check_keymap({"refrsh": "f5"}, {"refresh", "back"}, Path("/etc/x/config.toml"))
    assert str(err.value) == (
        "unknown key binding id 'refrsh' in [keymap] of /etc/x/config.toml (known: back, refresh)"
    )
    assert "\n" not in str(err.value)


@pytest.mark.parametrize("keys", ["", "  ", "f5,,r", ",", 5, None, ["f5"]])
def test_check_keymap_rejects_missing_or_non_string_keys(keys: object) -> None:
    with pytest.raises(ConfigError, match=r"^'refresh' in \[keymap\] of /c\.toml must"):
        check_keymap({"refresh": keys}, {"refresh"}, "/c.toml")


# ---------------------------------------------------------------- palette and help screen


class KeysScreen(Screen[None]):
    BINDINGS = [
        Binding("r", "refresh", "Refresh", id="refresh", tooltip="poll now"),
        Binding("down,j", "step(1)", "Next", id="next", tooltip="next one"),
        Binding("x", "secret", ""),
        Binding("d", "disabled", "Disabled", tooltip="never offered"),
        Binding("q", "app.quit", "Quit here"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.ran: list[str] = []

    def compose(self) -> ComposeResult:
        yield Static("keys")

    def action_refresh(self) -> None:
        self.ran.append("refresh")

    def action_step(self, n: int) -> None:
        self.ran.append(f"step {n}")

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        return None if action == "disabled" else True


class KeysApp(App[None]):
    BINDINGS = [
        Binding("question_mark", "help", "Help", id="help", tooltip="every key"),
        Binding(
            "ctrl+p", "command_palette", "palette", show=False, priority=True, tooltip="palette"
        ),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.helped = 0

    def on_mount(self) -> None:
        self.push_screen(KeysScreen())

    def action_help(self) -> None:
        self.helped += 1

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        yield from palette_commands(screen)


async def test_palette_commands_come_from_the_active_bindings() -> None:
    app = KeysApp()
    async with app.run_test() as pilot:
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, KeysScreen)
        commands = {c.title: c for c in palette_commands(screen)}
        assert set(commands) == {"Refresh", "Next", "Help"}
        assert commands["Refresh"].help == "poll now (r)"
        assert commands["Next"].help == "next one (down / j)"
        assert commands["Help"].help == "every key (?)"
        # Textual's own Quit is not doubled (q runs the same app.action_quit).
        titles = [c.title for c in app.get_system_commands(screen)]
        assert titles.count("Quit") == 1 and "Quit here" not in titles

        await commands["Refresh"].callback()
        await commands["Next"].callback()
        await commands["Help"].callback()
        assert screen.ran == ["refresh", "step 1"]
        assert app.helped == 1

        app.set_keymap({"refresh": "f5,ctrl+r"})
        commands = {c.title: c for c in palette_commands(screen)}
        assert commands["Refresh"].help == "poll now (f5 / ctrl+r)"


async def test_a_palette_command_runs_from_the_real_palette() -> None:
    app = KeysApp()
    async with app.run_test() as pilot:
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, KeysScreen)
        await pilot.press("ctrl+p")
        await pilot.pause()
        await pilot.press(*"Refresh")
        for _ in range(50):
            await pilot.pause(0.02)
            if app.screen.query("CommandList Option"):
                break
        await pilot.press("enter")
        for _ in range(50):
            await pilot.pause(0.02)
            if screen.ran:
                break
        assert screen.ran == ["refresh"]


class HelpApp(App[None]):
    def __init__(self, groups: list[BindingGroup], keymap: dict[str, str]) -> None:
        super().__init__()
        self.help = HelpScreen(groups, keymap)

    def on_mount(self) -> None:
        self.push_screen(self.help)


async def test_help_screen_shows_the_rows_and_escape_closes_it() -> None:
    app = HelpApp(real_groups(), {"detail-refresh": "ctrl+r,f5"})
    async with app.run_test() as pilot:
        await pilot.pause()
        assert app.screen is app.help
        table = app.help.query_one("#help-keys", Static).content
        assert isinstance(table, Table)
        text = plain(table)
        assert "ctrl+r / f5" in text and "poll this configuration now" in text
        assert "flashtop keys" in plain(app.help.query_one("#help-title", Static).content)
        await pilot.press("escape")
        await pilot.pause()
        assert app.screen is not app.help


def test_the_readme_lists_every_binding_id_the_keymap_accepts() -> None:
    from tui.app import key_groups

    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    listed = readme[readme.index("Ids: ") :].split("\n\n", 1)[0]
    assert set(re.findall(r"`([a-z-]+)`", listed)) == all_binding_ids(key_groups())
