"""Whether a process is still running, on every platform.

``os.kill(pid, 0)`` tests this on POSIX, but it also answers for a zombie: a killed process whose
parent is gone waits there forever when the container's PID 1 reaps nothing (no init), so Linux
also reads the process's state. On Windows ``os.kill`` is no test at all (it answers for a dead pid
too), so Windows asks the kernel for the process's exit code instead.
"""
from __future__ import annotations

import os
import sys

_STILL_ACTIVE = 259
_PROCESS_QUERY_LIMITED_INFORMATION = 0x1000
_ERROR_ACCESS_DENIED = 5


def is_alive(pid: object) -> bool:
    """True while the process ``pid`` runs (also when it belongs to another user)."""
    if not isinstance(pid, int) or isinstance(pid, bool) or pid <= 0:
        return False
    if pid == os.getpid():
        return True
    if sys.platform == "win32":
        return _windows_alive(pid)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # it exists, under another user
    return not _zombie(pid)


def _zombie(pid: int) -> bool:
    """A process that has ended but was never reaped (Linux; elsewhere: not known, so no)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            stat = handle.read()
    except OSError:
        return False
    # "pid (comm) S ...": the state follows the last ")", since comm may hold anything.
    return stat[stat.rfind(b")") + 2:stat.rfind(b")") + 3] in (b"Z", b"X")


def _windows_alive(pid: int) -> bool:
    import ctypes
    from ctypes import wintypes

    kernel32 = ctypes.WinDLL("kernel32", use_last_error=True)
    kernel32.OpenProcess.restype = wintypes.HANDLE
    kernel32.OpenProcess.argtypes = (wintypes.DWORD, wintypes.BOOL, wintypes.DWORD)
    kernel32.GetExitCodeProcess.argtypes = (wintypes.HANDLE, ctypes.POINTER(wintypes.DWORD))
    kernel32.CloseHandle.argtypes = (wintypes.HANDLE,)
    handle = kernel32.OpenProcess(_PROCESS_QUERY_LIMITED_INFORMATION, False, pid)
    if not handle:
        # no such process, or one we may not look at (another user's, a protected one): it exists
        return ctypes.get_last_error() == _ERROR_ACCESS_DENIED
    try:
        code = wintypes.DWORD()
        if not kernel32.GetExitCodeProcess(handle, ctypes.byref(code)):
            return True  # it exists; we just cannot read how it ended
        # STILL_ACTIVE is also a legal exit code; a process that chose it looks alive, as documented
        return code.value == _STILL_ACTIVE
    finally:
        kernel32.CloseHandle(handle)
