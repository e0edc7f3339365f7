"""Starting a process that outlives the one that starts it, and whatever ends that one.

POSIX: a session of its own, so a client's group kill, a terminal's Ctrl-C or hang-up miss it.

Windows: no console and a process group of its own, and out of the client's job object. Codex,
Copilot CLI and the Python MCP SDK close a server's job with the server, and every process still in
the job ends then. So, when this process is in a job: the child breaks away if the job allows it;
if it does not (or the child stayed in an enclosing job that forbids it), a process outside the
job starts it (``outside``: the desktop shell, then WMI). Whatever way is used, the result is
checked: a child still in a job object is ended before it has been told anything, and the next
way is tried. Where every way fails, the child runs inside the job and ``Started.contained`` says
so: closing the job (the client) ends it.

However it was started, the child calls back over a ``handoff`` line, which proves it is the one
started here and says its pid; that line is how it is told what to do and how it learns that its
starter is gone.
"""
from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from .handoff import Line, Listener
from .processes import is_alive

CONTAINED = "contained"
CALL_BACK_SECONDS = 30.0  # an interpreter's start, on a machine busy scanning a new executable
ASK_SECONDS = 20.0  # the shell or WMI answering a request to start a program
_DETACHED = 0x00000008 | 0x00000200  # DETACHED_PROCESS | CREATE_NEW_PROCESS_GROUP
_BREAKAWAY = 0x01000000  # CREATE_BREAKAWAY_FROM_JOB


@dataclass
class Started:
    line: Line
    pid: int
    how: str  # session (POSIX), child, breakaway, shell, wmi, or contained
    note: str = ""  # contained: where this process stands and why each way out failed
    proc: subprocess.Popen | None = field(default=None, repr=False)

    @property
    def contained(self) -> bool:
        return self.how == CONTAINED

    def alive(self) -> bool:
        return self.proc.poll() is None if self.proc is not None else is_alive(self.pid)

    def release(self) -> None:
        """Hang up; a child of ours is reaped when it ends, without waiting for it here."""
        self.line.close()
        if self.proc is not None:
            threading.Thread(target=self.proc.wait, name=f"reap-{self.pid}", daemon=True).start()


def python() -> str:
    """The interpreter for a detached Python child. On Windows the base interpreter's windowless
    pythonw.exe: no console to open or hide, and no venv redirector process between the starter
    and the child (the redirector keeps its child in a job object of its own, which would hide
    where the child really stands). The child is given its parent's import path by its order."""
    if sys.platform != "win32":
        return sys.executable
    base = Path(getattr(sys, "_base_executable", None) or sys.executable)
    windowless = base.with_name("pythonw.exe")
    return str(windowless if windowless.is_file() else base)


def start(argv: list[str], folder: Path, outside: Sequence[str] = ("shell", "wmi")) -> Started:
    """Start ``argv`` (its handoff address and key appended) in ``folder`` and wait for its call;
    ``outside``: the Windows ways out of a job to try, in order. OSError when it never called."""
    if sys.platform != "win32":
        return _child(argv, folder, "session", start_new_session=True)
    from . import winjob
    here = winjob.standing()
    if not here.in_job:
        return _child(argv, folder, "child", creationflags=_DETACHED)
    notes = []
    try:  # tried even where the limits say no: Wine reports no limits at all for a process's own job
        return _child(argv, folder, "breakaway", check=winjob.in_job, creationflags=_DETACHED | _BREAKAWAY)
    except OSError as exc:
        notes.append(f"breakaway: {exc}")
    for name in outside:
        try:
            return _outside(name, argv, folder)
        except OSError as exc:
            notes.append(f"{name}: {exc}")
    started = _child(argv, folder, CONTAINED, creationflags=_DETACHED)
    started.note = f"this server is {here}; " + "; ".join(notes or ["no way out was allowed"])
    return started


def _child(argv: list[str], folder: Path, how: str, check: Callable[[int], bool] | None = None,
           **popen) -> Started:
    listener = Listener()
    try:
        proc = subprocess.Popen([*argv, *listener.args()], cwd=folder, stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, **popen)
        if check is not None and check(proc.pid):
            proc.kill()
            proc.wait()
            raise OSError("the child stayed in a job object (an enclosing job forbids breaking away)")
        line = listener.accept(CALL_BACK_SECONDS, alive=lambda: proc.poll() is None)
        if line is None:
            proc.kill()
            raise OSError(f"the child did not call back (exit status {proc.wait()})")
        return Started(line, line.pid, how, proc=proc)
    finally:
        listener.close()


def _outside(name: str, argv: list[str], folder: Path) -> Started:
    from . import outside, winjob
    ways = {"shell": outside.via_shell, "wmi": outside.via_wmi}
    listener = Listener()
    try:
        arguments = subprocess.list2cmdline([*argv[1:], *listener.args()])
        pid = _bounded(ways[name], argv[0], arguments, str(folder))
        if pid is not None and winjob.in_job(pid):
            winjob.terminate(pid)
            raise OSError("the program it started is in a job object")
        line = listener.accept(CALL_BACK_SECONDS, alive=(lambda: is_alive(pid)) if pid else None)
        if line is None:
            if pid:
                winjob.terminate(pid)
            raise OSError("the program it started did not call back")
        if not winjob.same_user(line.pid):  # the shell of another user's session answered
            line.close()
            raise OSError("the program it started runs as another user")
        if winjob.in_job(line.pid):
            line.close()
            winjob.terminate(line.pid)
            raise OSError("the program it started is in a job object")
        return Started(line, line.pid, name)
    finally:
        listener.close()


def _bounded(ask: Callable, *args, seconds: float = ASK_SECONDS):
    """``ask(*args)`` on a thread of its own (COM is set up per thread), given ``seconds`` to answer."""
    answer: list = []

    def run() -> None:
        try:
            answer.append(("ok", ask(*args)))
        except BaseException as exc:  # noqa: BLE001 - passed on to the caller below
            answer.append(("error", exc))

    thread = threading.Thread(target=run, name="start-outside", daemon=True)
    thread.start()
    thread.join(seconds)
    if not answer:
        raise OSError(f"no answer in {seconds:.0f} s")  # a late start finds the line closed and exits
    kind, value = answer[0]
    if kind == "error":
        raise value if isinstance(value, OSError) else OSError(f"{value.__class__.__name__}: {value}")
    return value
