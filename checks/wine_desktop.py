"""Keep Wine's desktop shell running, as a signed-in Windows session keeps explorer.exe.

Run with the Windows Python of the winlab, in the background, outside any job object, for as long
as the check needs the shell (check-windows starts it after wineboot; ``wineserver -k`` ends it);
``--wait`` returns once the shell answers. The prefix needs Wine's null display driver (checks/winlab
sets it): without a display, Wine's default driver cannot make the desktop window at all.

Why it takes threads: wineserver closes a desktop (WM_CLOSE to explorer.exe) when its count of
attached threads falls to the number of explorer's own running threads, and explorer starts
threads of its own as it serves COM calls (the ones a job's worker makes when it is started through
the shell). A process with one attached thread does not outweigh those; sixty-four idle windows do.

Once closed, the shell does not come back in the same wineserver (neither a new keeper nor
``explorer.exe /desktop`` brings ShellWindows back), and on a busy machine it sometimes never comes
up at all. So the keeper watches it and prints each change ("down" / "up", with the time), which
check-windows shows; and check-windows starts Wine afresh when the shell does not answer before
the test suite.
"""
from __future__ import annotations

import ctypes
import sys
import threading
import time
from ctypes import wintypes

ATTACHED_THREADS = 64


def attach() -> None:
    user32 = ctypes.WinDLL("user32")
    user32.CreateWindowExW.restype = wintypes.HWND
    user32.CreateWindowExW.argtypes = (wintypes.DWORD, wintypes.LPCWSTR, wintypes.LPCWSTR, wintypes.DWORD, ctypes.c_int,
                                       ctypes.c_int, ctypes.c_int, ctypes.c_int, wintypes.HWND, wintypes.HMENU,
                                       wintypes.HINSTANCE, wintypes.LPVOID)
    user32.CreateWindowExW(0, "STATIC", "session", 0, 0, 0, 0, 0, None, None, None, None)  # hidden
    message = wintypes.MSG()
    while user32.GetMessageW(ctypes.byref(message), None, 0, 0) > 0:
        user32.DispatchMessageW(ctypes.byref(message))


def answers() -> bool:
    """Whether the shell's ShellWindows object is registered (what a job's worker is started through)."""
    ole32 = ctypes.WinDLL("ole32")
    ole32.CoInitializeEx(None, 2)
    clsid, iid = (ctypes.c_byte * 16)(), (ctypes.c_byte * 16)()
    ole32.CLSIDFromString("{9BA05972-F6A8-11CF-A442-00A0C90A8F39}", clsid)
    ole32.CLSIDFromString("{85CB6900-4D95-11CF-960C-0080C7F4EE85}", iid)
    found = ctypes.c_void_p()
    if ole32.CoCreateInstance(clsid, None, 4, iid, ctypes.byref(found)) != 0:  # CLSCTX_LOCAL_SERVER
        return False
    vtable = ctypes.cast(found, ctypes.POINTER(ctypes.POINTER(ctypes.c_void_p))).contents
    ctypes.WINFUNCTYPE(ctypes.c_ulong, ctypes.c_void_p)(vtable[2])(found)  # IUnknown::Release: hold nothing
    return True


def main() -> None:
    if sys.argv[1:] == ["--wait"]:  # until the shell answers, at most 30 s
        deadline = time.monotonic() + 30
        while not answers():
            if time.monotonic() > deadline:
                raise SystemExit("wine desktop: the shell's ShellWindows does not answer")
            time.sleep(0.5)
        print("wine desktop: the shell answers", flush=True)
        return
    for _ in range(ATTACHED_THREADS):
        threading.Thread(target=attach, daemon=True).start()
    print("wine desktop: held", flush=True)
    started, up = time.monotonic(), None
    while True:
        now = answers()
        if now != up and (up is not None or not now):  # every change, and a shell that is not up at first
            print(f"wine desktop: the shell {'answers' if now else 'does not answer'} "
                  f"({time.monotonic() - started:.0f} s after the keeper started)", flush=True)
        up = now
        time.sleep(10)  # each look is a COM call explorer serves: seldom


if __name__ == "__main__":
    main()
