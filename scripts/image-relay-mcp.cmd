@echo off
rem The plugin's MCP entry on Windows: Codex and Claude Code find it through PATHEXT and run it with
rem cmd.exe (its twin image-relay-mcp serves macOS and Linux). It runs the stdlib launcher with the
rem py launcher, else a python.exe on the PATH. The Microsoft Store alias in
rem %LOCALAPPDATA%\Microsoft\WindowsApps opens the Store instead of running Python: python.exe
rem found there is tried last, and only if it really runs Python 3.10 or newer.
setlocal
set "launcher=%~dp0launch_mcp.py"
set "check=import sys; sys.exit(sys.version_info < (3, 10))"
set "python="
set "py="
for %%x in (py.exe) do set "py=%%~$PATH:x"
if defined py "%py%" -3 -c "%check%" >nul 2>nul && goto :with_py
for %%d in ("%PATH:;=" "%") do if not defined python call :consider "%%~d\python.exe" other
for %%d in ("%PATH:;=" "%") do if not defined python call :consider "%%~d\python.exe" store
if not defined python goto :none
"%python%" "%launcher%" %*
exit /b %errorlevel%

:with_py
"%py%" -3 "%launcher%" %*
exit /b %errorlevel%

:none
>&2 echo image-relay-bridge: no Python 3.10 or newer found (neither the py launcher nor a python.exe on the PATH other than the Microsoft Store alias); install Python from python.org and restart the client.
exit /b 127

:consider
rem %1 is python.exe in a PATH folder; %2 says which pass: other (outside WindowsApps) or store.
if not exist "%~1" exit /b 0
set "folder=%~dp1"
set "kind=other"
if /i not "%folder:\Microsoft\WindowsApps\=%"=="%folder%" set "kind=store"
if not "%kind%"=="%~2" exit /b 0
"%~1" -c "%check%" >nul 2>nul && set "python=%~1"
exit /b 0
