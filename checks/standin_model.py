#!/usr/bin/env python3
"""A scripted stand-in for the model behind the agents, to see what a model receives.

It speaks the Anthropic Messages API (``POST /v1/messages``, streamed or not; ``standin_anthropic``:
a deferred tool is looked up through ToolSearch first, by each word of --search) for Claude Code,
the OpenAI Responses API (``POST /v1/responses``, streamed) for Codex, Chat Completions
(``standin_chat``) for Qwen Code, opencode and Copilot CLI, and the Gemini API
(``standin_gemini``) for Gemini CLI; records every request it gets (one JSON line each), and
plays a short script: call ``generate_image``, read the result, answer. It never talks to
anything but its clients, on loopback.

Scripts (``--script``):
  image      call generate_image once with --arguments, then reply with the result's first line;
             when the client says the call runs on in the background (an MCP task), say so at once
             and reply with the tag when the result comes as a task notification
  recover    call generate_image; when that call fails (a client time limit), wait until an image
             lands in --watch, call generate_image again, and when its result names an earlier
             job id, call generate_image with that job_id; then reply
  retry      call generate_image; while a call fails (a client time limit), call it again with the
             same arguments, up to five calls in all, as a model told "Request timed out" does;
             then reply
"""
from __future__ import annotations

import argparse
import json
import re
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import standin_anthropic
import standin_chat
import standin_gemini

TOOL = "generate_image"
# Claude Code's words when a call became a task, or was moved to the background after two minutes.
BACKGROUND = re.compile(r"started server-side task|was moved to the background")
WAITING = "The image is being made in the background; I will show it here as soon as it arrives."


class Director:
    """Decides the next model turn from the conversation the client sent."""

    def __init__(self, script: str, arguments: dict, watch: Path | None) -> None:
        self.script, self.arguments, self.watch = script, arguments, watch

    def next(self, tool_name: str | None, results: list[tuple[str, bool]]) -> tuple[str, object]:
        """('call', arguments) or ('say', text); ``results`` are (text, is_error) of our calls so far."""
        if tool_name is None:
            return "say", "No image tool is available."
        if not results:
            return "call", self.arguments
        text, failed = results[-1]
        if self.script == "retry" and failed and len(results) < 5:
            return "call", self.arguments
        if self.script == "recover":
            if len(results) == 1:
                self._wait_for_an_image()
                # A quick second image (the Images API answers at once) whose result reports the first job.
                return "call", {"prompt": "a small blue square", "size": "256x256", "api_mode": "images"}
            earlier = re.search(r"Earlier job (job_[0-9a-f]+)", text)
            if len(results) == 2 and earlier:
                return "call", {"prompt": self.arguments["prompt"], "job_id": earlier.group(1)}
        if BACKGROUND.search(text):  # the client runs the call on and brings its result later
            return "say", WAITING
        first = text.splitlines()[0] if text else ""
        return "say", f"Here is the image:\n\n{first}" if first.startswith("![") else f"It failed: {first}"

    def _wait_for_an_image(self) -> None:
        deadline = time.monotonic() + 120
        while self.watch is not None and time.monotonic() < deadline:
            if [p for p in self.watch.glob("*.*") if p.is_file() and "-partial-" not in p.name]:
                time.sleep(1.0)  # the job records its end just after the file is published
                return
            time.sleep(0.2)


PREFER: list[str] = []  # --prefer: among several generate_image tools, the one whose name holds this
SEARCHES: list[str] = ["image"]  # --search: the words a deferred generate_image is looked up by, in turn


def _pick(names: list[str]) -> str | None:
    preferred = [n for n in names if PREFER and PREFER[0] in n]
    return (preferred or names or [None])[0]


# -- OpenAI Responses (Codex) ------------------------------------------------------------------

def responses_tool(body: dict) -> str | None:
    """The tool's name; an MCP server's tools sit in a namespace, named ``namespace/tool`` here."""
    names = []
    for tool in body.get("tools") or []:
        name = tool.get("name") or ""
        if name.endswith(TOOL):
            names.append(name)
        for inner in tool.get("tools") or []:
            if (inner.get("name") or "").endswith(TOOL):
                names.append(f"{name}/{inner['name']}")
    return _pick(names)


def responses_results(body: dict, tool: str | None) -> list[tuple[str, bool]]:
    items = body.get("input") or []
    ours = {i.get("call_id") for i in items if i.get("type") == "function_call" and _qualified(i) == tool}
    out = []
    for item in items:
        if item.get("type") == "function_call_output" and item.get("call_id") in ours:
            output = item.get("output")
            texts = [o.get("text", "") for o in output if o.get("type") in ("input_text", "output_text")] \
                if isinstance(output, list) else [str(output or "")]
            # Codex leads with "Wall time: …\nOutput:"; the server's own text follows it.
            if texts and texts[0].startswith("Wall time"):
                rest = texts[0].split("Output:", 1)[1].lstrip("\n") if "Output:" in texts[0] else ""
                texts = ([rest] if rest else []) + texts[1:]
            text = "\n".join(texts)
            out.append((text, not text.startswith("![")))
    return out


def _qualified(item: dict) -> str:
    return f"{item['namespace']}/{item.get('name')}" if item.get("namespace") else str(item.get("name"))


def responses_events(action: str, value: object, tool: str | None, model: str) -> list[tuple[str, dict]]:
    rid = "resp_" + uuid.uuid4().hex[:12]
    shell = {"id": rid, "object": "response", "created_at": int(time.time()), "status": "in_progress",
             "model": model, "output": []}
    if action == "call":
        namespace, _, name = tool.rpartition("/")
        item = {"type": "function_call", "id": "fc_" + uuid.uuid4().hex[:12], "call_id": "call_" + uuid.uuid4().hex[:12],
                "name": name, "arguments": json.dumps(value), "status": "completed"}
        if namespace:
            item["namespace"] = namespace
    else:
        item = {"type": "message", "id": "msg_" + uuid.uuid4().hex[:12], "role": "assistant", "status": "completed",
                "content": [{"type": "output_text", "text": value, "annotations": []}]}
    usage = {"input_tokens": 10, "input_tokens_details": {"cached_tokens": 0}, "output_tokens": 5,
             "output_tokens_details": {"reasoning_tokens": 0}, "total_tokens": 15}
    done = {**shell, "status": "completed", "output": [item], "usage": usage}
    return [("response.created", {"type": "response.created", "response": shell}),
            ("response.output_item.added", {"type": "response.output_item.added", "output_index": 0,
                                            "item": {**item, "status": "in_progress"}}),
            ("response.output_item.done", {"type": "response.output_item.done", "output_index": 0, "item": item}),
            ("response.completed", {"type": "response.completed", "response": done})]


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args) -> None:
        pass

    def do_GET(self) -> None:
        self._json(200, {"object": "list", "data": [{"id": "standin", "object": "model"}]})

    def do_HEAD(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            body = {}
        path = self.path.split("?")[0]
        self.server.record(path, body)
        model = body.get("model") or "standin"
        if path.endswith("/count_tokens"):
            return self._json(200, {"input_tokens": 10})
        if path.endswith("/messages"):
            tool = standin_anthropic.tool(body, _pick)
            query = standin_anthropic.search_query(body, SEARCHES, tool)
            if not body.get("tools"):  # side requests (titles, summaries): a plain short answer
                action, value = "say", "ok"
            elif query is not None:  # the tool is deferred behind ToolSearch: look it up first
                if standin_anthropic.connecting(body):
                    time.sleep(1.0)  # its server is still connecting: give it a moment before searching again
                action, value, tool = "call", {"query": query}, standin_anthropic.SEARCH
            elif standin_anthropic.wait_for_servers(body, tool):
                action, value, tool = "call", {}, standin_anthropic.WAIT
            else:
                action, value = self.server.director.next(tool, standin_anthropic.results(body, tool))
            if body.get("stream"):
                return self._sse(standin_anthropic.events(action, value, tool, model))
            return self._json(200, standin_anthropic.message(action, value, tool, model))
        if path.endswith("/chat/completions"):
            return self._chat(body, model)
        if ":" in path.rsplit("/", 1)[-1]:  # Gemini: /v1beta/models/<model>:<method>
            return self._gemini(path.rsplit(":", 1)[1], body)
        if path.endswith("/responses"):
            tool = responses_tool(body)
            action, value = self.server.director.next(tool, responses_results(body, tool))
            return self._sse(responses_events(action, value, tool, model))
        self._json(404, {"error": {"message": f"no route {path}"}})

    def _chat(self, body: dict, model: str) -> None:
        how, tool = standin_chat.plan(body, _pick)
        if not body.get("tools"):  # side requests (titles, summaries): a plain short answer
            action, value = "say", "ok"
        elif how == "search":
            action, value, tool = "call", standin_chat.search_arguments(body), standin_chat.SEARCH
        else:
            action, value = self.server.director.next(tool, standin_chat.results(body, tool))
            if how == "proxy" and action == "call":
                action, value, tool = "call", {"name": tool, "arguments": value}, standin_chat.PROXY
        if body.get("stream"):
            return self._sse([(None, c) for c in standin_chat.chunks(action, value, tool, model)], done=True)
        return self._json(200, standin_chat.message(action, value, tool, model))

    def _gemini(self, method: str, body: dict) -> None:
        if method == "countTokens":
            return self._json(200, {"totalTokens": 10})
        tool = standin_gemini.tool(body, _pick)
        if not body.get("tools"):  # the CLI's own side requests (model routing, summaries)
            action, value = "say", standin_gemini.side_answer(body)
        else:
            action, value = self.server.director.next(tool, standin_gemini.results(body, tool))
        answer = standin_gemini.candidate(action, value, tool)
        if method == "streamGenerateContent":
            return self._sse([(None, answer)])
        return self._json(200, answer)

    def _json(self, status: int, payload: dict) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _sse(self, events: list[tuple[str | None, dict]], done: bool = False) -> None:
        data = "".join((f"event: {name}\n" if name else "") + f"data: {json.dumps(payload)}\n\n"
                       for name, payload in events) + ("data: [DONE]\n\n" if done else "")
        data = data.encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


class Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address, director: Director, record: Path) -> None:
        super().__init__(address, Handler)
        self.director = director
        self._record_path = record
        self._lock = threading.Lock()

    def record(self, path: str, body: dict) -> None:
        with self._lock, open(self._record_path, "a", encoding="utf-8") as handle:
            handle.write(json.dumps({"time": time.time(), "path": path, "body": body}) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--port-file", type=Path, required=True, help="written with the port once listening")
    parser.add_argument("--record", type=Path, required=True, help="JSON lines, one per request")
    parser.add_argument("--script", choices=("image", "recover", "retry"), default="image")
    parser.add_argument("--arguments", type=json.loads, default={"prompt": "a red fox in the snow", "size": "1024x1024"})
    parser.add_argument("--watch", type=Path, help="recover: the folder where the image will land")
    parser.add_argument("--prefer", help="among several generate_image tools, use the one whose name holds this")
    parser.add_argument("--search", default="image",
                        help="comma-separated words to look a deferred generate_image up by, one search each")
    args = parser.parse_args()
    if args.prefer:
        PREFER.append(args.prefer)
    SEARCHES[:] = [word for word in args.search.split(",") if word]
    server = Server(("127.0.0.1", args.port), Director(args.script, args.arguments, args.watch), args.record)
    args.port_file.write_text(str(server.server_address[1]), encoding="utf-8")
    server.serve_forever()


if __name__ == "__main__":
    main()
