"""Async image tasks over real HTTP against the emulator: a 202 or a task object is polled to its
image with one generation request, a run stopped while polling names the task, and --task fetches
it later without a second generation. Proxy time-outs are one clear error, never retried."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bridge.images.sniff import read_info
from bridge.relay import tasks
from tests.clirun import as_in_a_terminal, run_cli
from tests.conftest import SENTINEL_KEY, posted, tagged


def polls(emulator, tag: str) -> list:
    """The GETs of the relay's tasks under ``tag`` (the generation requests are ``posted``)."""
    return [r for r in emulator.requests if r.options.get("tag") == tag and r.method == "GET"
            and r.path.startswith("/v1/images/generations/")]


@pytest.fixture
def images_env(relay_env, monkeypatch):
    monkeypatch.setenv("IMAGE_RELAY_API_MODE", "images")
    return relay_env


def test_asking_for_a_task_polls_the_202_to_the_image_with_one_generation(images_env, emulator, monkeypatch):
    tag = tagged(monkeypatch, emulator, tasktime=1.2, retry=0.3)
    run = run_cli("--async", "an async heron")
    assert run.code == 0, run.stdout
    result = run.json
    assert result["actual_size"] == "64x48" and read_info(Path(result["image_path"]).read_bytes()).size == "64x48"
    (generation,) = posted(emulator, tag)  # one billed request; the rest are GETs of the task
    assert generation.json["async"] is True and generation.headers["prefer"] == "respond-async"
    key = generation.headers["idempotency-key"]
    assert len(key) == 36 and key.count("-") == 4
    asked = polls(emulator, tag)
    task_id = result["task_id"]
    assert len(asked) >= 2 and all(p.path == f"/v1/images/generations/{task_id}" for p in asked)
    assert all("authorization" in p.headers for p in asked)  # the relay's own route, with the key
    # The relay's own progress, as the relay's; Retry-After (0.3 s) is what paced the polls.
    said = [line for line in run.progress if "The relay says" in line]
    assert said and all(line.rstrip().endswith("(in_progress).") for line in said), run.progress
    assert any(f"task {task_id}" in line for line in run.progress)
    gaps = [b.at - a.at for a, b in zip([generation, *asked], asked)]
    assert all(gap >= 0.25 for gap in gaps), gaps
    log = Path(result["raw_log_path"]).read_text(encoding="utf-8")
    assert f"task {task_id}" in log and f"GET {{base}}/images/generations/{task_id}" in log
    assert f"Idempotency-Key: {key}" in log and SENTINEL_KEY not in log
    assert result["usage"]["image_tokens"] > 0


@pytest.mark.parametrize("shape", ["newapi", "wrapped", "mj"])
def test_a_relay_that_answers_its_own_task_object_unasked_is_polled(images_env, emulator, monkeypatch, shape):
    tag = tagged(monkeypatch, emulator, task=shape, tasktime=0.6, retry=0.2)
    run = run_cli(f"a {shape} task")
    assert run.code == 0, run.stdout
    assert run.json["actual_size"] == "64x48" and run.json["task_id"].startswith("task_")
    assert len(posted(emulator, tag)) == 1 and len(polls(emulator, tag)) >= 1
    assert "async" not in posted(emulator, tag)[0].json  # not asked: the relay answers tasks of its own accord


def test_a_run_stopped_by_its_time_out_mid_poll_is_finished_with_task_without_a_second_generation(
        images_env, emulator, monkeypatch):
    tag = tagged(monkeypatch, emulator, tasktime=2.5, retry=0.3)
    stopped = run_cli("--async", "--timeout", "1.2", "a slow heron")
    assert stopped.code == 6, stopped.stdout
    error = stopped.json["error"]
    task_id = stopped.json["task_id"]
    assert error["code"] == "deadline" and error["task_id"] == task_id
    assert f"image-relay-generate --task {task_id}" in error["message"]
    assert f"--task {task_id}" in stopped.stderr  # the human-readable line says it too
    time.sleep(1.5)
    fetched = run_cli("--task", task_id, "--no-open")
    assert fetched.code == 0, fetched.stdout
    assert fetched.json["task_id"] == task_id and Path(fetched.json["image_path"]).is_file()
    assert len(posted(emulator, tag)) == 1  # the generation was asked for once, whatever happened after


def test_ctrl_c_while_polling_names_the_task(images_env, emulator, monkeypatch, tmp_path):
    """A real process, interrupted with SIGINT while it waits for the relay's task."""
    if sys.platform == "win32":
        pytest.skip("POSIX only: SIGINT cannot be sent to a process on Windows; Ctrl-C arrives as a console event, "
                    "which Wine cannot deliver")
    tag = tagged(monkeypatch, emulator, tasktime=30, retry=0.2)
    proc = subprocess.Popen([sys.executable, "-m", "bridge.cli", "--async", "--no-open", "a heron stopped"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=dict(os.environ), cwd=str(tmp_path),
                            preexec_fn=as_in_a_terminal)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and len(polls(emulator, tag)) < 2:
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=20)
    result = json.loads(out)
    assert proc.returncode == 130, err
    assert result["error"]["code"] == "interrupted" and result["task_id"] == result["error"]["task_id"]
    assert f"--task {result['task_id']}" in result["error"]["message"]
    assert len(posted(emulator, tag)) == 1


def test_a_task_the_relay_fails_is_one_error_and_no_new_generation(images_env, emulator, monkeypatch):
    tag = tagged(monkeypatch, emulator, fault="task-failed", tasktime=0.3, retry=0.2)
    run = run_cli("--async", "a failing task")
    assert run.code == 5, run.stdout
    error = run.json["error"]
    assert error["code"] == "task_failed" and "The relay's task task_" in error["message"]
    assert "generation failed" in error["message"].lower() and "task_id" not in error  # nothing left to fetch
    assert len(posted(emulator, tag)) == 1


def test_an_unknown_task_is_a_clear_error(images_env, emulator, monkeypatch):
    tag = tagged(monkeypatch, emulator)
    run = run_cli("--task", "task_does_not_exist")
    assert run.code == 4 and run.json["error"]["code"] == "task_not_found"
    assert "task_does_not_exist" in run.json["error"]["message"] and posted(emulator, tag) == []


def test_a_poll_that_fails_on_the_way_is_asked_again(images_env, emulator, monkeypatch):
    """The first poll meets a gateway's 502 page: a GET bills nothing, so it is simply asked again."""
    tag = tagged(monkeypatch, emulator, task="newapi", tasktime=0.5, retry=0.2)
    accepted = run_cli("--timeout", "0.6", "a task to poll later")
    task_id = accepted.json["task_id"]
    tagged_url = emulator.url(tag=tag, fault="http-502-html", times=2)  # this prefix's first two requests
    monkeypatch.setenv("IMAGE_RELAY_BASE_URL", tagged_url)
    run = run_cli("--task", task_id)
    assert run.code == 0, run.stdout
    assert any("asking again" in line for line in run.progress)
    assert len(posted(emulator, tag)) == 1


def test_a_bad_task_id_is_refused_before_anything_is_sent(images_env, emulator, monkeypatch):
    tag = tagged(monkeypatch, emulator)
    run = run_cli("--task", "../../etc/passwd")
    assert run.code == 2 and run.json["error"]["code"] == "invalid_input"
    assert [r for r in emulator.requests if r.options.get("tag") == tag] == []


@pytest.mark.parametrize("fault, status", [("http-524-html", 524), ("http-504-html", 504)])
def test_a_proxy_time_out_says_the_image_may_be_billed_and_how_to_go_async(images_env, emulator, monkeypatch,
                                                                           fault, status):
    monkeypatch.setenv("IMAGE_RELAY_RETRY_SERVER_ERRORS", "true")  # even opted in: never replayed
    tag = tagged(monkeypatch, emulator, fault=fault)
    run = run_cli("a slow heron")
    assert run.code == 5, run.stdout
    error = run.json["error"]
    assert error["code"] == "proxy_timeout" and error["status_code"] == status and error["retryable"] is False
    assert "may still be making the image and may bill it" in error["message"]
    assert "IMAGE_RELAY_ASYNC=true" in error["message"] and "<" not in error["message"]
    assert len(posted(emulator, tag)) == 1


def test_the_idempotency_key_stays_the_same_for_every_attempt_of_a_job(images_env, emulator, monkeypatch):
    """A 429 (nothing billed) is retried; the retry carries the same key, so a relay that did take the
    first request answers the task it already made instead of a second, billed one."""
    tag = tagged(monkeypatch, emulator, fault="rate-limit", times=1, tasktime=0.3, retry=0.2)
    run = run_cli("--async", "a heron asked twice")
    assert run.code == 0, run.stdout
    first, second = posted(emulator, tag)
    assert first.headers["idempotency-key"] == second.headers["idempotency-key"]
    again = run_cli("--async", "another heron")
    assert posted(emulator, tag)[2].headers["idempotency-key"] != first.headers["idempotency-key"]  # a new job
    assert again.code == 0


@pytest.mark.parametrize("status, title, is_proxy", [
    (502, "502 Gateway Time-out", True), (408, "Request Timeout: upstream timed out", True),
    (502, "502 Bad Gateway", False), (522, "Connection timed out", False)])
def test_gateway_time_out_pages_are_proxy_time_outs(status, title, is_proxy):
    from bridge.relay.diagnose import error_from_body
    from bridge.relay.retry import proxy_timeout
    page = f"<html><head><title>{title}</title></head><body>nginx</body></html>".encode()
    found = proxy_timeout(error_from_body(status, "text/html", page), async_on=False)
    assert (found is not None and found.code == "proxy_timeout") is is_proxy


# -- task objects, pure ------------------------------------------------------------------------------

@pytest.mark.parametrize("payload, state, progress, links", [
    ({"id": "t1", "task_id": "t1", "object": "image.generation.task", "status": "in_progress", "progress": 40},
     "running", 40, []),
    ({"task_id": "t1", "status": "succeeded", "progress": 100, "result_url": "https://cdn.example/a.png",
      "data": [{"url": "https://cdn.example/a.png"}], "error": None}, "done", 100, ["https://cdn.example/a.png"]),
    ({"code": 0, "message": "success", "data": {"task_id": "t1", "task_status": "processing"}}, "running", None, []),
    ({"code": 0, "data": {"task_id": "t1", "task_status": "succeed",
                          "task_result": {"images": [{"index": 0, "url": "https://cdn.example/k.png"}]}}},
     "done", None, ["https://cdn.example/k.png"]),
    ({"id": "t1", "status": "IN_PROGRESS", "progress": "40%", "imageUrl": ""}, "running", 40, []),
    ({"id": "t1", "status": "SUCCESS", "progress": "100%", "imageUrl": "https://cdn.example/m.png"}, "done", 100,
     ["https://cdn.example/m.png"]),
    ({"id": "t1", "object": "generation.task", "status": "completed", "results": ["https://cdn.example/r.png"]},
     "done", None, ["https://cdn.example/r.png"]),
])
def test_task_shapes_are_read(payload, state, progress, links):
    task = tasks.read(payload)
    assert task is not None and task.id == "t1" and task.state == state and task.progress == progress
    assert task.links == links


@pytest.mark.parametrize("payload", [
    {"created": 1, "data": [{"b64_json": "AAAA"}]},
    {"id": "resp_1", "object": "response", "status": "completed", "output": []},
    {"id": "chatcmpl-1", "choices": [], "status": "ok"},
    {"task_id": "../x", "status": "queued"},
])
def test_answers_that_are_not_tasks_are_not_taken_for_one(payload):
    assert tasks.read(payload) is None


def test_a_failed_task_carries_the_relays_reason():
    task = tasks.read({"id": "t9", "status": "FAILURE", "failReason": "[Invalid parameter] Invalid value"})
    assert task.state == "failed" and "t9" in task.error.message and "Invalid value" in task.error.message
    sensitive = tasks.read({"task_id": "t8", "status": "failed", "error": {
        "code": "OutputImageSensitiveContentDetected", "message": "The output image may contain sensitive content."}})
    assert sensitive.error.code == "content_policy"


def test_an_empty_202_names_its_task_in_its_location():
    assert tasks.from_headers({"location": "/v1/images/generations/task_abc"}).id == "task_abc"
    assert tasks.from_headers({"operation-location": "https://relay.example/v1/tasks/xyz?x=1"}).id == "xyz"
    assert tasks.from_headers({}) is None
    assert tasks.poll_path("a b/c") == "/images/generations/a%20b%2Fc"
