#!/usr/bin/env python3
"""What starting the server costs an editor extension, for each binary given (the first is the baseline,
measured in the same run, interleaved): `openbolt version --json` (the protocol check the extensions
make first), and spawning `openbolt lsp` until `initialize` is answered; with the binary's size on disk
and gzipped. Prints p50 and p90 of each, and the ratio to the baseline.

    cargo build --release -p openbolt --bins
    CARGO_TARGET_DIR=/tmp/before cargo build --release -p openbolt --config 'profile.release.lto=false' \
        --config 'profile.release.codegen-units=16' --config 'profile.release.debug="line-tables-only"' \
        --config 'profile.release.strip="none"'
    python3 bench/server-start.py /tmp/before/release/openbolt target/release/openbolt

(The second build is the release profile as it was before it shipped stripped with LTO: the "before".)
"""
import gzip
import json
import os
import pathlib
import statistics
import subprocess
import sys
import tempfile
import time

from lsp_wire import frame, read_message

RUNS = 30


def version(binary):
    start = time.perf_counter()
    out = subprocess.run([binary, "version", "--json"], capture_output=True, check=True).stdout
    elapsed = time.perf_counter() - start
    assert json.loads(out)["protocol"] >= 1
    return elapsed


def initialize(binary, workspace, data):
    start = time.perf_counter()
    server = subprocess.Popen(
        [binary, "lsp"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "OPENBOLT_DATA_DIR": data},
    )
    uri = pathlib.Path(workspace).as_uri()
    server.stdin.write(frame({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "processId": os.getpid(), "rootUri": uri, "capabilities": {},
        "workspaceFolders": [{"uri": uri, "name": "w"}]}}))
    server.stdin.flush()
    while True:
        message = read_message(server.stdout)
        if message.get("id") == 1:
            break
    elapsed = time.perf_counter() - start
    server.stdin.write(frame({"jsonrpc": "2.0", "id": 2, "method": "shutdown"}))
    server.stdin.write(frame({"jsonrpc": "2.0", "method": "exit"}))
    server.stdin.close()
    server.wait(timeout=10)
    return elapsed


def main():
    binaries = sys.argv[1:]
    if not binaries:
        sys.exit(__doc__)
    times = {binary: {"version": [], "initialize": []} for binary in binaries}
    with tempfile.TemporaryDirectory() as workspace, tempfile.TemporaryDirectory() as data:
        for _ in range(RUNS):
            for binary in binaries:
                times[binary]["version"].append(version(binary))
                times[binary]["initialize"].append(initialize(binary, workspace, data))
    base = binaries[0]
    print(f"{'binary':<34}{'size MB':>9}{'gzip MB':>9}{'version p50/p90 ms':>21}{'initialize p50/p90 ms':>24}{'ratio':>7}")
    for binary in binaries:
        raw = pathlib.Path(binary).read_bytes()
        row = times[binary]
        v50, i50 = statistics.median(row["version"]), statistics.median(row["initialize"])
        v90 = statistics.quantiles(row["version"], n=10)[-1]
        i90 = statistics.quantiles(row["initialize"], n=10)[-1]
        ratio = (v50 + i50) / (statistics.median(times[base]["version"]) + statistics.median(times[base]["initialize"]))
        print(f"{binary:<34}{len(raw) / 1e6:>9.2f}{len(gzip.compress(raw, 6)) / 1e6:>9.2f}"
              f"{v50 * 1e3:>11.2f}/{v90 * 1e3:<9.2f}{i50 * 1e3:>13.2f}/{i90 * 1e3:<10.2f}{ratio:>7.2f}")


if __name__ == "__main__":
    main()
