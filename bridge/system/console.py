"""Text at the process's edges is UTF-8, whatever the platform's code page.

On Windows a pipe (how every agent reads a program) is encoded with the ANSI code page: cp1252
cannot encode a Chinese prompt, and cp936 gives GBK that a UTF-8 reader sees as mojibake.
"""
from __future__ import annotations

import json
import sys
from typing import TextIO


def utf8_stdio() -> None:
    """Read and write the standard streams as UTF-8; call once, first thing in an entry point.

    Output that UTF-8 cannot carry (a lone surrogate from a mangled argument) is written as a
    backslash escape instead of raising, so a result is never lost to an encoding error.
    """
    for name, errors in (("stdin", "replace"), ("stdout", "backslashreplace"), ("stderr", "backslashreplace")):
        stream = getattr(sys, name, None)
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is None:
            continue  # no console at all (pythonw), or a test's stand-in stream
        try:
            reconfigure(encoding="utf-8", errors=errors)
        except (ValueError, OSError):
            pass  # already read from, or closed: keep what it is


def write_json(stream: TextIO, data: object, **dumps) -> None:
    """Write one JSON document and a newline; if the stream cannot encode it, write it again as
    pure-ASCII JSON (``\\uXXXX`` escapes), which every encoding carries and every reader decodes."""
    text = json.dumps(data, ensure_ascii=False, **dumps)
    try:
        stream.write(text + "\n")
    except UnicodeEncodeError:
        stream.write(json.dumps(data, ensure_ascii=True, **dumps) + "\n")
    stream.flush()
