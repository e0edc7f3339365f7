"""Windows job objects as clients make them, for the tests (ctypes; Windows only).

Codex, Copilot CLI and the Python MCP SDK's stdio client put each stdio server in a job whose only
limit is KILL_ON_JOB_CLOSE; Node and Bun clients share libuv's job, which also lets children break
away (KILL_ON_JOB_CLOSE | BREAKAWAY_OK | SILENT_BREAKAWAY_OK | DIE_ON_UNHANDLED_EXCEPTION).
"""
from __future__ import annotations

import ctypes
import subprocess
import sys
from ctypes import wintypes

CLIENT_JOB = 0x2000  # Codex 0.171, Copilot CLI 1.0.102, the MCP SDK
LIBUV_JOB = 0x3C00  # Claude Code (Bun), Gemini CLI, Qwen Code, opencode


def _kernel32():
    kernel32 = ctypes.WinDLL("kernel32", use_last_error=True)
    kernel32.CreateJobObjectW.restype = wintypes.HANDLE
    kernel32.CreateJobObjectW.argtypes = (ctypes.c_void_p, ctypes.c_wchar_p)
    kernel32.SetInformationJobObject.argtypes = (wintypes.HANDLE, ctypes.c_int, ctypes.c_void_p, wintypes.DWORD)
    kernel32.AssignProcessToJobObject.argtypes = (wintypes.HANDLE, wintypes.HANDLE)
    kernel32.CloseHandle.argtypes = (wintypes.HANDLE,)
    return kernel32


def set_limits(job: int, flags: int) -> None:
    from bridge.system.winjob import EXTENDED_LIMIT_INFORMATION, ExtendedLimits
    info = ExtendedLimits()
    info.BasicLimitInformation.LimitFlags = flags
    if not _kernel32().SetInformationJobObject(job, EXTENDED_LIMIT_INFORMATION, ctypes.byref(info), ctypes.sizeof(info)):
        raise ctypes.WinError(ctypes.get_last_error())


class InJob:
    """A process started suspended, put in a new job with ``flags``, then let run (as Codex does):
    it and everything it starts are in the job from their first instruction. ``close`` closes the
    job, ending whatever is still in it."""

    def __init__(self, args: list[str], flags: int, **popen) -> None:
        kernel32 = _kernel32()
        self.job = kernel32.CreateJobObjectW(None, None)
        set_limits(self.job, flags)
        self.proc = subprocess.Popen(args, creationflags=0x4, **popen)  # CREATE_SUSPENDED
        if not kernel32.AssignProcessToJobObject(self.job, int(self.proc._handle)):
            raise ctypes.WinError(ctypes.get_last_error())
        ctypes.WinDLL("ntdll").NtResumeProcess(wintypes.HANDLE(int(self.proc._handle)))

    def close(self) -> None:
        if self.job:
            _kernel32().CloseHandle(self.job)
            self.job = None


def under_wine() -> bool:
    return sys.platform == "win32" and hasattr(ctypes.WinDLL("ntdll"), "wine_get_version")
