#!/usr/bin/env python3
"""How long other writes wait while a large application is deleted (SQLite).

Usage: target/pyenv/bin/python scripts/bench-app-delete.py target/release/hookd
(the test environment's Python has httpx). Starts hookd serve on a fresh data dir, loads
20 000 messages to two endpoints into application "a", then deletes it while one client keeps
sending to application "b", and prints the delete's time and the longest wait of "b"'s writes.
"""
import json, os, subprocess, sys, threading, time, shutil, tempfile
import httpx
binary = sys.argv[1]
d = tempfile.mkdtemp()
port = 39000 + os.getpid() % 1000
env = dict(os.environ, HOOKD_DATA_DIR=d, HOOKD_ADMIN_TOKEN="test-token-0123456789abcdef")
p = subprocess.Popen([binary, "serve", "--listen", f"127.0.0.1:{port}"], env=env, stderr=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
base = f"http://127.0.0.1:{port}"
h = {"Authorization": "Bearer test-token-0123456789abcdef"}
c = httpx.Client(headers=h, timeout=30)
for _ in range(100):
    try:
        c.get(base + "/api/v1/health"); break
    except Exception: time.sleep(0.05)
c.post(base + "/api/v1/app", json={"name": "a", "uid": "a"})
c.post(base + "/api/v1/app", json={"name": "b", "uid": "b"})
c.post(base + "/api/v1/app/a/endpoint", json={"url": "http://127.0.0.1:1/hook"})
c.post(base + "/api/v1/app/a/endpoint", json={"url": "http://127.0.0.1:2/hook"})
def load(n):
    cc = httpx.Client(headers=h, timeout=30)
    for i in range(n):
        cc.post(base + "/api/v1/app/a/msg", json={"eventType": "x", "payload": {"i": i}})
ts = [threading.Thread(target=load, args=(2500,)) for _ in range(8)]
[t.start() for t in ts]; [t.join() for t in ts]
lat = []; stop = False
def probe():
    cc = httpx.Client(headers=h, timeout=30)
    while not stop:
        t0 = time.perf_counter(); cc.post(base + "/api/v1/app/b/msg", json={"eventType": "x", "payload": {}}); lat.append(time.perf_counter() - t0)
time.sleep(3)
t = threading.Thread(target=probe); t.start(); time.sleep(0.3)
t0 = time.perf_counter(); r = c.delete(base + "/api/v1/app/a"); took = time.perf_counter() - t0
time.sleep(0.3); stop = True; t.join()
print(f"{binary}: delete {r.status_code} in {took*1000:.0f} ms; other app's writes: {len(lat)}, max {max(lat)*1000:.0f} ms, p50 {sorted(lat)[len(lat)//2]*1000:.1f} ms")
p.terminate(); p.wait(); shutil.rmtree(d)
