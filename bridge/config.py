"""Settings: one resolution with a documented precedence.

Precedence, highest first: CLI flag or tool argument > process environment > the env file named
by ``--env-file`` / ``IMAGE_RELAY_ENV_FILE`` > ``./.env`` > the user config file > defaults.
An empty value counts as unset. Only ``IMAGE_RELAY_*`` names are read: a generic
``OPENAI_API_KEY`` is never sent to a relay.
"""
from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from dotenv import dotenv_values

from .errors import ConfigError, InputError
from .paths import user_config_file

PREFIX = "IMAGE_RELAY_"
API_MODES = ("responses", "images", "chat", "gemini", "auto")
REQUEST_POLICIES = ("openai", "compat")
QUALITIES = ("auto", "low", "medium", "high")
OUTPUT_FORMATS = ("png", "jpeg", "webp")
BACKGROUNDS = ("auto", "opaque", "transparent")
STREAM_CHOICES = ("auto", "true", "false")
SIZE_PATTERN = re.compile(r"^(auto|[1-9][0-9]{0,4}x[1-9][0-9]{0,4})$")
# A size as relays' own models take it besides WIDTHxHEIGHT: a resolution tier (Seedream's "2K") or
# WIDTH*HEIGHT (Jimeng's "1024*1024"); read as a resolution, or as WIDTHxHEIGHT.
TIER_SIZE = re.compile(r"^(512|[124]k)$", re.I)
STAR_SIZE = re.compile(r"^([1-9][0-9]{0,4})\s*[*×]\s*([1-9][0-9]{0,4})$")
# Body keys IMAGE_RELAY_EXTRA_BODY may never set: the prompt, the model and the input images, in every
# shape a style sends them (and the Responses tool list that carries the image model).
PROTECTED_BODY_KEYS = ("model", "prompt", "image", "images", "image[]", "mask", "input", "messages", "contents",
                       "input_references", "tools", "tool_choice")
RATIO_PATTERN = re.compile(r"^\s*([1-9][0-9]?)\s*[:：]\s*([1-9][0-9]?)\s*$")
RESOLUTIONS = ("512", "1K", "2K", "4K")  # Gemini's imageSize tiers (512 is 3.1 Flash's "0.5K")
GEMINI_AUTHS = ("bearer", "x-goog-api-key")
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def _choice(options: tuple[str, ...]) -> Callable[[str], str]:
    def parse(value: str) -> str:
        value = value.strip().lower()
        if value not in options:
            raise ValueError(f"must be one of {', '.join(options)}")
        return value
    return parse


def _int_range(low: int, high: int) -> Callable[[str], int]:
    def parse(value: str) -> int:
        number = int(value)
        if not low <= number <= high:
            raise ValueError(f"must be between {low} and {high}")
        return number
    return parse


def _positive_float(value: str) -> float:
    number = float(value)
    if number <= 0:
        raise ValueError("must be a positive number of seconds")
    return number


def _bool(value: str) -> bool:
    value = value.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ValueError("must be true or false")


def _size(value: str) -> str:
    value = normal_size(value)
    if not SIZE_PATTERN.match(value) and not TIER_SIZE.match(value):
        raise ValueError("must be auto, WIDTHxHEIGHT (e.g. 1024x1536) or a resolution (1K, 2K, 4K)")
    return value


def normal_size(value: str) -> str:
    """``1024*1024`` as ``1024x1024``, ``2k`` as ``2K``; anything else lower-cased, as it was."""
    value = value.strip()
    star = STAR_SIZE.match(value)
    if star:
        return f"{star[1]}x{star[2]}"
    return value.upper() if TIER_SIZE.match(value) else value.lower()


def extra_body(value: str) -> dict:
    """IMAGE_RELAY_EXTRA_BODY / --extra-body: a JSON object of vendor fields, never one that would
    replace the prompt, the model or the input images."""
    try:
        body = json.loads(value)
    except ValueError:
        raise ValueError("is not valid JSON; give a JSON object such as {\"watermark\": false}") from None
    if not isinstance(body, dict):
        raise ValueError("must be a JSON object such as {\"watermark\": false}")
    taken = [key for key in body if key in PROTECTED_BODY_KEYS]
    if taken:
        raise ValueError(f"may not set {', '.join(repr(k) for k in taken)}: the prompt, the model and the input "
                         "images come from the call itself")
    return body


def aspect_ratio(value: str) -> str:
    """``16:9`` (also ``16：9``), both sides 1 to 99; the empty string stays empty."""
    if not value.strip():
        return ""
    match = RATIO_PATTERN.match(value)
    if not match:
        raise ValueError("must be an aspect ratio such as 16:9, 1:1 or 9:16")
    return f"{int(match[1])}:{int(match[2])}"


def resolution(value: str) -> str:
    """``1K``, ``2K``, ``4K`` or ``512`` (``1k``, ``0.5K`` and ``4096`` are read as those); empty stays empty."""
    text = value.strip().upper().replace(" ", "")
    if not text:
        return ""
    aliases = {"0.5K": "512", "512PX": "512", "1024": "1K", "2048": "2K", "4096": "4K"}
    text = aliases.get(text, text)
    if text not in RESOLUTIONS:
        raise ValueError(f"must be one of {', '.join(RESOLUTIONS)}")
    return text


def _template(value: str) -> str:
    if "{prompt}" not in value:
        raise ValueError("must contain the {prompt} placeholder")
    return value


def _text(value: str) -> str:
    return value.strip()


WAYS_OUT = ("shell", "wmi")  # how a Windows worker leaves a client's job object (system/outside)


def _ways_out(value: str) -> str:
    """``off``, or some of WAYS_OUT in the order to try them, e.g. ``shell,wmi``."""
    value = value.strip().lower()
    if value in ("off", "none", "false", "0"):
        return "off"
    ways = [w.strip() for w in value.split(",") if w.strip()]
    if not ways or any(w not in WAYS_OUT for w in ways) or len(set(ways)) != len(ways):
        raise ValueError(f"must be off or a comma-separated list of {', '.join(WAYS_OUT)}")
    return ",".join(ways)


_SECRET_HEADER = re.compile(r"key|token|auth|secret|pass|config|cookie|host|url", re.I)
_HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")


def parse_headers(value: str) -> dict[str, str]:
    """Extra request headers: a JSON object, or ``Name: value`` pairs one per line or split by ``;``."""
    value = value.strip()
    if value.startswith("{"):
        try:
            pairs = json.loads(value)
        except ValueError:
            raise ValueError("is not a valid JSON object of header names and values") from None
        if not isinstance(pairs, dict):
            raise ValueError("must be a JSON object of header names and values")
        items = [(str(k), v if isinstance(v, str) else json.dumps(v)) for k, v in pairs.items()]
    else:
        items = []
        for part in re.split(r"[\n;]", value):
            if not part.strip():
                continue
            name, sep, header_value = part.partition(":")
            if not sep:
                name, sep, header_value = part.partition("=")
            if not sep:
                raise ValueError("must be a JSON object or 'Name: value' pairs")
            items.append((name, header_value))
    headers: dict[str, str] = {}
    for name, header_value in items:
        name, header_value = name.strip(), header_value.strip()
        if not _HEADER_NAME.match(name):
            raise ValueError("has a header name with characters a header cannot carry")
        if "\r" in header_value or "\n" in header_value:
            raise ValueError("has a header value with a line break")
        headers[name] = header_value
    return headers


# field name -> (variable suffix, default, parser)
_VARIABLES: dict[str, tuple[str, object, Callable[[str], object]]] = {
    "base_url": ("BASE_URL", None, lambda v: v.strip().rstrip("/")),
    "api_key": ("API_KEY", None, _text),
    "text_model": ("TEXT_MODEL", None, _text),
    "image_model": ("IMAGE_MODEL", None, _text),
    "api_mode": ("API_MODE", "responses", _choice(API_MODES)),
    "request_policy": ("REQUEST_POLICY", "openai", _choice(REQUEST_POLICIES)),
    "output_dir": ("OUTPUT_DIR", "./outputs", _text),
    "size": ("DEFAULT_SIZE", "auto", _size),
    "aspect_ratio": ("DEFAULT_ASPECT_RATIO", "", aspect_ratio),
    "resolution": ("DEFAULT_RESOLUTION", "", resolution),
    "quality": ("DEFAULT_QUALITY", "high", _choice(QUALITIES)),
    "output_format": ("DEFAULT_OUTPUT_FORMAT", "png", _choice(OUTPUT_FORMATS)),
    "background": ("DEFAULT_BACKGROUND", "auto", _choice(BACKGROUNDS)),
    "output_compression": ("DEFAULT_OUTPUT_COMPRESSION", 100, _int_range(0, 100)),
    "partial_images": ("DEFAULT_PARTIAL_IMAGES", 0, _int_range(0, 3)),
    "prompt_template": ("DEFAULT_PROMPT_TEMPLATE", "{prompt}", _template),
    "negative_prompt": ("DEFAULT_NEGATIVE_PROMPT", "", _text),
    "cli_open_image": ("CLI_OPEN_IMAGE", True, _bool),
    "show_progress": ("SHOW_PROGRESS", True, _bool),
    "show_debug_summary": ("SHOW_DEBUG_SUMMARY", True, _bool),
    "connect_timeout": ("CONNECT_TIMEOUT", 10.0, _positive_float),
    "idle_timeout": ("IDLE_TIMEOUT", 270.0, _positive_float),
    "total_timeout": ("TIMEOUT", 570.0, _positive_float),
    "max_retries": ("MAX_RETRIES", 2, _int_range(0, 10)),
    "retry_server_errors": ("RETRY_SERVER_ERRORS", False, _bool),
    "mcp_wait_seconds": ("MCP_WAIT_SECONDS", 50.0, _positive_float),
    "mcp_max_jobs": ("MCP_MAX_JOBS", 6, _int_range(1, 64)),
    "mcp_cancel_stops_job": ("MCP_CANCEL_STOPS_JOB", False, _bool),
    "mcp_preview_size": ("MCP_PREVIEW_SIZE", 1024, _int_range(0, 4096)),
    "mcp_preview_max_bytes": ("MCP_PREVIEW_MAX_BYTES", 300_000, _int_range(10_000, 5_000_000)),
    "mcp_structured": ("MCP_STRUCTURED", False, _bool),
    "mcp_caller_max_jobs": ("MCP_CALLER_MAX_JOBS", 2, _int_range(1, 64)),  # shared server: per caller
    "mcp_caller_daily_images": ("MCP_CALLER_DAILY_IMAGES", 100, _int_range(0, 1_000_000)),  # 0: no daily cap
    "mcp_upload_max_mb": ("MCP_UPLOAD_MAX_MB", 10, _int_range(1, 32)),
    "mcp_outside_job": ("MCP_OUTSIDE_JOB", "shell,wmi", _ways_out),  # Windows: how a worker leaves the client's job
    "ascii_file_names": ("ASCII_FILE_NAMES", True, _bool),
    "extra_headers": ("EXTRA_HEADERS", {}, parse_headers),
    "stream": ("STREAM", "auto", _choice(STREAM_CHOICES)),
    "gemini_base_url": ("GEMINI_BASE_URL", None, lambda v: v.strip().rstrip("/")),
    "gemini_auth": ("GEMINI_AUTH", "bearer", _choice(GEMINI_AUTHS)),
    "extra_body": ("EXTRA_BODY", {}, extra_body),
    "async_images": ("ASYNC", False, _bool),
}
SECRET_FIELDS = ("api_key", "base_url", "extra_headers", "gemini_base_url")


def variable(name: str) -> str:
    """The environment variable behind a settings field."""
    return PREFIX + _VARIABLES[name][0]


FIELDS = tuple(_VARIABLES)
VARIABLES = tuple(variable(name) for name in FIELDS)


@dataclass(frozen=True)
class Settings:
    """Resolved settings; built by resolve_settings, which holds the one copy of each default."""

    base_url: str | None
    api_key: str | None
    text_model: str | None
    image_model: str | None
    api_mode: str
    request_policy: str
    output_dir: str
    size: str
    aspect_ratio: str
    resolution: str
    quality: str
    output_format: str
    background: str
    output_compression: int
    partial_images: int
    prompt_template: str
    negative_prompt: str
    cli_open_image: bool
    show_progress: bool
    show_debug_summary: bool
    connect_timeout: float
    idle_timeout: float
    total_timeout: float
    max_retries: int
    retry_server_errors: bool
    mcp_wait_seconds: float
    mcp_max_jobs: int
    mcp_cancel_stops_job: bool
    mcp_preview_size: int
    mcp_preview_max_bytes: int
    mcp_structured: bool
    mcp_caller_max_jobs: int
    mcp_caller_daily_images: int
    mcp_upload_max_mb: int
    mcp_outside_job: str
    ascii_file_names: bool
    extra_headers: Mapping[str, str]
    stream: str
    gemini_base_url: str | None
    gemini_auth: str
    extra_body: Mapping[str, object]
    async_images: bool
    config_file: str = ""
    sources: Mapping[str, str] = field(default_factory=dict, compare=False)
    # The job runs for a shared server's remote caller (set by the server, never read from a file):
    # image links to loopback or private addresses are then refused even when the relay is private.
    shared: bool = False

    @property
    def secrets(self) -> tuple[str, ...]:
        """Values that must never appear in output: the key, extra header values, the relay address."""
        # Header values are secrets (a key, a gateway config, the relay's host); a short value under a
        # plain name (x-portkey-provider: openai) is not, and redacting it would mangle every message.
        values = [self.api_key or "", *(v for k, v in self.extra_headers.items()
                                        if len(v) >= 8 or _SECRET_HEADER.search(k))]
        for url in (self.base_url, self.gemini_base_url):
            if url:
                values.append(url)
                values.append(re.sub(r"^[a-z]+://", "", url).split("/")[0])
        return tuple(v for v in values if v)


Layer = tuple[str, Mapping[str, str | None]]


def resolve_settings(layers: list[Layer], *, config_file: str = "") -> Settings:
    """Merge named layers (highest precedence first) into Settings; pure, no I/O."""
    values: dict[str, object] = {}
    sources: dict[str, str] = {}
    for name, (suffix, default, parse) in _VARIABLES.items():
        key = PREFIX + suffix
        for source, layer in layers:
            raw = layer.get(key)
            if raw is None or str(raw).strip() == "":
                continue
            try:
                values[name] = parse(str(raw))
            except ValueError as exc:
                raise ConfigError(f"{key} from {source} {exc}.", code="config_invalid") from None
            sources[name] = source
            break
        else:
            values[name] = default
            sources[name] = "default"
    return Settings(**values, config_file=config_file, sources=sources)


def load_settings(flags: Mapping[str, str | None] | None = None, environ: Mapping[str, str] | None = None,
                  *, env_file: str | None = None, cwd: Path | None = None,
                  fallback: Mapping[str, str] | None = None) -> Settings:
    """Read the env files that apply and resolve Settings with the documented precedence;
    ``fallback`` values (a launcher's own defaults) rank just above the built-in defaults."""
    environ = os.environ if environ is None else environ
    cwd = Path.cwd() if cwd is None else cwd
    flags = flags or {}
    layers: list[Layer] = [("a command-line flag", flags), ("the environment", _from_environment(environ))]
    named = env_file or environ.get(PREFIX + "ENV_FILE") or ""
    if named:
        path = Path(named).expanduser()
        if not path.is_absolute():
            path = cwd / path
        if not path.is_file():
            raise InputError(f"The env file {named} does not exist; fix --env-file or IMAGE_RELAY_ENV_FILE.")
        layers.append((f"the env file {path}", _read_env_file(path)))
    local = cwd / ".env"
    if local.is_file():
        layers.append(("./.env", _read_env_file(local)))
    user_file = user_config_file(environ)
    if user_file.is_file():
        layers.append((f"the user config file {user_file}", _read_env_file(user_file)))
    if fallback:
        layers.append(("the server's command line", fallback))
    return resolve_settings(layers, config_file=str(user_file))


_LABELS = {"base_url": "The relay's base URL", "api_key": "The relay's API key", "text_model": "The text model",
           "image_model": "The image model"}


def require(settings: Settings, mode: str, environ: Mapping[str, str] = os.environ) -> None:
    """Raise ConfigError naming the first missing setting that mode needs: the guided setup and the
    user config file first; the environment only when the variable never reached this process (a
    client may pass it empty; one passed unexpanded, ``$NAME``, was never set)."""
    # A gateway that takes its key in a header of its own (api-key, x-portkey-api-key) needs no bearer key.
    needed = ["base_url"] if settings.extra_headers else ["base_url", "api_key"]
    if mode in ("responses", "auto"):
        needed.append("text_model")
    if mode in ("images", "chat", "gemini"):
        needed.append("image_model")
    for name in needed:
        if not getattr(settings, name):
            key = variable(name)
            passed = environ.get(key)
            absent = passed is None or bool(_UNEXPANDED.match(passed.strip()))  # never set by the user
            absent = f", or set {key} in the environment that starts the bridge" if absent else ""
            raise ConfigError(
                f"{_LABELS[name]} is not set: run image-relay-setup in a terminal, or add {key}=… to the user config "
                f"file {settings.config_file}{absent} (image-relay-generate --emulator tries the bridge without a "
                "relay).")


# A client's manifest may pass `"IMAGE_RELAY_API_KEY": "$IMAGE_RELAY_API_KEY"` to get past its own
# filter of secret-looking names; when the user never set it, some clients pass the text unexpanded.
_UNEXPANDED = re.compile(r"^\$(\{[^}]*\}|[A-Za-z_][A-Za-z0-9_]*)$")


def _from_environment(environ: Mapping[str, str]) -> dict[str, str]:
    """The bridge's variables from the environment, an unexpanded ``$NAME`` counting as unset."""
    return {k: v for k, v in _prefixed(environ).items() if not _UNEXPANDED.match(v.strip())}


def _prefixed(environ: Mapping[str, str]) -> dict[str, str]:
    return {k: v for k, v in environ.items() if k.startswith(PREFIX)}


def _read_env_file(path: Path) -> dict[str, str | None]:
    try:
        return _prefixed({k: v for k, v in dotenv_values(path).items() if v is not None})
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"Cannot read {path}: {exc.__class__.__name__}.", code="config_invalid") from None
