#!/usr/bin/env python3
"""Prints the parser bench's figures from criterion's results: throughput, the ratio to the copy
baseline measured in the same run, and the time per MB across sizes (linearity).

Run `cargo bench -p openbolt-parser` first; then `python3 bench/ratios.py`.
"""
import json
import pathlib
import sys

root = pathlib.Path(__file__).resolve().parent.parent / "target" / "criterion"
if not root.exists():
    sys.exit("no criterion results: run `cargo bench -p openbolt-parser` first")


def estimate(group, bench, chunk):
    path = root / group / bench / str(chunk) / "new" / "estimates.json"
    data = json.loads(path.read_text())
    return data["median"]["point_estimate"]  # nanoseconds per iteration


def size(group):
    path = root / group / "parse" / "4096" / "new" / "benchmark.json"
    return json.loads(path.read_text())["throughput"]["Bytes"]


print(f"{'reply':<24}{'chunks':>8}{'parse MB/s':>12}{'copy MB/s':>12}{'parse/copy time':>17}{'ns per MB':>12}")
per_mb = {}
for reply in ["1MB", "20MB", "huge-action-4MB"]:
    group = f"parser_{reply}"
    if not (root / group).exists():
        continue
    nbytes = size(group)
    for chunk in [20, 4096]:
        parse = estimate(group, "parse", chunk)
        copy = estimate(group, "copy-baseline", chunk)
        mbps = nbytes / parse * 1e3
        copy_mbps = nbytes / copy * 1e3
        per_mb[(reply, chunk)] = parse / (nbytes / 1e6)
        print(f"{reply:<24}{chunk:>8}{mbps:>12.0f}{copy_mbps:>12.0f}{parse / copy:>17.2f}{per_mb[(reply, chunk)]:>12.0f}")

for chunk in [20, 4096]:
    if ("1MB", chunk) in per_mb and ("20MB", chunk) in per_mb:
        print(f"linearity at {chunk}-byte chunks: time per MB 20MB/1MB = {per_mb[('20MB', chunk)] / per_mb[('1MB', chunk)]:.2f}, "
              f"huge action/1MB = {per_mb[('huge-action-4MB', chunk)] / per_mb[('1MB', chunk)]:.2f}")
