"""image-relay-generate: one image job from the command line.

stdout carries exactly one JSON object (SPEC §5), success or failure; progress and
human-readable errors go to stderr; the exit code says what happened (SPEC §4).
"""
from __future__ import annotations

import argparse
import signal
import sys
import threading
from contextlib import ExitStack
from typing import TextIO

from . import __version__
from .config import (API_MODES, BACKGROUNDS, OUTPUT_FORMATS, QUALITIES, REQUEST_POLICIES, RESOLUTIONS, STREAM_CHOICES,
                     extra_body, load_settings)
from .errors import BridgeError, Cancelled, ExitCode, InputError
from .i18n import N_, translate
from .user_request import GenerationRequest
from .progress import Progress
from .result import GenerationResult
from .system.console import utf8_stdio, write_json
from .relay.transport import CancelToken
from .viewer import open_image
from .history import record
from .history.running import for_person

PROG = "image-relay-generate"
EMULATOR_KEY = "sk-emulator-local-key"
EMULATOR_MODEL = "gpt-image-2"  # --emulator's image model unless one is configured
EMULATOR_GEMINI = "gemini-3.1-flash-image"  # ... in gemini and chat modes, where Nano Banana is what relays sell


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # argparse would print usage and exit; we answer in JSON
        raise InputError(f"{message[0].upper()}{message[1:]} (see {PROG} --help).")


def build_parser(sizes: str = "") -> argparse.ArgumentParser:
    """``sizes``: what the configured image model takes, for --size's help."""
    p = _Parser(prog=PROG, description="Generate or edit an image through an OpenAI-compatible image relay. "
                "Prints one JSON result on stdout; progress goes to stderr.")
    p.add_argument("prompt", nargs="?", help="what to draw; '-' reads it from stdin")
    p.add_argument("--prompt-file", metavar="F", help="read the prompt from a file")
    g = p.add_argument_group("relay")
    g.add_argument("--api-mode", choices=API_MODES, help="responses, images, chat, gemini or auto: which API of the "
                   "relay to call (IMAGE_RELAY_API_MODE); gemini and chat suit Gemini (Nano Banana) models")
    g.add_argument("--request-policy", choices=REQUEST_POLICIES, help="openai or compat (IMAGE_RELAY_REQUEST_POLICY)")
    g.add_argument("--model", help="image model (IMAGE_RELAY_IMAGE_MODEL)")
    g.add_argument("--text-model", help="text model for the Responses API (IMAGE_RELAY_TEXT_MODEL)")
    g.add_argument("--header", action="append", default=[], metavar="'NAME: VALUE'",
                   help="extra request header for a gateway (repeatable; IMAGE_RELAY_EXTRA_HEADERS); a secret")
    g.add_argument("--stream", choices=STREAM_CHOICES, help="auto, true or false: false never streams, for gateways "
                   "that cannot pass server-sent events on (IMAGE_RELAY_STREAM)")
    g.add_argument("--extra-body", metavar="JSON", help="a JSON object of the relay's own fields merged into the "
                   "request body, e.g. '{\"watermark\": false}'; never the prompt, model or input images "
                   "(IMAGE_RELAY_EXTRA_BODY)")
    g.add_argument("--async", dest="async_images", action="store_true", help="ask the relay for an async task and "
                   "poll it, for relays whose proxy cuts long requests (HTTP 524) (IMAGE_RELAY_ASYNC)")
    g.add_argument("--task", metavar="TASK_ID", help="fetch the image of a task the relay already accepted (named by "
                   "an earlier run that stopped while it waited), without a new, billed generation; no prompt needed")
    g.add_argument("--timeout", type=float, metavar="SECONDS", help="total time limit (IMAGE_RELAY_TIMEOUT)")
    g.add_argument("--env-file", metavar="F", help="read settings from this env file (IMAGE_RELAY_ENV_FILE)")
    g.add_argument("--emulator", action="store_true", help="run against the built-in relay emulator: no key, no network")
    i = p.add_argument_group("image")
    i.add_argument("--image", action="append", default=[], metavar="PATH", help="source image (repeatable): makes it an edit")
    i.add_argument("--mask", metavar="PATH", help="PNG mask, same size as the first image; transparent pixels are edited")
    i.add_argument("--size", help=f"auto, WIDTHxHEIGHT, or a resolution such as 2K for models that take one "
                   f"(Seedream) (IMAGE_RELAY_DEFAULT_SIZE). {sizes}".strip())
    i.add_argument("--aspect-ratio", metavar="W:H", help="e.g. 16:9, 1:1, 9:16, instead of --size: sent as is to models "
                   "that take a ratio (Gemini), as the nearest size to the others (IMAGE_RELAY_DEFAULT_ASPECT_RATIO)")
    i.add_argument("--resolution", metavar="|".join(RESOLUTIONS), help="resolution tier with --aspect-ratio: 1K, 2K or "
                   "4K (512 on gemini-3.1-flash-image); for GPT models the long side, 16:9 at 2K on gpt-image-2 is "
                   "2048x1152 (IMAGE_RELAY_DEFAULT_RESOLUTION)")
    i.add_argument("--quality", choices=QUALITIES, help="(IMAGE_RELAY_DEFAULT_QUALITY)")
    i.add_argument("--output-format", choices=OUTPUT_FORMATS, help="(IMAGE_RELAY_DEFAULT_OUTPUT_FORMAT)")
    i.add_argument("--background", choices=BACKGROUNDS, help="transparent needs png or webp, and is not for "
                   "gpt-image-2 (IMAGE_RELAY_DEFAULT_BACKGROUND)")
    i.add_argument("--output-compression", type=int, metavar="0-100", help="jpeg/webp only")
    i.add_argument("--partial-images", type=int, metavar="0-3", help="partial images to stream and save")
    i.add_argument("--n", type=int, default=1, help="number of images (1-10; images API)")
    i.add_argument("--moderation", choices=("auto", "low"))
    i.add_argument("--input-fidelity", choices=("high", "low"), help="edits only; not for gpt-image-1-mini or "
                   "gpt-image-2")
    i.add_argument("--negative-prompt", help="sent only with --request-policy compat")
    i.add_argument("--seed", type=int, help="sent only with --request-policy compat")
    t = i.add_mutually_exclusive_group()
    t.add_argument("--template", metavar="T", help="prompt template with a {prompt} placeholder")
    t.add_argument("--no-template", action="store_true", help="send the prompt as written")
    o = p.add_argument_group("output")
    o.add_argument("--output-dir", metavar="DIR", help="where images go (IMAGE_RELAY_OUTPUT_DIR)")
    o.add_argument("--output-name", metavar="STEM", help="name the files after this instead of the prompt")
    o.add_argument("--no-open", action="store_true", help="do not open the image in the system viewer")
    o.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    p.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    return p


class _Signalled(BaseException):
    """SIGTERM or SIGHUP, raised in the main thread like KeyboardInterrupt is for SIGINT."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


# Windows: Ctrl-Break arrives as SIGBREAK (Ctrl-C as KeyboardInterrupt); TerminateProcess cannot be caught.
_SIGNALS = {"SIGTERM": (ExitCode.TERMINATED, N_("Terminated (SIGTERM)")),
            "SIGHUP": (ExitCode.HANGUP, N_("Hung up (SIGHUP)")),
            "SIGBREAK": (ExitCode.INTERRUPTED, N_("Interrupted (Ctrl-Break)"))}


def _raise_signalled(signum: int, _frame) -> None:
    raise _Signalled(signum)


def _install_signal_handlers() -> dict:
    previous = {}
    if threading.current_thread() is not threading.main_thread():
        return previous  # signal handlers can only be set in the main thread (tests call main in threads)
    for name in _SIGNALS:
        number = getattr(signal, name, None)
        if number is not None:
            previous[number] = signal.signal(number, _raise_signalled)
    return previous


def main(argv: list[str] | None = None, *, stdin: TextIO | None = None, stdout: TextIO | None = None,
         stderr: TextIO | None = None) -> int:
    if stdout is None:
        utf8_stdio()  # agents read the JSON as UTF-8 through a pipe, whatever the code page
    stdin, stdout, stderr = stdin or sys.stdin, stdout or sys.stdout, stderr or sys.stderr
    cancel = CancelToken()
    previous = _install_signal_handlers()
    seen: dict = {}  # the relay's task id, once progress names one: a stopped run says how to fetch it
    try:
        try:
            result = _run(argv, stdin, stderr, cancel, seen)
        except BridgeError as error:
            result = GenerationResult(ok=False, elapsed_seconds=0.0, error=error.to_dict(),
                                      exit_code=int(error.exit_code))
        except (KeyboardInterrupt, _Signalled) as stop:
            cancel.cancel()
            exit_code, what = (ExitCode.INTERRUPTED, N_("Interrupted")) if isinstance(stop, KeyboardInterrupt) else \
                _SIGNALS[signal.Signals(stop.signum).name]
            error = Cancelled(f"{what}; nothing more was sent, and partial images already received were kept.",
                              exit_code=exit_code)
            if seen.get("task"):
                from .relay.polling import fetch_hint
                error.message = f"{what} while the relay was still making the image. {fetch_hint(seen['task'])}"
                error.task_id = seen["task"]
            result = GenerationResult(ok=False, elapsed_seconds=0.0, error=error.to_dict(), exit_code=int(exit_code),
                                      extra={"task_id": seen["task"]} if seen.get("task") else {})
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
    if result.error:  # a person reads this line, in their language; the JSON stays English for the model
        print(translate(f"{PROG}: error: {result.error['message']}"), file=stderr, flush=True)
    write_json(stdout, result.to_dict())
    return result.exit_code


def _run(argv: list[str] | None, stdin: TextIO, stderr: TextIO, cancel: CancelToken, seen: dict) -> GenerationResult:
    args = build_parser(_sizes_help(argv)).parse_args(argv)
    prompt = "" if args.task and args.prompt is None and not args.prompt_file else _prompt(args, stdin)
    if args.extra_body is not None:
        try:
            extra_body(args.extra_body)
        except ValueError as exc:
            raise InputError(f"--extra-body {exc}.") from None
    flags = {"IMAGE_RELAY_API_MODE": args.api_mode, "IMAGE_RELAY_REQUEST_POLICY": args.request_policy,
             "IMAGE_RELAY_IMAGE_MODEL": args.model, "IMAGE_RELAY_TEXT_MODEL": args.text_model,
             "IMAGE_RELAY_OUTPUT_DIR": args.output_dir, "IMAGE_RELAY_STREAM": args.stream,
             "IMAGE_RELAY_EXTRA_HEADERS": "\n".join(args.header) or None, "IMAGE_RELAY_EXTRA_BODY": args.extra_body,
             "IMAGE_RELAY_ASYNC": "true" if args.async_images else None,
             "IMAGE_RELAY_TIMEOUT": None if args.timeout is None else str(args.timeout)}
    with ExitStack() as stack:
        if args.emulator:
            from .emulator import start_emulator  # only this option needs the server code
            emulator = stack.enter_context(start_emulator(delay=0.15))
            flags.update({"IMAGE_RELAY_BASE_URL": emulator.base_url, "IMAGE_RELAY_API_KEY": EMULATOR_KEY})
            settings = load_settings(flags, env_file=args.env_file)
            model = EMULATOR_GEMINI if settings.api_mode in ("gemini", "chat") else EMULATOR_MODEL
            defaults = {"IMAGE_RELAY_TEXT_MODEL": settings.text_model or "gpt-5",
                        "IMAGE_RELAY_IMAGE_MODEL": settings.image_model or model}
            settings = load_settings({**flags, **defaults}, env_file=args.env_file)
        else:
            settings = load_settings(flags, env_file=args.env_file)
        request = GenerationRequest(
            prompt=prompt, image_paths=tuple(args.image), mask_path=args.mask, size=args.size,
            aspect_ratio=args.aspect_ratio, resolution=args.resolution, quality=args.quality,
            output_format=args.output_format, background=args.background, output_compression=args.output_compression,
            partial_images=args.partial_images, n=args.n, moderation=args.moderation,
            input_fidelity=args.input_fidelity, negative_prompt=args.negative_prompt, seed=args.seed,
            use_template=not args.no_template, template=args.template, output_name=args.output_name,
            task_id=args.task)
        show = settings.show_progress and not args.quiet

        def report(progress: Progress) -> None:
            if progress.task:
                seen["task"] = progress.task
            if show:
                print(progress.line(translate(progress.message)), file=stderr, flush=True)

        result = record.generate(request, settings, face="cli", on_progress=report, cancel=cancel)
    if show and result.image_paths:
        print(f"{PROG}: {translate(for_person(result.image_paths))}", file=stderr, flush=True)
    if result.ok and settings.cli_open_image and not args.no_open:
        open_image(result.image_paths[0])
    return result


def _sizes_help(argv: list[str] | None) -> str:
    """For --help only: the sizes of the image model the other flags and the settings configure."""
    argv = sys.argv[1:] if argv is None else argv
    if not any(a in ("-h", "--help") for a in argv):
        return ""
    from .relay.models import sizes_text
    early = argparse.ArgumentParser(add_help=False)
    early.add_argument("--model")
    early.add_argument("--env-file")
    early.add_argument("--emulator", action="store_true")
    known, _ = early.parse_known_args(argv)
    try:
        model = load_settings({"IMAGE_RELAY_IMAGE_MODEL": known.model}, env_file=known.env_file).image_model
    except BridgeError:
        model = known.model
    return sizes_text(model or (EMULATOR_MODEL if known.emulator else None))


def _prompt(args: argparse.Namespace, stdin: TextIO) -> str:
    if args.prompt_file:
        if args.prompt not in (None, ""):
            raise InputError("Give the prompt either as an argument or with --prompt-file, not both.")
        try:
            with open(args.prompt_file, encoding="utf-8") as handle:
                return handle.read()
        except (OSError, UnicodeDecodeError) as exc:
            raise InputError(f"Cannot read the prompt file {args.prompt_file} ({exc.__class__.__name__}).") from None
    if args.prompt == "-":
        return stdin.read()
    if args.prompt is None:
        raise InputError(f"No prompt given: pass it as an argument, '-' for stdin, or --prompt-file (see {PROG} --help).")
    return args.prompt


if __name__ == "__main__":
    sys.exit(main())
