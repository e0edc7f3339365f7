"""image-relay-setup: a guided setup of the user config file, checked against the relay.

It asks for the base URL and the key (hidden, never echoed or logged), runs the doctor's checks
with them, offers the relay's models from ``/models``, takes the API mode from the probes, and
writes the user config file atomically with mode 0600, keeping a backup of an existing one and
never replacing it without asking. ``--non-interactive`` takes everything from flags and the
environment (the key from IMAGE_RELAY_API_KEY or ``--api-key-stdin``). Any failure is one
sentence and a non-zero exit, and the existing file is left as it was.

Exit codes: 0 written, 1 the relay checks failed or the user declined, 2 bad arguments.
"""
from __future__ import annotations

import argparse
import getpass
import os
import shutil
import sys
import time
from pathlib import Path
from typing import TextIO

from . import __version__
from .config import API_MODES, resolve_settings
from .doctor import diagnose
from .i18n import translate
from .relay.models import family
from .clients.register import CLIENTS, hint, register
from .paths import user_config_file
from .system.console import utf8_stdio
from .system.files import replace

PROG = "image-relay-setup"
# Flags that describe the relay: with none of them and a config file in place, --register only registers.
_RELAY_FLAGS = ("base_url", "api_key_stdin", "text_model", "image_model", "api_mode", "header", "force")


class SetupFailed(Exception):
    """One sentence for the user; nothing was written."""


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=PROG, description="Set up image-relay-bridge for your relay: checks the relay "
                                "and writes the user config file.")
    p.add_argument("--base-url", help="the relay's API base URL, usually ending in /v1")
    p.add_argument("--api-key-stdin", action="store_true", help="read the key from standard input (else it is "
                   "asked for, hidden, or taken from IMAGE_RELAY_API_KEY)")
    p.add_argument("--text-model", help="the Responses API text model (IMAGE_RELAY_TEXT_MODEL)")
    p.add_argument("--image-model", help="the image model (IMAGE_RELAY_IMAGE_MODEL)")
    p.add_argument("--api-mode", choices=API_MODES, help="default: what the relay's probes show for the image model")
    p.add_argument("--header", action="append", default=[], metavar="'NAME: VALUE'",
                   help="extra request header for a gateway (repeatable); a secret")
    p.add_argument("--non-interactive", action="store_true", help="ask nothing: flags and the environment only")
    p.add_argument("--force", action="store_true", help="replace an existing config file (a backup is kept)")
    p.add_argument("--register", action="append", choices=sorted(CLIENTS), default=[], metavar="CLIENT",
                   help=f"also register the MCP server with this client (repeatable): {', '.join(CLIENTS)}; with "
                        "a config file in place and no other flag, only this is done")
    p.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    return p


def main(argv: list[str] | None = None, *, stdin: TextIO | None = None, stdout: TextIO | None = None,
         stderr: TextIO | None = None, ask=input, ask_secret=getpass.getpass) -> int:
    if stdout is None:
        utf8_stdio()
    stdin, stdout, stderr = stdin or sys.stdin, stdout or sys.stdout, stderr or sys.stderr
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exit_:
        return 2 if exit_.code else 0
    existing = user_config_file(os.environ)
    if args.register and existing.is_file() and not any(getattr(args, flag) for flag in _RELAY_FLAGS):
        print(translate(f"Using the user config file {existing} as it is (image-relay-setup --force replaces it)."),
              file=stdout)
        return 0 if all([register(client, stdout, stderr) for client in args.register]) else 1
    try:
        values = _collect(args, stdin, stdout, ask, ask_secret)
        path = _write(values, args, stdout, ask)
    except SetupFailed as failure:
        print(f"{PROG}: {translate(str(failure))}", file=stderr)
        return 1
    except (KeyboardInterrupt, EOFError):
        print(f"\n{PROG}: {translate('stopped; nothing was written.')}", file=stderr)
        return 1
    print(translate(f"Wrote {path} (mode 0600)."), file=stdout)
    for client in args.register:
        register(client, stdout, stderr)
    print("\n" + translate("To use the bridge from an agent, install its plugin or extension (docs/agents.md), or "
                           "register the server:"), file=stdout)
    for client in CLIENTS:
        if client not in args.register:
            print(f"  {CLIENTS[client].title}: {hint(client)}", file=stdout)
    return 0


def _collect(args, stdin: TextIO, stdout: TextIO, ask, ask_secret) -> dict[str, str]:
    interactive = not args.non_interactive
    base_url = args.base_url or os.environ.get("IMAGE_RELAY_BASE_URL") or ""
    if not base_url and interactive:
        base_url = ask(translate("Relay base URL (usually ending in /v1): ")).strip()
    if not base_url.startswith(("http://", "https://")):
        raise SetupFailed("The base URL must start with http:// or https://; pass it with --base-url.")
    if args.api_key_stdin:
        key = stdin.readline().strip()
    else:
        key = os.environ.get("IMAGE_RELAY_API_KEY") or ""
        if not key and interactive:
            key = ask_secret(translate("API key (hidden): ")).strip()
    values = {"IMAGE_RELAY_BASE_URL": base_url.rstrip("/"), "IMAGE_RELAY_API_KEY": key}
    if args.header:
        values["IMAGE_RELAY_EXTRA_HEADERS"] = "; ".join(args.header)
    if not key and not args.header:
        raise SetupFailed("No API key was given: set IMAGE_RELAY_API_KEY, pipe it with --api-key-stdin, or run "
                          "without --non-interactive to type it.")
    try:
        settings = resolve_settings([("setup", values)])
    except Exception as exc:  # noqa: BLE001 - a ConfigError with one sentence
        raise SetupFailed(getattr(exc, "message", str(exc))) from None
    print(translate("Checking the relay…"), file=stdout)
    report = diagnose(settings)
    if report.api_mode is None and report.listed is None and not report.routes:
        raise SetupFailed(report.verdict)  # unreachable, a refused key, a web page, a gateway error
    listed = report.listed or []
    text_model = _pick("text", args.text_model, [m for m in listed if m not in report.image_models], interactive,
                       ask, stdout)
    image_model = _pick("image", args.image_model, report.image_models, interactive, ask, stdout)
    for model in (text_model, image_model):
        if model and listed and model not in listed:
            import difflib
            near = ", ".join(difflib.get_close_matches(model, listed, n=3, cutoff=0.5))
            raise SetupFailed(f"The relay does not list the model {model} (nearest: {near})." if near else
                              f"The relay does not list the model {model}.")
    values.update({k: v for k, v in (("IMAGE_RELAY_TEXT_MODEL", text_model),
                                     ("IMAGE_RELAY_IMAGE_MODEL", image_model)) if v})
    mode = args.api_mode or _mode(report.routes, text_model, image_model)
    if not args.api_mode and family(image_model) == "gemini":
        # A Gemini image model: its routes are probed now that the model is known.
        mode = diagnose(resolve_settings([("setup", values)])).api_mode
    if mode is None:
        raise SetupFailed(report.verdict if report.verdict else "The relay offers none of the image routes.")
    values["IMAGE_RELAY_API_MODE"] = mode
    print(translate(f"The relay is usable in {mode} mode."), file=stdout)
    return values


def _pick(kind: str, given: str | None, offered: list[str], interactive: bool, ask, stdout: TextIO) -> str | None:
    """The text or image model: as given, else asked for, the relay's first offer as the default."""
    if given:
        return given
    if not interactive:
        return None
    models = ", ".join(offered[:20])
    if offered:
        print(translate(f"The relay offers these text models: {models}" if kind == "text" else
                        f"The relay offers these image models: {models}"), file=stdout)
    default = offered[0] if offered else ""
    question = translate("Text model (the one that calls the image tool)" if kind == "text" else "Image model")
    answer = ask(f"{question}{f' [{default}]' if default else ''}: ").strip()
    return answer or default or None


def _mode(routes: dict, text_model: str | None, image_model: str | None) -> str | None:
    if routes.get("responses") and text_model:
        return "responses"
    if routes.get("images/generations") and image_model:
        return "images"
    if routes.get("responses"):
        return "responses" if text_model else None
    return None


def _write(values: dict[str, str], args, stdout: TextIO, ask) -> Path:
    path = user_config_file(os.environ)
    if path.exists():
        if args.non_interactive and not args.force:
            raise SetupFailed(f"{path} exists; pass --force to replace it (a backup is kept), or edit it by hand.")
        if not args.non_interactive and not args.force:
            answer = ask(translate(f"{path} exists. Replace it (a backup is kept)? [y/N] ")).strip().lower()
            if answer not in ("y", "yes", "是"):
                raise SetupFailed("Nothing was written.")
        backup = path.with_name(f".env.backup-{time.strftime('%Y%m%d-%H%M%S')}")
        shutil.copy2(path, backup)
        os.chmod(backup, 0o600)
        print(translate(f"Kept the old file as {backup}."), file=stdout)
    path.parent.mkdir(parents=True, exist_ok=True)
    text = "# Written by image-relay-setup.\n" + "".join(f"{k}={_env_value(v)}\n" for k, v in values.items())
    tmp = path.with_name(f".env.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:  # read back as UTF-8, whatever the code page
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    os.chmod(path, 0o600)
    return path


def _env_value(value: str) -> str:
    """A dotenv value that reads back as written (quotes when it holds spaces, # or quotes)."""
    if value and not any(c in value for c in " #'\"\\;{}"):
        return value
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


if __name__ == "__main__":
    sys.exit(main())
