#!/usr/bin/env python3
"""Floods a server binary with wrong-password sign-ins and reports its resident memory.

Starts `BIN serve` on a free loopback port with a fresh data directory, signs up one user and
registers a logger, restarts the server on that directory (so that the flood meets a running
server, not one that has just estimated a new password's strength), then sends wrong-password
logins from THREADS threads (one keep-alive connection each) for SECONDS, sampling the server's
VmRSS every 50 ms; after the flood it waits SETTLE seconds and reads it again. Meanwhile a logger
reports one event every 20 ms: the median and worst time to an answer, for a second before the
flood and during it. The flood runs in a process of its own, so that the logger's times are the
server's and not waits for the flood threads' interpreter lock. Only 127.0.0.1 is ever
contacted, the flood is bounded in time, the server is stopped at the end. Extra arguments go to
`serve` (for example `--auth-attempts-per-address 1000000` so that every attempt reaches the
password check, the worst case for memory). Used in docs/SECURITY.md:

    crates/bench/scripts/login-flood.py target/release/assetlog 32 3 -- --auth-attempts-per-address 1000000 --auth-attempts-per-account 1000000
"""

import collections
import http.client
import json
import multiprocessing
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


def flood(host, port, threads, stop_at, answers):
    """Wrong-password sign-ins from `threads` threads until `stop_at`; puts the count of each answer."""
    statuses = collections.Counter()
    lock = threading.Lock()

    def one():
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

    workers = [threading.Thread(target=one) for _ in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    answers.put(dict(statuses))


def start(binary, data, extra):
    """`binary serve` on a free loopback port in `data`: the process, its host and port."""
    server = subprocess.Popen(
        [binary, "serve", "--bind", "127.0.0.1:0", "--data-dir", data, *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    line = server.stdout.readline().strip()
    host, port = line.removeprefix("listening on http://").rsplit(":", 1)
    return server, host, port


def main():
    args = sys.argv[1:]
    extra = []
    if "--" in args:
        i = args.index("--")
        args, extra = args[:i], args[i + 1 :]
    binary, threads, seconds = args[0], int(args[1]), float(args[2])
    settle = float(args[3]) if len(args) > 3 else 5.0
    with tempfile.TemporaryDirectory() as data:
        server, host, port = start(binary, data, extra)
        try:
            conn = http.client.HTTPConnection(host, int(port), timeout=30)
            signup = {"email": "ada@a.example", "password": "correct horse battery", "tenant_name": "A"}
            assert post(conn, "/api/v1/auth/signup", signup) == 201
            conn.request("POST", "/api/device/register", json.dumps({"logger_id": "flood-probe"}))
            key = json.loads(conn.getresponse().read())["device_key"]
            time.sleep(0.5)
            set_up = rss_mb(server.pid)
        finally:
            server.terminate()
            server.wait(timeout=30)
        # The flood meets a server that runs with its accounts, as a plant's does, not one that
        # has just checked a new password: the strength estimate (zxcvbn) keeps its tables for
        # the life of the process, the set-up's figure says how much.
        server, host, port = start(binary, data, extra)
        try:
            time.sleep(1.0)
            before = rss_mb(server.pid)
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

            # The flood in a process of its own: in this one, its threads would hold the
            # interpreter lock the probe needs to read its answers, and the probe's times
            # would be Python's waits, not the server's.
            answers = multiprocessing.Queue()
            flooder = multiprocessing.Process(target=flood, args=(host, port, threads, stop_at, answers))
            flooder.start()
            peak = before
            while flooder.is_alive() or prober.is_alive():
                peak = max(peak, rss_mb(server.pid))
                time.sleep(0.05)
            statuses = answers.get()
            flooder.join()
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
                f"after the set-up (a sign-up) {set_up:.1f} MB; restarted: "
                f"before {before:.1f} MB, peak {peak:.1f} MB, {settle:.0f} s after {after:.1f} MB; "
                f"answers {statuses}; /healthz {health_status} in {health_ms:.0f} ms; "
                f"a report before the flood {summary(latencies['before'])}, during it {summary(latencies['during'])}"
            )
        finally:
            server.terminate()
            server.wait(timeout=30)


if __name__ == "__main__":
    main()
