"""Where a client cannot show the image, the tool's result and the CLI's stderr lead to it: the
command to run, or the running library's page for that very image."""
from __future__ import annotations

import os
import re

import anyio
import pytest
from mcp import Client

from bridge.history import running
from bridge.result import markdown_image
from tests.clirun import run_cli


@pytest.fixture
def a_library_runs():
    running.announce(45678, "secret-page-token")  # this process stands for the library
    yield 45678
    running.withdraw()


def call(prompt: str):
    from bridge.server.app import server

    async def go():
        async with Client(server) as client:
            return await client.call_tool("generate_image", {"prompt": prompt})
    return anyio.run(go)


def entry_of(path: str) -> int:
    from bridge.history.db import connect
    from bridge.history.query import entry_of_path
    return entry_of_path(connect(), path)


def test_without_a_library_the_result_names_the_command(mcp_env, fresh_jobs):
    result = call("a quiet meadow")
    lines = result.content[0].text.splitlines()
    path = re.search(r"^Saved (.+) \(", result.content[0].text, re.M).group(1)
    assert lines[0] == markdown_image(path, "a quiet meadow")  # the tag stays first
    assert lines[-1] == ("Not shown in this client (e.g. it shows [Image])? Tell the user to run image-relay-library "
                         "to see it in their browser.")


def test_with_a_library_running_the_result_links_to_that_image(mcp_env, fresh_jobs, a_library_runs):
    result = call("a loud meadow")
    text = result.content[0].text
    path = re.search(r"^Saved (.+) \(", text, re.M).group(1)
    link = f"http://127.0.0.1:{a_library_runs}/?entry={entry_of(path)}"
    assert text.splitlines()[-1].endswith(f"Give the user its link in their image library: {link}")
    assert "secret-page-token" not in text  # the page's key never travels with a link


def test_the_cli_names_the_command_or_links_to_the_running_library(relay_env, a_library_runs):
    linked = run_cli("a linked lake")
    assert f"image-relay-generate: See it in your image library: http://127.0.0.1:{a_library_runs}/?entry=" \
           f"{entry_of(linked.json['image_path'])}" in linked.stderr
    running.withdraw()
    plain = run_cli("a plain lake")
    assert "image-relay-generate: See it and every image you made in your browser: image-relay-library" in plain.stderr
    assert "secret-page-token" not in linked.stderr + linked.stdout


def test_the_cli_says_it_in_the_readers_language(relay_env, a_library_runs, monkeypatch):
    monkeypatch.setenv("IMAGE_RELAY_LANG", "zh-CN")
    run = run_cli("a Chinese lake")
    assert f"image-relay-generate: 在图片库中查看：http://127.0.0.1:{a_library_runs}/?entry=" in run.stderr
    assert run.json["ok"] is True  # what the model reads stays English


def test_a_library_that_is_gone_is_not_linked(relay_env, tmp_path):
    running.announce(45679, "t")
    state = running.state_file()
    text = state.read_text().replace(f'"pid": {os.getpid()}', '"pid": 999999999')
    state.write_text(text)
    assert running.current() is None and "image-relay-library" in run_cli("an orphan").stderr
