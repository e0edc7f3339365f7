"""Start the server the way a desktop host's entry says, and check it through the official client.

Usage: python entry_check.py ENTRY.json. ENTRY holds ``command``, ``args``, ``env`` and ``cwd`` with
the host's variables already substituted. The server must list generate_image bound to the card for
a client that advertises MCP Apps, one plain tool for one that does not, and make an image.
Prints one JSON line of what it found; exits 1 when something is missing.
"""
from __future__ import annotations

import json
import sys

import anyio
from mcp import Client, StdioServerParameters
from mcp.client import advertise

APPS = advertise("io.modelcontextprotocol/ui", {"mimeTypes": ["text/html;profile=mcp-app"]})


async def main(entry: dict) -> int:
    params = StdioServerParameters(command=entry["command"], args=entry["args"], env=entry["env"], cwd=entry["cwd"])
    found: dict = {}
    async with Client(params, extensions=[APPS], read_timeout_seconds=120) as client:
        tools = {t.name: t for t in (await client.list_tools()).tools}
        found["apps_tools"] = sorted(tools)
        found["bound"] = (tools["generate_image"].meta or {}).get("ui", {}).get("resourceUri")
        card = (await client.read_resource(found["bound"])).contents[0]
        found["card_mime"], found["card_bytes"] = card.mime_type, len(card.text.encode())
        result = await client.call_tool("generate_image", {"prompt": "a desktop host check", "size": "1024x1024"})
        found["ok"] = not result.is_error
        found["card_status"] = (result.meta or {}).get("image-relay-bridge/card", {}).get("status")
        found["first_line"] = result.content[0].text.splitlines()[0][:80]
    async with Client(params, read_timeout_seconds=120) as client:
        plain = (await client.list_tools()).tools
        found["plain_tools"] = [(t.name, "ui" in (t.meta or {})) for t in plain]  # bound to no card
    print(json.dumps(found))
    good = (found["bound"] == "ui://image-relay-bridge/card.html" and found["card_mime"] == "text/html;profile=mcp-app"
            and found["ok"] and found["card_status"] == "done" and found["plain_tools"] == [("generate_image", False)])
    return 0 if good else 1


if __name__ == "__main__":
    with open(sys.argv[1], encoding="utf-8") as handle:
        sys.exit(anyio.run(main, json.load(handle)))
