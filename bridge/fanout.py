"""Several images through the Responses API, which makes one per call: ``n`` calls side by side.

Relays built on Codex or ChatGPT accounts offer only ``/responses``, so ``n > 1`` there means
``n`` parallel calls (at most IMAGE_RELAY_MCP_MAX_JOBS at a time), each with its own partial
images and progress, gathered into one result. Some may fail: the result is still ``ok`` with
the images that arrived and a warning for each failure; with none, it is the first error.
"""
from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

from .config import Settings
from .user_request import GenerationRequest
from .progress import Progress, ProgressCallback
from .relay.usage import combine
from .result import GenerationResult


def generate_many(request: GenerationRequest, settings: Settings, *, run_one, on_progress: ProgressCallback | None,
                  cancel, base_dir: Path | None) -> GenerationResult:
    """``run_one(request, settings, on_progress=, cancel=, base_dir=)`` makes one image."""
    started = time.monotonic()
    count = request.n
    single = replace(request, n=1)

    def one(index: int) -> GenerationResult:
        def relay(progress: Progress) -> None:
            if on_progress is not None:
                on_progress(replace(progress, message=f"Image {index + 1} of {count}: {progress.message}",
                                    elapsed=round(time.monotonic() - started, 1)))
        return run_one(single, settings, on_progress=relay, cancel=cancel, base_dir=base_dir)

    with ThreadPoolExecutor(max_workers=max(1, min(count, settings.mcp_max_jobs)),
                            thread_name_prefix="image-relay-n") as pool:
        results = list(pool.map(one, range(count)))
    return merge(results, round(time.monotonic() - started, 2))


def merge(results: list[GenerationResult], elapsed: float) -> GenerationResult:
    good = [r for r in results if r.ok]
    failed = [(i, r) for i, r in enumerate(results) if not r.ok]
    if not good:
        return replace(results[0], elapsed_seconds=elapsed)
    first = good[0]
    warnings = list(dict.fromkeys(w for r in good for w in r.warnings))  # one of each: the runs share their settings
    warnings += [f"Image {i + 1} of {len(results)} failed ({r.error['code']}): {r.error['message']}" for i, r in failed]
    debug = {"images": [r.debug_summary for r in results]} if first.debug_summary is not None else None
    return replace(first, elapsed_seconds=elapsed, image_paths=tuple(p for r in good for p in r.image_paths),
                   partial_image_paths=tuple(p for r in results for p in r.partial_image_paths),
                   warnings=tuple(warnings), debug_summary=debug,
                   usage=combine([r.usage for r in results]),
                   response_ids={path: rid for r in good for path, rid in r.response_ids.items()})
