"""The ledger: LLM tokens since local midnight and the first of the month."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from tui.counters import COUNTERS
from tui.ledger import LOOKBACK, Ledger, Usage, load_baselines, period_bounds
from tui.pricing import LLM_IN, LLM_OUT
from tui.settings import Settings
from tui.store import HistoryStore, store_path


@pytest.fixture(autouse=True)
def berlin() -> Iterator[None]:
    """Local time is Europe/Berlin (DST changes on 2025-03-30 and 2025-10-26)."""
    old = os.environ.get("TZ")
    os.environ["TZ"] = "Europe/Berlin"
    time.tzset()
    yield
    if old is None:
        del os.environ["TZ"]
    else:
        os.environ["TZ"] = old
    time.tzset()


BERLIN = ZoneInfo("Europe/Berlin")


def local(*parts: int) -> float:
    """Epoch seconds of a Berlin wall-clock time (whatever TZ says at import)."""
    return datetime(*parts, tzinfo=BERLIN).timestamp()  # type: ignore[misc]


def vals(tin: int | None, tout: int | None = 0) -> tuple[int | None, ...]:
    out: list[int | None] = [7] * len(COUNTERS)
    out[LLM_IN], out[LLM_OUT] = tin, tout
    return tuple(out)


MIDNIGHT = local(2025, 6, 11)
MONTH = local(2025, 6, 1)


def test_period_bounds_follow_the_local_calendar_across_dst() -> None:
    assert period_bounds("day", local(2025, 6, 11, 15, 30)) == (MIDNIGHT, local(2025, 6, 12))
    # The spring-forward day has 23 hours, the fall-back day 25.
    start, end = period_bounds("day", local(2025, 3, 30, 12))
    assert (start, end - start) == (local(2025, 3, 30), 23 * 3600)
    start, end = period_bounds("day", local(2025, 10, 26, 12))
    assert end - start == 25 * 3600
    assert period_bounds("month", local(2025, 12, 31, 23, 59)) == (
        local(2025, 12, 1),
        local(2026, 1, 1),
    )
    assert period_bounds("month", MIDNIGHT) == (MONTH, local(2025, 7, 1))
    assert period_bounds("day", MIDNIGHT)[0] == MIDNIGHT  # the start belongs to its day
    with pytest.raises(ValueError):
        period_bounds("week", MIDNIGHT)


def test_steady_growth_counts_since_midnight_and_the_first() -> None:
    ledger = Ledger()
    ledger.record("a", MIDNIGHT - 60, vals(1000, 5000))  # the minute before midnight
    for k in range(1, 11):
        ledger.record("a", MIDNIGHT + k * 60 - 60, vals(1000 + 100 * k, 5000 + 10 * k))
    now = MIDNIGHT + 600
    day = ledger.usage("a", "day", now)
    # The first step (23:59 -> 00:00) ends at midnight: nothing of it is today's.
    assert day == Usage(1000 - 100, 100 - 10, MIDNIGHT, True)
    month = ledger.usage("a", "month", now)
    # Seen first on the 10th: the month is counted from then, and says so.
    assert month == Usage(1000, 100, MIDNIGHT - 60, False)
    assert ledger.usage("nobody", "day", now) is None


def test_a_reset_mid_period_counts_the_new_value() -> None:
    ledger = Ledger()
    for k, v in enumerate((1000, 1500, 200, 300)):
        ledger.record("a", MIDNIGHT + k, vals(v))
    usage = ledger.usage("a", "day", MIDNIGHT + 5)
    assert usage is not None and usage.tokens_in == 500 + 200 + 100
    assert usage.exact  # seen at the very start of the day


def test_unknown_values_lose_their_steps_and_counting_carries_on() -> None:
    ledger = Ledger()
    series = [(100, 10), (None, 20), (300, None), (400, 50), (450, 60)]
    for k, (tin, tout) in enumerate(series):
        ledger.record("a", MIDNIGHT + k, vals(tin, tout))
    usage = ledger.usage("a", "day", MIDNIGHT + 9)
    assert usage is not None
    # in: 100 -> ? -> 300 (both steps lost), then +100, +50; out: +10, lost, lost, +10.
    assert (usage.tokens_in, usage.tokens_out) == (150, 20)


def test_a_step_straddling_midnight_is_split_by_time() -> None:
    ledger = Ledger()
    ledger.record("a", MIDNIGHT - 600, vals(0, 0))  # 23:50
    ledger.record("a", MIDNIGHT + 1200, vals(1800, 3))  # 00:20: two thirds after midnight
    day = ledger.usage("a", "day", MIDNIGHT + 1200)
    assert day == Usage(1200, 2, MIDNIGHT, True)
    month = ledger.usage("a", "month", MIDNIGHT + 1200)
    assert month is not None and (month.tokens_in, month.tokens_out) == (1800, 3)
    # The day before is no longer asked for: its count is gone (bounded memory).
    assert ledger.usage("a", "day", MIDNIGHT - 1) is None


def test_month_rollover_restarts_the_month() -> None:
    ledger = Ledger()
    june_end = local(2025, 7, 1)
    ledger.record("a", june_end - 7200, vals(0))
    ledger.record("a", june_end - 3600, vals(5000))
    june = ledger.usage("a", "month", june_end - 1)
    assert june is not None and june.tokens_in == 5000
    ledger.record("a", june_end + 3600, vals(7000))  # 2,000 over two hours, half in July
    july = ledger.usage("a", "month", june_end + 3600)
    assert july == Usage(1000, 0, june_end, True)
    assert ledger.usage("a", "day", june_end + 3600) == Usage(1000, 0, june_end, True)
    # No sample yet in a later period: nothing grown that is known, counted from its start.
    later = local(2025, 7, 3, 9)
    assert ledger.usage("a", "day", later) == Usage(0, 0, local(2025, 7, 3), True)


def test_first_seen_mid_period_is_not_exact() -> None:
    ledger = Ledger()
    first = MIDNIGHT + 9 * 3600 + 14 * 60  # 09:14
    ledger.record("a", first, vals(10**6))
    ledger.record("a", first + 60, vals(10**6 + 42))
    assert ledger.usage("a", "day", first + 60) == Usage(42, 0, first, False)
    # The next day starts exact: its first sample follows one from the day before.
    ledger.record("a", MIDNIGHT + 86400 + 60, vals(10**6 + 42 + 100))
    usage = ledger.usage("a", "day", MIDNIGHT + 86400 + 60)
    assert usage is not None and usage.exact and usage.since == MIDNIGHT + 86400


def test_out_of_order_samples_are_ignored() -> None:
    ledger = Ledger()
    ledger.record("a", MIDNIGHT + 100, vals(100))
    ledger.record("a", MIDNIGHT + 200, vals(200))
    ledger.record("a", MIDNIGHT + 150, vals(10))  # late: would look like a reset
    ledger.record("a", MIDNIGHT + 200, vals(999))  # same time: ignored too
    ledger.record("a", MIDNIGHT + 300, vals(250))
    usage = ledger.usage("a", "day", MIDNIGHT + 300)
    assert usage is not None and usage.tokens_in == 150


def test_forty_digit_counters_stay_exact() -> None:
    ledger = Ledger()
    base = 10**39 + 123456789
    ledger.record("a", MIDNIGHT - 1, vals(base, base))
    ledger.record("a", MIDNIGHT + 1, vals(base + 2 * 10**38 + 2, base + 1))
    ledger.record("a", MIDNIGHT + 2, vals(base + 3 * 10**38 + 2, base + 1))
    usage = ledger.usage("a", "day", MIDNIGHT + 2)
    assert usage is not None
    assert usage.tokens_in == 10**38 + 1 + 10**38  # half the straddling step, then a step
    assert usage.tokens_out == 0  # half of 1 rounds to even


# ---------------------------------------------------------------------------- seeding


def poll(store: HistoryStore, at: float, **per_id: tuple[int | None, int | None]) -> None:
    store.write_poll(at, [(ident, vals(tin, tout)) for ident, (tin, tout) in per_id.items()])


def test_seed_from_the_history_file_keeps_the_day_across_a_restart() -> None:
    settings = Settings(profile="seed")
    path = store_path("seed")
    path.parent.mkdir(parents=True)
    now = MIDNIGHT + 10 * 3600
    live = Ledger()
    with HistoryStore.open(path) as store:
        steps = [
            # 23:58, 23:59: before midnight (minute rows and raw rows)
            (MIDNIGHT - 120, {"steady": (1000, 100), "gone": (5, 5)}),
            (MIDNIGHT - 60, {"steady": (1060, 106), "gone": (5, 5)}),
            (MIDNIGHT + 60, {"steady": (1180, 118), "late": (10**39, 0)}),
            (MIDNIGHT + 3600, {"steady": (4600, 460), "late": (10**39 + 77, 0)}),
            (now - 60, {"steady": (4700, 470), "late": (10**39 + 99, 1)}),
        ]
        for at, per in steps:
            poll(store, at, **per)
            for ident, (tin, tout) in per.items():
                live.record(ident, at, vals(tin, tout))
        # Outside the lookback: not seeded at all.
        store.write_poll(now - LOOKBACK - 7200, [("ancient", vals(1, 1))])
    seeded = Ledger()
    seeded.seed(load_baselines(settings, now), now)
    assert "ancient" not in seeded
    for ident in ("steady", "late", "gone"):
        for kind in ("day", "month"):
            assert seeded.usage(ident, kind, now) == live.usage(ident, kind, now), (ident, kind)
    steady = seeded.usage("steady", "day", now)
    # From 00:00 (between the 23:59 sample and the 00:01 one, split by time) to 09:59.
    assert steady == Usage(4700 - 1120, 470 - 112, MIDNIGHT, True)
    assert seeded.usage("late", "day", now) == Usage(99, 1, MIDNIGHT + 60, False)
    assert seeded.usage("gone", "day", now) == Usage(0, 0, MIDNIGHT, True)
    # Live polls carry on from the newest stored sample.
    seeded.record("steady", now, vals(4800, 480))
    assert seeded.usage("steady", "day", now) == Usage(4800 - 1120, 480 - 112, MIDNIGHT, True)


def test_seed_uses_the_coarse_tiers_for_the_month_and_says_when_history_starts_late() -> None:
    path = store_path("tiers")
    path.parent.mkdir(parents=True)
    now = MIDNIGHT + 3600
    with HistoryStore.open(path) as store:
        # Hourly since the 8th (the month's start is more than the lookback away).
        at = local(2025, 6, 8)
        v = 0
        while at <= now:
            v += 360
            poll(store, at, hourly=(v, 2 * v))
            at += 3600
    baselines = load_baselines(Settings(profile="tiers"), now)
    ledger = Ledger()
    ledger.seed(baselines, now)
    month = ledger.usage("hourly", "month", now)
    hours = round((now - local(2025, 6, 8)) / 3600)
    assert month == Usage(360 * hours, 720 * hours, local(2025, 6, 8), False)
    assert ledger.usage("hourly", "day", now) == Usage(360, 720, MIDNIGHT, True)
    edge = baselines["hourly"].edges[MONTH]
    assert edge.before is None and edge.after is not None
    assert edge.after.at == local(2025, 6, 8)


def test_no_history_file_gives_nothing() -> None:
    assert load_baselines(Settings(profile="none"), MIDNIGHT) == {}
    path = store_path("junk")
    path.parent.mkdir(parents=True)
    path.write_bytes(b"not a database at all" * 100)
    assert load_baselines(Settings(profile="junk"), MIDNIGHT) == {}


def test_a_restart_after_midnight_gives_today_only_its_share_of_the_overnight_step() -> None:
    """Quit at 18:00, start again at 09:00: the file's last sample is yesterday's. The
    first live poll's step straddles midnight and today gets the part after it, as a
    ledger that had run all night would."""
    from tui.history import Sample
    from tui.store import Baseline, PeriodEdge

    evening, morning = MIDNIGHT - 6 * 3600, MIDNIGHT + 9 * 3600
    last = Sample(evening, vals(1000))
    seeded = Ledger()
    seeded.seed(
        {
            "x": Baseline(
                last,
                {
                    MIDNIGHT: PeriodEdge(last, None),
                    MONTH: PeriodEdge(None, None),
                },
            )
        },
        morning,
    )
    seeded.record("x", morning + 5, vals(16_000))
    live = Ledger()
    live.record("x", evening, vals(1000))
    live.record("x", morning + 5, vals(16_000))
    share = round(15_000 * (morning + 5 - MIDNIGHT) / (morning + 5 - evening))
    assert seeded.usage("x", "day", morning + 5) == live.usage("x", "day", morning + 5)
    got = seeded.usage("x", "day", morning + 5)
    assert got is not None and got.tokens_in == share


def test_configurations_gone_from_the_server_are_forgotten() -> None:
    ledger = Ledger()
    ledger.record("gone", MIDNIGHT + 10, vals(5))
    ledger.record("here", MIDNIGHT + 10, vals(5))
    ledger.record("here", MIDNIGHT + 4000, vals(9))
    ledger.forget(MIDNIGHT + 3600)
    assert "gone" not in ledger and "here" in ledger
