"""Budgets: spend or tokens per local day or month, how fast they go, and their alerts.

A budget (:class:`~tui.settings.BudgetSpec`) covers the configurations whose name,
aiLlmId or provider its ``match`` glob fits. :class:`BudgetEvaluator` adds up their
usage this period from the :class:`~tui.ledger.Ledger` (USD at each member's price,
or LLM tokens in + out), takes the burn rate from the in-memory history (the last
hour, or since the period began if that is shorter) and projects when the budget
runs out, if that is before the period ends. :class:`BudgetAlerts` raises an alert
once per threshold (50, 80, 100 %) per budget per period, remembered across restarts
in a small JSON file.

Money is :class:`~decimal.Decimal` (exact); token counts are ints. No UI toolkit here.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import tempfile
import time
import zlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from tui.alerts import Alert
from tui.fmt import compact, safe_text
from tui.history import History
from tui.ledger import Ledger
from tui.models import LlmConfig
from tui.pricing import LLM_IN, LLM_OUT, MONEY, Price, PriceBook, format_usd
from tui.rules import glob_matches
from tui.settings import BudgetSpec, data_dir

#: Percentages of a budget at which an alert is raised (once each per period).
THRESHOLDS: tuple[int, ...] = (50, 80, 100)
#: The burn rate's window: the last hour (or the period so far, if shorter).
BURN_WINDOW = 3600.0
#: How often a member's burn rate is computed again (seconds; each member at its own
#: moment, between half and one and a half times this, so that a poll recomputes only
#: some of them: reading an hour's rate walks the hour's samples).
BURN_REFRESH = 30.0
_MEMO_LIMIT = 200_000
_ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class BudgetStatus:
    """Where one budget stands at one moment."""

    spec: BudgetSpec
    #: Used this period: USD (Decimal) or LLM tokens in + out (int).
    used: Decimal | int
    limit: Decimal | int
    percent: float
    #: Configurations the budget covers, and those of them without a price (USD
    #: budgets only: they count as $0, and the faces say so).
    members: int
    unpriced: int
    #: False when some member's usage is counted from after the period began.
    exact: bool
    #: The period's start when exact, else the latest moment a member's count began.
    since: float
    period_start: float
    period_end: float
    #: USD or tokens per hour; None when no member has a rate yet.
    burn_per_hour: Decimal | float | None
    #: When the budget will be exceeded within this period at the burn rate; None
    #: when it will not be (or already is).
    runs_out_at: float | None
    #: When this status was computed.
    at: float

    @property
    def is_usd(self) -> bool:
        return isinstance(self.limit, Decimal)

    def state(self) -> str:
        """ "over" (used up), "runs out" (will be within the period) or "ok"."""
        if self.used >= self.limit:
            return "over"
        if self.runs_out_at is not None:
            return "runs out"
        return "ok"

    def amount(self, value: Decimal | int, *, whole: bool = False) -> str:
        """A figure in the budget's unit: ``$42.10`` or ``4.2M``; with ``whole`` (for
        limits, which are usually round) ``$100`` rather than ``$100.00``."""
        if isinstance(value, Decimal):
            if whole and value == value.to_integral_value() and value < 1000:
                return f"${int(value)}"
            return format_usd(value)
        return compact(value)

    def describe(self) -> str:
        """One line: ``$42.10 of $100 (42 %) · runs out at 15:40``, ``... · within
        budget`` or ``... · over budget``, plus unpriced members and a late start."""
        unit = "" if self.is_usd else " tokens"
        text = (
            f"{self.amount(self.used)} of {self.amount(self.limit, whole=True)}{unit} "
            f"({percent_text(self.percent)} %)"
        )
        state = self.state()
        if state == "over":
            text += " · over budget"
        elif state == "runs out" and self.runs_out_at is not None:
            text += f" · runs out at {_clock(self.runs_out_at, self.at)}"
        else:
            text += " · within budget"
        if self.unpriced:
            text += f" · {self.unpriced} unpriced"
        if not self.exact:
            text += f" · since {_clock(self.since, self.at)}"
        return text


def percent_text(value: float) -> str:
    if value > 999:
        return ">999"
    return f"{value:.1f}" if 0 < value < 1 else f"{value:.0f}"


def _clock(at: float, now: float) -> str:
    """Local ``15:40`` on the same day as ``now``, else ``Mar 04 15:40``."""
    local = time.localtime(at)
    if time.localtime(now)[:3] == local[:3]:
        return time.strftime("%H:%M", local)
    return time.strftime("%b %d %H:%M", local)


#: Whether a budget's glob fits a configuration's name, aiLlmId or provider: the
#: same rule as an alert rule's ``match``.
matches = glob_matches


class BudgetEvaluator:
    """Evaluates budgets each poll, remembering what does not change between polls:
    which configurations a budget covers, and members' burn rates for a while."""

    def __init__(self, *, burn_refresh: float = BURN_REFRESH) -> None:
        self.burn_refresh = burn_refresh
        self._members: dict[tuple[str, str, str, str], bool] = {}
        #: id -> window -> (recompute at, LLM in per minute, LLM out per minute).
        self._burns: dict[str, dict[float, tuple[float, float | None, float | None]]] = {}

    def _covers(self, pattern: str, ai_llm_id: str, name: str, provider: str) -> bool:
        key = (pattern, ai_llm_id, name, provider)
        got = self._members.get(key)
        if got is None:
            if len(self._members) > _MEMO_LIMIT:
                self._members.clear()
            got = self._members[key] = matches(pattern, ai_llm_id, name, provider)
        return got

    def _rates(
        self, history: History, ai_llm_id: str, window: float, now: float
    ) -> tuple[float | None, float | None]:
        """A member's LLM tokens in and out per minute over ``window`` (remembered for
        about :attr:`burn_refresh` seconds: an hour's rate moves slowly, and reading
        it walks the hour's samples)."""
        windows = self._burns.get(ai_llm_id)
        held = windows.get(window) if windows is not None else None
        if held is not None and now < held[0]:
            return held[1], held[2]
        series = history.get(ai_llm_id)
        if series is None:
            rin = rout = None
        else:
            rin = series.span_rate(LLM_IN, window)
            rout = series.span_rate(LLM_OUT, window)
        if self.burn_refresh > 0 and rin is not None and rout is not None:
            # Not before there is a rate: a member's first polls would hide it for long.
            # Each member at its own phase, so that they are not all recomputed at once.
            spread = 0.5 + zlib.crc32(ai_llm_id.encode()) / 2**32
            if windows is None:
                if len(self._burns) > _MEMO_LIMIT:
                    self._burns.clear()
                windows = self._burns[ai_llm_id] = {}
            elif len(windows) > 1:  # windows no longer asked for (the period grew)
                for stale in [w for w, (due, _i, _o) in windows.items() if due <= now]:
                    del windows[stale]
            windows[window] = (now + self.burn_refresh * spread, rin, rout)
        return rin, rout

    def evaluate(
        self,
        specs: Sequence[BudgetSpec],
        *,
        configs: Mapping[str, LlmConfig],
        ledger: Ledger,
        pricebook: PriceBook,
        history: History,
        now: float,
    ) -> list[BudgetStatus]:
        """Every budget's status at ``now``. Members are the configurations ``configs``
        names (``/ai/llm``) and those the ledger has counted, whose name, id or
        provider the budget's glob fits."""
        if not specs:
            return []
        ids = list(configs)
        ids += [i for i in ledger.ids() if i not in configs]
        return [self._one(spec, ids, configs, ledger, pricebook, history, now) for spec in specs]

    def _one(
        self,
        spec: BudgetSpec,
        ids: list[str],
        configs: Mapping[str, LlmConfig],
        ledger: Ledger,
        pricebook: PriceBook,
        history: History,
        now: float,
    ) -> BudgetStatus:
        start, end = ledger.bounds(spec.period, now)
        # The last hour, or the period so far; in whole minutes (at least one), so
        # that a series remembers a bounded set of windows.
        window = min(BURN_WINDOW, max(60.0, (now - start) // 60 * 60))
        usd = spec.usd is not None
        members = unpriced = 0
        exact, since = True, start
        rated = False
        # Per price (None for a token budget): tokens in and out, and their rates per
        # minute. Money is linear in tokens, so each price's total is priced once.
        counts: dict[Price | None, list[int]] = {}
        rates: dict[Price | None, list[float]] = {}
        for ident in ids:
            config = configs.get(ident)
            name = (config.name if config is not None else None) or ident
            provider = (config.ai_type if config is not None else None) or ""
            if not self._covers(spec.match, ident, name, provider):
                continue
            members += 1
            price = pricebook.price_for(ident, name) if usd else None
            if usd and price is None:
                unpriced += 1  # counts as $0
                continue
            usage = ledger.usage(ident, spec.period, now)
            if usage is not None:
                if not usage.exact:
                    exact = False
                    since = max(since, usage.since)
                count = counts.setdefault(price, [0, 0])
                count[0] += usage.tokens_in
                count[1] += usage.tokens_out
            rin, rout = self._rates(history, ident, window, now)
            if rin is not None and rout is not None:
                rated = True
                rate = rates.setdefault(price, [0.0, 0.0])
                rate[0] += rin
                rate[1] += rout
        used: Decimal | int
        limit: Decimal | int
        burn: Decimal | float | None
        if usd:
            assert spec.usd is not None
            limit = spec.usd
            used = _ZERO
            for price, (tin, tout) in counts.items():
                assert price is not None
                used = MONEY.add(used, price.cost(tin, tout))
            burn = None
            if rated:
                burn = _ZERO
                for price, (rin_sum, rout_sum) in rates.items():
                    assert price is not None
                    burn = MONEY.add(burn, price.cost_rate(rin_sum, rout_sum) or _ZERO)
            percent = float(MONEY.divide(MONEY.multiply(used, Decimal(100)), limit))
        else:
            limit = spec.tokens or 0
            used = sum(sum(count) for count in counts.values())
            burn = sum(sum(rate) for rate in rates.values()) * 60.0 if rated else None
            percent = used * 100 / limit if limit else 0.0
        return BudgetStatus(
            spec=spec,
            used=used,
            limit=limit,
            percent=percent,
            members=members,
            unpriced=unpriced,
            exact=exact,
            since=since,
            period_start=start,
            period_end=end,
            burn_per_hour=burn,
            runs_out_at=_runs_out(used, limit, burn, now, end),
            at=now,
        )


def _runs_out(
    used: Decimal | int, limit: Decimal | int, burn: Decimal | float | None, now: float, end: float
) -> float | None:
    """When ``used`` reaches ``limit`` at ``burn`` per hour, if before ``end``."""
    if burn is None or burn <= 0 or used >= limit:
        return None
    if isinstance(burn, Decimal):
        hours = float(MONEY.divide(MONEY.subtract(Decimal(limit), Decimal(used)), burn))
    else:
        hours = float(limit - used) / burn
    at = now + hours * 3600.0
    return at if at < end else None


def evaluate(
    specs: Sequence[BudgetSpec],
    *,
    configs: Mapping[str, LlmConfig],
    ledger: Ledger,
    pricebook: PriceBook,
    history: History,
    now: float,
) -> list[BudgetStatus]:
    """Every budget's status at ``now``, remembering nothing (a monitor keeps a
    :class:`BudgetEvaluator` instead, which remembers matches and burn rates)."""
    return BudgetEvaluator(burn_refresh=0).evaluate(
        specs, configs=configs, ledger=ledger, pricebook=pricebook, history=history, now=now
    )


# ---------------------------------------------------------------------------- alerts


def budgets_path(profile: str) -> Path:
    """``budgets-<profile>.json`` in the data dir; odd profile names get a hash suffix."""
    safe = re.sub(r"[^A-Za-z0-9_-]", "_", profile)[:64] or "default"
    if safe != profile:
        safe += "-" + hashlib.sha256(profile.encode()).hexdigest()[:8]
    return data_dir() / f"budgets-{safe}.json"


def budget_key(spec: BudgetSpec, period_start: float) -> str:
    """A stable identity of a budget in one period: what it limits, how, and when."""
    kind, limit = ("usd", str(spec.usd)) if spec.usd is not None else ("tokens", str(spec.tokens))
    return json.dumps([spec.match, spec.period, kind, limit, spec.name, round(period_start)])


class BudgetAlerts:
    """Raises an alert once per threshold per budget per period, across restarts.

    What has fired is kept in a small JSON file (``{"fired": {key: {"level": 80,
    "end": <period end>}}}``), replaced atomically on each change. A file that cannot
    be read (other than missing) leaves the file alone and works in memory; one that
    cannot be written keeps working in memory too. Either way :attr:`problem` says so
    in one line. A damaged file (not our JSON) is started afresh.
    """

    VERSION = 1

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.problem: str | None = None
        #: key -> (highest threshold fired, end of its period).
        self._fired: dict[str, tuple[int, float]] = {}
        self._writable = path is not None
        if path is not None:
            self._load(path)

    @classmethod
    def for_profile(cls, profile: str) -> BudgetAlerts:
        return cls(budgets_path(profile))

    def _load(self, path: Path) -> None:
        try:
            raw = path.read_bytes()
        except (FileNotFoundError, NotADirectoryError):
            return  # nothing remembered yet (saving will say if it cannot)
        except OSError as exc:
            self._writable = False  # not ours to overwrite blindly
            self.problem = f"budget alerts not remembered: cannot read {path.name} ({_why(exc)})"
            return
        try:
            data = json.loads(raw.decode("utf-8"))
            fired = data["fired"]
            if not isinstance(fired, dict):
                raise ValueError("fired is not an object")
            for key, entry in fired.items():
                level, end = entry["level"], entry["end"]
                if not isinstance(level, int) or not isinstance(end, int | float):
                    raise ValueError("bad entry")
                self._fired[str(key)] = (level, float(end))
        except (ValueError, KeyError, TypeError):
            self._fired = {}
            self.problem = f"budget alerts file {path.name} was damaged: started afresh"

    def fired(self, spec: BudgetSpec, period_start: float) -> int:
        """The highest threshold already alerted for this budget this period (0: none)."""
        held = self._fired.get(budget_key(spec, period_start))
        return held[0] if held is not None else 0

    def check(self, statuses: Iterable[BudgetStatus], now: float) -> list[Alert]:
        """Alerts for thresholds crossed since last told (one per budget, naming the
        highest); forgets periods that have ended."""
        changed = False
        stale = [key for key, (_level, end) in self._fired.items() if end <= now]
        for key in stale:
            del self._fired[key]
            changed = True
        alerts: list[Alert] = []
        for status in statuses:
            reached = [t for t in THRESHOLDS if status.percent >= t]
            if not reached:
                continue
            key = budget_key(status.spec, status.period_start)
            held = self._fired.get(key)
            if held is not None and held[0] >= reached[-1]:
                continue
            level = reached[-1]
            self._fired[key] = (level, status.period_end)
            changed = True
            alerts.append(
                Alert(
                    title=safe_text(status.spec.label, 40),
                    message=f"{level} % of the {status.spec.period}'s budget: " + status.describe(),
                    severity="error" if level >= 100 else "warning",
                )
            )
        if changed:
            self._save()
        return alerts

    def _save(self) -> None:
        path = self.path
        if path is None or not self._writable:
            return
        data = {
            "version": self.VERSION,
            "fired": {key: {"level": lv, "end": end} for key, (lv, end) in self._fired.items()},
        }
        tmp: str | None = None
        try:
            path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                json.dump(data, out, indent=1, sort_keys=True)
            os.replace(tmp, path)
            tmp = None
            self.problem = None
        except OSError as exc:
            self.problem = f"budget alerts not saved: {_why(exc)}"
        finally:
            if tmp is not None:
                with contextlib.suppress(OSError):
                    os.unlink(tmp)


def _why(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror.lower()
    return type(exc).__name__
