"""The relay emulator, exercised over real HTTP."""
from __future__ import annotations

import base64
import json
import socket
import struct
import zlib

import pytest
import requests

from bridge.emulator import start_emulator
from bridge.emulator.render import render_png
from bridge.images.sniff import read_info

KEY = "sk-emulator-test-0123456789"
AUTH = {"Authorization": f"Bearer {KEY}"}


@pytest.fixture(scope="module")
def em():
    with start_emulator() as emulator:
        yield emulator


def sse(raw: bytes) -> list[tuple[str | None, str]]:
    """(event, data) pairs; enough of the SSE rules for what the emulator writes."""
    text = raw.decode().lstrip("\ufeff").replace("\r\n", "\n").replace("\r", "\n")
    out = []
    for block in text.split("\n\n"):
        event, data = None, []
        for line in block.split("\n"):
            if line.startswith("event:"):
                event = line[6:].strip()
            elif line.startswith("data:"):
                data.append(line[5:].strip())
        if data:
            out.append((event, "\n".join(data)))
    return out


def png_rows(data: bytes) -> tuple[int, int, bytes]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, size = 8, b"", None
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        (crc,) = struct.unpack(">I", data[pos + 8 + length : pos + 12 + length])
        assert crc == zlib.crc32(kind + body)
        if kind == b"IHDR":
            size = struct.unpack(">II", body[:8])
            assert body[8:10] == b"\x08\x02"  # 8-bit RGB
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    return size[0], size[1], zlib.decompress(idat)


def responses_body(stream=True, partials=2, size="320x192", prompt="a fox", **tool):
    return {
        "model": "gpt-5", "stream": stream, "input": prompt,
        "tools": [{"type": "image_generation", "model": "gpt-image-emulator", "size": size, "partial_images": partials,
                   **tool}],
        "tool_choice": {"type": "image_generation"},
    }


def b64png(value: str) -> bytes:
    return base64.b64decode(value, validate=True)


def raw_http(url: str, path: str, body: bytes = b"") -> bytes:
    """One request over a plain socket, to see framing that HTTP clients hide."""
    host, port = url.split("//")[1].split("/")[0].split(":")
    prefix = "/" + url.split("//")[1].split("/", 1)[1]
    request = (f"POST {prefix}{path} HTTP/1.1\r\nHost: {host}:{port}\r\nAuthorization: Bearer {KEY}\r\n"
               f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n")
    with socket.create_connection((host, int(port)), timeout=5) as conn:
        conn.sendall(request.encode() + body)
        chunks = []
        while data := conn.recv(65536):
            chunks.append(data)
    return b"".join(chunks)


def test_png_is_valid_and_deterministic():
    first = render_png("a lighthouse", 300, 200)
    assert first == render_png("a lighthouse", 300, 200)
    assert first != render_png("a lighthouse at night", 300, 200)
    width, height, raw = png_rows(first)
    assert (width, height) == (300, 200)
    assert len(raw) == height * (1 + 3 * width)
    coarse = render_png("a lighthouse", 300, 200, coarse=2)
    assert coarse != first and png_rows(coarse)[:2] == (300, 200)
    noise = render_png("a lighthouse", 64, 48, noise=True)
    assert noise == render_png("a lighthouse", 64, 48, noise=True)
    assert len(noise) > 64 * 48 * 3  # random pixels do not compress
    assert len(png_rows(noise)[2]) == 48 * (1 + 3 * 64)


def test_responses_stream(em):
    r = requests.post(em.base_url + "/responses", json=responses_body(), headers=AUTH)
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/event-stream")
    assert r.headers["Transfer-Encoding"] == "chunked"
    events = sse(r.content)
    names = [name for name, _ in events]
    assert names == [
        "response.created", "response.in_progress", "response.output_item.added",
        "response.image_generation_call.in_progress", "response.image_generation_call.generating",
        "response.image_generation_call.partial_image", "response.image_generation_call.partial_image",
        "response.image_generation_call.completed", "response.output_item.done", "response.completed",
    ]
    payloads = [json.loads(data) for _, data in events]
    assert [p["sequence_number"] for p in payloads] == list(range(len(events)))
    assert all(p["type"] == name for p, name in zip(payloads, names))
    assert payloads[0]["response"]["model"] == "gpt-5"
    partials = [b64png(p["partial_image_b64"]) for p in payloads[5:7]]
    item = payloads[8]["item"]
    assert item["status"] == "completed" and item["revised_prompt"]
    final = b64png(item["result"])
    assert read_info(final).size == "320x192"
    assert all(read_info(p).size == "320x192" and p != final for p in partials)
    completed = payloads[9]["response"]
    assert completed["output"][0]["result"] == item["result"]
    assert completed["tools"][0]["model"] == "gpt-image-emulator" and completed["tool_usage"]["image_gen"]


def test_responses_json_edit_follows_source_size(em):
    source = render_png("source", 200, 120)
    body = responses_body(stream=False, partials=0, size="auto", output_format="webp")
    body["input"] = [{"role": "user", "content": [
        {"type": "input_text", "text": "add a hat"},
        {"type": "input_image", "image_url": "data:image/png;base64," + base64.b64encode(source).decode()},
    ]}]
    r = requests.post(em.base_url + "/responses", json=body, headers=AUTH)
    assert r.status_code == 200 and r.headers["Content-Type"] == "application/json"
    item = r.json()["output"][0]
    assert item["action"] == "edit" and item["output_format"] == "webp"  # echoed; bytes stay PNG
    info = read_info(b64png(item["result"]))
    assert (info.format, info.size) == ("png", "200x120")


def test_images_generations(em):
    r = requests.post(em.base_url + "/images/generations", headers=AUTH,
                      json={"model": "gpt-image-emulator", "prompt": "a cat", "n": 2, "size": "256x128"})
    body = r.json()
    assert r.status_code == 200 and body["size"] == "256x128" and body["usage"]["total_tokens"] > 0
    images = [b64png(d["b64_json"]) for d in body["data"]]
    assert len(images) == 2 and images[0] != images[1]
    assert all(read_info(i).size == "256x128" for i in images)

    r = requests.post(em.base_url + "/images/generations", headers=AUTH,
                      json={"prompt": "a cat", "n": 2, "size": "64x64", "stream": True, "partial_images": 1,
                            "model": "gpt-image-emulator"})
    assert [name for name, _ in sse(r.content)] == ["image_generation.partial_image", "image_generation.completed"] * 2


def test_edit_multipart_is_parsed_and_recorded(em):
    first, second, mask = render_png("one", 96, 64), render_png("two", 32, 32), render_png("mask", 96, 64)
    files = [("image[]", ("a.png", first, "image/png")), ("image[]", ("b.jpg", second, "image/jpeg")),
             ("mask", ("m.png", mask, "image/png"))]
    data = {"prompt": "add a red hat", "model": "gpt-image-1.5", "stream": "true", "partial_images": "1"}
    r = requests.post(em.url(trace="edit") + "/images/edits", headers=AUTH, files=files, data=data)
    events = sse(r.content)
    assert [name for name, _ in events] == ["image_edit.partial_image", "image_edit.completed"]
    assert read_info(b64png(json.loads(events[-1][1])["b64_json"])).size == "96x64"

    record = next(q for q in em.requests if q.options.get("trace") == "edit")
    assert record.method == "POST" and record.path == "/v1/images/edits"
    assert record.headers["authorization"] == AUTH["Authorization"]
    assert record.form == {"prompt": "add a red hat", "model": "gpt-image-1.5", "stream": "true",
                           "partial_images": "1"}
    assert [(p.name, p.filename, p.content_type) for p in record.files] == [
        ("image[]", "a.png", "image/png"), ("image[]", "b.jpg", "image/jpeg"), ("mask", "m.png", "image/png")]
    assert record.files[0].data == first and record.files[2].data == mask

    r = requests.post(em.base_url + "/images/edits", headers=AUTH, data={"prompt": "x"}, files={"x": ("x", b"")})
    assert r.status_code == 400 and r.json()["error"]["param"] == "image"


def test_errors_and_routes(em):
    r = requests.get(em.base_url + "/models")
    assert r.status_code == 401 and "API key" in r.json()["error"]["message"]
    r = requests.get(em.base_url + "/models", headers=AUTH)
    assert "gpt-image-1.5" in [m["id"] for m in r.json()["data"]]
    r = requests.post(em.base_url + "/nope", headers=AUTH)
    assert r.status_code == 404 and r.json()["error"]["message"] == "Invalid URL (POST /v1/nope)"
    r = requests.post(em.base_url.removesuffix("/v1") + "/api/responses", headers=AUTH)
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/html")
    r = requests.post(em.base_url + "/responses", json=responses_body(size="5000x100"), headers=AUTH)
    assert r.status_code == 400 and r.json()["error"]["param"] == "size"


def test_http_401_fault_echoes_the_key(em):
    r = requests.post(em.url(fault="http-401") + "/responses", json=responses_body(), headers=AUTH)
    assert r.status_code == 401 and KEY in r.json()["error"]["message"]


def test_url_result_file_refuses_authorization(em):
    r = requests.post(em.url(fault="url-result") + "/images/generations", headers=AUTH,
                      json={"prompt": "a boat", "size": "64x64", "model": "gpt-image-emulator"})
    url = r.json()["data"][0]["url"]
    assert requests.get(url, headers=AUTH).status_code == 403
    image = requests.get(url)
    assert image.status_code == 200 and image.headers["Content-Type"] == "image/png"
    assert read_info(image.content).size == "64x64"


def test_close_delimited_and_chunked_writes(em):
    body = json.dumps(responses_body(partials=1, size="64x64", prompt="same")).encode()
    plain = raw_http(em.base_url, "/responses", body)
    head, _, _ = plain.partition(b"\r\n\r\n")
    assert b"Transfer-Encoding: chunked" in head

    closed = raw_http(em.url(close=1), "/responses", body)
    head, _, payload = closed.partition(b"\r\n\r\n")
    assert b"Content-Length" not in head and b"Transfer-Encoding" not in head and b"Connection: close" in head
    assert [n for n, _ in sse(payload)][-1] == "response.completed"

    chunked = raw_http(em.url(chunk=128), "/responses", body)
    pieces, rest = [], chunked.partition(b"\r\n\r\n")[2]
    while True:
        size_line, _, rest = rest.partition(b"\r\n")
        size = int(size_line, 16)
        if size == 0:
            break
        pieces.append(rest[:size])
        rest = rest[size + 2 :]
    assert max(len(p) for p in pieces) == 128
    finals = [json.loads(d)["item"]["result"] for n, d in sse(b"".join(pieces)) if n == "response.output_item.done"]
    expected = [json.loads(d)["item"]["result"] for n, d in sse(payload) if n == "response.output_item.done"]
    assert finals == expected


def test_times_limits_a_fault(em):
    url = em.url(fault="http-500-json", times=1) + "/models"
    assert requests.get(url, headers=AUTH).status_code == 500
    assert requests.get(url, headers=AUTH).status_code == 200


def test_stream_faults(em):
    def stream(fault, **tool):
        r = requests.post(em.url(fault=fault) + "/responses", json=responses_body(**tool), headers=AUTH)
        return r, sse(r.content)

    r, events = stream("status-generating", partials=0)
    names = [n for n, _ in events]
    assert "response.image_generation_call.completed" not in names
    assert json.loads(events[names.index("response.output_item.done")][1])["item"]["status"] == "generating"

    _, events = stream("error-event-nested")
    assert events[-1][0] == "error" and json.loads(events[-1][1])["error"]["code"] == "credit_balance_exhausted"

    r, events = stream("no-event-lines", partials=0)
    assert b"event:" not in r.content and events[-1][1] == "[DONE]"

    r, _ = stream("crlf", partials=0)
    assert r.content.count(b"\n") == r.content.count(b"\r\n") > 0
    r, _ = stream("bom", partials=0)
    assert r.content.startswith(b"\xef\xbb\xbfevent: response.created")

    _, events = stream("big-event-cut", partials=0, size="256x256")
    assert events[-1][1] == "[DONE]" and len(events[-2][1]) == 65536 - len("data: ")

    with pytest.raises(requests.exceptions.ChunkedEncodingError):
        requests.post(em.url(fault="cut-after-partial") + "/responses", json=responses_body(partials=0),
                      headers=AUTH).content
    with pytest.raises(requests.exceptions.ConnectionError):
        requests.get(em.url(fault="drop") + "/models", headers=AUTH)

    r = requests.post(em.url(fault="unknown-param", param="style") + "/images/generations", headers=AUTH,
                      json={"prompt": "x", "size": "32x32", "style": "vivid", "model": "gpt-image-emulator"})
    assert r.status_code == 400 and r.json()["error"] == {
        "message": "Unknown parameter: 'style'.", "type": "invalid_request_error", "param": "style",
        "code": "unknown_parameter"}
    r = requests.post(em.url(fault="leading-whitespace") + "/responses", json=responses_body(partials=0),
                      headers=AUTH)
    assert r.content.startswith(b"\n\n   \n{") and r.headers["Content-Type"] == "application/json"
