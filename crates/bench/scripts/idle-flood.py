#!/usr/bin/env python3
"""Opens 1,100 idle TCP connections to a fresh server (from six loopback addresses, 200 each,
under the per-address cap) and times a /healthz request made while they are open: issue 13's
attack, where they exhausted 1,024 file descriptors. Only 127.0.x.y is contacted; the server is
stopped at the end; its log goes to /tmp/idle-flood.err. Extra arguments go to `serve`. To run
the server under a 1,024 open files limit as in the issue, pass a wrapper script as BIN:

    printf '#!/bin/sh\nulimit -n 1024\nexec target/release/assetlog "$@"\n' > /tmp/assetlog-1024
    chmod +x /tmp/assetlog-1024 && crates/bench/scripts/idle-flood.py /tmp/assetlog-1024
"""
import socket, subprocess, sys, tempfile, time, http.client
binary = sys.argv[1]
with tempfile.TemporaryDirectory() as data:
    s = subprocess.Popen([binary, "serve", "--bind", "127.0.0.1:0", "--data-dir", data] + sys.argv[2:], stdout=subprocess.PIPE, stderr=open("/tmp/idle-flood.err", "w"), text=True)
    try:
        host, port = s.stdout.readline().strip().removeprefix("listening on http://").rsplit(":", 1)
        socks = []
        for i in range(1100):
            src = f"127.0.{1 + i // 200}.{1 + i % 200}"
            c = socket.socket(); c.bind((src, 0)); c.connect((host, int(port))); socks.append(c)
        time.sleep(0.5)
        t = time.monotonic()
        h = http.client.HTTPConnection(host, int(port), timeout=20); h.request("GET", "/healthz")
        print("healthz", h.getresponse().status, f"{(time.monotonic()-t)*1000:.0f} ms with 1100 idle sockets open from 6 addresses")
        nofile = open(f"/proc/{s.pid}/limits").read().split("Max open files")[1].split()[:2]
        print("server NOFILE soft/hard", nofile, "open fds", len(__import__('os').listdir(f"/proc/{s.pid}/fd")))
    finally:
        s.terminate(); s.wait(timeout=30)
