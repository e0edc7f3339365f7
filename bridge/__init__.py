"""image-relay-bridge: generate and edit images through OpenAI-compatible image relays."""
from __future__ import annotations

__version__ = "0.1.0"

from .config import Settings, load_settings  # noqa: E402
from .core import generate_image  # noqa: E402
from .errors import BridgeError, ExitCode  # noqa: E402
from .job import GenerationRequest  # noqa: E402
from .progress import Progress  # noqa: E402
from .result import GenerationResult, markdown_image  # noqa: E402
from .transport import CancelToken  # noqa: E402

__all__ = ["BridgeError", "CancelToken", "ExitCode", "GenerationRequest", "GenerationResult", "Progress",
           "Settings", "__version__", "generate_image", "load_settings", "markdown_image"]
