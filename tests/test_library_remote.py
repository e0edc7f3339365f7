"""A shared server's callers and the history: their generations are recorded under their own owner
key, and each reads only its own entries, as links, with the token it already sends."""
from __future__ import annotations

import httpx2
import pytest

from bridge.history import db, query
from bridge.server.tokens import TokenStore
from tests.remote_server import client, serving

pytestmark = pytest.mark.anyio


def get(url: str, token: str | None) -> httpx2.Response:
    return httpx2.get(url, headers={"Authorization": f"Bearer {token}"} if token else {}, timeout=30)


async def test_each_caller_reads_only_its_own_history(relay_env, emulator, tmp_path):
    store = TokenStore()
    tokens = {"alice": store.add("alice"), "bob": store.add("bob")}
    with serving("--auth", "token") as base:
        for name, prompt in (("alice", "alice's red kite"), ("bob", "bob's blue whale")):
            async with client(base, tokens[name]) as caller:
                result = await caller.call_tool("generate_image", {"prompt": prompt})
                assert result.is_error is False
                assert "image-relay-library" not in result.content[0].text  # the server machine's, not theirs
        mine = get(f"{base}/library/entries", tokens["alice"])
        searched = get(f"{base}/library/entries?q=whale", tokens["alice"])
        bobs = get(f"{base}/library/entries?q=whale", tokens["bob"])
        nobody, wrong = get(f"{base}/library/entries", None), get(f"{base}/library/entries", "irb_wrong")
        assert mine.status_code == 200 and mine.headers["cache-control"] == "private, no-store"
        body = mine.json()
        assert body["total"] == 1 and [e["prompt"] for e in body["entries"]] == ["alice's red kite"]
        (link,) = body["entries"][0]["images"]
        assert link.startswith(f"{base}/images/img_") and get(link, tokens["alice"]).status_code == 200
        assert get(link, tokens["bob"]).status_code == 404
        assert str(tmp_path) not in mine.text and "outputs" not in mine.text
        assert searched.json()["total"] == 0 and [e["prompt"] for e in bobs.json()["entries"]] == ["bob's blue whale"]
        assert nobody.status_code == wrong.status_code == 401 and "www-authenticate" in nobody.headers
    conn = db.connect()
    owners = {row["prompt"]: row["owner"] for row in conn.execute("SELECT prompt, owner FROM entries")}
    assert owners == {"alice's red kite": "t-alice", "bob's blue whale": "t-bob"}
    assert query.page(conn, query.Filters())[0] == 0  # the local user's library shows neither
