"""The Gemini API wire for the stand-in model (Gemini CLI): ``:streamGenerateContent?alt=sse`` for
turns, ``:generateContent`` for the CLI's side requests (routing, summaries), ``:countTokens``.

Tool results come back as ``functionResponse`` parts; Gemini CLI wraps the server's text in
``<untrusted_context>``, which is taken off here to read what the server sent.
"""
from __future__ import annotations

import json
import re

TOOL = "generate_image"
WRAPPER = re.compile(r"^\s*<untrusted_context>\s*\n?(.*?)\n?\s*</untrusted_context>", re.S)


def tool_names(body: dict) -> list[str]:
    return [d.get("name", "") for t in body.get("tools") or [] for d in t.get("functionDeclarations") or []]


def tool(body: dict, pick) -> str | None:
    return pick([n for n in tool_names(body) if n.endswith(TOOL)])


def response_text(response: object) -> str:
    """The text of a functionResponse's ``response`` (``{"output": …}`` or ``{"content": [...]}``)."""
    if isinstance(response, dict):
        for key in ("output", "content", "result", "error"):
            if key in response:
                value = response[key]
                if isinstance(value, list):
                    return "\n".join(v.get("text", "") for v in value if isinstance(v, dict))
                return value if isinstance(value, str) else json.dumps(value)
        return json.dumps(response)
    return str(response or "")


def unwrap(text: str) -> str:
    match = WRAPPER.match(text)
    return match.group(1) if match else text


def results(body: dict, name: str | None) -> list[tuple[str, bool]]:
    out = []
    for content in body.get("contents", []):
        for part in content.get("parts") or []:
            call = part.get("functionResponse")
            if call and call.get("name") == name:
                response = call.get("response")
                text = unwrap(response_text(response))
                out.append((text, isinstance(response, dict) and "error" in response or not text.startswith("![")))
    return out


def candidate(action: str, value: object, name: str | None) -> dict:
    part = {"functionCall": {"name": name, "args": value}} if action == "call" else {"text": value}
    return {"candidates": [{"content": {"role": "model", "parts": [part]}, "finishReason": "STOP", "index": 0}],
            "usageMetadata": {"promptTokenCount": 10, "candidatesTokenCount": 5, "totalTokenCount": 15},
            "modelVersion": "standin"}


def side_answer(body: dict) -> str:
    """A side request (the CLI's router asks for JSON of a given schema): a minimal valid answer."""
    schema = (body.get("generationConfig") or {}).get("responseJsonSchema")
    if not isinstance(schema, dict):
        return "ok"
    samples = {"STRING": "stand-in", "INTEGER": 10, "NUMBER": 10, "BOOLEAN": False, "ARRAY": [], "OBJECT": {}}
    properties = schema.get("properties") or {}
    return json.dumps({k: samples.get(str(v.get("type", "STRING")).upper(), "stand-in") for k, v in properties.items()})
