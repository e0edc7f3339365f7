"""The Anthropic Messages wire for the stand-in model (Claude Code).

Reads which generate_image tool a request offers and what our calls returned, and writes the next
turn as a streamed (or plain) message. Two things a real model meets in Claude Code 2.1.332:

- Plugin MCP tools are deferred: the first request names them in a system text and offers only
  ``ToolSearch``; a search returns ``tool_reference`` blocks and loads the tool into the next
  requests. So while words are left to search for (``--search``), the turn is a ToolSearch call.
- A call answered with an MCP task (or moved to the background after two minutes) returns at once
  with a text saying so, and the result arrives later in a user turn as a ``<task-notification>``.
  Those notifications count as results of our calls, in order.
"""
from __future__ import annotations

import json
import re
import uuid

TOOL = "generate_image"
SEARCH = "ToolSearch"
WAIT = "WaitForMcpServers"  # what Claude Code offers while a server still connects (2.1.197's interface)
CONNECTING = "still connecting"  # a search made before the server connected: search again
MAX_SEARCHES = 30
NOTIFICATION = re.compile(r"<task-notification>(.*?)</task-notification>", re.S)


def blocks(message: dict) -> list[dict]:
    content = message.get("content")
    return content if isinstance(content, list) else [{"type": "text", "text": content or ""}]


def tool(body: dict, pick) -> str | None:
    return pick([t["name"] for t in body.get("tools") or [] if t.get("name", "").endswith(TOOL)])


def _uses(body: dict, name: str) -> list[dict]:
    return [b for m in body.get("messages", []) if m.get("role") == "assistant"
            for b in blocks(m) if b.get("type") == "tool_use" and b.get("name") == name]


def search_query(body: dict, words: list[str], ours: str | None) -> str | None:
    """The next word to look generate_image up by, while ToolSearch is offered and words are left (a
    search made while the server was still connecting is made again); a client that offers the tool
    from the start (no search begun) is not searched."""
    if not _offered(body, SEARCH):
        return None
    done = searches(body)
    if (ours is not None and not done) or len(done) >= MAX_SEARCHES:
        return None
    answered = {query for query, _, text in done if CONNECTING not in text}
    left = [word for word in words if word not in answered]
    return left[0] if left else None


def connecting(body: dict) -> bool:
    """The last search found nothing because a server was still connecting."""
    done = searches(body)
    return bool(done) and CONNECTING in done[-1][2]


def wait_for_servers(body: dict, ours: str | None) -> bool:
    """The tool is missing while servers connect: wait for them, once, as a model is told to."""
    return ours is None and _offered(body, WAIT) and not _uses(body, WAIT)


def _offered(body: dict, name: str) -> bool:
    return any(t.get("name") == name for t in body.get("tools") or [])


def searches(body: dict) -> list[tuple[str, list[str], str]]:
    """Each ToolSearch query of the conversation, the tool names its result listed, and its text, in order."""
    queries = {use["id"]: use.get("input", {}).get("query") for use in _uses(body, SEARCH)}
    out = []
    for message in body.get("messages", []):
        for block in blocks(message):
            if block.get("type") == "tool_result" and block.get("tool_use_id") in queries:
                content = block.get("content")
                items = content if isinstance(content, list) else [{"type": "text", "text": str(content or "")}]
                names = [c.get("tool_name") for c in items if c.get("type") == "tool_reference"]
                text = " ".join(c.get("text", "") for c in items if c.get("type") == "text")
                out.append((queries[block["tool_use_id"]], names, text))
    return out


def results(body: dict, name: str | None) -> list[tuple[str, bool]]:
    """(text, is_error) of our calls, then of the task notifications that carry a result of our tool."""
    ours = {use["id"] for use in _uses(body, name)} if name else set()
    out = []
    for message in body.get("messages", []):
        for block in blocks(message):
            if block.get("type") == "tool_result" and block.get("tool_use_id") in ours:
                content = block.get("content")
                text = content if isinstance(content, str) else "".join(
                    c.get("text", "") for c in content or [] if c.get("type") == "text")
                out.append((text, bool(block.get("is_error"))))
            elif block.get("type") == "text" and message.get("role") == "user":
                for note in NOTIFICATION.findall(block.get("text", "")):
                    found = re.search(r"<result>\n?(.*?)\n?</result>", note, re.S)
                    if found and TOOL in note:
                        text = found.group(1)
                        out.append((text, not text.startswith("![")))
    return out


def events(action: str, value: object, name: str | None, model: str) -> list[tuple[str, dict]]:
    message = {"id": "msg_" + uuid.uuid4().hex[:12], "type": "message", "role": "assistant", "model": model,
               "content": [], "stop_reason": None, "stop_sequence": None,
               "usage": {"input_tokens": 10, "output_tokens": 1}}
    out = [("message_start", {"type": "message_start", "message": message})]
    if action == "call":
        block = {"type": "tool_use", "id": "toolu_" + uuid.uuid4().hex[:12], "name": name, "input": {}}
        delta = {"type": "input_json_delta", "partial_json": json.dumps(value)}
        stop = "tool_use"
    else:
        block, delta, stop = {"type": "text", "text": ""}, {"type": "text_delta", "text": value}, "end_turn"
    out += [("content_block_start", {"type": "content_block_start", "index": 0, "content_block": block}),
            ("content_block_delta", {"type": "content_block_delta", "index": 0, "delta": delta}),
            ("content_block_stop", {"type": "content_block_stop", "index": 0}),
            ("message_delta", {"type": "message_delta", "delta": {"stop_reason": stop, "stop_sequence": None},
                               "usage": {"output_tokens": 5}}),
            ("message_stop", {"type": "message_stop"})]
    return out


def message(action: str, value: object, name: str | None, model: str) -> dict:
    if action == "call":
        content = [{"type": "tool_use", "id": "toolu_" + uuid.uuid4().hex[:12], "name": name, "input": value}]
    else:
        content = [{"type": "text", "text": value}]
    return {"id": "msg_" + uuid.uuid4().hex[:12], "type": "message", "role": "assistant", "model": model,
            "content": content, "stop_reason": "tool_use" if action == "call" else "end_turn",
            "stop_sequence": None, "usage": {"input_tokens": 10, "output_tokens": 5}}
