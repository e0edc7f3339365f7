"""Windows job objects: whether this process runs in one, what that job allows, and whether another
process is in one. Windows only (ctypes, no third-party package).

Clients put each stdio server in a job object and close or terminate the job with the server;
every process still in the job ends then too. A child created inside the job stays in it unless
the job allows breaking away, and with nested jobs (Windows 8+) a child that breaks away from its
immediate job only climbs to the first enclosing job that forbids it: so the only reliable answer
to "will this process outlive the client's job?" is to ask, after starting it, whether it is in a
job at all (``in_job``).
"""
from __future__ import annotations

import ctypes
from ctypes import wintypes
from dataclasses import dataclass
from functools import cache

BREAKAWAY_OK = 0x0800
SILENT_BREAKAWAY_OK = 0x1000
KILL_ON_JOB_CLOSE = 0x2000
EXTENDED_LIMIT_INFORMATION = 9  # JOBOBJECTINFOCLASS JobObjectExtendedLimitInformation
_QUERY = 0x1000  # PROCESS_QUERY_LIMITED_INFORMATION
_QUERY_FULL = 0x0400  # PROCESS_QUERY_INFORMATION: Wine's IsProcessInJob wants it, Windows takes either
_TERMINATE = 0x0001
_TOKEN_QUERY = 0x0008
_TOKEN_USER = 1


class BasicLimits(ctypes.Structure):
    _fields_ = [("PerProcessUserTimeLimit", ctypes.c_int64), ("PerJobUserTimeLimit", ctypes.c_int64),
                ("LimitFlags", wintypes.DWORD), ("MinimumWorkingSetSize", ctypes.c_size_t),
                ("MaximumWorkingSetSize", ctypes.c_size_t), ("ActiveProcessLimit", wintypes.DWORD),
                ("Affinity", ctypes.c_size_t), ("PriorityClass", wintypes.DWORD), ("SchedulingClass", wintypes.DWORD)]


class ExtendedLimits(ctypes.Structure):
    _fields_ = [("BasicLimitInformation", BasicLimits), ("IoInfo", ctypes.c_uint64 * 6),
                ("ProcessMemoryLimit", ctypes.c_size_t), ("JobMemoryLimit", ctypes.c_size_t),
                ("PeakProcessMemoryUsed", ctypes.c_size_t), ("PeakJobMemoryUsed", ctypes.c_size_t)]


@dataclass(frozen=True)
class Standing:
    """Where this process stands: in a job or not, and its immediate job's limit flags when Windows
    says them (Wine answers only for a job handle, which a process does not have for its own job)."""

    in_job: bool
    limits: int | None = None

    def __str__(self) -> str:
        return "not in a job object" if not self.in_job else \
            f"in a job object (limits {'unknown' if self.limits is None else hex(self.limits)})"


def standing() -> Standing:
    kernel32 = _kernel32()
    inside = wintypes.BOOL()
    if not kernel32.IsProcessInJob(kernel32.GetCurrentProcess(), None, ctypes.byref(inside)):
        return Standing(True)  # cannot tell: assume the worst, it is checked again after the start
    if not inside.value:
        return Standing(False)
    info = ExtendedLimits()
    if not kernel32.QueryInformationJobObject(None, EXTENDED_LIMIT_INFORMATION, ctypes.byref(info),
                                              ctypes.sizeof(info), None):
        return Standing(True)
    return Standing(True, info.BasicLimitInformation.LimitFlags)


def in_job(pid: int) -> bool:
    """Whether process ``pid`` is in any job object; True when it cannot be asked (assume the worst)."""
    kernel32 = _kernel32()
    handle = kernel32.OpenProcess(_QUERY_FULL, False, pid) or kernel32.OpenProcess(_QUERY, False, pid)
    if not handle:
        return True
    try:
        inside = wintypes.BOOL()
        return not kernel32.IsProcessInJob(handle, None, ctypes.byref(inside)) or bool(inside.value)
    finally:
        kernel32.CloseHandle(handle)


def same_user(pid: int) -> bool:
    """Whether process ``pid`` runs as the user this process runs as (False when it cannot be asked)."""
    kernel32 = _kernel32()
    handle = kernel32.OpenProcess(_QUERY, False, pid)
    if not handle:
        return False
    try:
        theirs, ours = _user_sid(handle), _user_sid(kernel32.GetCurrentProcess())
        return theirs is not None and ours is not None and bool(_advapi32().EqualSid(theirs, ours))
    finally:
        kernel32.CloseHandle(handle)


def terminate(pid: int) -> None:
    kernel32 = _kernel32()
    handle = kernel32.OpenProcess(_TERMINATE, False, pid)
    if handle:
        kernel32.TerminateProcess(handle, 1)
        kernel32.CloseHandle(handle)


def _user_sid(process) -> ctypes.Array | None:
    """The process's user SID, copied into a buffer of ours."""
    advapi32, kernel32 = _advapi32(), _kernel32()
    token = wintypes.HANDLE()
    if not advapi32.OpenProcessToken(process, _TOKEN_QUERY, ctypes.byref(token)):
        return None
    try:
        size = wintypes.DWORD()
        advapi32.GetTokenInformation(token, _TOKEN_USER, None, 0, ctypes.byref(size))
        buffer = ctypes.create_string_buffer(size.value or 1)
        if not advapi32.GetTokenInformation(token, _TOKEN_USER, buffer, size, ctypes.byref(size)):
            return None
        sid = ctypes.cast(buffer, ctypes.POINTER(ctypes.c_void_p))[0]  # TOKEN_USER.User.Sid
        copy = ctypes.create_string_buffer(advapi32.GetLengthSid(sid))
        return copy if advapi32.CopySid(len(copy), copy, sid) else None
    finally:
        kernel32.CloseHandle(token)


@cache
def _kernel32():
    kernel32 = ctypes.WinDLL("kernel32", use_last_error=True)
    handle, dword, bool_ = wintypes.HANDLE, wintypes.DWORD, wintypes.BOOL
    kernel32.GetCurrentProcess.restype = handle
    kernel32.OpenProcess.restype = handle
    kernel32.OpenProcess.argtypes = (dword, bool_, dword)
    kernel32.IsProcessInJob.argtypes = (handle, handle, ctypes.POINTER(bool_))
    kernel32.QueryInformationJobObject.argtypes = (handle, ctypes.c_int, ctypes.c_void_p, dword, ctypes.POINTER(dword))
    kernel32.TerminateProcess.argtypes = (handle, ctypes.c_uint)
    kernel32.CloseHandle.argtypes = (handle,)
    return kernel32


@cache
def _advapi32():
    advapi32 = ctypes.WinDLL("advapi32", use_last_error=True)
    handle, dword = wintypes.HANDLE, wintypes.DWORD
    advapi32.OpenProcessToken.argtypes = (handle, dword, ctypes.POINTER(handle))
    advapi32.GetTokenInformation.argtypes = (handle, ctypes.c_int, ctypes.c_void_p, dword, ctypes.POINTER(dword))
    advapi32.GetLengthSid.argtypes = (ctypes.c_void_p,)
    advapi32.CopySid.argtypes = (dword, ctypes.c_void_p, ctypes.c_void_p)
    advapi32.EqualSid.argtypes = (ctypes.c_void_p, ctypes.c_void_p)
    return advapi32
