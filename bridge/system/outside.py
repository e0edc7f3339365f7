"""Starting a program from a process that is not in this one's job object (Windows).

A job object that forbids breaking away keeps every process its members create, however they
create it: Codex, Copilot CLI and the Python MCP SDK put each stdio server in such a job and close
the job with the server. A process created by another, unrelated process is not in it. Two such
processes start programs for the user's own programs, without administrator rights:

- ``shell``: the desktop shell. Its ShellWindows object leads to the desktop's view and from there
  to Shell.Application, whose ShellExecute runs in explorer.exe, as if the user had started the
  program from the desktop (the way Windows' shell team shows for starting a program outside an
  elevated one). Its child looks like any program the user starts, which security software
  expects; it needs the desktop shell to be running, and tells no process id.
- ``wmi``: Win32_Process.Create, run by the WMI provider host. The Job Objects documentation:
  "child processes created using Win32_Process.Create are not associated with the job"; the
  CREATE_BREAKAWAY_FROM_JOB creation flag keeps it out of the provider host's own quota job too
  (Win32_Process.Create remarks). It works without a desktop, but Defender's attack surface
  reduction rule "Block process creations originating from PSExec and WMI commands" refuses it where
  an administrator enabled it.

Wine 8 has both, but only the shell is another process there: its WMI provider runs inside the
caller and creates the program as the caller's own child (so in the caller's job), and it has no
Win32_ProcessStartup class. Whoever uses these checks where the program landed (``winjob.in_job``).
"""
from __future__ import annotations

from ctypes import POINTER, byref, c_int, c_long, c_void_p, c_wchar_p

from .com import VT_DISPATCH, VT_I4, VT_UNKNOWN, VARIANT, Session, call, guid

_LOCAL_SERVER, _INPROC_SERVER = 0x4, 0x1
_SW_HIDE = 0
_CREATE_BREAKAWAY_FROM_JOB, _DETACHED_PROCESS = 0x01000000, 0x00000008


def via_shell(program: str, arguments: str, folder: str) -> int | None:
    """Ask the desktop shell to run ``program``; no process id comes back (None)."""
    with Session() as com:
        windows = com.create("9BA05972-F6A8-11CF-A442-00A0C90A8F39",  # CLSID_ShellWindows
                             "85CB6900-4D95-11CF-960C-0080C7F4EE85", _LOCAL_SERVER)  # IShellWindows
        desktop, hwnd, empty = c_void_p(), c_long(), VARIANT()
        where = VARIANT(vt=VT_I4)  # CSIDL_DESKTOP
        call(windows, 15, (POINTER(VARIANT), POINTER(VARIANT), c_int, POINTER(c_long), c_int, POINTER(c_void_p)),
             byref(where), byref(empty), 8, byref(hwnd), 1, byref(desktop))  # FindWindowSW(SWC_DESKTOP, NEEDDISPATCH)
        com.keep(desktop)
        services = com.query(desktop, "6D5140C1-7436-11CE-8034-00AA006009FA")  # IServiceProvider
        browser = c_void_p()
        call(services, 3, (c_void_p, c_void_p, POINTER(c_void_p)),  # QueryService(SID_STopLevelBrowser, IShellBrowser)
             byref(guid("4C96BE40-915C-11CF-99D3-00AA004AE837")), byref(guid("000214E2-0000-0000-C000-000000000046")),
             byref(browser))
        com.keep(browser)
        view = c_void_p()
        call(browser, 15, (POINTER(c_void_p),), byref(view))  # IShellBrowser::QueryActiveShellView
        com.keep(view)
        background = c_void_p()
        call(view, 15, (c_int, c_void_p, POINTER(c_void_p)),  # IShellView::GetItemObject(SVGIO_BACKGROUND, IDispatch)
             0, byref(guid("00020400-0000-0000-C000-000000000046")), byref(background))
        com.keep(background)
        shell = com.invoke(background, "Application", get=True)  # Shell.Application, in explorer.exe
        if shell.vt != VT_DISPATCH or not shell.value:
            raise OSError("the desktop shell offered no Shell.Application")
        com.invoke(c_void_p(shell.value), "ShellExecute", com.text(program), com.text(arguments), com.text(folder),
                   com.text("open"), VARIANT(vt=VT_I4, value=_SW_HIDE))
    return None


def via_wmi(program: str, arguments: str, folder: str) -> int:
    """Ask WMI to run ``program``; its process id comes back."""
    with Session() as com:
        locator = com.create("4590F811-1D3A-11D0-891F-00AA004B2E24",  # CLSID_WbemLocator
                             "DC12A687-737F-11CF-884D-00AA004B2E24", _INPROC_SERVER)  # IWbemLocator
        services = c_void_p()
        call(locator, 3, (c_void_p, c_void_p, c_void_p, c_void_p, c_long, c_void_p, c_void_p, POINTER(c_void_p)),
             com.bstr("ROOT\\CIMV2"), None, None, None, 0x80, None, None, byref(services))  # ConnectServer, max wait
        com.keep(services)
        # The provider impersonates the caller to create the process as them.
        com.ole32.CoSetProxyBlanket(services, 10, 0, None, 3, 3, None, 0)  # WINNT, CALL level, IMPERSONATE
        process = _wmi_class(com, services, "Win32_Process")
        signature = c_void_p()
        call(process, 19, (c_wchar_p, c_long, POINTER(c_void_p), c_void_p),  # GetMethod("Create")
             "Create", 0, byref(signature), None)
        com.keep(signature)
        inputs = _spawn(com, signature)
        _put(inputs, "CommandLine", com.text(f'"{program}" {arguments}'))
        _put(inputs, "CurrentDirectory", com.text(folder))
        try:
            startup = _spawn(com, _wmi_class(com, services, "Win32_ProcessStartup"))
        except OSError:
            startup = None  # Wine has no such class (and would ignore it)
        if startup is not None:
            _put(startup, "CreateFlags", VARIANT(vt=VT_I4, value=_CREATE_BREAKAWAY_FROM_JOB | _DETACHED_PROCESS))
            _put(startup, "ShowWindow", VARIANT(vt=VT_I4, value=_SW_HIDE))
            _put(inputs, "ProcessStartupInformation", VARIANT(vt=VT_UNKNOWN, value=startup.value))
        outputs = c_void_p()
        call(services, 24, (c_void_p, c_void_p, c_long, c_void_p, c_void_p, POINTER(c_void_p), c_void_p),  # ExecMethod
             com.bstr("Win32_Process"), com.bstr("Create"), 0, None, inputs, byref(outputs), None)
        com.keep(outputs)
        code, pid = _get(com, outputs, "ReturnValue"), _get(com, outputs, "ProcessId")
        if code != 0 or pid <= 0:
            raise OSError(f"Win32_Process.Create returned {code}")
        return pid


def _wmi_class(com: Session, services: c_void_p, name: str) -> c_void_p:
    found = c_void_p()
    call(services, 6, (c_void_p, c_long, c_void_p, POINTER(c_void_p), c_void_p),  # IWbemServices::GetObject
         com.bstr(name), 0, None, byref(found), None)
    return com.keep(found)


def _spawn(com: Session, cls: c_void_p) -> c_void_p:
    instance = c_void_p()
    call(cls, 15, (c_long, POINTER(c_void_p)), 0, byref(instance))  # IWbemClassObject::SpawnInstance
    return com.keep(instance)


def _put(instance: c_void_p, name: str, value: VARIANT) -> None:
    call(instance, 5, (c_wchar_p, c_long, POINTER(VARIANT), c_long), name, 0, byref(value), 0)  # Put


def _get(com: Session, instance: c_void_p, name: str) -> int:
    value = com.result()
    call(instance, 4, (c_wchar_p, c_long, POINTER(VARIANT), c_void_p, c_void_p), name, 0, byref(value), None, None)
    return value.number
