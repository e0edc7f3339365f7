"""``image-relay-emulator``: serve the relay emulator until Ctrl-C."""
from __future__ import annotations

import argparse
import signal
import sys
import threading

from ..system.console import utf8_stdio
from .server import Emulator


def main(argv: list[str] | None = None) -> int:
    utf8_stdio()
    parser = argparse.ArgumentParser(
        prog="image-relay-emulator",
        description="Local OpenAI-compatible image relay that renders deterministic PNGs. "
        "Add options to the base URL path, e.g. /fault=http-500-json/delay=0.5/v1.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=0, help="port to listen on (default: a free one)")
    parser.add_argument("--delay", type=float, default=0.3,
                        help="seconds between stream events (default 0.3)")
    parser.add_argument("--chunk", type=int, default=None, help="split every write into pieces of this many bytes")
    parser.add_argument("--verbose", action="store_true", help="log each request line to stderr")
    args = parser.parse_args(argv)
    try:
        emulator = Emulator(args.host, args.port, args.delay, args.chunk)
    except OSError as exc:
        print(f"image-relay-emulator: cannot listen on {args.host}:{args.port}: {exc}", file=sys.stderr)
        return 1
    emulator.verbose = args.verbose
    print(f"image-relay-emulator listening on {emulator.base_url} (any non-empty Bearer key works)",
          file=sys.stderr, flush=True)
    # SIGTERM is a normal stop (exit 0); shutdown() must come from another thread.
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=emulator.shutdown_server).start())
    try:
        emulator.serve_forever()
    except KeyboardInterrupt:
        return 130
    finally:
        emulator.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
