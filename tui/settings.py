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
credential_store = "keyring"  # or "file": a 0600 plain-text file, for headless servers
                              # without a Secret Service (warned about at login only)
history_max_mb = 500    # the history file's cap; the oldest samples go past it

[profiles.test.thresholds]
tokens_per_minute = 200000   # alert when a configuration goes faster than this
calls_per_minute = 1000

[profiles.test.models]       # name glob or aiLlmId -> model in the price table
"support-*" = "gpt-4o"

[profiles.test.prices."our-finetune"]   # USD per million tokens (overrides the table)
input = 2.0
output = 8.0

[[profiles.test.budgets]]
match = "*"                  # glob on name, id or provider; "*": the whole organization
period = "day"               # "day" or "month", local time
usd = 100                    # or: tokens = 50_000_000 (LLM tokens in + out)

[[profiles.test.rules]]      # alert rules, evaluated after every poll (see tui.rules)
name = "any block"           # unique within the profile
metric = "blocks"            # calls_per_minute | tokens_per_minute | cost_per_hour |
                             # violations | alerts | blocks | budget_percent | no_data
match = "prod-*"             # glob on name, id or provider (budget_percent: on the label)
above = 0                    # fires while the value is above this (>= 0)
window = "5m"                # event counters: their increase within it; rates: over it
for = "0s"                   # how long it must hold before firing
repeat = "1h"                # remind while still firing (optional)
notify = ["toast", "bell", "desktop", "json://hooks.example.com/flashtop"]
sum = false                  # true: one value summed over the matching configurations

[keymap]                     # other keys for any key binding, by its id (all profiles)
refresh = "ctrl+r,f5"        # comma-separated Textual key names or characters
detail-refresh = "ctrl+r,f5"
```

Rules. Durations are strings (``"0s"``, ``"90s"``, ``"5m"``, ``"1h"``, ``"7d"``) or
numbers of seconds. Defaults: match ``"*"``, above 0, window 5 minutes, for 0, no
repeat, notify ``["toast"]``, sum false. ``notify`` entries other than ``toast``,
``bell`` and ``desktop`` are Apprise URLs; they hold secrets (webhook tokens), so no
error message, log line or repr ever shows one (errors say "notify entry 2 of rule
'x'"). ``Settings.rules`` is the resolved list: the profile's rules, the built-in
rules "new violations", "new alerts" and "new blocks" (each increase within a minute,
as a toast, plus the bell when ``bell`` is on) unless the profile sets
``default_rules = false``, and the ``thresholds`` shorthand: ``tokens_per_minute``
and ``calls_per_minute`` are the rules "tokens per minute" and "calls per minute"
(above that value, over a minute, toast and bell as above; kept even with
``default_rules = false``, since they are written out). A profile rule named like a
built-in one replaces it.

``[keymap]`` gives the bindings with that id these keys instead of their own (the
`?` help and the command palette show the new keys). An unknown id is an error that
lists the known ones, checked when the TUI starts.

Settings also carries what the screens need from the environment, so they do not
read it themselves: ``NO_COLOR`` (set and non-empty), ``TERM`` and the drill-down's
chart marker (``FLASHTOP_CHART_MARKER``; by default quadrant blocks, ``hd``, on the
Linux console and ``braille`` elsewhere).
"""

from __future__ import annotations

import math
import os
import stat
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import platformdirs

from tui.client import DEFAULT_BASE_URL, check_url_port, normalize_base_url
from tui.errors import ConfigError, UsageError, one_line
from tui.rules import (
    CONFIG_METRICS,
    LOCAL_CHANNELS,
    MAX_DURATION_DAYS,
    METRICS,
    Rule,
    default_rules,
    parse_seconds,
)

APP_NAME = "flashtop"
MIN_INTERVAL = 1.0
MAX_INTERVAL = 3600.0
DEFAULT_INTERVAL = 5.0
DEFAULT_DETAIL_INTERVAL = 2.0
DEFAULT_PROFILE = "default"
#: A config file larger than this is refused unread (it is a few KiB in practice).
MAX_CONFIG_BYTES = 1024 * 1024
#: Megabytes (10**6 bytes) the history file may use before its oldest samples go.
DEFAULT_HISTORY_MAX_MB = 500.0
MIN_HISTORY_MAX_MB = 1.0

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
    "models": dict,
    "prices": dict,
    "budgets": list,
    "rules": list,
    "default_rules": bool,
    "credential_store": str,
    "history_max_mb": (int, float),
}
#: Where tokens are kept: the OS keyring, or a 0600 plain-text file (headless servers).
CREDENTIAL_STORES = ("keyring", "file")
_THRESHOLD_KEYS = {"tokens_per_minute", "calls_per_minute"}
_BUDGET_KEYS = {"match", "period", "usd", "tokens", "name"}
BUDGET_PERIODS = ("day", "month")
#: Keys of a rule table (``for`` is ``Rule.for_``).
_RULE_KEYS = ("name", "metric", "match", "above", "window", "for", "repeat", "notify", "sum")
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
class BudgetSpec:
    """One ``[[profiles.<name>.budgets]]`` entry: a limit on spend or tokens per period."""

    #: Glob on a configuration's name, id or provider; "*" is the whole organization.
    match: str
    #: "day" or "month", in local time.
    period: str
    #: The limit: USD, or LLM tokens (in + out); exactly one is set.
    usd: Decimal | None = None
    tokens: int | None = None
    #: What the budget is called on screen (default: its match and period).
    name: str = ""

    @property
    def label(self) -> str:
        if self.name:
            return self.name
        what = "all" if self.match == "*" else self.match
        return f"{what} / {self.period}"


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
    #: ``credential_store`` of the profile: "keyring", or "file" (the 0600 plain-text
    #: file that --insecure-storage picks, chosen once in the config file).
    credential_store: str = "keyring"
    log_file: str | None = None
    #: Binding id -> keys (Textual's keymap format, "ctrl+r,f5"), from ``[keymap]``.
    keymap: Mapping[str, str] = field(default_factory=dict)
    #: NO_COLOR is set and non-empty.
    no_color: bool = False
    #: Marker of the drill-down's charts (FLASHTOP_CHART_MARKER, else by $TERM).
    chart_marker: str = DEFAULT_CHART_MARKER
    #: ``[profiles.<name>.models]``: aiLlmId or name glob -> model name, in file order.
    models: Mapping[str, str] = field(default_factory=dict)
    #: ``[profiles.<name>.prices]``: model -> (input, output) USD per million tokens.
    prices: Mapping[str, tuple[Decimal, Decimal]] = field(default_factory=dict)
    budgets: tuple[BudgetSpec, ...] = ()
    #: A Prometheus scraping `flashtop daemon`: the drill-down's long windows read
    #: from it what the history file does not hold (None: local history only).
    prometheus_url: str | None = None
    #: Alert rules: the profile's, then the built-in ones and the ``thresholds``
    #: shorthand (see the module docstring).
    rules: tuple[Rule, ...] = field(default_factory=default_rules)
    #: The history file's cap in megabytes (10**6 bytes): past it the oldest samples
    #: of the finest tier go first, never the newest hour.
    history_max_mb: float = DEFAULT_HISTORY_MAX_MB


def check_interval(value: float, what: str = "interval") -> float:
    if not (MIN_INTERVAL <= value <= MAX_INTERVAL) or value != value:
        raise UsageError(
            f"{what} must be between {MIN_INTERVAL:.0f} and {MAX_INTERVAL:.0f} seconds, "
            f"got {value:g}"
        )
    return float(value)


def _read_config_text(path: Path, *, required: bool) -> str | None:
    """The config file's text, or None when it does not exist and is not ``required``.

    Only a regular file of at most :data:`MAX_CONFIG_BYTES` is read: a device such as
    /dev/zero, a FIFO or a huge file is refused before anything is read from it.
    """
    try:
        st = path.stat()
    except (FileNotFoundError, NotADirectoryError):
        if required:
            raise ConfigError(f"config file {path} does not exist") from None
        return None
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror or exc}") from None
    if not stat.S_ISREG(st.st_mode):
        raise ConfigError(f"config file {path} is not a regular file")
    if st.st_size > MAX_CONFIG_BYTES:
        raise ConfigError(
            f"config file {path} is too large ({st.st_size:,} bytes; at most "
            f"{MAX_CONFIG_BYTES // 1024} KiB)"
        )
    try:
        # O_NONBLOCK: should the path have become a FIFO since the stat, open does not hang.
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
        with os.fdopen(fd, "rb") as fh:
            if not stat.S_ISREG(os.fstat(fh.fileno()).st_mode):
                raise ConfigError(f"config file {path} is not a regular file")
            raw = fh.read(MAX_CONFIG_BYTES + 1)
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror or exc}") from None
    if len(raw) > MAX_CONFIG_BYTES:
        raise ConfigError(
            f"config file {path} is too large (at most {MAX_CONFIG_BYTES // 1024} KiB)"
        )
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc}") from None


def load_config(path: Path, *, required: bool = False) -> dict[str, Any]:
    """Read and validate the config file; a missing file is an empty config unless
    ``required`` (a path the user named), when it is an error."""
    text = _read_config_text(path, required=required)
    if text is None:
        return {}
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
            if key == "models":
                for mkey, model in value.items():
                    if not isinstance(model, str) or not model.strip():
                        raise ConfigError(f"'{where}.\"{mkey}\"' in {path} must be a model name")
            if key == "prices":
                for model, table in value.items():
                    _check_price(table, f'{where}."{model}"', path)
            if key == "budgets":
                for n, budget in enumerate(value, 1):
                    _check_budget(budget, f"{where}[{n}]", path)
            if key == "rules":
                _rules(value, where, path)
            if key == "history_max_mb" and not (MIN_HISTORY_MAX_MB <= value < math.inf):
                raise ConfigError(
                    f"'{where}' in {path} must be a number of megabytes, at least "
                    f"{MIN_HISTORY_MAX_MB:g}, got {value!r}"
                )
    return data


def _positive_decimal(value: object) -> Decimal | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        number = Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
    except InvalidOperation:
        return None
    return number if number.is_finite() and number >= 0 else None


def _check_price(table: object, where: str, path: Path) -> None:
    if not isinstance(table, dict):
        raise ConfigError(f"'{where}' in {path} must be a table with input and output")
    for key in table:
        if key not in ("input", "output"):
            raise ConfigError(f"unknown key '{where}.{key}' in config file {path}")
    for key in ("input", "output"):
        if key not in table:
            raise ConfigError(f"'{where}' in {path} needs '{key}' (USD per million tokens)")
        if _positive_decimal(table[key]) is None:
            raise ConfigError(f"'{where}.{key}' in {path} must be a number >= 0")


def _check_budget(budget: object, where: str, path: Path) -> None:
    if not isinstance(budget, dict):
        raise ConfigError(f"'{where}' in {path} must be a table")
    for key in budget:
        if key not in _BUDGET_KEYS:
            raise ConfigError(f"unknown key '{where}.{key}' in config file {path}")
    if not isinstance(budget.get("match", "*"), str) or not budget.get("match", "*"):
        raise ConfigError(f"'{where}.match' in {path} must be a glob, like \"*\"")
    if budget.get("period", "day") not in BUDGET_PERIODS:
        raise ConfigError(f'\'{where}.period\' in {path} must be "day" or "month"')
    if not isinstance(budget.get("name", ""), str):
        raise ConfigError(f"'{where}.name' in {path} must be a string")
    if ("usd" in budget) == ("tokens" in budget):
        raise ConfigError(f"'{where}' in {path} needs exactly one of 'usd' and 'tokens'")
    if "usd" in budget:
        usd = _positive_decimal(budget["usd"])
        if usd is None or usd == 0:
            raise ConfigError(f"'{where}.usd' in {path} must be a positive number")
    else:
        tokens = budget["tokens"]
        if isinstance(tokens, bool) or not isinstance(tokens, int) or tokens <= 0:
            raise ConfigError(f"'{where}.tokens' in {path} must be a positive whole number")


def _duration(rule: dict[str, Any], key: str, where: str, path: Path, *, zero: bool) -> float:
    seconds = parse_seconds(rule[key])
    if seconds is None or (seconds == 0 and not zero):
        raise ConfigError(
            f'\'{where}.{key}\' in {path} must be a duration like "90s", "5m" or "1h"'
            + (" (0 allowed" if zero else " (above 0")
            + f", at most {MAX_DURATION_DAYS}d)"
        )
    return seconds


def _rule(raw: object, where: str, path: Path) -> Rule:
    """One ``[[profiles.<name>.rules]]`` table as a :class:`Rule`, or a ConfigError
    naming the key and the file (and never a notify entry: those may be secret URLs)."""
    if not isinstance(raw, dict):
        raise ConfigError(f"'{where}' in {path} must be a table")
    for key in raw:
        if key not in _RULE_KEYS:
            raise ConfigError(f"unknown key '{where}.{key}' in config file {path}")
    name = raw.get("name")
    if not isinstance(name, str) or not name.strip():
        raise ConfigError(f"'{where}.name' in {path} must be a non-empty string")
    metric = raw.get("metric")
    if metric not in METRICS:
        raise ConfigError(f"'{where}.metric' in {path} must be one of {', '.join(METRICS)}")
    match = raw.get("match", "*")
    if not isinstance(match, str) or not match:
        raise ConfigError(f"'{where}.match' in {path} must be a glob, like \"*\"")
    above = raw.get("above", 0)
    if (
        isinstance(above, bool)
        or not isinstance(above, int | float)
        or not above >= 0
        or above == float("inf")
    ):
        raise ConfigError(f"'{where}.above' in {path} must be a number >= 0")
    if not isinstance(raw.get("sum", False), bool):
        raise ConfigError(f"'{where}.sum' in {path} must be true or false")
    window = _duration(raw, "window", where, path, zero=False) if "window" in raw else 300.0
    for_ = _duration(raw, "for", where, path, zero=True) if "for" in raw else 0.0
    repeat = _duration(raw, "repeat", where, path, zero=False) if "repeat" in raw else None
    notify = raw.get("notify", ["toast"])
    if not isinstance(notify, list):
        raise ConfigError(f"'{where}.notify' in {path} must be a list of strings")
    for n, entry in enumerate(notify, 1):
        what = f"notify entry {n} of rule '{name}'"
        if not isinstance(entry, str) or not entry.strip():
            raise ConfigError(f"{what} ('{where}.notify') in {path} must be a non-empty string")
        if entry not in LOCAL_CHANNELS and "://" not in entry:
            raise ConfigError(
                f"{what} ('{where}.notify') in {path} is neither toast, bell, desktop "
                "nor a notification URL (scheme://...)"
            )
    if metric not in CONFIG_METRICS:
        for key in ("sum", "window") if metric == "budget_percent" else ("sum", "window", "match"):
            if key in raw:
                raise ConfigError(f"'{where}.{key}' in {path} does not apply to {metric}")
        if metric == "no_data" and "above" in raw:
            raise ConfigError(
                f"'{where}.above' in {path} does not apply to no_data (it fires once polls "
                "have failed for 'for')"
            )
    return Rule(
        name=name,
        metric=metric,
        match=match,
        above=float(above),
        window=window,
        for_=for_,
        repeat=repeat,
        notify=tuple(notify),
        sum=bool(raw.get("sum", False)),
    )


def _rules(raw: list[Any], where: str, path: Path) -> tuple[Rule, ...]:
    """A profile's rules, checked (see :func:`_rule`); duplicate names are errors."""
    out: list[Rule] = []
    seen: set[str] = set()
    for n, item in enumerate(raw, 1):
        rule = _rule(item, f"{where}[{n}]", path)
        if rule.name in seen:
            raise ConfigError(
                f"'{where}[{n}].name' in {path}: a rule named '{rule.name}' "
                "comes earlier (rule names must be unique)"
            )
        seen.add(rule.name)
        out.append(rule)
    return tuple(out)


def resolve_rules(
    prof: Mapping[str, Any], bell: bool, path: Path, where: str = "rules"
) -> tuple[Rule, ...]:
    """The profile's rules, then the defaults (see the module docstring) that no
    profile rule of the same name replaces; ``where`` names the rules' key in errors."""
    own = _rules(prof.get("rules", []), where, path)
    names = {r.name for r in own}
    defaults = default_rules(
        bell=bell,
        thresholds=prof.get("thresholds", {}),
        builtin=prof.get("default_rules", True),
    )
    return own + tuple(r for r in defaults if r.name not in names)


def _credential_store(value: str, path: Path | None) -> str:
    if value not in CREDENTIAL_STORES:
        where = f" in {path}" if path else ""
        raise ConfigError(
            f"'credential_store'{where} must be one of {', '.join(CREDENTIAL_STORES)}, "
            f"got {one_line(value, 40)!r}"
        )
    return value


def _prometheus_url(value: object, path: Path) -> str | None:
    if not value:
        return None
    text = str(value).strip()
    if not (text.startswith("http://") or text.startswith("https://")) or " " in text:
        raise ConfigError(f"'prometheus_url' in {path} must be an http:// or https:// URL")
    check_url_port(urlsplit(text), f"'prometheus_url' in {path}")
    return text.rstrip("/")


def _budgets(raw: list[dict[str, Any]]) -> tuple[BudgetSpec, ...]:
    return tuple(
        BudgetSpec(
            match=b.get("match", "*"),
            period=b.get("period", "day"),
            usd=_positive_decimal(b["usd"]) if "usd" in b else None,
            tokens=b.get("tokens"),
            name=b.get("name", ""),
        )
        for b in raw
    )


def _prices(raw: dict[str, dict[str, Any]]) -> dict[str, tuple[Decimal, Decimal]]:
    out: dict[str, tuple[Decimal, Decimal]] = {}
    for model, table in raw.items():
        rin, rout = _positive_decimal(table["input"]), _positive_decimal(table["output"])
        assert rin is not None and rout is not None  # checked by load_config
        out[model] = (rin, rout)
    return out


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
    for flag, what in (("config", "file name"), ("profile", "profile name")):
        if flags.get(flag) is not None and not str(flags[flag]).strip():
            # An empty value must not quietly mean "the default" (a script's unset variable).
            raise UsageError(f"--{flag} needs a {what}, not an empty string")
    # A path the user named (flag or FLASHTOP_CONFIG) must exist: a typo in it must
    # not quietly fall back to the defaults (production). The default path may be absent.
    named_path = flags.get("config") or env.get("FLASHTOP_CONFIG")
    path = Path(named_path) if named_path else config_path or default_config_path()
    data = load_config(path, required=bool(named_path))
    profiles: dict[str, dict[str, Any]] = data.get("profiles", {})
    profile = (
        flags.get("profile")
        or env.get("FLASHTOP_PROFILE")
        or data.get("default_profile")
        or DEFAULT_PROFILE
    )
    named = flags.get("profile") or env.get("FLASHTOP_PROFILE")
    # "default" needs no table of its own unless the file defines profiles; any other
    # name must be defined, so `--profile typo-prod` never talks to the default URL.
    if profile not in profiles and (profiles or profile != DEFAULT_PROFILE):
        if named:
            known = ", ".join(sorted(profiles)) or "none"
            if path.exists():
                raise ConfigError(
                    f"no profile '{one_line(profile, 80)}' in {path} (known: {known})"
                )
            raise ConfigError(
                f"no profile '{one_line(profile, 80)}': there is no config file ({path})"
            )
        if data.get("default_profile"):
            raise ConfigError(f"default_profile '{one_line(profile, 80)}' is not defined in {path}")
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
        credential_store=_credential_store(prof.get("credential_store", "keyring"), path),
        log_file=flags.get("log_file"),
        keymap=dict(data.get("keymap", {})),
        no_color=bool(env.get("NO_COLOR")),
        chart_marker=chart_marker(env),
        models=dict(prof.get("models", {})),
        prices=_prices(prof.get("prices", {})),
        budgets=_budgets(prof.get("budgets", [])),
        prometheus_url=_prometheus_url(pick("prometheus_url", "FLASHTOP_PROMETHEUS_URL"), path),
        rules=resolve_rules(prof, bool(bell), path, f"profiles.{profile}.rules"),
        history_max_mb=float(prof.get("history_max_mb", DEFAULT_HISTORY_MAX_MB)),
    )
