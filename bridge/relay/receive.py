"""Read one relay answer, stream or whole body, and save images the moment they arrive."""
from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from ..images import store
from ..images.b64 import decode_base64
from ..errors import BridgeError, ProtocolError, RequestTimeout
from . import tasks
from .events import Signal
from .diagnose import html_error
from ..images.integrity import check_image
from ..images.sniff import ImageInfo
from ..user_request import Job
from .links import billed
from .payloads import Extractor, problem_error
from ..progress import Reporter
from .rawlog import RawLog
from .sse import iter_events
from .transport import CancelToken, Reply, download

# Signal -> (progress stage, what the user reads); partial and final images are told with their details.
_SAID = {
    "queued": ("accepted", "The relay queued the job."),
    "accepted": ("accepted", "The relay accepted the job."),
    "reasoning": ("accepted", "The text model is thinking about the request."),
    "called": ("started", "The text model called the image tool."),
    "started": ("started", "Image is rendering."),
    "rendered": ("rendered", "The image is rendered; receiving it."),
}
BODY_LIMIT = 32 * 1024 * 1024  # one whole JSON answer, its images aside (they go to files as they arrive)
IMAGE_LIMIT = 64 * 1024 * 1024  # one image, decoded, from base64 or a link
MAX_EVENTS = 100_000  # data events in one stream (comment keep-alives are bounded by the deadline)


@dataclass
class Saved:
    path: Path
    info: ImageInfo
    size: int


@dataclass
class Saver:
    """Where this job's images go: ``<stem>.<ext>``, ``<stem>-2.<ext>``, ``<stem>-partial-<k>.<ext>``."""

    directory: Path
    stem: str
    finals: list[Saved] = field(default_factory=list)
    partials: dict[int, Saved] = field(default_factory=dict)

    def partial(self, index: int, tmp: Path, info: ImageInfo) -> Saved:
        size = tmp.stat().st_size
        path = store.publish(tmp, self.directory, f"{self.stem}-partial-{index + 1}", info.extension)
        self.partials[index] = Saved(path, info, size)
        return self.partials[index]

    def final(self, tmp: Path, info: ImageInfo) -> Saved:
        base = self.stem if not self.finals else f"{self.stem}-{len(self.finals) + 1}"
        size = tmp.stat().st_size
        saved = Saved(store.publish(tmp, self.directory, base, info.extension), info, size)
        self.finals.append(saved)
        return saved

    def best_partial(self) -> Saved | None:
        return self.partials[max(self.partials)] if self.partials else None


@dataclass
class Tally:
    """Counters for the debug summary; never holds a secret or the relay's address."""

    bytes_received: int = 0
    keepalives: int = 0
    non_json_events: int = 0
    truncated_events: int = 0
    first_byte: float | None = None
    first_event: float | None = None
    last_event: float | None = None
    final_at: float | None = None


@contextmanager
def _removed_on_error(tmp: Path) -> Iterator[None]:
    """A temp file this receiver owns goes as soon as anything fails with it, before the result returns."""
    try:
        yield
    except BaseException:
        store.discard_temp(tmp)
        raise


class Receiver:
    """Reads one answer in the shape of ``style`` (``relay/styles``) and saves its images."""

    def __init__(self, style, job: Job, saver: Saver, reporter: Reporter, rawlog: RawLog, cancel: CancelToken,
                 settings, warnings: list[str], deadline: float) -> None:
        self.job, self.saver, self.reporter, self.rawlog = job, saver, reporter, rawlog
        self.cancel, self.settings, self.warnings, self.deadline = cancel, settings, warnings, deadline
        self.interpreter = style.reader()
        self.tally = Tally()
        self._opened = time.monotonic()
        self._saved_hashes: set[str] = set()  # the same image told twice (in images[] and in the text) is saved once
        self.extractor = Extractor(saver.directory, IMAGE_LIMIT, keys=style.payload_keys, links=style.link_keys,
                                   text_images=style.text_images)
        self.task: tasks.Task | None = None  # the relay answered a task to poll instead of the image
        self.headers: dict[str, str] = {}

    def consume(self, reply: Reply, stream_expected: bool) -> None:
        """Process the whole answer; raises BridgeError on any failure (images saved so far stay). An
        answer that is a task still running sets ``task`` instead of failing for want of an image."""
        self._opened = time.monotonic()
        self.headers = reply.headers
        content_type = reply.content_type.lower()
        try:
            if reply.is_event_stream or (stream_expected and "json" not in content_type and "html" not in content_type):
                self._consume_stream(reply)
            else:
                self._consume_body(reply)
            self.extractor.end_of_answer()
            for signal in self.interpreter.closing():  # images only the whole answer tells (a link in text)
                self._handle(signal)
        finally:
            self.extractor.close()  # temp files of payloads that were never published
        if self.task is not None and not self.interpreter.outcome.finals:
            return  # polled next (relay/polling)
        self.task = None
        if self.tally.truncated_events and not self.interpreter.outcome.finals:
            raise ProtocolError("The relay cut off an event that carried image data (some relays cap stream lines at "
                                "64 KiB); use IMAGE_RELAY_API_MODE=images or ask the relay to raise its limit.",
                                code="truncated_event")
        self.interpreter.finish()
        self.warnings.extend(self.interpreter.outcome.notes)
        self._note_buffering()

    @property
    def started_stream(self) -> bool:
        return self.tally.bytes_received > 0

    def _consume_stream(self, reply: Reply) -> None:

        count = 0
        for event in iter_events(self._chunks(reply), on_block=self._on_block):
            count += 1
            if count > MAX_EVENTS:
                raise ProtocolError(f"The relay sent more than {MAX_EVENTS} events without finishing the image; the "
                                    "bridge stopped reading.", code="too_many_events")
            now = time.monotonic()
            self.tally.first_event = self.tally.first_event or now
            self.tally.last_event = now
            try:
                payload = json.loads(event.data)
            except ValueError:
                if event.data.lstrip().startswith("{"):
                    self.tally.truncated_events += 1  # cut short, e.g. by a relay's 64 KiB line limit (R7)
                else:
                    self.tally.non_json_events += 1  # PING and similar keep-alives
                continue
            for signal in self.interpreter.feed(payload, event.name):
                self._handle(signal)

    def _consume_body(self, reply: Reply) -> None:
        body = bytearray()
        for piece in self._chunks(reply):
            body += piece
            if len(body) > BODY_LIMIT:
                raise ProtocolError(f"The relay's answer is larger than {BODY_LIMIT >> 20} MB (after decompression); "
                                    "the bridge stopped reading it.", code="too_large")
        self.rawlog.body(bytes(body) + b"\n")
        text = bytes(body).strip()  # relays pad JSON with keep-alive whitespace (R22)
        if not text:
            self.task = tasks.from_headers(reply.headers) if reply.status == 202 else None
            if self.task is not None:
                return  # an empty 202 whose Location names the task
            raise ProtocolError("The relay's answer was empty.", code="empty_answer")
        if text[:1] == b"<":
            raise html_error(reply.status, text.decode("utf-8", "replace"))
        try:
            payload = json.loads(text)
        except ValueError:
            raise ProtocolError(f"The relay's answer is not JSON (content type {reply.content_type or 'none'}).",
                                code="unexpected_content") from None
        self.tally.first_event = self.tally.last_event = time.monotonic()
        for signal in self.interpreter.feed(payload):
            self._handle(signal)

    def _chunks(self, reply: Reply) -> Iterator[bytes]:
        try:
            for piece in reply.chunks():
                if self.tally.first_byte is None:
                    self.tally.first_byte = time.monotonic()
                self.tally.bytes_received += len(piece)
                reduced = self.extractor.feed(piece)  # image payloads go to temp files as they arrive
                if reduced:
                    yield reduced
        except RequestTimeout as exc:
            if exc.code == "idle_timeout" and not self.tally.bytes_received:
                raise RequestTimeout(
                    f"The relay accepted the request but sent nothing for {self.settings.idle_timeout:g} s; it may be "
                    "buffering the whole answer until the image is done. Raise IMAGE_RELAY_IDLE_TIMEOUT.",
                    code="idle_timeout") from None
            raise

    def _on_block(self, block: bytes) -> None:
        self.rawlog.body(self.extractor.log_text(block))
        if all(line.startswith(b":") for line in block.split(b"\n") if line):
            self.tally.keepalives += 1

    def _handle(self, signal: Signal) -> None:
        self.cancel.check()
        if signal.kind in _SAID:
            stage, message = _SAID[signal.kind]
            self.reporter.emit(stage, message)
        elif signal.kind == "partial":
            self._partial(signal)
        elif signal.kind == "final":
            self._final(signal)
        elif signal.kind == "task":
            self.task = signal.meta["task"]

    def _partial(self, signal: Signal) -> None:
        try:
            tmp = self._payload(signal)
            if tmp is None:
                return
            with _removed_on_error(tmp):
                info = check_image(tmp, "A partial image")
        except ProtocolError as exc:
            self.warnings.append(f"Skipped partial image {signal.index + 1}: {exc.message}")
            return
        saved = self.saver.partial(signal.index, tmp, info)
        total = f" of {self.job.partial_images}" if self.job.partial_images else ""
        self.reporter.emit("partial", f"Partial image {signal.index + 1}{total} received.", partial=signal.index + 1,
                           path=str(saved.path))

    def _final(self, signal: Signal) -> None:
        link = signal.url if signal.url and signal.url.startswith(("http://", "https://")) else None
        if link is not None:
            self.rawlog.link(link)  # whole, so the user can still fetch it whatever happens next
        try:
            tmp = self._payload(signal)
            if tmp is None:
                return  # the final image repeated (response.completed): already saved
            with _removed_on_error(tmp):  # a rejected final leaves nothing behind
                info = check_image(tmp, "The final image")
        except BridgeError as error:
            if link is None:
                raise
            raise billed(error, link) from None  # made and billed: the error keeps the link
        self.tally.final_at = time.monotonic()
        self.reporter.emit("final", f"Final image received ({info.size}, {tmp.stat().st_size / 1024:.0f} KB).")
        saved = self.saver.final(tmp, info)
        self.reporter.emit("saved", f"Saved {saved.path}.", path=str(saved.path))

    def _payload(self, signal: Signal) -> Path | None:
        """The temp file holding the signal's image (None for a repeat that was skipped)."""
        payload = self.extractor.lookup(signal.b64) or self.extractor.lookup(signal.url)
        if payload is not None:
            if payload.problem:
                raise problem_error(payload)
            if payload.skipped:
                return None
            if payload.path is None:
                raise ProtocolError("The relay sent an empty image.", code="bad_image")
            tmp, payload.path = payload.path, None  # the saver publishes (and so removes) it
            if signal.kind == "final" and payload.sha:
                if payload.sha in self._saved_hashes:
                    store.discard_temp(tmp)
                    return None  # the same image again
                self._saved_hashes.add(payload.sha)
            return tmp
        inline = signal.b64 or (signal.url if signal.url and signal.url.startswith("data:") else None)
        if inline:  # a field the extractor does not know: small, decoded the old way
            if len(inline) // 4 * 3 > IMAGE_LIMIT + 3:
                raise ProtocolError(f"The relay sent an image larger than {IMAGE_LIMIT >> 20} MB; it was not saved.",
                                    code="too_large")
            data = decode_base64(inline)
        elif not signal.url:
            raise ProtocolError("The relay sent an image event without image data.", code="no_image")
        directory = self.saver.directory
        tmp, handle = store.open_temp(directory)
        with _removed_on_error(tmp):
            try:
                if inline:
                    store.write_to(handle, directory, data)
                else:  # a link: the image goes to the temp file as it arrives, never whole in memory
                    download(signal.url, self.settings, limit=IMAGE_LIMIT, cancel=self.cancel, deadline=self.deadline,
                             sink=lambda piece: store.write_to(handle, directory, piece))
            finally:
                store.close_temp(handle, directory)
        return tmp

    def _note_buffering(self) -> None:
        t = self.tally
        if t.first_event and t.last_event and self.interpreter.outcome.event_counts:
            events = sum(self.interpreter.outcome.event_counts.values())
            if events > 3 and t.last_event - t.first_event < 0.5 and t.first_event - self._opened > 5:
                self.warnings.append("The relay buffered the whole stream and sent it at once, so progress could not "
                                     "be shown as it happened.")
