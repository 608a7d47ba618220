"""The terminal the TUI runs on: refuse to start without one, leave when it goes away.

Textual's Linux driver reads keys from stdin and draws on stderr. Two things it does
not do, which a monitor left running in tmux for weeks needs:

- When the terminal disappears (the SSH connection drops while SIGHUP is ignored, or
  stdin is not a terminal at all), its input thread reads end-of-file or EIO over and
  over, spinning a core, and its writer thread dies on EIO, after which every frame
  blocks on a full queue. :class:`TerminalDriver` ends the app instead: end-of-file or
  an error from the terminal means the user has gone.
- SIGTERM and SIGHUP kill the process with the alternate screen, mouse reporting and a
  hidden cursor left on. :func:`install_signal_handlers` turns them into a normal quit
  (restore the terminal, flush the history) with the documented exit status.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import selectors
import signal
import sys
import threading
from codecs import getincrementaldecoder
from collections.abc import Callable, Mapping
from typing import IO, Any

from textual._xterm_parser import XTermParser
from textual.app import App
from textual.drivers.linux_driver import LinuxDriver

from tui.errors import UsageError
from tui.widgets._textual_compat import STOCK_INPUT_WAIT, input_wait

#: Exit statuses of the TUI when a signal ends it (after the terminal is restored).
EXIT_ON_SIGNAL = {signal.SIGTERM: 143, signal.SIGHUP: 0, signal.SIGINT: 130}
#: The terminal went away (end-of-file or an error reading it): the user has gone.
EXIT_TERMINAL_GONE = 0

NEEDS_TERMINAL = "flashtop needs a terminal; for scripts use `flashtop stats`"


def check_terminal(stdin: IO[Any] | None, output: IO[Any] | None, env: Mapping[str, str]) -> None:
    """Raise a usage error unless keys come from a terminal and frames go to one.

    ``output`` is where Textual draws (stderr). ``TERM=dumb`` (Emacs shells, some CI
    runners) cannot show a full-screen app either.
    """
    for stream in (stdin, output):
        try:
            ok = stream is not None and stream.isatty()
        except (OSError, ValueError):
            ok = False
        if not ok:
            raise UsageError(NEEDS_TERMINAL)
    if env.get("TERM", "") in ("dumb", "unknown"):
        raise UsageError(f"{NEEDS_TERMINAL} (TERM={env['TERM']} cannot draw a full screen)")


class _QuietOutput:
    """The terminal as the writer thread sees it: a write error ends output, not the thread.

    Textual's writer thread dies on the first EIO, and every later frame then blocks
    on its full queue, so the app could never get as far as quitting.
    """

    def __init__(self, file: IO[str], on_lost: Callable[[], None]) -> None:
        self._file = file
        self._on_lost = on_lost
        self.lost = False

    def write(self, text: str) -> None:
        if self.lost:
            return
        try:
            self._file.write(text)
        except (OSError, ValueError):
            self._lose()

    def flush(self) -> None:
        if self.lost:
            return
        try:
            self._file.flush()
        except (OSError, ValueError):
            self._lose()

    def fileno(self) -> int:
        return self._file.fileno()

    def isatty(self) -> bool:
        return True

    def _lose(self) -> None:
        self.lost = True
        self._on_lost()


class _WakingEvent(threading.Event):
    """The driver's exit event: setting it also wakes the input thread from select()."""

    def __init__(self) -> None:
        super().__init__()
        #: The write end of the input thread's wake-up pipe, while it runs; the lock
        #: keeps a wake-up from writing to that number after the thread closed it.
        self.wake_fd: int | None = None
        self.fd_lock = threading.Lock()

    def set(self) -> None:
        super().set()
        with self.fd_lock:
            if self.wake_fd is not None:
                with contextlib.suppress(OSError):
                    os.write(self.wake_fd, b"x")


class TerminalDriver(LinuxDriver):
    """Textual's Linux driver, ending the app when its terminal goes away.

    Its input thread also sleeps until there is something to do (a key, the end of
    a half-read escape sequence, or the app quitting), where Textual's wakes ten
    times a second: a monitor left idle in tmux for weeks pays for every wake-up.
    How long it may sleep is :func:`~tui.widgets._textual_compat.input_wait`'s to
    say (Textual's 0.1 s on a Textual it was not checked against).
    """

    def __init__(self, app: App[Any], **kwargs: Any) -> None:
        super().__init__(app, **kwargs)
        self._gone = False
        self.exit_event = _WakingEvent()
        if self._file is not None:
            self._file = _QuietOutput(self._file, self._terminal_gone)  # type: ignore[assignment]

    def _terminal_gone(self) -> None:
        """Ask the app to quit, once, from whichever thread noticed."""
        if self._gone:
            return
        self._gone = True
        app = self._app
        loop = getattr(app, "_loop", None)
        if loop is None or loop.is_closed():
            return
        loop.call_soon_threadsafe(app.exit, None, EXIT_TERMINAL_GONE)

    def run_input_thread(self) -> None:
        """Read keys until told to stop, or until the terminal says end-of-file or fails."""
        parser = XTermParser(self._debug)
        decode = getincrementaldecoder("utf-8")(errors="replace").decode
        fd = self.fileno
        wake_r, wake_w = os.pipe()
        event = self.exit_event
        if isinstance(event, _WakingEvent):
            with event.fd_lock:
                event.wake_fd = wake_w
        selector = selectors.DefaultSelector()
        selector.register(fd, selectors.EVENT_READ)
        selector.register(wake_r, selectors.EVENT_READ)
        try:
            while not event.is_set():
                # Sleep until a key comes, or a half-read escape sequence is due to be
                # given up on (a lone ESC is the escape key), or the app quits.
                timeout = input_wait(parser)
                if not isinstance(event, _WakingEvent):
                    timeout = min(timeout, STOCK_INPUT_WAIT)  # nothing wakes us at quit
                ready = [key.fd for key, _mask in selector.select(timeout)]
                if fd in ready:
                    try:
                        data = os.read(fd, 4096)
                    except OSError:
                        data = b""
                    if not data:
                        # End-of-file or EIO: the terminal is gone. Reading again would
                        # answer the same at once, forever.
                        self._terminal_gone()
                        return
                    for message in parser.feed(decode(data)):
                        self.process_message(message)
                for message in parser.tick():
                    self.process_message(message)
        finally:
            selector.close()
            if isinstance(event, _WakingEvent):
                with event.fd_lock:
                    event.wake_fd = None
                    os.close(wake_w)
            else:
                os.close(wake_w)
            os.close(wake_r)


def install_signal_handlers(app: App[Any]) -> Callable[[], None]:
    """SIGTERM, SIGHUP and SIGINT quit the app like `q` does; returns the undo.

    A signal the process was started with ignored (``nohup``) stays ignored.

    Must be called on the app's event loop. The handlers only schedule ``app.exit``:
    the terminal is restored and the history flushed by the normal shutdown.
    """
    loop = asyncio.get_running_loop()
    installed: list[int] = []
    for signum, code in EXIT_ON_SIGNAL.items():
        if signal.getsignal(signum) is signal.SIG_IGN:
            continue  # `nohup flashtop`: the user asked for this signal to be ignored
        try:
            loop.add_signal_handler(signum, app.exit, None, code)
        except (NotImplementedError, RuntimeError, ValueError):  # not the main thread
            continue
        installed.append(signum)

    def undo() -> None:
        for signum in installed:
            loop.remove_signal_handler(signum)

    return undo


def stdin_and_output() -> tuple[IO[Any] | None, IO[Any] | None]:
    """The streams Textual's driver uses: keys from stdin, frames to stderr."""
    return sys.__stdin__, sys.__stderr__
