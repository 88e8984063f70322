#!/usr/bin/env python3
"""An MCP server over stdio (newline-delimited JSON-RPC) that misbehaves on purpose, for tests/mcp.rs.

    fake_server.py MODE [MARKER]

MODE: `long` answers every call with 200,000 characters; `crash` answers initialize and tools/list, then exits in the middle of a tools/call; `silent`
never answers initialize; `changing` has one tool, `first`, and after its first call adds `second` and
sends notifications/tools/list_changed. MARKER only tags the process (tests look for it afterwards).
"""
import json
import sys

mode = sys.argv[1]
tools = [{"name": "first", "description": "The first tool.", "inputSchema": {"type": "object", "properties": {}}}]


def send(message):
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()


for line in sys.stdin:
    message = json.loads(line)
    method = message.get("method")
    if mode == "silent":
        continue
    if method == "initialize":
        send({"jsonrpc": "2.0", "id": message["id"], "result": {
            "protocolVersion": message["params"]["protocolVersion"],
            "capabilities": {"tools": {"listChanged": True}},
            "serverInfo": {"name": "fake-" + mode, "version": "1.0.0"},
        }})
    elif method == "tools/list":
        send({"jsonrpc": "2.0", "id": message["id"], "result": {"tools": tools}})
    elif method == "tools/call":
        if mode == "crash":
            sys.stderr.write("fake server: crashing in the middle of a call\n")
            sys.exit(3)
        import os
        if mode == "long":
            send({"jsonrpc": "2.0", "id": message["id"], "result": {"content": [{"type": "text", "text": "x" * 200000}]}})
            continue
        keys = [name for name in ("ANTHROPIC_API_KEY", "OPENAI_API_KEY", "OPENROUTER_API_KEY", "OPENBOLT_API_KEY") if name in os.environ]
        send({"jsonrpc": "2.0", "id": message["id"], "result": {
            "content": [{"type": "text", "text": "called " + message["params"]["name"] + "; provider keys seen: " + (", ".join(keys) or "none")}],
        }})
        if mode == "changing" and len(tools) == 1:
            tools.append({"name": "second", "description": "A tool that came later.", "inputSchema": {"type": "object"}})
            send({"jsonrpc": "2.0", "method": "notifications/tools/list_changed"})
    elif "id" in message:
        send({"jsonrpc": "2.0", "id": message["id"], "result": {}})
