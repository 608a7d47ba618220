"""The command line: ``flashtop [command] [options]``.

Commands other than the monitor itself never import Textual, so ``flashtop stats``
starts fast. Every failure ends as one line on stderr and a documented exit status.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import csv
import errno
import io
import json
import os
import sys
from collections.abc import Mapping, Sequence
from typing import Any, NoReturn, TextIO

from tui import __version__
from tui.errors import (
    EXIT_AUTH,
    EXIT_INTERNAL,
    EXIT_KEYRING,
    EXIT_NETWORK,
    EXIT_NO_MATCH,
    EXIT_OK,
    EXIT_SERVER,
    EXIT_USAGE,
    FlashtopError,
    NoMatchError,
    OutputError,
    UsageError,
    one_line,
)
from tui.models import CellProblem
from tui.settings import Settings, resolve

EPILOG = f"""\
commands:
  (none)        the live monitor for the active profile
  login         store tokens in the OS keyring (email + password, or --with-token)
  logout        revoke the refresh token and remove stored tokens
  status        where credentials come from, keyring backend, base URL, reachability
  stats         one request to /ai/llm/stats, printed once
                (--by model|host --since D: usage split by model or host, from /aistats)
  export        samples kept in the local history (CSV or JSON, exact digits)
  alerts        the alert log kept in the local history (table or JSON)
  serve-demo    run the simulated Flashback backend alone
  daemon        poll without a screen: history, alert rules, /metrics and /healthz

environment:
  FLASHBACK_TOKEN      access token to use (wins over the keyring; cannot be refreshed)
  FLASHBACK_BASE_URL   API base URL (default https://backend.flashback.tech)
  FLASHTOP_CONFIG      config file (default: config.toml in the platform config dir)
  FLASHTOP_PROFILE     profile to use (like --profile; it must be defined in the config)
  NO_COLOR             turn colours off

exit status:
  {EXIT_OK}  success
  {EXIT_INTERNAL}  unexpected internal error, or the output cannot be written (disk full)
  {EXIT_USAGE}  usage or configuration error
  {EXIT_AUTH}  authentication or permission failure (401, 403, login needed)
  {EXIT_NETWORK}  network failure (unreachable, timeout, TLS)
  {EXIT_SERVER}  server or API error (5xx, 404, 429, bad or unsuccessful response)
  {EXIT_KEYRING}  no usable credential storage (keyring)
  {EXIT_NO_MATCH}  --id matched nothing (stats: no such configuration; export: no sample)
  143  the monitor ended by SIGTERM (after restoring the terminal; SIGHUP: 0)
  (`flashtop status --help` says which of these `status` uses for what)
"""


STATUS_EPILOG = f"""\
exit status (the report is printed in every case):
  {EXIT_OK}  the API answers and there is a usable credential
  {EXIT_USAGE}  usage or configuration error (e.g. an unreadable CA bundle)
  {EXIT_NETWORK}  the API cannot be reached (unreachable, timeout, TLS)
  {EXIT_SERVER}  the API answers with an error (5xx, unhealthy, bad response)
  {EXIT_KEYRING}  no usable credential storage: no keyring (and no FLASHBACK_TOKEN, no
     --insecure-storage), or the keyring cannot be read (locked, timed out)
  {EXIT_AUTH}  no usable credential: not logged in, or expired and not refreshable
  When several apply, the first in this list wins.
"""


class _Parser(argparse.ArgumentParser):
    """argparse that reports a usage error as one line and exit status 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"flashtop: error: {message} (see flashtop --help)\n")


def _common(suppress: bool) -> _Parser:
    """Options accepted before and after the command name."""
    d: Any = argparse.SUPPRESS if suppress else None
    p = _Parser(add_help=False, argument_default=d)
    g = p.add_argument_group("common options")
    g.add_argument(
        "--base-url", metavar="URL", help="API base URL (https; http only for localhost)"
    )
    g.add_argument(
        "--profile", metavar="NAME", help="named profile from the config file (must be defined)"
    )
    g.add_argument(
        "--config", metavar="FILE", help="config file to read (must exist; at most 1 MiB)"
    )
    g.add_argument(
        "--interval", metavar="SECONDS", type=float, help="seconds between polls (1 to 3600)"
    )
    g.add_argument("--ca-bundle", metavar="FILE", help="trust this CA bundle for TLS")
    g.add_argument(
        "--demo", action="store_true", help="use the built-in simulated backend (no account)"
    )
    g.add_argument(
        "--insecure-storage",
        action="store_true",
        help="keep tokens in a 0600 file when no keyring is available (warns each use)",
    )
    g.add_argument("--log-file", metavar="FILE", help="write a debug log (secrets redacted)")
    return p


def _port(text: str) -> int:
    """A TCP port for argparse: 1..65535 (0: let the system pick a free one)."""
    try:
        port = int(text.strip())
    except ValueError:
        port = -1
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(
            f"invalid port {one_line(text, 20)!r}: expected a number from 1 to 65535"
        )
    return port


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="flashtop",
        description="A terminal monitor for Flashback AI LLM usage statistics.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        parents=[_common(suppress=False)],
    )
    parser.add_argument("--version", action="version", version=f"flashtop {__version__}")
    parser.add_argument("--no-mouse", action="store_true", help="do not capture the mouse")
    parser.add_argument("--bell", action="store_true", default=None, help="ring on new alerts")
    parser.add_argument("--theme", metavar="NAME", help="Textual theme (e.g. ansi-dark)")
    sub = parser.add_subparsers(dest="command", metavar="command", parser_class=_Parser)
    common = _common(suppress=True)

    login = sub.add_parser("login", parents=[common], help="store tokens in the OS keyring")
    login.add_argument("--email", metavar="E", help="account email (prompted when absent)")
    how = login.add_mutually_exclusive_group()
    how.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    how.add_argument(
        "--with-token",
        action="store_true",
        help="read an access token (and optional refresh token on line 2) from stdin",
    )
    sub.add_parser("logout", parents=[common], help="revoke and remove stored tokens")
    sub.add_parser(
        "status",
        parents=[common],
        help="show credentials source and reachability",
        description="Where credentials come from, the keyring, the base URL, whether the "
        "API answers and the prices in use. Never prints or refreshes a token.",
        epilog=STATUS_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )

    stats = sub.add_parser("stats", parents=[common], help="print usage statistics once")
    stats.add_argument("--id", dest="ai_llm_id", metavar="ID", help="only this aiLlmId")
    stats.add_argument(
        "--by",
        choices=("model", "host"),
        help="usage split by model or gateway host, from /aistats (with --since)",
    )
    stats.add_argument(
        "--since",
        metavar="DURATION",
        help="with --by: the window, e.g. 15m, 1h (default), 7d",
    )
    fmt = stats.add_mutually_exclusive_group()
    fmt.add_argument("--json", dest="fmt", action="store_const", const="json", help="JSON")
    fmt.add_argument("--csv", dest="fmt", action="store_const", const="csv", help="CSV")

    export = sub.add_parser(
        "export", parents=[common], help="print samples recorded in the local history"
    )
    export.add_argument("--id", dest="ai_llm_id", metavar="ID", help="only this aiLlmId")
    export.add_argument(
        "--since", metavar="DURATION", help="only the last DURATION (e.g. 90s, 15m, 1h, 7d)"
    )
    export.add_argument(
        "--format",
        dest="export_format",
        choices=("csv", "json"),
        default="csv",
        help="csv (default) or json",
    )

    alerts = sub.add_parser(
        "alerts", parents=[common], help="print the alert log kept in the local history"
    )
    alerts.add_argument(
        "--since", metavar="DURATION", help="only the last DURATION (e.g. 90s, 15m, 1h, 1d)"
    )
    alerts.add_argument("--json", dest="alerts_json", action="store_true", help="JSON")

    daemon = sub.add_parser(
        "daemon",
        parents=[common],
        help="poll without a screen (history, rules, Prometheus metrics)",
        description="The monitor without a screen: polls, records the history, runs the "
        "alert rules (URL notifications only) and serves Prometheus metrics. "
        "SIGTERM/SIGINT stop it (history flushed), SIGHUP reloads the config.",
    )
    daemon.add_argument(
        "--metrics",
        metavar="HOST:PORT",
        help="serve /metrics and /healthz here (e.g. 127.0.0.1:9464; no authentication)",
    )
    daemon.add_argument(
        "--textfile",
        metavar="PATH",
        help="write the metrics to PATH (atomically) after each poll, for node_exporter",
    )
    daemon.add_argument(
        "--log-format",
        choices=("text", "json"),
        default="text",
        help="stderr log lines as text (default) or JSON",
    )

    demo = sub.add_parser("serve-demo", parents=[common], help="run the simulated backend")
    demo.add_argument(
        "--port", type=_port, default=0, help="port on 127.0.0.1, 1 to 65535 (default: a free one)"
    )
    demo.add_argument("--token-lifetime", type=float, default=3600.0, help=argparse.SUPPRESS)
    return parser


def _flags(ns: argparse.Namespace) -> dict[str, Any]:
    keys = (
        "base_url", "profile", "config", "interval", "ca_bundle", "demo",
        "insecure_storage", "log_file", "bell", "theme",
    )  # fmt: skip
    flags = {k: getattr(ns, k, None) for k in keys}
    if getattr(ns, "no_mouse", False):
        flags["mouse"] = False
    return flags


# ---------------------------------------------------------------------------- stats


def _fmt_int(value: int | None, problem: CellProblem | None) -> str:
    if value is None:
        return "?" if problem is CellProblem.INVALID else "-"
    return f"{value:,}"


def _stats_rows(
    settings: Settings, env: Mapping[str, str], ai_llm_id: str | None, session: Any = None
) -> Any:
    from tui.client import client_for
    from tui.errors import ApiError, NotFoundError

    async def run() -> tuple[Any, dict[str, Any], str | None]:
        nonlocal session
        if session is None:
            session = await _session_for(settings, env)
        async with client_for(settings, session) as c:
            try:
                page = await c.get_stats(ai_llm_id)
            except NotFoundError:
                # Documented as TEST-only: production hosts answer 404. /aistats can
                # still say what was used (or the base URL is wrong: both are told).
                raise NotFoundError(
                    "/ai/llm/stats is not on this server (HTTP 404; Flashback documents it "
                    "as TEST-only): for usage from /aistats try `flashtop stats --by model "
                    f"--since 24h`, or check the base URL {one_line(settings.base_url, 80)}"
                ) from None
            names_error = None
            try:
                configs = {cfg.id: cfg for cfg in await c.get_llms()}
            except ApiError as exc:
                configs, names_error = {}, exc.message
            return page, configs, names_error

    return asyncio.run(run())


async def _session_for(settings: Settings, env: Mapping[str, str]) -> Any:
    from tui.credentials import load_credentials

    creds = await asyncio.to_thread(
        load_credentials,
        settings,
        env,
        warn=lambda m: print(f"flashtop: warning: {m}", file=sys.stderr),
    )
    return creds.session


def stats_command(
    settings: Settings,
    env: Mapping[str, str],
    ai_llm_id: str | None,
    fmt: str | None,
    out: TextIO,
    session: Any = None,
) -> int:
    """``session``: use this one (the demo's) instead of the profile's credentials."""
    from tui.models import COUNTER_LABELS, COUNTERS
    from tui.pricing import build_pricebook, cost_of, exact_usd, format_usd

    # Before any request: a model without a price is a config error (exit 2).
    pricebook = build_pricebook(
        settings.models, settings.prices, settings.config_path, settings.profile
    )
    page, configs, names_error = _stats_rows(settings, env, ai_llm_id, session)
    if ai_llm_id is not None and not page.stats:
        # A filter that matches nothing is not success for a script (exit status 7).
        raise NoMatchError(
            f"no configuration with aiLlmId '{one_line(ai_llm_id, 80)}' "
            f"(profile '{one_line(settings.profile, 60)}')"
        )

    def model_and_cost(s: Any) -> tuple[str | None, Any]:
        """The configuration's model (from the profile) and its all-time USD."""
        cfg = configs.get(s.ai_llm_id)
        name = cfg.name if cfg and cfg.name else s.ai_llm_id
        model = pricebook.model_for(s.ai_llm_id, name)
        return model, cost_of(pricebook.price_for(s.ai_llm_id, name), s.values)

    def warn(message: str) -> None:
        print(f"flashtop: warning: {message}", file=sys.stderr)

    if names_error:
        warn(f"configuration names unavailable ({names_error}); showing ids")
    if page.skipped:
        warn(f"{page.skipped} stats object(s) without a usable aiLlmId skipped")
    if page.duplicate_ids:
        warn(f"duplicate aiLlmId in response: {one_line(', '.join(page.duplicate_ids), 120)}")
    bad = page.invalid_cells
    if bad:
        warn(f"{bad} counter value(s) are not decimal integers (shown as ?)")

    if fmt == "json":
        items = []
        for s in page.stats:
            obj = dict(s.raw)
            cfg = configs.get(s.ai_llm_id)
            obj["name"] = cfg.name if cfg else None
            obj["aiType"] = cfg.ai_type if cfg else None
            model, cost = model_and_cost(s)
            obj["model"] = model
            # A decimal string, exact (money is never a float); null when unpriced.
            obj["cost_usd"] = exact_usd(cost)
            items.append(obj)
        # ensure_ascii: no raw control or bidi characters from the server reach a terminal.
        json.dump({"success": True, "stats": items}, out, indent=2, ensure_ascii=True)
        out.write("\n")
        return EXIT_OK

    if fmt == "csv":
        w = csv.writer(out, lineterminator="\n")
        w.writerow(["aiLlmId", "name", "aiType", *COUNTERS, "model", "cost_usd"])
        for s in page.stats:
            cfg = configs.get(s.ai_llm_id)
            model, cost = model_and_cost(s)
            w.writerow(
                [
                    one_line(s.ai_llm_id, 1000),
                    one_line(cfg.name, 1000) if cfg and cfg.name else "",
                    one_line(cfg.ai_type, 100) if cfg and cfg.ai_type else "",
                    *("" if v is None else str(v) for v in s.values),
                    model or "",
                    exact_usd(cost) or "",
                ]
            )
        return EXIT_OK

    header = ["NAME", "PROVIDER", *(COUNTER_LABELS[c].upper() for c in COUNTERS)]
    if pricebook.enabled:
        header += ["MODEL", "COST"]
    rows = []
    for s in page.stats:
        cfg = configs.get(s.ai_llm_id)
        name = cfg.name if cfg and cfg.name else s.ai_llm_id
        row = [
            one_line(name, 40),
            one_line(cfg.ai_type, 12) if cfg and cfg.ai_type else "-",
            *(_fmt_int(v, s.problems.get(c)) for c, v in zip(COUNTERS, s.values, strict=True)),
        ]
        if pricebook.enabled:
            model, cost = model_and_cost(s)
            row += [one_line(model, 40) if model else "-", format_usd(cost)]
        rows.append(row)
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    left = {0, 1, len(COUNTERS) + 2}  # name, provider, model
    for r in [header, *rows]:
        cells = [
            c.ljust(w) if i in left else c.rjust(w)
            for i, (c, w) in enumerate(zip(r, widths, strict=True))
        ]
        out.write("  ".join(cells).rstrip() + "\n")
    if not rows:
        out.write("no configurations\n")
    elif pricebook.enabled:
        unpriced = sum(1 for s in page.stats if model_and_cost(s)[1] is None)
        if unpriced:
            warn(f"{unpriced} configuration(s) without a model or price (cost n/a)")
        if pricebook.table is not None:
            # On stderr, like the warnings: stdout stays the table alone.
            print(f"flashtop: prices: {pricebook.table.describe()}", file=sys.stderr)
    return EXIT_OK


def _breakdown(ns: argparse.Namespace, settings: Settings, env: Mapping[str, str]) -> int:
    """``flashtop stats --by model|host``: tui/breakdown.py, on the demo with ``--demo``."""
    from tui.breakdown import breakdown_command

    options = {"by": ns.by, "since": ns.since, "ai_llm_id": ns.ai_llm_id, "fmt": ns.fmt}
    if settings.demo:
        from tui.demo import demo_backend

        with demo_backend(settings) as demo:
            return breakdown_command(
                demo.settings, env, **options, out=sys.stdout, session=demo.session
            )
    return breakdown_command(settings, env, **options, out=sys.stdout)


# ---------------------------------------------------------------------------- daemon


def _daemon(ns: argparse.Namespace, settings: Settings, env: Mapping[str, str]) -> int:
    """``flashtop daemon``: the Monitor headless (tui/daemon.py), on the demo backend
    with ``--demo`` (started like the TUI's)."""
    from tui.daemon import daemon_command, rebase_on_demo

    options = {"metrics": ns.metrics, "textfile": ns.textfile, "log_format": ns.log_format}
    flags = _flags(ns)

    def reload_settings() -> Settings:
        return resolve(flags, env)

    if settings.demo:
        from tui.demo import demo_backend

        with demo_backend(settings) as demo:
            return daemon_command(
                demo.settings,
                env,
                **options,
                reload_settings=reload_settings,
                demo_session=demo.session,
                rebase=rebase_on_demo(demo.settings),
            )
    return daemon_command(settings, env, **options, reload_settings=reload_settings)


# ---------------------------------------------------------------------------- main


class _Output(io.TextIOWrapper):
    """Standard output for the commands, whose write errors say what failed.

    A full disk (`flashtop stats >/dev/full`) or an I/O error becomes an
    :class:`OutputError` (one line, exit status 1) instead of an internal error; a
    closed pipe stays a BrokenPipeError (the reader left: not an error).
    """

    def write(self, s: str) -> int:
        try:
            return super().write(s)
        except BrokenPipeError:
            raise
        except OSError as exc:
            raise _output_error(exc) from None

    def flush(self) -> None:
        try:
            super().flush()
        except BrokenPipeError:
            raise
        except OSError as exc:
            raise _output_error(exc) from None


def _output_error(exc: OSError) -> OutputError:
    return OutputError(f"cannot write the output: {exc.strerror or type(exc).__name__}")


class _ClosedStdout(io.RawIOBase):
    """Standard output when there is none (`flashtop stats >&-`): writing fails."""

    def writable(self) -> bool:
        return True

    def write(self, b: object, /) -> int:
        raise OSError(errno.EBADF, "standard output is closed")


def _open_output() -> TextIO:
    """A writer on file descriptor 1 with the encoding of ``sys.stdout`` (see _Output)."""
    stdout = sys.stdout
    if stdout is None:  # only commands that print fail, and only when they do
        return _Output(io.BufferedWriter(_ClosedStdout()), encoding="utf-8")
    try:
        fd = stdout.fileno()
    except (AttributeError, OSError, ValueError):
        return stdout  # not a real file (tests replace sys.stdout): use it as it is
    stdout.flush()
    raw = open(fd, "wb", closefd=False)  # noqa: SIM115 - closed by _Output.close
    return _Output(
        raw,
        encoding=stdout.encoding,
        errors=stdout.errors,
        line_buffering=bool(stdout.line_buffering),
    )


def _silence_stdout() -> None:
    """Point stdout at /dev/null so the interpreter's final flush cannot fail again."""
    if sys.stdout is None:
        return  # fd 1 was closed at the start: it may be a file of ours by now
    with contextlib.suppress(OSError, ValueError):
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


def _log_internal_error(exc: BaseException, log_file: str | None) -> bool:
    """Write the traceback of an internal error to the --log-file (redacted like every
    log line); False when there is none, or it was not opened yet."""
    import logging
    import traceback

    log = logging.getLogger("flashtop")
    if not log_file or not any(isinstance(h, logging.StreamHandler) for h in log.handlers):
        return False
    text = "".join(traceback.format_exception(exc)).rstrip()
    log.error("internal error: %s", text)
    return True


def _run(ns: argparse.Namespace, env: Mapping[str, str], out: TextIO) -> int:
    command = ns.command
    if command == "serve-demo":
        from tui.demo_server import main as demo_main

        argv = ["--port", str(ns.port)]
        return demo_main(argv)

    ai_llm_id = getattr(ns, "ai_llm_id", None)
    if ai_llm_id is not None and not ai_llm_id.strip():
        raise UsageError("--id needs an aiLlmId; an empty one would select everything")
    settings = resolve(_flags(ns), env)
    from tui.logsetup import known_secrets, setup_log_file

    setup_log_file(settings.log_file, known_secrets)

    if command == "stats" and ns.by is not None:
        return _breakdown(ns, settings, env)
    if command == "stats":
        if ns.since is not None:
            raise UsageError("--since goes with --by model|host (plain stats are all-time totals)")
        if settings.demo:
            from tui.demo import demo_backend

            with demo_backend(settings) as demo:
                return stats_command(demo.settings, env, ns.ai_llm_id, ns.fmt, out, demo.session)
        return stats_command(settings, env, ns.ai_llm_id, ns.fmt, out)
    if command == "export":
        # Reads the local history file only: no network, no credentials, no Textual.
        from tui.export import export_command

        return export_command(settings, ns.ai_llm_id, ns.since, ns.export_format, out, sys.stderr)
    if command == "alerts":
        # Reads the local history file only: no network, no credentials, no Textual.
        from tui.export import alerts_command

        return alerts_command(settings, ns.since, ns.alerts_json, out, sys.stderr)
    if command == "daemon":
        return _daemon(ns, settings, env)
    if command in ("login", "logout", "status"):
        from tui import account

        if settings.demo:
            raise UsageError(
                f"`{command}` does not apply to --demo (no account); run `flashtop --demo`"
            )
        if command == "login":
            return account.login_command(
                settings,
                email=ns.email,
                password_stdin=ns.password_stdin,
                with_token=ns.with_token,
                stdin=sys.stdin,
                stdout=out,
                stderr=sys.stderr,
                env=env,
            )
        if command == "logout":
            return account.logout_command(settings, stdout=out, stderr=sys.stderr, env=env)
        return account.status_command(settings, stdout=out, stderr=sys.stderr, env=env)

    # Textual waits ESCDELAY ms after ESC for a sequence to continue; 100 ms by
    # default feels sluggish on top of tmux's own escape-time. Set before import.
    os.environ.setdefault("ESCDELAY", "25")
    from tui.app import run_app

    if settings.demo:
        from tui.demo import demo_backend

        with demo_backend(settings) as demo:
            return run_app(demo.settings, env, demo)
    return run_app(settings, env)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``flashtop`` console script."""
    env = os.environ
    parser = build_parser()
    ns = parser.parse_args(argv)
    out: TextIO | None = None
    try:
        out = _open_output()
        code = _run(ns, env, out)
        out.flush()
        return code
    except FlashtopError as exc:
        if isinstance(exc, OutputError):
            _silence_stdout()
        print(f"flashtop: error: {one_line(exc.message, 1000)}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # `flashtop stats | head`: the reader left; that is not an error.
        # Point stdout at /dev/null so the interpreter's final flush does not complain.
        _silence_stdout()
        return EXIT_OK
    except Exception as exc:  # the last line of defence: never a traceback
        logged = _log_internal_error(exc, getattr(ns, "log_file", None))
        print(
            f"flashtop: internal error ({type(exc).__name__}); "
            "please report it with the steps that led here"
            + (f" (traceback in {one_line(ns.log_file, 200)})" if logged else ""),
            file=sys.stderr,
        )
        return EXIT_INTERNAL
    finally:
        if out is not None and out is not sys.stdout:
            # Whatever is left goes out now (or nowhere, if stdout is gone), never
            # as an "Exception ignored" at the interpreter's exit.
            with contextlib.suppress(Exception):
                out.close()


__all__ = ["EXIT_AUTH", "EXIT_NETWORK", "EXIT_SERVER", "build_parser", "main"]
