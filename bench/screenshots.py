#!/usr/bin/env python3
"""What the page check's screenshots cost, beside baselines measured in the same run:

1. Time and size: `openbolt check-page --repeat` on a styled app screen (a table, a chart, buttons; served
   by Python's http.server) with a warm browser — the check without a screenshot (the baseline), then with
   a PNG, and with JPEGs at quality 60, 80 (OpenBolt's choice) and 90. The screenshot's own time is what
   `Page.captureScreenshot` took (`screenshot.millis`).
2. Tokens: what the chosen screenshot adds to a fix round's request in each provider format, by the
   providers' published rules for its size (Anthropic: width × height / 750; OpenAI `detail: high`: 85 +
   170 per 512-pixel tile after scaling into 2048 × 2048 and the short side to 768), and the request bytes
   it adds (base64).
3. The store: `openbolt chat --reply` turns that start the app's dev server (each a session with one
   checked page), with `previewScreenshots` on and off in the same run: the data directory's growth per
   turn, and so per screenshot.

    cargo build --release -p openbolt --bins
    python3 bench/screenshots.py target/release/openbolt
"""
import base64
import json
import math
import os
import pathlib
import statistics
import subprocess
import sys
import tempfile

from static_site import serve

REPEAT = 8
TURNS = 8

STYLE = """body{font-family:system-ui,sans-serif;margin:0;background:#f5f6fa;color:#222}
header{background:#4f46e5;color:#fff;padding:16px 32px;font-size:22px}
main{padding:24px 32px;display:grid;grid-template-columns:2fr 1fr;gap:24px}
.card{background:#fff;border-radius:8px;box-shadow:0 1px 3px #0002;padding:16px}
table{width:100%;border-collapse:collapse}td,th{padding:8px;border-bottom:1px solid #eee;text-align:left}
button{background:#10b981;color:#fff;border:0;border-radius:6px;padding:8px 14px;margin:4px}
.chart{height:180px;background:linear-gradient(90deg,#c7d2fe,#818cf8);border-radius:6px}"""

MAIN = """const rows = Array.from({ length: 12 }, (_, i) => ({
  date: `2026-03-${10 + i}`, payee: `Shop ${i}`, category: ['Food', 'Rent', 'Travel'][i % 3], amount: i * 13.37,
}));
document.getElementById('rows').innerHTML = rows
  .map((row) => `<tr><td>${row.date}</td><td>${row.payee}</td><td>${row.category}</td><td>$${row.amount.toFixed(2)}</td></tr>`)
  .join('');
document.getElementById('total').textContent = `$${rows.reduce((sum, row) => sum + row.amount, 0).toFixed(2)}`;
"""

INDEX = f"""<!doctype html><html><head><meta charset="utf-8"><title>Ledger</title><style>{STYLE}</style></head>
<body><header>Ledger — March budget</header><main>
<div class="card"><h2>Transactions</h2><table><thead><tr><th>Date</th><th>Payee</th><th>Category</th><th>Amount</th></tr></thead>
<tbody id="rows"></tbody></table></div>
<div class="card"><h2>Summary</h2><div class="chart"></div><p>Total spent: <b id="total"></b></p>
<button>Add</button><button>Export CSV</button></div></main>
<script type="module" src="main.js"></script></body></html>
"""




def checks(openbolt, url, data, shot=None, quality=None):
    """Warm checks (the first, which starts the browser, is left out)."""
    command = [openbolt, "check-page", url, "--json", "--repeat", str(REPEAT + 1)]
    if shot:
        command += ["--screenshot", shot]
    if quality:
        command += ["--quality", str(quality)]
    output = subprocess.run(command, env=dict(os.environ, OPENBOLT_DATA_DIR=data), capture_output=True, text=True, check=False)
    verdicts = [json.loads(line) for line in output.stdout.splitlines()][:-1]
    for verdict in verdicts:
        if verdict.get("error") or verdict["problems"]:
            sys.exit(f"the sample app should check clean: {verdict}")
    return verdicts[1:]


def anthropic_tokens(width, height):
    # Images whose long edge is over 1568 pixels are scaled down first.
    scale = min(1.0, 1568 / max(width, height))
    width, height = width * scale, height * scale
    return math.ceil(width * height / 750)


def openai_tokens(width, height):
    scale = min(1.0, 2048 / max(width, height))
    width, height = width * scale, height * scale
    scale = min(1.0, 768 / min(width, height))
    width, height = width * scale, height * scale
    return 85 + 170 * math.ceil(width / 512) * math.ceil(height / 512)


def size_of(path):
    return sum(file.stat().st_size for file in pathlib.Path(path).rglob("*") if file.is_file())


def store_growth(openbolt, screenshots):
    """Data directory bytes per turn after TURNS sessions of one checked turn each."""
    with tempfile.TemporaryDirectory() as root:
        workspace, data, home = (pathlib.Path(root, name) for name in ("w", "data", "home"))
        for folder in (workspace, data, home):
            folder.mkdir()
        reply = pathlib.Path(root, "reply.txt")
        reply.write_text(
            "Here is the ledger.\n<boltArtifact id=\"ledger\" title=\"Ledger\">\n"
            f"<boltAction type=\"file\" filePath=\"index.html\">\n{INDEX}</boltAction>\n"
            f"<boltAction type=\"file\" filePath=\"main.js\">\n{MAIN}</boltAction>\n"
            "<boltAction type=\"start\">\npython3 -m http.server 0 --bind 127.0.0.1\n</boltAction>\n</boltArtifact>\n"
        )
        env = dict(os.environ, OPENBOLT_DATA_DIR=str(data), HOME=str(home), OPENBOLT_PREVIEW_SCREENSHOTS=screenshots)
        sizes = []
        for turn in range(TURNS + 1):
            output = subprocess.run(
                [openbolt, "chat", "--workspace", str(workspace), "--reply", str(reply), "--replay-speed", "0", "--yes", "--no-wait", f"the ledger {turn}"],
                env=env, capture_output=True, text=True, check=False,
            )
            if "page check" not in output.stdout:
                sys.exit(f"no page check in the turn:\n{output.stdout}\n{output.stderr}")
            sizes.append(size_of(data) - size_of(data / "browser"))
        shots = list(pathlib.Path(data, "screenshots").rglob("*.jpg")) if (data / "screenshots").exists() else []
        # The first turn creates the database: growth is measured from there.
        return (sizes[-1] - sizes[0]) / TURNS, len(shots)


def main():
    openbolt = sys.argv[1] if len(sys.argv) > 1 else "target/release/openbolt"
    with tempfile.TemporaryDirectory() as site, tempfile.TemporaryDirectory() as data, tempfile.TemporaryDirectory() as out:
        pathlib.Path(site, "index.html").write_text(INDEX)
        pathlib.Path(site, "main.js").write_text(MAIN)
        server, url = serve(site)
        base = checks(openbolt, url, data)
        base_p50 = statistics.median(v["millis"] for v in base)
        print(f"a styled app screen, {REPEAT} warm checks each")
        print(f"  baseline: the check without a screenshot   p50 {base_p50:7.1f} ms")
        chosen = None
        for label, name, quality in [("PNG", "shot.png", None), ("JPEG 60", "shot60.jpg", 60), ("JPEG 80 (chosen)", "shot80.jpg", 80), ("JPEG 90", "shot90.jpg", 90)]:
            verdicts = checks(openbolt, url, data, os.path.join(out, name), quality)
            check_p50 = statistics.median(v["millis"] for v in verdicts)
            shot_p50 = statistics.median(v["screenshot"]["millis"] for v in verdicts)
            shot = verdicts[-1]["screenshot"]
            print(
                f"  {label:<18} {shot['width']}×{shot['height']}  {shot['bytes'] / 1024:6.1f} KiB  "
                f"capture p50 {shot_p50:5.1f} ms  check p50 {check_p50:7.1f} ms (×{check_p50 / base_p50:.2f} the baseline)"
            )
            if quality == 80:
                chosen = shot
        server.shutdown()
    width, height, size = chosen["width"], chosen["height"], chosen["bytes"]
    encoded = len(base64.b64encode(b"\0" * size))
    print(f"input tokens a {width}×{height} screenshot adds to a fix round, by the providers' rules")
    print(f"  Anthropic image block:         {anthropic_tokens(width, height):5d} tokens")
    print(f"  OpenAI image_url, detail high: {openai_tokens(width, height):5d} tokens")
    print(f"  request bytes added (base64):  {encoded / 1024:.1f} KiB")
    with_shots, kept = store_growth(openbolt, "auto")
    without, _ = store_growth(openbolt, "off")
    print(f"the store, {TURNS} sessions of one checked turn each")
    print(f"  without screenshots: {without / 1024:6.1f} KiB per turn (baseline)")
    print(f"  with screenshots:    {with_shots / 1024:6.1f} KiB per turn, {kept} files kept: {(with_shots - without) / 1024:.1f} KiB per screenshot")


if __name__ == "__main__":
    main()
