"""The history the library check starts from: three images by the CLI (``image-relay-generate
--emulator``) in two projects, and one by the MCP server through the official MCP client.

Usage: python make_history.py RELAY_URL PROJECT_A PROJECT_B. The environment is the isolated user's;
RELAY_URL is the emulator the MCP server (and later the library) talks to. Prints one JSON line:
the four prompts and image paths. Exits 1 when an image is missing.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys

import anyio
from mcp import Client, StdioServerParameters

CLI = [("a red fox among tulips", 0), ("a heron standing in a misty pond", 0), ("a lighthouse in fog at dawn", 1)]
MCP = "a paper boat on a rainy street"


def cli(prompt: str, project: str) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith("IMAGE_RELAY_")}
    run = subprocess.run([sys.executable, "-m", "bridge.cli", "--emulator", "--no-open", "--size", "1024x1024", prompt],
                         cwd=project, env=env, capture_output=True, text=True, encoding="utf-8", timeout=120)
    result = json.loads(run.stdout)
    if run.returncode != 0 or not result.get("ok"):
        raise SystemExit(f"the CLI failed: {run.stderr[-800:]}")
    return result["image_path"]


async def mcp(relay: str, project: str) -> str:
    env = {**os.environ, "IMAGE_RELAY_BASE_URL": relay, "IMAGE_RELAY_API_KEY": "sk-library-check-0000",
           "IMAGE_RELAY_TEXT_MODEL": "gpt-5", "IMAGE_RELAY_IMAGE_MODEL": "gpt-image-1.5", "CLAUDE_PROJECT_DIR": project}
    params = StdioServerParameters(command=sys.executable, args=["-m", "bridge.server.app"], env=env, cwd=project)
    async with Client(params, read_timeout_seconds=120) as client:
        result = await client.call_tool("generate_image", {"prompt": MCP, "size": "1536x1024"})
    text = result.content[0].text
    if result.is_error:
        raise SystemExit(f"the MCP call failed: {text}")
    return next(line[6:].rsplit(" (", 1)[0] for line in text.splitlines() if line.startswith("Saved "))


def main(relay: str, *projects: str) -> int:
    made = [{"prompt": prompt, "path": cli(prompt, projects[which]), "face": "cli"} for prompt, which in CLI]
    made.append({"prompt": MCP, "path": anyio.run(mcp, relay, projects[1]), "face": "mcp"})
    print(json.dumps(made))
    return 0 if all(os.path.isfile(m["path"]) for m in made) else 1


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
