"""Image files: collision-free names and atomic writes (a reader never sees half an image)."""
from __future__ import annotations

import errno
import os
import re
import secrets
import time
import unicodedata
from pathlib import Path

from anyascii import anyascii

from ..errors import StorageError
from ..system.files import replace

SLUG_LENGTH = 40
STALE_SECONDS = 3600
# write_new's temporary names: ".<stem>.<pid>.<8 hex>.tmp"
_TEMP_NAME = re.compile(r"^\..+\.\d+\.[0-9a-f]{8}\.tmp$")


def slugify(text: str, ascii_only: bool = True) -> str:
    """A short slug for a file name ('image' when nothing is left).

    ``ascii_only`` (the default) gives lowercase ASCII letters, digits and hyphens, other scripts
    transliterated (一只狐狸 -> yi-zhi-hu-li): Codex App shows a broken image for a path with
    non-ASCII characters or spaces, and every shell, URL and viewer takes such a name as it is.
    Otherwise letters, digits and combining marks of any script survive (a Chinese prompt gives a
    Chinese slug); every other character, including all that Windows, macOS or Linux reserve,
    becomes one hyphen. NFC keeps a name the same on every system (macOS stores decomposed names).
    """
    if ascii_only:
        slug = re.sub(r"[^a-z0-9]+", "-", transliterate(text).lower()).strip("-")[:SLUG_LENGTH].rstrip("-")
        return slug or "image"
    out: list[str] = []
    for char in unicodedata.normalize("NFKC", text).lower():
        kind = unicodedata.category(char)
        if kind[0] in "LN" or (kind[0] == "M" and out and out[-1] != "-"):
            out.append(char)
        elif out and out[-1] != "-":
            out.append("-")
    slug = "".join(out).strip("-")[:SLUG_LENGTH].rstrip("-")
    return unicodedata.normalize("NFC", slug) or "image"


def transliterate(text: str) -> str:
    """ASCII for text in any script; Chinese characters become syllables apart (hu-li, not huli)."""
    out: list[str] = []
    syllables = False  # the previous character was an ideograph: keep each reading apart
    for char in unicodedata.normalize("NFKC", text):
        if char.isascii():
            out.append(char)
            syllables = False
            continue
        ascii_char = anyascii(char)
        ideograph = unicodedata.name(char, "").startswith("CJK UNIFIED IDEOGRAPH")
        if ideograph and (syllables or (out and out[-1][-1:].isalnum())):
            out.append("-")
        out.append(ascii_char)
        syllables = ideograph
    return "".join(out)


def new_stem(prompt: str, output_name: str | None = None, now: float | None = None, *, ascii_only: bool = True) -> str:
    """``<timestamp>-<slug>-<short unique id>``: unique even for parallel runs with one prompt."""
    stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(now))
    return f"{stamp}-{slugify(output_name or prompt, ascii_only)}-{secrets.token_hex(4)}"


def ensure_dir(directory: Path) -> Path:
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise _storage_error(directory, exc) from None
    if not os.access(directory, os.W_OK):
        raise StorageError(f"The output directory {directory} is not writable; choose another with --output-dir "
                           "or IMAGE_RELAY_OUTPUT_DIR.")
    return directory


def remove_stale_temps(directory: Path, now: float | None = None) -> int:
    """Delete this bridge's own temp files older than an hour (left by a killed process)."""
    now = time.time() if now is None else now
    removed = 0
    try:
        entries = list(os.scandir(directory))
    except OSError:
        return 0
    for entry in entries:
        if not _TEMP_NAME.match(entry.name):
            continue
        try:
            if entry.is_file(follow_symlinks=False) and now - entry.stat(follow_symlinks=False).st_mtime > STALE_SECONDS:
                os.unlink(entry.path)
                removed += 1
        except OSError:
            continue  # another process removed it, or it is not ours to remove
    return removed


def temp_path(directory: Path, label: str = "image") -> Path:
    """A fresh temporary name in ``directory``, of the shape stale-file cleanup recognises."""
    return directory / f".{label}.{os.getpid()}.{secrets.token_hex(4)}.tmp"


def open_temp(directory: Path, label: str = "image"):
    """A new temp file for writing, as (path, handle); a full or read-only disk is a StorageError."""
    directory = ensure_dir(directory)
    path = temp_path(directory, label)
    try:
        return path, open(path, "xb")
    except OSError as exc:
        raise _storage_error(directory, exc) from None


def write_to(handle, directory: Path, data: bytes) -> None:
    try:
        handle.write(data)
    except OSError as exc:
        raise _storage_error(directory, exc) from None


def close_temp(handle, directory: Path) -> None:
    """Close a temp file; the last buffered bytes may only fail now (a full disk)."""
    try:
        handle.close()
    except OSError as exc:
        raise _storage_error(directory, exc) from None


def write_new(directory: Path, base: str, ext: str, data: bytes) -> Path:
    """Write data to ``base.ext`` (or ``base-2.ext``, ...) atomically, never replacing a file."""
    directory = ensure_dir(directory)
    tmp = temp_path(directory, base)
    try:
        with open(tmp, "xb") as handle:
            handle.write(data)
    except OSError as exc:
        _remove(tmp)
        raise _storage_error(directory, exc) from None
    return publish(tmp, directory, base, ext)


def publish(tmp: Path, directory: Path, base: str, ext: str) -> Path:
    """Give a finished temp file (in ``directory``) the name ``base.ext`` or ``base-N.ext``,
    atomically and never replacing a file; the temp name is gone afterwards."""
    try:
        with open(tmp, "rb+") as handle:
            os.fsync(handle.fileno())
        for attempt in range(1, 1000):
            target = directory / (f"{base}.{ext}" if attempt == 1 else f"{base}-{attempt}.{ext}")
            if _publish(tmp, target):
                return target
        raise StorageError(f"Could not find a free file name for {base}.{ext} in {directory}.")
    except OSError as exc:
        raise _storage_error(directory, exc) from None
    finally:
        _remove(tmp)


def discard_temp(path: Path) -> None:
    """Remove a temp file that will not be published (rejected, or its write failed)."""
    _remove(path)


def _remove(path: Path) -> None:
    try:
        path.unlink()
    except OSError:
        pass  # gone already, or best effort: the temporary name starts with a dot


def _publish(tmp: Path, target: Path) -> bool:
    """Give the finished temp file its final name; False when that name is taken."""
    try:
        os.link(tmp, target)  # atomic and exclusive: fails if the name exists
        return True
    except FileExistsError:
        return False
    except OSError as exc:
        if exc.errno not in (errno.EPERM, errno.ENOTSUP, errno.EXDEV, errno.EMLINK, getattr(errno, "EOPNOTSUPP", -1)):
            raise
    # Filesystems without hard links: reserve the name exclusively, then move the data over it.
    try:
        os.close(os.open(target, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644))
    except FileExistsError:
        return False
    replace(tmp, target)
    return True


def _storage_error(directory: Path, exc: OSError) -> StorageError:
    reason = {errno.ENOSPC: "the disk is full", errno.EROFS: "the file system is read-only",
              errno.EACCES: "permission denied", errno.EDQUOT: "the disk quota is exceeded"}.get(
        exc.errno or 0, exc.strerror or exc.__class__.__name__)
    return StorageError(f"Could not write to {directory}: {reason}; choose another directory with --output-dir "
                        "or IMAGE_RELAY_OUTPUT_DIR.")
