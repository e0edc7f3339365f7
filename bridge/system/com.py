"""Just enough COM, from ctypes, to ask two Windows services to start a program (``outside``):
interface calls by vtable slot, BSTRs, VARIANTs and IDispatch by name. Windows only; no pywin32,
no comtypes.

A failed call raises OSError (ctypes' HRESULT return type does that). Everything a ``Session``
hands out (interfaces, strings, results) is released when it ends, and COM is set up for the
calling thread only: use one session per thread, on a thread of its own.
"""
from __future__ import annotations

import ctypes
import uuid
from ctypes import POINTER, byref, c_void_p

VT_I4, VT_BSTR, VT_DISPATCH, VT_UNKNOWN = 3, 8, 9, 13
_METHOD, _PROPERTY_GET = 1, 2
_APARTMENT = 0x2  # COINIT_APARTMENTTHREADED


class GUID(ctypes.Structure):
    _fields_ = [("Data1", ctypes.c_uint32), ("Data2", ctypes.c_uint16), ("Data3", ctypes.c_uint16),
                ("Data4", ctypes.c_ubyte * 8)]


def guid(text: str) -> GUID:
    return GUID.from_buffer_copy(uuid.UUID(text).bytes_le)


class VARIANT(ctypes.Structure):
    """The 24-byte VARIANT of 64-bit Windows: a type tag, then the value's 16 bytes."""
    _fields_ = [("vt", ctypes.c_uint16), ("reserved", ctypes.c_uint16 * 3), ("value", c_void_p), ("extra", c_void_p)]

    @property
    def number(self) -> int:
        return ctypes.c_int32.from_buffer(self, 8).value


class DISPPARAMS(ctypes.Structure):
    _fields_ = [("rgvarg", POINTER(VARIANT)), ("rgdispidNamedArgs", c_void_p), ("cArgs", ctypes.c_uint),
                ("cNamedArgs", ctypes.c_uint)]


def call(interface: c_void_p, slot: int, argtypes: tuple, *args) -> int:
    """Call the method in vtable ``slot`` of ``interface`` (0-2 are IUnknown's, 3-6 IDispatch's)."""
    vtable = ctypes.cast(interface, POINTER(POINTER(c_void_p))).contents
    method = ctypes.WINFUNCTYPE(ctypes.HRESULT, c_void_p, *argtypes)(vtable[slot])
    return method(interface, *args)


class Session:
    """COM on this thread, and the release of whatever it handed out."""

    def __enter__(self) -> Session:
        self.ole32, self.oleaut32 = ctypes.WinDLL("ole32"), ctypes.WinDLL("oleaut32")
        self.oleaut32.SysAllocString.restype = c_void_p
        self.oleaut32.SysAllocString.argtypes = (ctypes.c_wchar_p,)
        self.oleaut32.SysFreeString.argtypes = (c_void_p,)
        self.oleaut32.VariantClear.argtypes = (POINTER(VARIANT),)
        self.ole32.CoCreateInstance.restype = ctypes.HRESULT
        self.ole32.CoCreateInstance.argtypes = (POINTER(GUID), c_void_p, ctypes.c_uint32, POINTER(GUID), POINTER(c_void_p))
        self.ole32.CoSetProxyBlanket.argtypes = (c_void_p, ctypes.c_uint32, ctypes.c_uint32, c_void_p, ctypes.c_uint32,
                                                 ctypes.c_uint32, c_void_p, ctypes.c_uint32)
        self._undo: list = []
        self._initialised = self.ole32.CoInitializeEx(None, _APARTMENT) in (0, 1)  # S_OK, S_FALSE
        return self

    def __exit__(self, *exc) -> None:
        for undo in reversed(self._undo):
            try:
                undo()
            except OSError:
                pass
        if self._initialised:
            self.ole32.CoUninitialize()

    def create(self, clsid: str, iid: str, context: int) -> c_void_p:
        pointer = c_void_p()
        self.ole32.CoCreateInstance(byref(guid(clsid)), None, context, byref(guid(iid)), byref(pointer))
        return self.keep(pointer)

    def keep(self, interface: c_void_p) -> c_void_p:
        """Release ``interface`` when the session ends; a null one is an error."""
        if not interface.value:
            raise OSError("a COM call returned no object")
        self._undo.append(lambda: call(interface, 2, ()))
        return interface

    def query(self, interface: c_void_p, iid: str) -> c_void_p:
        found = c_void_p()
        call(interface, 0, (POINTER(GUID), POINTER(c_void_p)), byref(guid(iid)), byref(found))
        return self.keep(found)

    def bstr(self, text: str) -> c_void_p:
        pointer = c_void_p(self.oleaut32.SysAllocString(text))
        self._undo.append(lambda: self.oleaut32.SysFreeString(pointer))
        return pointer

    def text(self, value: str) -> VARIANT:
        return VARIANT(vt=VT_BSTR, value=self.bstr(value).value)

    def result(self) -> VARIANT:
        """A VARIANT for a call to fill, cleared when the session ends."""
        variant = VARIANT()
        self._undo.append(lambda: self.oleaut32.VariantClear(byref(variant)))
        return variant

    def invoke(self, dispatch: c_void_p, name: str, *args: VARIANT, get: bool = False) -> VARIANT:
        """IDispatch::Invoke of a method (or, with ``get``, a property) by name."""
        dispid, names = ctypes.c_long(), (ctypes.c_wchar_p * 1)(name)
        call(dispatch, 5, (POINTER(GUID), c_void_p, ctypes.c_uint, ctypes.c_uint32, POINTER(ctypes.c_long)),
             byref(GUID()), names, 1, 0, byref(dispid))
        arguments = (VARIANT * max(1, len(args)))(*reversed(args))  # IDispatch takes them last first
        params = DISPPARAMS(arguments if args else None, None, len(args), 0)
        out = self.result()
        call(dispatch, 6, (ctypes.c_long, POINTER(GUID), ctypes.c_uint32, ctypes.c_uint16, POINTER(DISPPARAMS),
                           POINTER(VARIANT), c_void_p, c_void_p),
             dispid, byref(GUID()), 0, _PROPERTY_GET if get else _METHOD, byref(params), byref(out), None, None)
        return out
