"""The debug summary of one job (SPEC §5): what was tried and what the answer held. No secrets: counts,
timings, ids and the relay's own usage object (the normalized one is the result's ``usage``)."""
from __future__ import annotations

import time


def debug_summary(started: float, *, mode: str | None, route: str | None, attempts: list, request_id: str | None,
                  task_id: str | None, receiver, saver, model: str | None, image_model: str | None) -> dict:
    summary: dict = {"api_mode": mode, "route": route, "attempts": attempts, "request_id": request_id,
                     "task_id": task_id}
    if receiver is not None:
        tally, outcome = receiver.tally, receiver.interpreter.outcome

        def since(t):
            return round(t - started, 3) if t else None
        summary.update({
            "events": dict(outcome.event_counts), "event_count": sum(outcome.event_counts.values()),
            "keepalives": tally.keepalives, "non_json_events": tally.non_json_events,
            "truncated_events": tally.truncated_events,
            "bytes_received": tally.bytes_received, "first_byte_seconds": since(tally.first_byte),
            "first_event_seconds": since(tally.first_event), "final_image_seconds": since(tally.final_at),
            "partial_images_received": len(saver.partials) if saver else 0,
            "response_id": outcome.response_id, "model": outcome.model or model,
            "image_model": image_model, "usage": outcome.usage})
    summary["elapsed_seconds"] = round(time.monotonic() - started, 3)
    return summary
