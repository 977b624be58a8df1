#!/usr/bin/env python3
"""Floods a server binary with wrong-password sign-ins and reports its resident memory.

Starts `BIN serve` on a free loopback port with a fresh data directory, signs up one user, then
sends wrong-password logins from THREADS threads (one keep-alive connection each) for SECONDS,
sampling the server's VmRSS every 50 ms; after the flood it waits SETTLE seconds and reads it
again. Meanwhile a logger reports one event every 20 ms: the median and worst time to an
answer, for a second before the flood and during it. Only 127.0.0.1 is ever contacted, the flood is bounded in time, the server is stopped at
the end. Extra arguments go to `serve` (for example `--auth-attempts-per-address 1000000` so that
every attempt reaches the password check, the worst case for memory). Used in docs/SECURITY.md:

    crates/bench/scripts/login-flood.py target/release/assetlog 32 3 -- --auth-attempts-per-address 1000000 --auth-attempts-per-account 1000000
"""

import collections
import http.client
import json
import subprocess
import sys
import tempfile
import threading
import time


def rss_mb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def post(conn, path, body):
    conn.request("POST", path, json.dumps(body), {"content-type": "application/json"})
    resp = conn.getresponse()
    resp.read()
    return resp.status


def main():
    args = sys.argv[1:]
    extra = []
    if "--" in args:
        i = args.index("--")
        args, extra = args[:i], args[i + 1 :]
    binary, threads, seconds = args[0], int(args[1]), float(args[2])
    settle = float(args[3]) if len(args) > 3 else 5.0
    with tempfile.TemporaryDirectory() as data:
        server = subprocess.Popen(
            [binary, "serve", "--bind", "127.0.0.1:0", "--data-dir", data, *extra],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        try:
            line = server.stdout.readline().strip()
            host_port = line.removeprefix("listening on http://")
            host, port = host_port.rsplit(":", 1)
            conn = http.client.HTTPConnection(host, int(port), timeout=30)
            signup = {"email": "ada@a.example", "password": "correct horse battery", "tenant_name": "A"}
            assert post(conn, "/api/v1/auth/signup", signup) == 201
            conn.request("POST", "/api/device/register", json.dumps({"logger_id": "flood-probe"}))
            key = json.loads(conn.getresponse().read())["device_key"]
            time.sleep(0.5)
            before = rss_mb(server.pid)
            statuses = collections.Counter()
            lock = threading.Lock()
            probe_done = threading.Event()
            flood_starts = time.monotonic() + 1.0
            stop_at = flood_starts + seconds
            latencies = {"before": [], "during": []}

            def probe():
                c = http.client.HTTPConnection(host, int(port), timeout=30)
                headers = {"content-type": "application/json", "authorization": f"Bearer {key}"}
                seq = 0
                while time.monotonic() < stop_at:
                    seq += 1
                    body = {"logger_id": "flood-probe", "pin_number": 0, "is_running": seq % 2 == 1, "seq": seq}
                    started = time.monotonic()
                    c.request("POST", "/api/asset-state", json.dumps(body), headers)
                    c.getresponse().read()
                    phase = "before" if started < flood_starts else "during"
                    latencies[phase].append((time.monotonic() - started) * 1000)
                    time.sleep(0.02)
                probe_done.set()

            prober = threading.Thread(target=probe)
            prober.start()
            time.sleep(1.0)

            def flood():
                c = http.client.HTTPConnection(host, int(port), timeout=30)
                wrong = {"email": "ada@a.example", "password": "wrong password"}
                while time.monotonic() < stop_at:
                    try:
                        status = post(c, "/api/v1/auth/login", wrong)
                    except (OSError, http.client.HTTPException):
                        status = "error"
                        c = http.client.HTTPConnection(host, int(port), timeout=30)
                    with lock:
                        statuses[status] += 1

            workers = [threading.Thread(target=flood) for _ in range(threads)]
            for w in workers:
                w.start()
            peak = before
            while any(w.is_alive() for w in workers) or prober.is_alive():
                peak = max(peak, rss_mb(server.pid))
                time.sleep(0.05)
            # A check made while the flood is over: does the server still answer at once?
            started = time.monotonic()
            health = http.client.HTTPConnection(host, int(port), timeout=30)
            health.request("GET", "/healthz")
            health_status = health.getresponse().status
            health_ms = (time.monotonic() - started) * 1000
            time.sleep(settle)
            after = rss_mb(server.pid)
            def summary(ms):
                ms = sorted(ms)
                return f"p50 {ms[len(ms) // 2]:.1f} ms, max {ms[-1]:.1f} ms" if ms else "none"

            print(
                f"before {before:.1f} MB, peak {peak:.1f} MB, {settle:.0f} s after {after:.1f} MB; "
                f"answers {dict(statuses)}; /healthz {health_status} in {health_ms:.0f} ms; "
                f"a report before the flood {summary(latencies['before'])}, during it {summary(latencies['during'])}"
            )
        finally:
            server.terminate()
            server.wait(timeout=30)


if __name__ == "__main__":
    main()
