"""`flashtop daemon` for a long run against the demo's fault switches: is memory flat?

    python benchmarks/bench_daemon_memory.py [--minutes 60] [--configs 1000] [--interval 1]

Starts a demo server (in this process) with ``--configs`` configurations and a
`flashtop daemon --base-url ... --metrics ...` subprocess polling it every
``--interval`` seconds, scrapes /metrics every 10 s, and each minute switches a fault
on for 15 s (server errors, dropped connections, rate limiting, slow answers). Prints
the daemon's resident memory once a minute and the growth over the second half of the
run (the first minutes fill the in-memory history: 720 samples a configuration).
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from perf_common import machine  # noqa: E402

from tui.demo_server import DemoServer  # noqa: E402

FAULTS = ("server_error", "reset", "rate_limit", "slow", None)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, default=60.0)
    ap.add_argument("--configs", type=int, default=1000)
    ap.add_argument("--interval", type=float, default=1.0)
    args = ap.parse_args(argv)
    print(f"machine: {machine()}")
    print(f"daemon, {args.configs} configurations, every {args.interval:g} s, {args.minutes:g} min")
    server = DemoServer(n_configs=args.configs, token_lifetime=10**7).start()
    access, _refresh = server.issue_tokens()
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="flashtop-daemon-") as tmp:
        env = {
            **os.environ,
            "FLASHBACK_TOKEN": access,
            "XDG_DATA_HOME": tmp,
            "XDG_CONFIG_HOME": tmp,
            "XDG_STATE_HOME": tmp,
        }
        cmd = [
            sys.executable, "-m", "tui", "daemon", "--base-url", server.base_url,
            "--interval", str(args.interval), "--metrics", f"127.0.0.1:{port}",
        ]  # fmt: skip
        proc = subprocess.Popen(
            cmd, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        start = time.monotonic()
        samples: list[tuple[float, float]] = []
        scrapes = failures = 0
        try:
            minute = 0
            while time.monotonic() - start < args.minutes * 60:
                fault = FAULTS[minute % len(FAULTS)]
                for second in range(0, 60, 10):
                    if second == 0 and fault is not None:
                        server.set_fault(fault, delay=3.0 if fault == "slow" else 0.0)
                    if second == 20:
                        server.set_fault(None)
                    try:
                        httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10).raise_for_status()
                        scrapes += 1
                    except httpx.HTTPError:
                        failures += 1
                    time.sleep(10)
                    if proc.poll() is not None:
                        raise RuntimeError(f"the daemon exited with {proc.returncode}")
                minute += 1
                mb = rss_mb(proc.pid)
                samples.append((minute, mb))
                print(
                    f"  minute {minute:3d}: {mb:7.1f} MB  (fault this minute: {fault})", flush=True
                )
        finally:
            proc.send_signal(signal.SIGTERM)
            code = proc.wait(30)
            server.stop()
    half = samples[len(samples) // 2 :]
    growth = half[-1][1] - half[0][1] if len(half) > 1 else float("nan")
    print(
        f"RSS {samples[0][1]:.1f} MB after minute 1, {samples[-1][1]:.1f} MB at the end; "
        f"growth over the second half {growth:+.1f} MB; {scrapes} scrapes, {failures} failed; "
        f"exit {code} on SIGTERM"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
