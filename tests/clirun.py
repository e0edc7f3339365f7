"""Run the CLI in-process and capture its three channels."""
from __future__ import annotations

import io
import json
from dataclasses import dataclass

from bridge.cli import main


@dataclass
class Run:
    code: int
    stdout: str
    stderr: str

    @property
    def json(self) -> dict:
        lines = self.stdout.splitlines()
        assert len(lines) == 1, f"stdout must be exactly one JSON line, got {self.stdout!r}"
        return json.loads(lines[0])

    @property
    def progress(self) -> list[str]:
        return [line for line in self.stderr.splitlines() if line.startswith("[progress]")]


def run_cli(*args: str, stdin: str = "") -> Run:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(args), stdin=io.StringIO(stdin), stdout=out, stderr=err)
    return Run(code, out.getvalue(), err.getvalue())


def as_in_a_terminal() -> None:
    """``preexec_fn`` for a CLI run a test will interrupt: SIGINT as a terminal leaves it. A shell that
    starts a test run in the background makes it ignore SIGINT, every child inherits that, and a Python
    that starts with SIGINT ignored never raises KeyboardInterrupt; a user's terminal is not like that."""
    import signal
    signal.signal(signal.SIGINT, signal.SIG_DFL)
