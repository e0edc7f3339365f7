"""generate_image: the one function that composes the rest.

flags/env -> Settings -> Job -> HttpCall -> bytes -> events -> Signals -> files -> GenerationResult
"""
from __future__ import annotations

import time
from contextlib import nullcontext
from pathlib import Path

from .images import store
from .config import Settings, require
from .errors import BridgeError, ConfigError, NetworkError, ProtocolError, StreamBroken, redact, redact_secrets
from .user_request import GenerationRequest, Job, prepare_job
from .relay import fitting, polling, styles, tasks
from .relay.negotiate import Memory, Routes, previous_response_refused, unsupported_parameter
from .relay.retry import gateway_cannot_stream, proxy_timeout, retry_wait
from .relay.usage import normalize
from .progress import Heartbeat, ProgressCallback, Reporter
from .relay.rawlog import RawLog
from .relay.receive import Receiver, Saver
from .result import GenerationResult
from .summary import debug_summary
from .relay.transport import CancelToken, open_call, retry_after

HEARTBEAT_SECONDS = 10.0  # a progress line while a whole (non-streamed) answer is awaited
NO_ROUTE = (404, 405, 501)


def generate_image(request: GenerationRequest, settings: Settings, *, on_progress: ProgressCallback | None = None,
                   cancel: CancelToken | None = None, base_dir: Path | None = None) -> GenerationResult:
    """Run one image job end to end. Never raises a BridgeError: failures come back as results."""
    cancel = cancel or CancelToken()
    first = styles.get(styles.plan(settings.api_mode, settings.image_model, request.n)[0])
    if 1 < request.n <= 10 and first.one_image_per_call:
        # One image per call (Responses, chat, Gemini): n calls side by side.
        from .fanout import generate_many
        return generate_many(request, settings, run_one=generate_image, on_progress=on_progress, cancel=cancel,
                             base_dir=base_dir)
    return _Run(request, settings, on_progress, cancel, base_dir).execute()


class _Run:
    def __init__(self, request: GenerationRequest, settings: Settings, on_progress: ProgressCallback | None,
                 cancel: CancelToken, base_dir: Path | None) -> None:
        self.request, self.settings, self.cancel, self.base_dir = request, settings, cancel, base_dir
        self.on_progress = on_progress
        self.started = time.monotonic()
        self.reporter: Reporter | None = None
        self.warnings: list[str] = []
        self.events: list[str] = []
        self.attempts: list[dict] = []
        self.mode: str | None = None
        self.style: styles.Style | None = None
        self.plan: tuple[str, ...] = ()
        self.job: Job | None = None
        self.saver: Saver | None = None
        self.rawlog: RawLog | None = None
        self.receiver: Receiver | None = None
        self.request_id: str | None = None
        self.task_id: str | None = None
        self.routes = Routes(settings.base_url, settings.api_mode)

    def execute(self) -> GenerationResult:
        try:
            self.plan = styles.plan(self.settings.api_mode, self.settings.image_model, self.request.n,
                                    self.routes.load())
            # What the first style to try cannot run without; fetching a task needs only the relay and key.
            require(self.settings, "task" if self.request.task_id else styles.get(self.plan[0]).mode)
            self.job = prepare_job(self.request, self.settings, base_dir=self.base_dir)
            self.warnings.extend(self.job.notes)
            if not self.job.task_id:
                self.job, notes = fitting.fit(self.job, self.settings.image_model,
                                              size_is_default=self.request.size in (None, ""))
                self.warnings.extend(notes)
            self.reporter = Reporter(self.on_progress, self.job.partial_images, self.started)
            self._prepare_output()
            self._run_modes()
            return self._success()
        except BridgeError as error:
            return self._failure(error)
        finally:
            if self.rawlog is not None:
                self.rawlog.close()

    def _prepare_output(self) -> None:
        job = self.job
        store.ensure_dir(job.output_dir)
        store.remove_stale_temps(job.output_dir)
        stem = store.new_stem(job.original_prompt, job.output_name, ascii_only=self.settings.ascii_file_names)
        self.saver = Saver(job.output_dir, stem)
        self.rawlog = RawLog(job.output_dir / "logs" / f"{stem}.log", self.settings.secrets)

    def _run_modes(self) -> None:
        """The plan's styles in turn: the next only when the relay has no route for the one before."""
        job = self.job
        if job.task_id:  # a task the relay already has: only polled, nothing generated
            self.mode, self.style = "images", styles.get("images")
            return self._follow(tasks.Task(id=job.task_id, status="asked for"), first_wait=0.0)
        if self.settings.stream == "false" and job.partial_images:
            self.warnings.append(f"IMAGE_RELAY_STREAM=false: the {job.partial_images} partial image(s) asked for need a "
                                 "stream, so none were requested.")
        for position, mode in enumerate(self.plan):
            try:
                self._run(mode)
                if position and styles.get(mode).mode == self.settings.api_mode:
                    self.routes.remember(mode)  # a route of the asked mode: tried first next time
                return
            except BridgeError as error:
                last = position == len(self.plan) - 1
                following = None if last else self.plan[position + 1]
                # Another route of the same mode (OpenRouter's /images) only for a route that is missing
                # (404, 405); another mode also when the relay does not implement this one (501).
                missing = NO_ROUTE if last or styles.get(following).mode != styles.get(mode).mode else (404, 405)
                if last or error.status_code not in missing or error.stream_started:
                    raise
                try:
                    require(self.settings, styles.get(following).mode)
                except ConfigError as missing:
                    raise ConfigError(f"The relay has no route for {styles.get(mode).title} (HTTP "
                                      f"{error.status_code}), and {following} mode cannot run: {missing.message}") \
                        from None
                note = (f"The relay has no route for {styles.get(mode).title} (HTTP {error.status_code}); fell back to "
                        f"{styles.get(following).title}.")
                self.warnings.append(note)
                self.reporter.emit("fallback", note)

    def _run(self, mode: str) -> None:
        """Attempts in one mode, with billing-safe retries and parameter negotiation."""
        self.mode, self.style = mode, styles.get(mode)
        style = self.style
        if self.request.partial_images and not style.partial_images:
            self.warnings.append(f"{style.title} sends no partial images; only the final image will come.")
        memory = Memory(self.settings.base_url or "", f"{mode}:{style.model(self.settings)}")
        dropped = memory.load()
        negotiated = False
        retries = 0
        while True:
            call = styles.build_call(self.job, self.settings, mode, dropped=dropped)
            attempt = {"mode": mode, "endpoint": call.path}
            self.attempts.append(attempt)
            try:
                self._attempt(call, style)
                attempt["outcome"] = "ok"
                break
            except BridgeError as error:
                attempt["outcome"] = error.code
                if self.receiver is not None and self.receiver.started_stream:
                    error.stream_started = True
                error = proxy_timeout(error, self.settings.async_images) or error
                if call.stream and gateway_cannot_stream(error):
                    error.message += (" If a gateway sits in front of the relay and cannot pass streams on, set "
                                      "IMAGE_RELAY_STREAM=false.")
                unbilled = style.unbilled(error)
                if unbilled:
                    error.message += f" {unbilled}"
                sent = style.sent(call) - set(self.settings.extra_body)  # the user's own fields are never dropped
                param = None if negotiated else (style.refused_field(error, call) or unsupported_parameter(error, sent))
                if not param and previous_response_refused(error, sent):
                    dropped = dropped | {"previous_response_id"}  # not remembered: the next id may be known
                    note = (f"The relay could not continue from the earlier image's response ({_reason(error)}: "
                            f"{error.message[:160]}); the saved image was uploaded instead.")
                    self.warnings.append(note)
                    self.reporter.emit("retry", note)
                    continue
                if param:
                    negotiated = True
                    dropped = dropped | {param}
                    memory.remember(dropped)
                    note = f"The relay does not accept the parameter '{param}'; retried without it."
                    self.warnings.append(note)
                    self.reporter.emit("retry", note)
                    continue
                wait = self._retry_wait(error, retries, bool(unbilled))
                if wait is None:
                    raise error from None
                retries += 1
                attempt["retry_after_seconds"] = round(wait, 2)
                if unbilled:
                    self.warnings.append(f"{_reason(error)}, and it was tried again: {unbilled}")
                self.reporter.emit("retry", f"{_reason(error)}; retrying in {wait:.1f} s "
                                            f"(retry {retries} of {self.settings.max_retries}).")
                if self.cancel._event.wait(wait):
                    self.cancel.check()
        if self.receiver.task is not None:
            self._follow(self.receiver.task, hint=retry_after(self.receiver.headers))

    def _follow(self, task: tasks.Task, first_wait: float | None = None, hint: float | None = None) -> None:
        """The relay answered a task: poll it to its image (``relay/polling``); never send the request again."""
        if self.style.poll(task.id) is None:
            raise ProtocolError(f"The relay answered with a task ({task.id}), which {self.style.title} cannot poll; "
                                "use IMAGE_RELAY_API_MODE=images.", code="unexpected_content")
        self.task_id = task.id
        self.receiver = polling.follow(task, self.style, lambda call: self._exchange(call, self.style), self.reporter,
                                       self.rawlog, self.cancel, self.started + self.settings.total_timeout,
                                       first_wait=first_wait, hint=hint)

    def _retry_wait(self, error: BridgeError, retries: int, unbilled: bool) -> float | None:
        """Seconds to wait before a retry, or None when a retry could bill twice or cannot help."""
        if self.saver.finals or self.saver.partials:
            return None
        return retry_wait(error, retries, max_retries=self.settings.max_retries,
                          server_errors=self.settings.retry_server_errors, unbilled=unbilled,
                          remaining=self.started + self.settings.total_timeout - time.monotonic())

    def _attempt(self, call, style: styles.Style) -> None:
        path = call.path.split("?", 1)[0]
        self.reporter.emit("connecting", f"Sending the request to the relay ({style.mode} mode, {call.method} {path}).")
        with Heartbeat(self.reporter, HEARTBEAT_SECONDS) if not call.stream else nullcontext():
            self._exchange(call, style, announce=True)

    def _exchange(self, call, style: styles.Style, announce: bool = False) -> Receiver:
        """One request and its whole answer, read into a new receiver (images saved as they come)."""
        self.rawlog.request(call, style.name)
        deadline = self.started + self.settings.total_timeout
        self.receiver = Receiver(style, self.job, self.saver, self.reporter, self.rawlog, self.cancel, self.settings,
                                 self.warnings, deadline)
        with open_call(self.settings, call, deadline=deadline, cancel=self.cancel) as reply:
            self.request_id = reply.request_id or self.request_id
            self.rawlog.response(reply.status, reply.headers)
            if announce:
                self.reporter.emit("connected", f"Connected; the relay answered HTTP {reply.status}.")
            self.receiver.consume(reply, call.stream)
        return self.receiver

    def _success(self) -> GenerationResult:
        finals = self.saver.finals
        job = self.job
        first = finals[0]
        if job.size != "auto" and first.info.size != job.size:
            self.warnings.append(f"The relay returned {first.info.size} instead of the requested {job.size}.")
        if first.info.format != job.output_format:
            self.warnings.append(f"The relay returned {first.info.format} instead of the requested {job.output_format}.")
        if len(finals) < job.n and not self.style.one_image_per_call:
            self.warnings.append(f"The relay returned {len(finals)} of the {job.n} images asked for.")
        outcome = self.receiver.interpreter.outcome
        # A Responses answer holds one image; its id lets a later edit refer to it instead of uploading it.
        response_ids = {str(finals[0].path): outcome.response_id} if self.style.keeps_turns and outcome.response_id \
            and len(finals) == 1 else {}
        return self._result(
            response_ids=response_ids,
            ok=True, complete=True, image_paths=tuple(str(s.path) for s in finals), actual_size=first.info.size,
            output_format=first.info.format, bytes=first.size, revised_prompt=outcome.revised_prompt,
            usage=normalize(outcome.usage), exit_code=0)

    def _failure(self, error: BridgeError) -> GenerationResult:
        saver = self.saver
        if saver is not None and saver.finals:
            self.warnings.append(f"The connection ended with an error after the image was saved: {error.message}")
            return self._success()
        best = saver.best_partial() if saver is not None else None
        if best is not None and error.code in ("bad_image", "too_large", "image_too_large", "unsafe_link"):
            # The final image failed its check: it is not published, and a partial is not a final.
            error.message += f" The best partial image ({best.path.name}) was kept."
        elif best is not None and isinstance(error, (NetworkError, ProtocolError)):
            error = StreamBroken(f"The stream broke after {len(saver.partials)} partial image(s); the best partial "
                                 f"was kept. Cause: {error.message}", status_code=error.status_code)
        image_paths = (str(best.path),) if best is not None and isinstance(error, StreamBroken) else ()
        error.message = redact(error.message, self.settings.secrets)
        # The relay's links to a billed image stay whole (their signatures are the user's way to it), but
        # never carry a secret of the user's: the key, or the relay's own address.
        error.links = [redact_secrets(link, self.settings.secrets) for link in error.links]
        return self._result(ok=False, complete=False, error=error.to_dict(), exit_code=int(error.exit_code),
                            image_paths=image_paths, actual_size=best.info.size if image_paths else None,
                            output_format=best.info.format if image_paths else None,
                            bytes=best.size if image_paths else None)

    def _result(self, **fields) -> GenerationResult:
        saver = self.saver
        partials = tuple(str(saver.partials[k].path) for k in sorted(saver.partials)) if saver else ()
        job = self.job
        outcome = self.receiver.interpreter.outcome if self.receiver else None
        return GenerationResult(
            elapsed_seconds=round(time.monotonic() - self.started, 2), partial_image_paths=partials,
            alt_text=job.original_prompt if job else "image", api_mode=self.style.mode if self.style else None,
            extra={"task_id": self.task_id} if self.task_id else {},
            model=(outcome.model if outcome and outcome.model else None) or self._model(),
            raw_log_path=str(self.rawlog.path) if self.rawlog and self.attempts else None,
            debug_summary=self._debug() if self.settings.show_debug_summary else None,
            warnings=tuple(redact(w, self.settings.secrets) for w in self.warnings), **fields)

    def _model(self) -> str | None:
        return self.style.model(self.settings) if self.style else None

    def _debug(self) -> dict:
        return debug_summary(self.started, mode=self.style.mode if self.style else None, route=self.mode,
                             attempts=self.attempts, request_id=self.request_id, task_id=self.task_id,
                             receiver=self.receiver, saver=self.saver, model=self._model(),
                             image_model=self.settings.image_model)


def _reason(error: BridgeError) -> str:
    if error.status_code:
        return f"The relay answered HTTP {error.status_code}"
    return "The relay could not be reached"
