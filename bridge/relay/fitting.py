"""Fit a job to the configured image model before anything is sent: pure but for its errors.

A model that takes a ratio and a tier (Gemini) gets them, a ``WIDTHxHEIGHT`` size mapped to the
nearest of each; a model that takes sizes gets one, an aspect ratio and resolution mapped to the
nearest size it takes (16:9 at 2K on gpt-image-2 is 2048x1152). What cannot be sent is refused
(exit 2) with what would be accepted; what was changed is said in a warning.
"""
from __future__ import annotations

from dataclasses import replace

from ..errors import InputError
from ..user_request import Job
from . import aspect
from .models import ModelRule, experimental, name_tier, ratio_rule, refused, rule_for, size_problem
from .sizes import STANDARD, parse


def fit(job: Job, model: str | None, *, size_is_default: bool = False) -> tuple[Job, list[str]]:
    """The job as the model takes it, and warnings; raises InputError for what it cannot take."""
    notes: list[str] = []
    rule = rule_for(model)
    inputs = len(job.images) + (1 if job.mask is not None else 0)
    if rule is not None and rule.max_images and inputs > rule.max_images:
        raise InputError(f"{model} takes at most {rule.max_images} input images (the mask counts as one); "
                         f"{inputs} were given.")
    ratios = ratio_rule(model)
    if rule is not None and rule.fields in ("seedream", "jimeng"):
        job = _fit_vendor(job, rule, model or "", notes)
    elif ratios is not None:
        job = _fit_ratio(job, ratios, model or "", notes)
    else:
        job = _fit_size(job, rule, model, notes)
        notes += check(job, model, size_is_default=size_is_default)
    return job, notes


def _fit_ratio(job: Job, rule: ModelRule, model: str, notes: list[str]) -> Job:
    ratio, tier = job.aspect_ratio, job.resolution
    size = parse(job.size)
    if size is not None and not (ratio or tier):
        ratio = aspect.nearest_ratio(*size, rule.ratios)
        tier = aspect.tier_for(*size, ratio, rule.tiers) if rule.sends_tier else None
        notes.append(f"{model} takes an aspect ratio and a resolution rather than a size: {job.size} was sent as "
                     f"{ratio}{f' at {tier}' if tier else ''}.")
    if ratio and ratio not in rule.ratios:
        near = aspect.nearest_ratio(*aspect.parse_ratio(ratio), rule.ratios)
        raise InputError(f"{model} does not take the aspect ratio {ratio}; it takes {', '.join(rule.ratios)}. "
                         f"Nearest: {near}.")
    tier = tier or name_tier(model)
    if tier and tier not in rule.tiers:
        raise InputError(f"{model} does not take the resolution {tier}; it takes {', '.join(rule.tiers)}.")
    if not rule.sends_tier:
        tier = None  # one resolution: nothing to choose, nothing sent
    dims = rule.dims(ratio, tier) if ratio else None
    return replace(job, aspect_ratio=ratio, resolution=tier, size=f"{dims[0]}x{dims[1]}" if dims else "auto")


def _fit_vendor(job: Job, rule: ModelRule, model: str, notes: list[str]) -> Job:
    """Seedream and Jimeng take a WIDTHxHEIGHT size as it is, or a ratio and a resolution (a
    resolution alone lets the model pick the shape); Seedream's ratio and resolution become its own
    recommended size (16:9 at 2K is 2560x1440)."""
    ratio, tier = job.aspect_ratio, job.resolution
    if ratio and ratio not in rule.ratios:
        near = aspect.nearest_ratio(*aspect.parse_ratio(ratio), rule.ratios)
        raise InputError(f"{model} does not take the aspect ratio {ratio}; it takes {', '.join(rule.ratios)}. "
                         f"Nearest: {near}.")
    if tier and tier not in rule.tiers:
        raise InputError(f"{model} does not take the resolution {tier}; it takes {', '.join(rule.tiers)}.")
    dims = rule.dims(ratio, tier or "2K") if ratio else None
    if dims is None:
        return job
    size = f"{dims[0]}x{dims[1]}"
    notes.append(f"{model} takes a size: aspect ratio {ratio} at {tier or '2K'} was sent as {size}, its own size for "
                 "that shape.")
    return replace(job, size=size)


def _fit_size(job: Job, rule: ModelRule | None, model: str | None, notes: list[str]) -> Job:
    ratio, tier = job.aspect_ratio, job.resolution
    if not (ratio or tier):
        return job
    ratio = ratio or "1:1"
    target = aspect.long_side_size(ratio, tier or "1K")
    sizes = rule.sizes if rule is not None else None
    if sizes is not None and sizes.flexible:
        size = f"{target[0]}x{target[1]}"
        if sizes.problem(*target) is not None:
            size = sizes.nearest(*target, 1)[0]
    elif sizes is not None or not tier:
        size = (sizes or STANDARD).nearest(*target, 1)[0]  # a fixed list: the closest shape
    else:
        size = f"{target[0]}x{target[1]}"  # a relay's own model: the size the ratio and tier describe
    name = model or "the image model"
    notes.append(f"Aspect ratio {ratio}{f' at {tier}' if tier else ''} was sent as the size {size}, the nearest "
                 f"{name} takes.")
    return replace(job, size=size)


def check(job: Job, model: str | None, *, size_is_default: bool = False) -> list[str]:
    """Raise InputError (exit 2) when a known model cannot take the job; return warnings otherwise."""
    problem = size_problem(model, job.size)
    if problem is not None:
        why, nearest = problem
        origin = " (IMAGE_RELAY_DEFAULT_SIZE)" if size_is_default else ""
        raise InputError(f"Size {job.size}{origin} is not available for {model}: {why}. "
                         f"Nearest: {', '.join(nearest)}.")
    rejected = refused(model, {"background": job.background,
                               "input_fidelity": job.input_fidelity if job.is_edit else None})
    if rejected is not None:
        raise InputError(f"{model} does not take {rejected}: {rule_for(model).why}; leave it out.")
    if experimental(model, job.size):
        return [f"{job.size} has more pixels than 2560x1440, which {model} calls experimental: it may take longer "
                "or come back smaller."]
    return []
