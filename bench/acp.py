#!/usr/bin/env python3
"""What the ACP front end costs beside the LSP one, measured in the same run, interleaved:

1. spawn → `initialize` answered: `openbolt acp` (newline-delimited JSON-RPC) against `openbolt lsp`
   (Content-Length framing); and spawn → a session to prompt in (ACP sets the workspace up at its first
   `session/new`; LSP at `initialize`);
2. prompt → first update: a second prompt in a warm session (the replayed reply, at full speed, from the
   user's settings file) until the first `session/update` (ACP) or `openbolt/chatDelta` (LSP) — the same
   engine behind both, so the ratio is what the front end adds;
3. idle memory (PSS) of each server after its turns.

    cargo build --release -p openbolt --bins
    python3 bench/acp.py target/release/openbolt
"""
import json
import os
import pathlib
import statistics
import subprocess
import sys
import tempfile
import time

from lsp_wire import frame, read_message

RUNS = 20
REPLY = "Hello there: this is the replayed reply, a few words long.\n"


def pss_kb(pid):
    for line in pathlib.Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
        if line.startswith("Pss:"):
            return int(line.split()[1])
    return 0


class Acp:
    framing = "acp"

    def __init__(self, binary, workspace, env):
        self.server = subprocess.Popen([binary, self.framing], cwd=workspace, env=env,
                                       stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        self.workspace = workspace
        self.next_id = 0

    def send(self, method, params, request=True):
        message = {"jsonrpc": "2.0", "method": method, "params": params}
        if request:
            self.next_id += 1
            message["id"] = self.next_id
        self.write(message)
        return self.next_id

    def write(self, message):
        self.server.stdin.write(json.dumps(message).encode() + b"\n")
        self.server.stdin.flush()

    def read(self):
        line = self.server.stdout.readline()
        if not line:
            raise RuntimeError("the agent closed stdout")
        return json.loads(line)

    def until(self, predicate):
        while True:
            message = self.read()
            if "method" in message and "id" in message:
                # A question from the agent (none expected: the reply has no actions).
                raise RuntimeError(f"unexpected request {message}")
            if predicate(message):
                return message

    def initialize(self):
        sent = self.send("initialize", {"protocolVersion": 1, "clientCapabilities": {}})
        self.until(lambda message: message.get("id") == sent)

    def open_session(self):
        sent = self.send("session/new", {"cwd": self.workspace, "mcpServers": []})
        self.session = self.until(lambda message: message.get("id") == sent)["result"]["sessionId"]

    def prompt(self):
        """Seconds from the prompt to its first update; then waits for the turn's end."""
        start = time.perf_counter()
        sent = self.send("session/prompt", {"sessionId": self.session, "prompt": [{"type": "text", "text": "hi"}]})
        self.until(lambda message: message.get("method") == "session/update")
        first = time.perf_counter() - start
        self.until(lambda message: message.get("id") == sent)
        return first

    def close(self):
        self.server.stdin.close()
        self.server.wait(timeout=10)


class Lsp(Acp):
    framing = "lsp"

    def write(self, message):
        self.server.stdin.write(frame(message))
        self.server.stdin.flush()

    def read(self):
        return read_message(self.server.stdout)

    def until(self, predicate):
        while True:
            message = self.read()
            if "method" in message and "id" in message:
                # The client's side of requests the server makes (configuration, progress): answered empty.
                self.write({"jsonrpc": "2.0", "id": message["id"], "result": None})
                continue
            if predicate(message):
                return message

    def initialize(self):
        uri = pathlib.Path(self.workspace).as_uri()
        sent = self.send("initialize", {"processId": os.getpid(), "rootUri": uri, "capabilities": {},
                                        "workspaceFolders": [{"uri": uri, "name": "w"}]})
        self.until(lambda message: message.get("id") == sent)
        self.send("initialized", {}, request=False)

    def open_session(self):
        self.session = "bench"

    def prompt(self):
        start = time.perf_counter()
        sent = self.send("openbolt/chat", {"prompt": "hi", "sessionId": self.session})
        self.until(lambda message: message.get("method") == "openbolt/chatDelta")
        first = time.perf_counter() - start
        self.until(lambda message: message.get("id") == sent)
        return first

    def close(self):
        self.send("shutdown", None)
        self.send("exit", None, request=False)
        self.server.stdin.close()
        self.server.wait(timeout=10)


def main():
    binary = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else "target/release/openbolt")
    with tempfile.TemporaryDirectory() as root:
        workspace, data, config = (os.path.join(root, name) for name in ("w", "data", "config"))
        for folder in (workspace, data, os.path.join(config, "openbolt")):
            os.makedirs(folder)
        pathlib.Path(workspace, "index.html").write_text("<h1>hi</h1>\n")
        reply = os.path.join(root, "reply.txt")
        pathlib.Path(reply).write_text(REPLY)
        pathlib.Path(config, "openbolt", "settings.json").write_text(json.dumps({"replayFile": reply, "replaySpeed": 0}))
        env = {**os.environ, "OPENBOLT_DATA_DIR": data, "XDG_CONFIG_HOME": config, "OPENBOLT_PREVIEW_CHECK": "off"}
        results = {front: {"initialize": [], "ready": [], "first": [], "pss": []} for front in ("acp", "lsp")}
        for _ in range(RUNS):
            for front in (Lsp, Acp):
                start = time.perf_counter()
                server = front(binary, workspace, env)
                server.initialize()
                row = results[front.framing]
                row["initialize"].append(time.perf_counter() - start)
                server.open_session()
                row["ready"].append(time.perf_counter() - start)
                server.prompt()  # the first turn walks the workspace
                row["first"].append(server.prompt())
                row["pss"].append(pss_kb(server.server.pid))
                server.close()

    def p50(values):
        return statistics.median(values)

    def p90(values):
        return statistics.quantiles(values, n=10)[-1]

    print(f"{RUNS} runs each, interleaved; baseline: openbolt lsp")
    print(f"{'':<34}{'openbolt lsp':>18}{'openbolt acp':>18}{'ratio':>8}")
    for label, key, scale, unit in [("spawn → initialize answered", "initialize", 1e3, "ms"),
                                    ("spawn → a session to prompt in", "ready", 1e3, "ms"),
                                    ("prompt → first update (warm)", "first", 1e3, "ms")]:
        lsp, acp = results["lsp"][key], results["acp"][key]
        print(f"{label:<34}{p50(lsp) * scale:>9.2f}/{p90(lsp) * scale:<6.2f}{unit}"
              f"{p50(acp) * scale:>9.2f}/{p90(acp) * scale:<6.2f}{unit}{p50(acp) / p50(lsp):>8.2f}")
    lsp, acp = p50(results["lsp"]["pss"]), p50(results["acp"]["pss"])
    print(f"{'idle memory (PSS) after two turns':<34}{lsp / 1024:>14.1f} MiB{acp / 1024:>14.1f} MiB{acp / lsp:>8.2f}")
    print("(p50/p90)")


if __name__ == "__main__":
    main()
