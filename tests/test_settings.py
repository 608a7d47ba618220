"""Tests of tui.settings: precedence, strict config validation, profiles and bounds."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from tui.client import DEFAULT_BASE_URL
from tui.errors import ConfigError, InsecureURLError, UsageError
from tui.settings import (
    DEFAULT_DETAIL_INTERVAL,
    DEFAULT_INTERVAL,
    Settings,
    default_config_path,
    load_config,
    resolve,
)

CONFIG = """\
default_profile = "work"

[profiles.work]
base_url = "https://config.example/api"
interval = 7
detail_interval = 3
bell = true
mouse = false
theme = "config-theme"

[profiles.work.thresholds]
tokens_per_minute = 200000
calls_per_minute = 1000.5

[profiles.other]
base_url = "https://other.example"
interval = 11
"""


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(CONFIG, encoding="utf-8")
    return path


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "conf.toml"
    path.write_text(text, encoding="utf-8")
    return path


def run(flags: dict[str, Any], env: dict[str, str], path: Path) -> Settings:
    return resolve(flags, env, config_path=path)


# ---------------------------------------------------------------- defaults and the file


def test_no_config_file_gives_defaults(tmp_path: Path) -> None:
    s = run({}, {}, tmp_path / "absent.toml")
    assert s.base_url == DEFAULT_BASE_URL
    assert (s.interval, s.detail_interval) == (DEFAULT_INTERVAL, DEFAULT_DETAIL_INTERVAL)
    assert (s.profile, s.bell, s.mouse, s.theme) == ("default", False, True, None)
    assert dict(s.thresholds) == {}


def test_default_profile_from_config_is_used(config: Path) -> None:
    s = run({}, {}, config)
    assert s.profile == "work"
    assert s.base_url == "https://config.example/api"
    assert (s.interval, s.detail_interval) == (7.0, 3.0)
    assert (s.bell, s.mouse, s.theme) == (True, False, "config-theme")
    assert dict(s.thresholds) == {"tokens_per_minute": 200000, "calls_per_minute": 1000.5}
    assert s.config_path == config


def test_default_config_path_follows_xdg_config_home() -> None:
    assert default_config_path() == Path(os.environ["XDG_CONFIG_HOME"]) / "flashtop/config.toml"


def test_default_config_location_is_read() -> None:
    path = default_config_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text('[profiles.default]\nbase_url = "https://xdg.example"\n', encoding="utf-8")
    assert resolve({}, {}).base_url == "https://xdg.example"


# ---------------------------------------------------------------- precedence


def test_flag_beats_env_beats_config_for_base_url(config: Path) -> None:
    env = {"FLASHBACK_BASE_URL": "https://env.example/"}
    assert run({}, {}, config).base_url == "https://config.example/api"
    assert run({}, env, config).base_url == "https://env.example"
    assert run({"base_url": "https://flag.example"}, env, config).base_url == "https://flag.example"


def test_flag_beats_env_beats_config_for_theme(config: Path) -> None:
    env = {"FLASHTOP_THEME": "env-theme"}
    assert run({}, {}, config).theme == "config-theme"
    assert run({}, env, config).theme == "env-theme"
    assert run({"theme": "flag-theme"}, env, config).theme == "flag-theme"


def test_flag_beats_env_beats_config_for_profile(config: Path) -> None:
    env = {"FLASHTOP_PROFILE": "other"}
    assert run({}, {}, config).profile == "work"
    s = run({}, env, config)
    assert (s.profile, s.base_url, s.interval) == ("other", "https://other.example", 11.0)
    s = run({"profile": "work"}, env, config)
    assert (s.profile, s.base_url) == ("work", "https://config.example/api")


def test_flag_beats_config_for_interval_and_switches(config: Path) -> None:
    s = run({"interval": 2.5, "bell": False, "mouse": True}, {}, config)
    assert s.interval == 2.5
    assert s.detail_interval == 3.0  # not given: still from the config
    assert (s.bell, s.mouse) == (False, True)


def test_config_flag_beats_flashtop_config_env(config: Path, tmp_path: Path) -> None:
    env_file = tmp_path / "env.toml"
    env_file.write_text('[profiles.default]\nbase_url = "https://envfile.example"\n')
    env = {"FLASHTOP_CONFIG": str(env_file)}
    assert run({}, env, tmp_path / "absent.toml").base_url == "https://envfile.example"
    assert run({"config": str(config)}, env, tmp_path / "absent.toml").profile == "work"


def test_env_base_url_is_validated_too(config: Path) -> None:
    with pytest.raises(InsecureURLError):
        run({}, {"FLASHBACK_BASE_URL": "http://example.com"}, config)


def test_config_base_url_is_validated(tmp_path: Path) -> None:
    path = write(tmp_path, '[profiles.default]\nbase_url = "http://example.com"\n')
    with pytest.raises(InsecureURLError):
        run({}, {}, path)


def test_insecure_storage_from_flag_or_env(tmp_path: Path) -> None:
    absent = tmp_path / "absent.toml"
    assert run({}, {}, absent).insecure_storage is False
    assert run({"insecure_storage": True}, {}, absent).insecure_storage is True
    assert run({}, {"FLASHTOP_INSECURE_STORAGE": "1"}, absent).insecure_storage is True
    assert run({}, {"FLASHTOP_INSECURE_STORAGE": "0"}, absent).insecure_storage is False


def test_demo_skips_base_url_checks_and_names_the_profile(tmp_path: Path) -> None:
    s = run({"demo": True}, {}, tmp_path / "absent.toml")
    assert (s.demo, s.profile) == (True, "demo")


# ---------------------------------------------------------------- unknown keys


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("colour = true\n", "colour"),
        ('[profile.work]\nbase_url = "https://x.example"\n', "profile"),
        ("[profiles.work]\nintervall = 5\n", "profiles.work.intervall"),
        ('[profiles.work]\nbaseurl = "https://x.example"\n', "profiles.work.baseurl"),
        ("[profiles.work.thresholds]\ntokens_per_hour = 5\n", "profiles.work.thresholds"),
    ],
    ids=["top", "top-typo-table", "profile", "profile-url", "threshold"],
)
def test_unknown_key_is_an_error_naming_key_and_file(tmp_path: Path, text: str, key: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    message = str(info.value)
    assert key in message
    assert str(path) in message
    assert "\n" not in message
    with pytest.raises(ConfigError):
        run({}, {}, path)


def test_unknown_threshold_key_names_the_threshold(tmp_path: Path) -> None:
    path = write(tmp_path, "[profiles.work.thresholds]\ntokens_per_hour = 5\n")
    with pytest.raises(ConfigError, match="tokens_per_hour"):
        load_config(path)


# ---------------------------------------------------------------- wrong types


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("default_profile = 3\n[profiles.x]\ninterval = 5\n", "default_profile"),
        ("profiles = 3\n", "profiles"),
        ("[profiles]\nwork = 3\n", "work"),
        ('[profiles.w]\ninterval = "5"\n', "interval"),
        ("[profiles.w]\ninterval = true\n", "interval"),
        ("[profiles.w]\ndetail_interval = [2]\n", "detail_interval"),
        ("[profiles.w]\nbase_url = 5\n", "base_url"),
        ('[profiles.w]\nbell = "yes"\n', "bell"),
        ("[profiles.w]\nbell = 1\n", "bell"),
        ("[profiles.w]\nmouse = 0\n", "mouse"),
        ("[profiles.w]\ntheme = false\n", "theme"),
        ("[profiles.w]\nca_bundle = 1\n", "ca_bundle"),
        ("[profiles.w]\nthresholds = 5\n", "thresholds"),
        ('[profiles.w.thresholds]\ntokens_per_minute = "many"\n', "tokens_per_minute"),
        ("[profiles.w.thresholds]\ntokens_per_minute = true\n", "tokens_per_minute"),
        ("[profiles.w.thresholds]\ncalls_per_minute = -1\n", "calls_per_minute"),
        ("[profiles.w.thresholds]\ncalls_per_minute = 0\n", "calls_per_minute"),
    ],
)
def test_wrong_types_are_config_errors(tmp_path: Path, text: str, name: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert name in str(info.value)
    assert str(path) in str(info.value)


def test_integer_and_float_intervals_are_both_accepted(tmp_path: Path) -> None:
    path = write(tmp_path, "[profiles.default]\ninterval = 2\ndetail_interval = 1.5\n")
    s = run({}, {}, path)
    assert (s.interval, s.detail_interval) == (2.0, 1.5)


# ---------------------------------------------------------------- profiles


@pytest.mark.parametrize("how", ["flag", "env"])
def test_missing_named_profile_lists_the_known_ones(config: Path, how: str) -> None:
    flags = {"profile": "prod"} if how == "flag" else {}
    env = {"FLASHTOP_PROFILE": "prod"} if how == "env" else {}
    with pytest.raises(ConfigError) as info:
        run(flags, env, config)
    message = str(info.value)
    assert "'prod'" in message
    assert "other" in message and "work" in message
    assert str(config) in message


def test_default_profile_that_does_not_exist_is_an_error(tmp_path: Path) -> None:
    path = write(tmp_path, 'default_profile = "ghost"\n[profiles.real]\ninterval = 5\n')
    with pytest.raises(ConfigError, match="ghost"):
        run({}, {}, path)


# ---------------------------------------------------------------- interval bounds


@pytest.mark.parametrize("value", [1, 1.0, 2.5, 3600])
def test_interval_bounds_accepted(tmp_path: Path, value: float) -> None:
    absent = tmp_path / "absent.toml"
    assert run({"interval": value}, {}, absent).interval == float(value)
    path = write(tmp_path, f"[profiles.default]\ninterval = {value}\ndetail_interval = {value}\n")
    s = run({}, {}, path)
    assert (s.interval, s.detail_interval) == (float(value), float(value))


@pytest.mark.parametrize("value", [0.5, 0.999, 3600.01, 3601, -5, float("nan"), float("inf")])
def test_interval_out_of_bounds_rejected_from_flag(tmp_path: Path, value: float) -> None:
    with pytest.raises(UsageError, match="interval"):
        run({"interval": value}, {}, tmp_path / "absent.toml")


@pytest.mark.parametrize("value", ["0.5", "3601", "-1", "nan", "inf"])
def test_interval_out_of_bounds_rejected_from_config(tmp_path: Path, value: str) -> None:
    path = write(tmp_path, f"[profiles.default]\ninterval = {value}\n")
    with pytest.raises(UsageError, match="interval"):
        run({}, {}, path)
    path = write(tmp_path, f"[profiles.default]\ndetail_interval = {value}\n")
    with pytest.raises(UsageError, match="interval"):
        run({}, {}, path)


def test_zero_interval_flag_is_rejected_not_replaced_by_default(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="interval"):
        run({"interval": 0.0}, {}, tmp_path / "absent.toml")


def test_zero_interval_in_config_is_rejected_not_replaced_by_default(tmp_path: Path) -> None:
    path = write(tmp_path, "[profiles.default]\ninterval = 0\n")
    with pytest.raises(UsageError, match="interval"):
        run({}, {}, path)


# ---------------------------------------------------------------- unreadable files


@pytest.mark.parametrize(
    "text",
    ["interval = = 5\n", "[profiles.w\n", 'a = "unterminated\n', "[x]\n[x]\n"],
    ids=["double-eq", "open-table", "string", "duplicate-table"],
)
def test_invalid_toml_is_a_one_line_config_error(tmp_path: Path, text: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        run({}, {}, path)
    message = str(info.value)
    assert "not valid TOML" in message
    assert str(path) in message
    assert "\n" not in message


def test_non_utf8_config_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "latin1.toml"
    path.write_bytes(b'theme = "caf\xe9"\n')
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert str(path) in str(info.value)


def test_config_that_is_a_directory_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(tmp_path)
    assert str(tmp_path) in str(info.value)


# ---------------------------------------------------------------- [keymap]


def test_keymap_table_is_read_for_every_profile(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        '[profiles.a]\ninterval = 3\n[profiles.b]\n\n[keymap]\nrefresh = "ctrl+r,f5"\n'
        'detail-refresh = "f5"\n',
    )
    for profile in ("a", "b"):
        s = run({"profile": profile}, {}, path)
        assert dict(s.keymap) == {"refresh": "ctrl+r,f5", "detail-refresh": "f5"}


def test_no_keymap_is_an_empty_one(config: Path) -> None:
    assert dict(run({}, {}, config).keymap) == {}
    assert dict(Settings().keymap) == {}


def test_keymap_that_is_not_a_table_is_an_error(tmp_path: Path) -> None:
    path = write(tmp_path, 'keymap = "refresh=f5"\n')
    with pytest.raises(ConfigError, match=r"^'keymap' in .*conf\.toml must be a table$"):
        run({}, {}, path)


@pytest.mark.parametrize("value", ["5", "true", '""', '" "', '["f5"]', "{ key = 'f5' }"])
def test_keymap_keys_must_be_a_non_empty_string(tmp_path: Path, value: str) -> None:
    path = write(tmp_path, f"[keymap]\nrefresh = {value}\n")
    with pytest.raises(ConfigError) as info:
        run({}, {}, path)
    message = str(info.value)
    assert message.startswith(f"'keymap.refresh' in {path} must be a string of keys")
    assert "\n" not in message


# ---------------------------------------------------------------- environment fields


def test_no_color_is_set_when_no_color_is_non_empty(config: Path) -> None:
    assert run({}, {"NO_COLOR": "1"}, config).no_color is True
    assert run({}, {"NO_COLOR": ""}, config).no_color is False
    assert run({}, {}, config).no_color is False


@pytest.mark.parametrize(
    ("env", "marker"),
    [
        ({}, "braille"),
        ({"TERM": "xterm-256color"}, "braille"),
        ({"TERM": "linux"}, "hd"),
        ({"TERM": "linux", "FLASHTOP_CHART_MARKER": "dot"}, "dot"),
        ({"FLASHTOP_CHART_MARKER": "fhd"}, "fhd"),
        ({"TERM": "linux", "FLASHTOP_CHART_MARKER": ""}, "hd"),
    ],
)
def test_chart_marker_from_env_else_by_terminal(
    config: Path, env: dict[str, str], marker: str
) -> None:
    assert run({}, env, config).chart_marker == marker


def test_env_fields_default_without_resolve() -> None:
    s = Settings()
    assert (s.no_color, s.chart_marker) == (False, "braille")


# ---------------------------------------------------------------- history cap


def test_history_max_mb_defaults_to_500_and_is_read_from_the_profile(tmp_path: Path) -> None:
    assert run({}, {}, tmp_path / "absent.toml").history_max_mb == 500.0
    path = write(tmp_path, "[profiles.default]\nhistory_max_mb = 50\n")
    assert run({}, {}, path).history_max_mb == 50.0
    path = write(tmp_path, "[profiles.default]\nhistory_max_mb = 2.5\n")
    assert run({}, {}, path).history_max_mb == 2.5


@pytest.mark.parametrize("value", ["0", "0.5", "-10", "nan", "inf", '"500"', "true"])
def test_history_max_mb_must_be_at_least_one_megabyte(tmp_path: Path, value: str) -> None:
    path = write(tmp_path, f"[profiles.default]\nhistory_max_mb = {value}\n")
    with pytest.raises(ConfigError, match="history_max_mb"):
        run({}, {}, path)
