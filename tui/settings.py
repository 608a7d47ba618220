"""The one place where settings are resolved: flags beat environment beat config file.

The config file is TOML at the platform config dir (``$XDG_CONFIG_HOME/flashtop/
config.toml`` on Linux), with named profiles. Unknown keys are errors that name the
key and the file, so a typo never silently does nothing.

```toml
default_profile = "test"

[profiles.test]
base_url = "https://test.example.com/api"
interval = 5            # seconds between overview polls (1 .. 3600)
detail_interval = 2     # seconds between drill-down polls
bell = false            # ring the terminal bell on new violations/alerts/blocks
mouse = true
theme = "textual-dark"
ca_bundle = "/etc/ssl/private-ca.pem"

[profiles.test.thresholds]
tokens_per_minute = 200000   # alert when a configuration goes faster than this
calls_per_minute = 1000

[keymap]                     # other keys for any key binding, by its id (all profiles)
refresh = "ctrl+r,f5"        # comma-separated Textual key names or characters
detail-refresh = "ctrl+r,f5"
```

``[keymap]`` gives the bindings with that id these keys instead of their own (the
`?` help and the command palette show the new keys). An unknown id is an error that
lists the known ones, checked when the TUI starts.

Settings also carries what the screens need from the environment, so they do not
read it themselves: ``NO_COLOR`` (set and non-empty), ``TERM`` and the drill-down's
chart marker (``FLASHTOP_CHART_MARKER``; by default quadrant blocks, ``hd``, on the
Linux console and ``braille`` elsewhere).
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import platformdirs

from tui.client import DEFAULT_BASE_URL, normalize_base_url
from tui.errors import ConfigError, UsageError

APP_NAME = "flashtop"
MIN_INTERVAL = 1.0
MAX_INTERVAL = 3600.0
DEFAULT_INTERVAL = 5.0
DEFAULT_DETAIL_INTERVAL = 2.0
DEFAULT_PROFILE = "default"

_TOP_KEYS = {"default_profile", "profiles", "keymap"}
_PROFILE_KEYS: dict[str, type | tuple[type, ...]] = {
    "base_url": str,
    "interval": (int, float),
    "detail_interval": (int, float),
    "bell": bool,
    "mouse": bool,
    "theme": str,
    "ca_bundle": str,
    "thresholds": dict,
}
_THRESHOLD_KEYS = {"tokens_per_minute", "calls_per_minute"}
#: The drill-down's chart marker: braille where the terminal can show it, quadrant
#: blocks on the Linux console (its font has no braille).
DEFAULT_CHART_MARKER = "braille"
LINUX_CONSOLE_CHART_MARKER = "hd"


def config_dir() -> Path:
    return Path(platformdirs.user_config_dir(APP_NAME, appauthor=False))


def data_dir() -> Path:
    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))


def default_config_path() -> Path:
    return config_dir() / "config.toml"


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything a command needs to know, resolved once."""

    profile: str = DEFAULT_PROFILE
    base_url: str = DEFAULT_BASE_URL
    interval: float = DEFAULT_INTERVAL
    detail_interval: float = DEFAULT_DETAIL_INTERVAL
    bell: bool = False
    mouse: bool = True
    theme: str | None = None
    ca_bundle: str | None = None
    thresholds: Mapping[str, float] = field(default_factory=dict)
    config_path: Path | None = None
    demo: bool = False
    insecure_storage: bool = False
    log_file: str | None = None
    #: Binding id -> keys (Textual's keymap format, "ctrl+r,f5"), from ``[keymap]``.
    keymap: Mapping[str, str] = field(default_factory=dict)
    #: NO_COLOR is set and non-empty.
    no_color: bool = False
    #: Marker of the drill-down's charts (FLASHTOP_CHART_MARKER, else by $TERM).
    chart_marker: str = DEFAULT_CHART_MARKER


def check_interval(value: float, what: str = "interval") -> float:
    if not (MIN_INTERVAL <= value <= MAX_INTERVAL) or value != value:
        raise UsageError(
            f"{what} must be between {MIN_INTERVAL:.0f} and {MAX_INTERVAL:.0f} seconds, "
            f"got {value:g}"
        )
    return float(value)


def load_config(path: Path) -> dict[str, Any]:
    """Read and validate the config file; a missing file is an empty config."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read config file {path}: {exc}") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path} is not valid TOML: {exc}") from None
    for key in data:
        if key not in _TOP_KEYS:
            raise ConfigError(f"unknown key '{key}' in config file {path}")
    if "default_profile" in data and not isinstance(data["default_profile"], str):
        raise ConfigError(f"'default_profile' in {path} must be a string")
    keymap = data.get("keymap", {})
    if not isinstance(keymap, dict):
        raise ConfigError(f"'keymap' in {path} must be a table")
    for binding_id, keys in keymap.items():
        if not isinstance(keys, str) or not keys.strip():
            raise ConfigError(
                f"'keymap.{binding_id}' in {path} must be a string of keys, like \"ctrl+r,f5\""
            )
    profiles = data.get("profiles", {})
    if not isinstance(profiles, dict):
        raise ConfigError(f"'profiles' in {path} must be a table")
    for name, prof in profiles.items():
        if not isinstance(prof, dict):
            raise ConfigError(f"profile '{name}' in {path} must be a table")
        for key, value in prof.items():
            where = f"profiles.{name}.{key}"
            if key not in _PROFILE_KEYS:
                raise ConfigError(f"unknown key '{where}' in config file {path}")
            expected = _PROFILE_KEYS[key]
            if not isinstance(value, expected) or (
                expected is not bool and isinstance(value, bool)
            ):
                raise ConfigError(f"'{where}' in {path} has the wrong type")
            if key == "thresholds" and isinstance(value, dict):
                for tkey, tval in value.items():
                    if tkey not in _THRESHOLD_KEYS:
                        raise ConfigError(f"unknown key '{where}.{tkey}' in config file {path}")
                    if not isinstance(tval, int | float) or isinstance(tval, bool) or tval <= 0:
                        raise ConfigError(f"'{where}.{tkey}' in {path} must be a positive number")
    return data


def _env_bool(value: str | None) -> bool | None:
    if value is None or value == "":
        return None
    return value.strip().lower() in ("1", "true", "yes", "on")


def chart_marker(env: Mapping[str, str]) -> str:
    """FLASHTOP_CHART_MARKER when set; else quadrant blocks on the Linux console
    (TERM=linux), braille elsewhere."""
    if env.get("FLASHTOP_CHART_MARKER"):
        return env["FLASHTOP_CHART_MARKER"]
    if env.get("TERM") == "linux":
        return LINUX_CONSOLE_CHART_MARKER
    return DEFAULT_CHART_MARKER


def resolve(
    flags: Mapping[str, Any],
    env: Mapping[str, str] | None = None,
    config_path: Path | None = None,
) -> Settings:
    """Merge command-line flags, environment and config file into one Settings.

    ``flags`` holds only what the user actually gave (None or absent otherwise):
    profile, base_url, interval, detail_interval, bell, mouse, theme, ca_bundle,
    config, demo, insecure_storage, log_file.
    """
    env = os.environ if env is None else env
    path = (
        Path(flags["config"])
        if flags.get("config")
        else (
            Path(env["FLASHTOP_CONFIG"])
            if env.get("FLASHTOP_CONFIG")
            else config_path or default_config_path()
        )
    )
    data = load_config(path)
    profiles: dict[str, dict[str, Any]] = data.get("profiles", {})
    profile = (
        flags.get("profile")
        or env.get("FLASHTOP_PROFILE")
        or data.get("default_profile")
        or DEFAULT_PROFILE
    )
    named = flags.get("profile") or env.get("FLASHTOP_PROFILE")
    if profile not in profiles and named and profiles:
        known = ", ".join(sorted(profiles))
        raise ConfigError(f"no profile '{profile}' in {path} (known: {known})")
    if profile not in profiles and data.get("default_profile") == profile and profiles:
        raise ConfigError(f"default_profile '{profile}' is not defined in {path}")
    prof = profiles.get(profile, {})

    def pick(name: str, env_name: str | None = None) -> Any:
        if flags.get(name) is not None:
            return flags[name]
        if env_name and env.get(env_name):
            return env[env_name]
        return prof.get(name)

    base_url = pick("base_url", "FLASHBACK_BASE_URL") or DEFAULT_BASE_URL
    if not flags.get("demo"):
        base_url = normalize_base_url(base_url)
    interval = check_interval(float(DEFAULT_INTERVAL if (i := pick("interval")) is None else i))
    detail_interval = check_interval(
        float(DEFAULT_DETAIL_INTERVAL if (d := pick("detail_interval")) is None else d),
        "detail interval",
    )
    bell = pick("bell")
    mouse = pick("mouse")
    return Settings(
        profile="demo" if flags.get("demo") else profile,
        base_url=base_url,
        interval=interval,
        detail_interval=detail_interval,
        bell=bool(bell) if bell is not None else False,
        mouse=bool(mouse) if mouse is not None else True,
        theme=pick("theme", "FLASHTOP_THEME"),
        ca_bundle=pick("ca_bundle", "FLASHTOP_CA_BUNDLE"),
        thresholds=dict(prof.get("thresholds", {})),
        config_path=path,
        demo=bool(flags.get("demo")),
        insecure_storage=bool(flags.get("insecure_storage"))
        or bool(_env_bool(env.get("FLASHTOP_INSECURE_STORAGE"))),
        log_file=flags.get("log_file"),
        keymap=dict(data.get("keymap", {})),
        no_color=bool(env.get("NO_COLOR")),
        chart_marker=chart_marker(env),
    )
