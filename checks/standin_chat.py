"""The OpenAI Chat Completions wire for the stand-in model (Qwen Code, opencode, Copilot CLI).

Reads which generate_image tool a request offers and what our calls returned, and writes the
next turn as a streamed (or plain) chat completion. Qwen Code defers MCP tools: they are listed
by name only, ``tool_search`` returns their declarations, and ``tool_call`` invokes one by name.
So when generate_image is not offered, the turn is a tool_search for it, and then calls go
through tool_call.
"""
from __future__ import annotations

import json
import re
import time
import uuid

TOOL = "generate_image"
SEARCH, PROXY = "tool_search", "tool_call"


def _function(tool: dict) -> dict:
    return tool.get("function") or tool


def tool_names(body: dict) -> list[str]:
    return [_function(t).get("name", "") for t in body.get("tools") or []]


def _calls(body: dict) -> list[dict]:
    return [c for m in body.get("messages", []) if m.get("role") == "assistant" for c in m.get("tool_calls") or []]


def _arguments(call: dict) -> dict:
    try:
        value = json.loads(call.get("function", {}).get("arguments") or "{}")
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def plan(body: dict, pick) -> tuple[str, str | None]:
    """('direct', name) when generate_image is offered; ('proxy', name) when tool_search has shown
    it; ('search', None) when tool_search can find it; ('none', None) otherwise."""
    offered = pick([n for n in tool_names(body) if n.endswith(TOOL)])
    if offered:
        return "direct", offered
    found = deferred(body)
    if found and PROXY in tool_names(body):
        return "proxy", found
    if SEARCH in tool_names(body) and not any(c.get("function", {}).get("name") == SEARCH for c in _calls(body)):
        return "search", None
    return "none", None


def deferred(body: dict) -> str | None:
    """The generate_image name a tool_search result declared."""
    searches = {c.get("id") for c in _calls(body) if c.get("function", {}).get("name") == SEARCH}
    for message in body.get("messages", []):
        if message.get("role") == "tool" and message.get("tool_call_id") in searches:
            found = re.search(r'"name":\s*"([^"]*' + TOOL + ')"', text_of(message.get("content")))
            if found:
                return found.group(1)
    return None


def search_arguments(body: dict) -> dict:
    schema = next(_function(t).get("parameters", {}) for t in body["tools"] if _function(t).get("name") == SEARCH)
    properties = list(schema.get("properties") or {})
    return {(properties[0] if properties else "query"): TOOL}


def text_of(content) -> str:
    if isinstance(content, list):
        return "\n".join(p.get("text", "") for p in content if isinstance(p, dict) and p.get("type") == "text")
    return str(content or "")


def results(body: dict, name: str | None) -> list[tuple[str, bool]]:
    """(text, is_error) of our calls: made directly, or through tool_call."""
    ours = {c.get("id") for c in _calls(body) if c.get("function", {}).get("name") == name
            or (c.get("function", {}).get("name") == PROXY and _arguments(c).get("name") == name)}
    out = []
    for message in body.get("messages", []):
        if message.get("role") == "tool" and message.get("tool_call_id") in ours:
            text = text_of(message.get("content"))
            out.append((text, not text.lstrip().startswith("![")))
    return out


def _call(name: str, arguments: object) -> dict:
    return {"index": 0, "id": "call_" + uuid.uuid4().hex[:12], "type": "function",
            "function": {"name": name, "arguments": json.dumps(arguments)}}


def chunks(action: str, value: object, name: str | None, model: str) -> list[dict]:
    """The streamed turn: ``call`` (value = arguments, to ``name``) or ``say``."""
    base = {"id": "chatcmpl-" + uuid.uuid4().hex[:12], "object": "chat.completion.chunk", "created": int(time.time()),
            "model": model}
    if action == "call":
        delta, finish = {"role": "assistant", "content": None, "tool_calls": [_call(name, value)]}, "tool_calls"
    else:
        delta, finish = {"role": "assistant", "content": value}, "stop"
    usage = {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}
    return [{**base, "choices": [{"index": 0, "delta": delta, "finish_reason": None}]},
            {**base, "choices": [{"index": 0, "delta": {}, "finish_reason": finish}]},
            {**base, "choices": [], "usage": usage}]


def message(action: str, value: object, name: str | None, model: str) -> dict:
    if action == "call":
        reply, finish = {"role": "assistant", "content": None, "tool_calls": [_call(name, value)]}, "tool_calls"
    else:
        reply, finish = {"role": "assistant", "content": value}, "stop"
    return {"id": "chatcmpl-" + uuid.uuid4().hex[:12], "object": "chat.completion", "created": int(time.time()),
            "model": model, "choices": [{"index": 0, "message": reply, "finish_reason": finish}],
            "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}}
