"""What the doctor finds: a line of the checklist, the whole report, and what the checks share.

Text is English here (the JSON report keeps it); the view translates it for a person.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from ..config import Settings
from ..relay.transport import ProbeAnswer


@dataclass
class Line:
    """One line of the checklist: its status (ok, warn, fail, skipped), what was found, what fixes it."""
    check: str = ""
    status: str = "ok"
    title: str = ""
    detail: str = ""
    fix: str = ""
    verdict: str = ""  # a failure's verdict, which ends the list

    def to_dict(self) -> dict:
        return {"check": self.check, "status": self.status, "title": self.title, "detail": self.detail,
                "fix": self.fix}


def passed(detail: str = "") -> Line:
    return Line(detail=detail)


def warned(detail: str, fix: str = "") -> Line:
    return Line(status="warn", detail=detail, fix=fix)


def failed(detail: str, fix: str, verdict: str) -> Line:
    return Line(status="fail", detail=detail, fix=fix, verdict=verdict)


@dataclass
class Report:
    settings: list[dict] = field(default_factory=list)
    checklist: list[Line] = field(default_factory=list)
    checks: list[dict] = field(default_factory=list)  # each relay answer
    image_models: list[str] = field(default_factory=list)
    routes: dict[str, bool | None] = field(default_factory=dict)
    verdict: str = ""
    api_mode: str | None = None
    usage_reported: str | None = None  # what the relay's answers say of usage and cost in that mode
    ok: bool = False
    listed: list[str] | None = None  # every model id /models gave (not in the JSON report)

    def to_dict(self) -> dict:
        return {"ok": self.ok, "verdict": self.verdict, "api_mode": self.api_mode,
                "usage_reported": self.usage_reported, "routes": self.routes,
                "image_models": self.image_models, "checklist": [line.to_dict() for line in self.checklist],
                "checks": self.checks, "settings": self.settings}


@dataclass
class Visit:
    settings: Settings
    report: Report
    models: ProbeAnswer | None = None  # the GET /models answer
