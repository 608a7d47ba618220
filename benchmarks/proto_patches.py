"""Prototypes of changes to files this benchmark's author may not edit, to measure them.

Each function monkeypatches one change into the running process; the benchmarks
apply them with ``--proto NAME[,NAME]`` (``bench_poll_scale.py``) or run flashtop
through :func:`main` (``bench_idle_pty.py --proto``), so the gain of each proposal
is measured in the same run as the code as it is. Nothing here is used by flashtop.

* ``history``: ``tui/history.py`` -- a fast path in ``Series.add`` for a sample equal
  to the previous one, and the token rate in O(log n) from running sums kept per
  sample (same results as walking the samples; :func:`verify_history` checks it).
* ``ring``: ``tui/history.py`` -- samples in one ``bytearray`` ring per series.
* ``parse``: ``tui/client.py`` -- decode and parse ``/ai/llm/stats`` off the event
  loop (``asyncio.to_thread``), so a key press is not queued behind it.
* ``statusbar``: ``tui/widgets/status_bar.py`` -- change the state classes only when
  they change, skip an update that shows nothing new, and update the two
  fixed-height lines without a layout of the screen.
* ``gcfreeze``: ``tui/app.py`` -- ``gc.freeze()`` after the first poll is recorded.
* ``nomarks``: not a proposal -- no changed-cell marks, to show what they cost.

    python benchmarks/proto_patches.py verify     # the history prototype's results
    python benchmarks/proto_patches.py run NAMES -- FLASHTOP ARGS   # flashtop, patched
"""

from __future__ import annotations

import asyncio
import bisect
import itertools
import json
import random
import sys
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from typing import Any

# ---------------------------------------------------------------- history


def history() -> None:
    import tui.history as h

    base = h.Series
    tokens = (h.TOKENS_IN, h.TOKENS_OUT)

    class FastSeries(base):  # type: ignore[misc,valid-type]
        # (at, running sum of token growth, sequence number, a token value unknown)
        # per sample held.
        __slots__ = ("_hints", "_runs", "_seq", "_unknown_seq")

        def __init__(self, maxlen: int = h.DEFAULT_MAXLEN) -> None:
            super().__init__(maxlen)
            self._runs: deque[tuple[float, int, int, bool]] = deque(maxlen=maxlen)
            self._seq = 0
            self._unknown_seq = -1
            #: window -> sequence number of the last window start found (moves forward).
            self._hints: dict[float, int] = {}

        def _track(self, prev: Any, sample: Any) -> None:
            total = self._runs[-1][1] if self._runs else 0
            unknown = any(sample.values[i] is None for i in tokens)
            if unknown:
                self._unknown_seq = self._seq
            elif prev is not None:
                for i in tokens:
                    d = h.delta(prev.values[i], sample.values[i])
                    total += d or 0
            self._runs.append((sample.at, total, self._seq, unknown))
            self._seq += 1

        def add(self, sample: Any) -> Any:
            prev = self._last
            if (
                prev is not None
                and sample.at > prev.at
                and sample.values == prev.values
                and None not in (sample.values[tokens[0]], sample.values[tokens[1]])
            ):
                # Nothing changed (most configurations, most polls): no comparisons.
                self._items.append(h._pack(sample))
                self._last = sample
                self.last_seen = sample.at
                self._runs.append((sample.at, self._runs[-1][1], self._seq, False))
                self._seq += 1
                return frozenset(), [], []
            result = super().add(sample)
            if self._last is sample:
                self._track(prev, sample)
            return result

        def extend(self, samples: Iterable[Any]) -> None:
            prev = self._last
            for sample in samples:
                if prev is not None and sample.at <= prev.at:
                    continue
                super().extend([sample])
                self._track(prev, sample)
                prev = sample

        def interval_deltas(self, indices: Sequence[int], last: int) -> list[int | None]:
            if tuple(indices) != tokens:
                return super().interval_deltas(indices, last)  # type: ignore[no-any-return]
            pts = list(itertools.islice(reversed(self._runs), last + 1))
            pts.reverse()
            return [None if a[3] or b[3] else b[1] - a[1] for a, b in itertools.pairwise(pts)]

        def rate_per_minute(
            self, indices: Sequence[int], window: float = 60.0, min_span: float = 0.0
        ) -> float | None:
            if tuple(indices) != tokens:
                return super().rate_per_minute(indices, window, min_span)
            runs = self._runs
            if len(runs) < 2:
                return None
            end_at, end_total, _, _ = runs[-1]
            # The newest sample at least ``window`` before the end, else the oldest:
            # from where it was last time (amortized O(1)), else by bisection.
            cutoff = end_at - window
            j = self._hints.get(window, -1) - runs[0][2]
            if 0 <= j < len(runs) and runs[j][0] <= cutoff:
                while j + 1 < len(runs) and runs[j + 1][0] <= cutoff:
                    j += 1
            else:
                j = max(bisect.bisect_right(runs, cutoff, key=lambda r: r[0]) - 1, 0)
            start_at, start_total, start_seq, _ = runs[j]
            self._hints[window] = start_seq
            if self._unknown_seq >= start_seq:
                return None
            span = end_at - start_at
            if span <= 0 or span < min_span:
                return None
            return (end_total - start_total) * 60.0 / span

    h.Series = FastSeries  # type: ignore[misc]


def verify_history(rounds: int = 300) -> None:
    """The prototype's rates equal the original's on random series (resets, unknowns)."""
    import tui.history as h

    original = h.Series
    history()
    fast = h.Series
    h.Series = original  # type: ignore[misc]
    rng = random.Random(3)
    checked = 0
    for _ in range(rounds):
        a, b = original(50), fast(50)
        values = [rng.randrange(10**6) for _ in range(8)]
        at = 1000.0
        loaded = []
        for _k in range(rng.randrange(0, 40)):
            at += rng.choice((1.0, 2.0, 5.0, 0.0, -1.0))
            values = [v + rng.randrange(0, 500) for v in values]
            loaded.append(h.Sample(at, tuple(values)))
        a.extend(loaded)
        b.extend(loaded)
        for _k in range(rng.randrange(1, 120)):
            at += rng.choice((1.0, 2.0, 5.0, 0.0, -1.0, 30.0))
            roll = rng.random()
            if roll < 0.05:
                values = [0 for _ in values]  # a reset
            elif roll < 0.6:
                values = [v + rng.randrange(0, 500) for v in values]
            vals: list[int | None] = list(values)
            if rng.random() < 0.03:
                vals[rng.choice((1, 2, 3))] = None
            s = h.Sample(at, tuple(vals))
            assert a.add(s) == b.add(s)
            for last in (1, 12, 60):
                ia = a.interval_deltas((h.TOKENS_IN, h.TOKENS_OUT), last)
                assert ia == b.interval_deltas((h.TOKENS_IN, h.TOKENS_OUT), last), last
            for window, min_span in ((60.0, 0.0), (15.0, 0.0), (900.0, 600.0), (1.0, 0.0)):
                ra = a.rate_per_minute((h.TOKENS_IN, h.TOKENS_OUT), window, min_span)
                rb = b.rate_per_minute((h.TOKENS_IN, h.TOKENS_OUT), window, min_span)
                assert ra == rb or (ra is not None and rb is not None and abs(ra - rb) < 1e-6), (
                    ra,
                    rb,
                )
                checked += 1
    print(f"history prototype: {checked} rates equal to the original's")


def ring() -> None:
    """``tui/history.py``: each series keeps its packed samples in one preallocated
    ``bytearray`` ring instead of a deque of ``bytes`` objects: 72 bytes a sample
    instead of about 113, and nothing per sample for the garbage collector to walk."""
    import tui.history as h

    size = h._PACKED.size

    class Ring:
        """The part of ``deque`` that ``Series`` uses, over one bytearray."""

        __slots__ = ("_buf", "_count", "_odd", "_start", "maxlen")

        def __init__(self, maxlen: int) -> None:
            self.maxlen = maxlen
            self._buf = bytearray(maxlen * size)
            self._start = 0
            self._count = 0
            self._odd: dict[int, Any] = {}  # slot -> Sample that does not pack

        def __len__(self) -> int:
            return self._count

        def append(self, item: Any) -> None:
            if self._count < self.maxlen:
                slot = (self._start + self._count) % self.maxlen
                self._count += 1
            else:
                slot = self._start
                self._start = (self._start + 1) % self.maxlen
            if type(item) is bytes:
                self._buf[slot * size : (slot + 1) * size] = item
                self._odd.pop(slot, None)
            else:
                self._odd[slot] = item

        def _item(self, k: int) -> Any:
            slot = (self._start + k) % self.maxlen
            odd = self._odd.get(slot)
            return odd if odd is not None else bytes(self._buf[slot * size : (slot + 1) * size])

        def __iter__(self) -> Any:
            return (self._item(k) for k in range(self._count))

        def __reversed__(self) -> Any:
            return (self._item(k) for k in range(self._count - 1, -1, -1))

    base = h.Series

    class RingSeries(base):  # type: ignore[misc,valid-type]
        __slots__ = ()

        def __init__(self, maxlen: int = h.DEFAULT_MAXLEN) -> None:
            super().__init__(maxlen)
            self._items = Ring(maxlen)

    h.Series = RingSeries  # type: ignore[misc]


def verify_ring(rounds: int = 200) -> None:
    """The ring prototype holds the same samples and gives the same answers."""
    import tui.history as h

    original = h.Series
    ring()
    ringed = h.Series
    h.Series = original  # type: ignore[misc]
    rng = random.Random(5)
    checked = 0
    for _ in range(rounds):
        a, b = original(30), ringed(30)
        at = 0.0
        values = [rng.randrange(100) for _ in range(8)]
        for _k in range(rng.randrange(1, 100)):
            at += rng.choice((1.0, 2.0, 0.0))
            values = [v + rng.randrange(5) for v in values]
            vals: list[int | None] = list(values)
            if rng.random() < 0.1:
                vals[2] = None
            if rng.random() < 0.05:
                vals[3] = -5  # does not pack: kept as a Sample
            s = h.Sample(at, tuple(vals))
            assert a.add(s) == b.add(s)
            assert a.samples == b.samples and a.since(10.0) == b.since(10.0)
            assert a.rate_per_minute((1, 2)) == b.rate_per_minute((1, 2))
            assert a.interval_deltas((1, 2), 12) == b.interval_deltas((1, 2), 12)
            checked += 1
    print(f"ring prototype: {checked} samples, same contents, rates and deltas")


# ---------------------------------------------------------------- client


def parse() -> None:
    import tui.client as c
    from tui.models import parse_stats_response

    class _Raw:
        def __init__(self, body: bytes) -> None:
            self.body = body

    interpret = c.FlashbackClient._interpret

    def _interpret(self: Any, resp: Any, body: bytes, path: str, action: str | None) -> object:
        if path.strip("/") == "ai/llm/stats" and 200 <= resp.status_code < 300:
            return _Raw(body)
        return interpret(self, resp, body, path, action)

    async def get_stats(self: Any, ai_llm_id: str | None = None) -> Any:
        params = {"aiLlmId": ai_llm_id} if ai_llm_id is not None else None
        raw = await self.request("GET", "ai/llm/stats", params=params)
        if not isinstance(raw, _Raw):
            return parse_stats_response(raw)

        def work() -> Any:
            try:
                body = json.loads(raw.body)
            except (ValueError, RecursionError):
                raise c.BadResponseError("the server sent a body that is not JSON") from None
            return parse_stats_response(body)

        return await asyncio.to_thread(work)

    c.FlashbackClient._interpret = _interpret  # type: ignore[method-assign]
    c.FlashbackClient.get_stats = get_stats  # type: ignore[method-assign]


# ---------------------------------------------------------------- status bar


def statusbar() -> None:
    from textual.widgets import Static

    import tui.widgets.status_bar as sb

    refresh_text = sb.StatusBar.refresh_text

    def quiet_refresh_text(self: Any) -> None:
        self._quiet = True
        try:
            refresh_text(self)
        finally:
            self._quiet = False

    def remove_class(self: Any, *names: str, update: bool = True) -> Any:
        if getattr(self, "_quiet", False):
            self._drop = {*getattr(self, "_drop", set()), *names}
            return self
        return super(sb.StatusBar, self).remove_class(*names, update=update)

    def add_class(self: Any, *names: str, update: bool = True) -> Any:
        if getattr(self, "_quiet", False):
            drop = getattr(self, "_drop", set()) - set(names)
            self._drop = set()
            wanted = (set(self.classes) - drop) | set(names)
            self.set_classes(wanted) if wanted != set(self.classes) else None
            return self
        return super(sb.StatusBar, self).add_class(*names, update=update)

    def update(self: Any, content: Any = "", *, layout: bool = True) -> None:
        if content == getattr(self, "_shown", None):
            return  # e.g. the poller's "request in flight" state, which shows nothing new
        self._shown = content
        Static.update(self, content, layout=False)

    sb.StatusBar.refresh_text = quiet_refresh_text  # type: ignore[method-assign]
    sb.StatusBar.remove_class = remove_class  # type: ignore[method-assign]
    sb.StatusBar.add_class = add_class  # type: ignore[method-assign]
    sb.StatusBar.update = update  # type: ignore[method-assign]


# ---------------------------------------------------------------- garbage collector


def gcfreeze() -> None:
    """``tui/app.py``: ``gc.freeze()`` once the first poll is recorded, so that full
    collections stop traversing the history's ring buffers (one pointer per sample
    held: 7.2 million at 10,000 configurations after an hour)."""
    import gc

    import tui.app as a

    on_overview = a.FlashtopApp._on_overview

    def _on_overview(self: Any, page: Any, at: float) -> None:
        on_overview(self, page, at)
        if not getattr(self, "_frozen", False):
            self._frozen = True
            gc.freeze()

    a.FlashtopApp._on_overview = _on_overview  # type: ignore[method-assign]


# ---------------------------------------------------------------- no marks (to explain)


def nomarks() -> None:
    """Not a proposal: changed cells are not marked (to show what the marks cost)."""
    import tui.app as a

    init = a.FlashtopApp.__init__

    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        kwargs["mark_seconds"] = 0.0
        init(self, *args, **kwargs)

    a.FlashtopApp.__init__ = __init__  # type: ignore[method-assign]


PATCHES: dict[str, Callable[[], None]] = {
    "history": history,
    "parse": parse,
    "statusbar": statusbar,
    "nomarks": nomarks,
    "gcfreeze": gcfreeze,
    "ring": ring,
}


def apply(names: str) -> list[str]:
    applied = [n for n in names.split(",") if n]
    for name in applied:
        PATCHES[name]()
    return applied


def main(argv: list[str]) -> int:
    if argv[:1] == ["verify"]:
        verify_history()
        verify_ring()
        return 0
    if argv[:1] == ["run"] and len(argv) >= 2:
        apply(argv[1])
        rest = argv[2:]
        if rest[:1] == ["--"]:
            rest = rest[1:]
        from tui.cli import main as flashtop

        return flashtop(rest)
    print(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
