#!/usr/bin/env python3
"""What the page check costs: for a small app (an HTML page and three ES modules, served by Python's
http.server, ready before anything is timed), the time from the server's readiness to the check's verdict
with a cold browser (a new `openbolt check-page` each time: the browser starts) and a warm one (`--repeat`:
the same browser, a fresh context per check), beside the baseline measured in the same run: fetching the
page and its modules over HTTP without a browser (what the 5xx check costs). Then the browser's memory
while idle (PSS of its process group) against the openbolt process's own.

    cargo build --release -p openbolt --bins
    python3 bench/page-check.py target/release/openbolt

A check waits 0.5 s of network quiet after the load event before its verdict: that floor is in both
figures (the page's settle time is the point of the check, not overhead).
"""
import json
import os
import pathlib
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

from static_site import serve

RUNS = 8
WARM = 8

APP = {
    "index.html": '<!doctype html><html><body><h1>Ledger</h1><div id="root"></div>'
    '<script type="module" src="main.js"></script></body></html>',
    "main.js": "import { rows } from './rows.js';\nimport { total } from './total.js';\n"
    "document.getElementById('root').textContent = `${rows.length} rows, ${total(rows)}`;\n",
    "rows.js": "export const rows = [1, 2, 3, 4].map((n) => ({ n, price: n * 2.5 }));\n",
    "total.js": "import { rows } from './rows.js';\nexport function total(items = rows) {\n"
    "  return items.reduce((sum, row) => sum + row.price, 0);\n}\n",
}




def fetch_all(url):
    start = time.perf_counter()
    for name in ["", "main.js", "rows.js", "total.js"]:
        with urllib.request.urlopen(url + name) as response:
            response.read()
    return (time.perf_counter() - start) * 1000


def check(openbolt, url, data, repeat=1):
    env = dict(os.environ, OPENBOLT_DATA_DIR=data)
    start = time.perf_counter()
    output = subprocess.run(
        [openbolt, "check-page", url, "--json", "--repeat", str(repeat)],
        env=env, capture_output=True, text=True, check=False,
    )
    wall = (time.perf_counter() - start) * 1000
    lines = [json.loads(line) for line in output.stdout.splitlines()]
    verdicts, memory = lines[:-1], lines[-1]
    for verdict in verdicts:
        if verdict.get("error") or verdict["problems"]:
            sys.exit(f"the sample app should check clean: {verdict}")
    return verdicts, memory, wall


def p(values, q):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main():
    openbolt = sys.argv[1] if len(sys.argv) > 1 else "target/release/openbolt"
    with tempfile.TemporaryDirectory() as site, tempfile.TemporaryDirectory() as data:
        for name, text in APP.items():
            pathlib.Path(site, name).write_text(text)
        server, url = serve(site)
        fetch_all(url)  # warm the server's own path
        baseline, cold, warm, memories = [], [], [], []
        for _ in range(RUNS):
            baseline.append(fetch_all(url))
            verdicts, memory, _ = check(openbolt, url, data)
            cold.append(verdicts[0]["millis"])
        verdicts, memory, _ = check(openbolt, url, data, repeat=WARM + 1)
        warm = [verdict["millis"] for verdict in verdicts[1:]]
        memories.append(memory)
        server.shutdown()
    base = statistics.median(baseline)
    print(f"small app (4 files), {RUNS} cold checks, {WARM} warm checks")
    print(f"  baseline: fetch the page and its modules   p50 {base:7.1f} ms  p90 {p(baseline, 0.9):7.1f} ms")
    for name, values in [("cold browser (starts it)", cold), ("warm browser", warm)]:
        median = statistics.median(values)
        print(f"  {name:<40} p50 {median:7.1f} ms  p90 {p(values, 0.9):7.1f} ms  ×{median / base:.0f} the baseline")
    memory = memories[-1]
    print(
        f"  idle memory (PSS): browser {memory['browserPssKb'] / 1024:.1f} MiB, "
        f"openbolt {memory['selfPssKb'] / 1024:.1f} MiB (×{memory['browserPssKb'] / max(memory['selfPssKb'], 1):.1f})"
    )


if __name__ == "__main__":
    main()
