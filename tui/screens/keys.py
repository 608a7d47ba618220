"""Keys as data: the `?` help, the command palette and the ``[keymap]`` check all come
from the screens' ``BINDINGS``, so they cannot drift apart.

Conventions for a binding that people should find:

* ``description`` is its short title (footer label, palette entry);
* ``tooltip`` is its long help text (help screen, palette help, footer tooltip);
* ``id`` lets the ``[keymap]`` table of the config file give it other keys
  (``refresh = "ctrl+r,f5"``), through Textual's ``App.set_keymap``.

A binding without a description is not listed anywhere. This module receives the
bindings as arguments; it imports neither the app nor the screens.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from functools import partial
from pathlib import Path
from typing import Any, NamedTuple

from textual.actions import parse as parse_action
from textual.app import App, SystemCommand
from textual.binding import Binding, BindingType
from textual.dom import DOMNode
from textual.keys import format_key
from textual.screen import Screen

from tui.errors import ConfigError

#: A titled group of bindings, as the help screen lists them: ("Monitor", [...]).
BindingGroup = tuple[str, Sequence[BindingType]]

#: Key names shown as words in help (Textual's footer uses symbols for some).
_WORDS = {
    "escape": "escape",
    "enter": "enter",
    "up": "up",
    "down": "down",
    "left": "left",
    "right": "right",
    "backspace": "backspace",
    "delete": "delete",
    "tab": "tab",
    "space": "space",
}
#: Separator between the keys of one row.
KEY_SEP = " / "
#: Actions never offered in the palette: opening the palette from the palette.
_NOT_IN_PALETTE = frozenset({"command_palette"})


class HelpRow(NamedTuple):
    """One line of the help screen."""

    group: str
    keys: str
    text: str


def as_binding(binding: BindingType) -> Binding:
    """A BINDINGS entry (a Binding or a 2- or 3-tuple) as a Binding."""
    if isinstance(binding, Binding):
        return binding
    return Binding(*binding)


def key_label(key: str) -> str:
    """How one key (Textual's name for it, or a character) is shown: ``question_mark``
    as ``?``, ``ctrl+r`` as ``ctrl+r``, ``pageup`` as ``pgup``, ``escape`` as ``escape``."""
    key = key.strip()
    if len(key) <= 1:
        return key
    *modifiers, base = key.split("+")
    if base == "" and modifiers:  # "ctrl++": the plus key itself
        modifiers, base = modifiers[:-1], "+"
    label = base if len(base) == 1 else _WORDS.get(base) or format_key(base)
    return "+".join([*modifiers, label])


def split_keys(keys: str) -> list[str]:
    """The keys of a comma-separated key string (a binding's or a keymap's)."""
    return [k.strip() for k in keys.split(",") if k.strip()]


def binding_keys(binding: Binding, keymap: Mapping[str, str]) -> list[str]:
    """The keys that trigger ``binding``: the keymap's when it remaps the binding's id."""
    if binding.id is not None and keymap.get(binding.id):
        return split_keys(keymap[binding.id])
    return split_keys(binding.key)


def long_text(binding: Binding) -> str:
    """The help text of a binding: its tooltip, else its description."""
    return binding.tooltip or binding.description


def help_rows(
    groups: Iterable[BindingGroup], keymap: Mapping[str, str] | None = None
) -> list[HelpRow]:
    """The help screen's rows, in BINDINGS order.

    Within a group, bindings that share an id or an action are one row with all
    their keys (the overview's and the table's ``enter``, for instance). Keys are
    those of the keymap when it remaps the binding's id; ``key_display`` is not
    used, as the footer's shorthand (``+/-``) may cover more than this binding.
    """
    keymap = keymap or {}
    rows: list[HelpRow] = []
    for title, bindings in groups:
        keys: list[list[str]] = []
        texts: list[str] = []
        from_tooltip: list[bool] = []
        slot_of: dict[tuple[str, str], int] = {}
        for raw in bindings:
            binding = as_binding(raw)
            if not binding.description:
                continue
            names = [("action", binding.action)]
            if binding.id is not None:
                names.insert(0, ("id", binding.id))
            slot = next((slot_of[n] for n in names if n in slot_of), None)
            if slot is None:
                slot = len(keys)
                keys.append([])
                texts.append(long_text(binding))
                from_tooltip.append(bool(binding.tooltip))
            elif binding.tooltip and not from_tooltip[slot]:
                texts[slot], from_tooltip[slot] = binding.tooltip, True
            for name in names:
                slot_of.setdefault(name, slot)
            for key in binding_keys(binding, keymap):
                label = key_label(key)
                if label not in keys[slot]:
                    keys[slot].append(label)
        rows.extend(HelpRow(title, KEY_SEP.join(k), t) for k, t in zip(keys, texts, strict=True))
    return rows


def all_binding_ids(groups: Iterable[BindingGroup]) -> frozenset[str]:
    """Every binding id in ``groups``: what a ``[keymap]`` may name."""
    return frozenset(
        b.id for _title, bindings in groups for b in map(as_binding, bindings) if b.id is not None
    )


def check_keymap(
    keymap: Mapping[str, object], known_ids: Collection[str], path: Path | str | None
) -> None:
    """Reject a ``[keymap]`` that names an unknown binding id or gives no keys.

    Raises ConfigError with a one-line message naming the id and the config file.
    """
    where = f"[keymap] of {path}" if path is not None else "[keymap] of the config file"
    for binding_id, keys in keymap.items():
        if binding_id not in known_ids:
            known = ", ".join(sorted(known_ids))
            raise ConfigError(f"unknown key binding id '{binding_id}' in {where} (known: {known})")
        if not isinstance(keys, str):
            raise ConfigError(f"'{binding_id}' in {where} must be a string of keys, like \"f5\"")
        if not keys.strip() or any(not k.strip() for k in keys.split(",")):
            raise ConfigError(
                f"'{binding_id}' in {where} must name keys, like \"ctrl+r,f5\" (got {keys!r})"
            )


# ---------------------------------------------------------------------- command palette


def _textual_actions(app: App[Any], screen: Screen[Any]) -> set[tuple[int, str]]:
    """(node id, action name) of what Textual's own system commands already run."""
    covered: set[tuple[int, str]] = set()
    for command in App.get_system_commands(app, screen):
        callback = command.callback
        owner = getattr(callback, "__self__", None)
        name = getattr(callback, "__name__", "")
        if owner is not None and name.startswith("action_"):
            covered.add((id(owner), name.removeprefix("action_")))
    return covered


def _declared_outside_textual(binding: Binding, node: DOMNode) -> bool:
    """Whether ``binding`` comes from the BINDINGS of one of ``node``'s own classes,
    not from Textual's (its screens' tab / shift+tab / ctrl+c, an Input's editing keys)."""
    for cls in type(node).__mro__:
        if cls.__module__.split(".")[0] == "textual":
            continue
        for declared in map(as_binding, cls.__dict__.get("BINDINGS", ())):
            if (declared.action, declared.description) == (binding.action, binding.description):
                return True
    return False


def _action_target(action: str, node: DOMNode, screen: Screen[Any]) -> tuple[int, str]:
    namespace, name, _params = parse_action(action)
    target: object = {"app": screen.app, "screen": screen}.get(namespace, node)
    return id(target), name


def palette_commands(screen: Screen[Any]) -> Iterator[SystemCommand]:
    """A palette command for each described binding active on ``screen``.

    Title: the description; help: the tooltip and the keys in parentheses; running
    it runs the binding's action in the binding's namespace (widget, screen or app).
    Only bindings declared by flashtop's classes are offered, not Textual's own
    (focus next, copy text, an Input's editing keys); bindings whose action one of
    Textual's system commands already runs (Quit) are left to those, and disabled
    bindings are left out.
    """
    app = screen.app
    covered = _textual_actions(app, screen)
    found: dict[tuple[int, str], tuple[DOMNode, Binding, list[str]]] = {}
    for key, active in screen.active_bindings.items():
        binding = active.binding
        if not binding.description or binding.system or not active.enabled:
            continue
        if parse_action(binding.action)[1] in _NOT_IN_PALETTE:
            continue
        if not _declared_outside_textual(binding, active.node):
            continue
        if _action_target(binding.action, active.node, screen) in covered:
            continue
        slot = (id(active.node), binding.action)
        if slot not in found:
            found[slot] = (active.node, binding, [])
        label = key_label(key)
        if label not in found[slot][2]:
            found[slot][2].append(label)
    for node, binding, labels in found.values():
        yield SystemCommand(
            binding.description,
            f"{long_text(binding)} ({KEY_SEP.join(labels)})",
            partial(app.run_action, binding.action, node),
        )
