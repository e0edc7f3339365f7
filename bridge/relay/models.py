"""What each known image model takes: one table, applied before anything is sent (``fitting``).

GPT image models take ``WIDTHxHEIGHT`` sizes. Sources: the openai-python types and their docstrings
(the Responses ``image_generation`` tool and ``ImageEditParams``: sizes, transparent backgrounds,
``input_fidelity``), OpenAI's image generation guide for gpt-image-2's pixel limits, and OpenAI's
own 400 for ``input_fidelity`` on gpt-image-2.

Gemini image models ("Nano Banana") take an aspect ratio and a resolution tier instead. Sources:
Google's image generation guide and model pages (ratios, ``imageSize`` tiers in uppercase, the
pixels each draws, up to 14 reference images for the 3.x models), the Vertex model card of
gemini-2.5-flash-image (one resolution, at most 3 input images), and relay docs for the names
relays sell (``docs/relay-styles.md``).

Names. A GPT name is known when, after leading ``vendor/`` segments (``openai/gpt-image-2``) and a
dated snapshot (``gpt-image-2-2026-04-21``) are set aside, it is exactly a name in the table, case
aside; anything else (``gpt-image-2-all``, ``「CS」gpt-image-2``, an Azure deployment) is a relay's
own model, passed on unchecked. Gemini names are matched more widely, because relays sell them
under every variation: ``google/`` or ``models/`` prefixes, ``-preview`` (retired by Google in
mid-2026, still sold), ``-vip``, ``-all``, ``-hd``, a resolution (``-2K``) and dated suffixes, and
the "nano-banana" aliases. Any other name with "gemini" and "image" (or "nano-banana") in it is
still of the Gemini family, for ``auto``, with Gemini's common ratios.

Models sold on the Images API with fields of their own (``fields``; the request is built by
``vendor``), matched by family name anywhere in the model name, since relays prefix and suffix
them freely (``doubao-seedream-4-5-251128``, ``bytedance/seedream-4.5``, ``jimeng-4.0``):
Seedream (Volcengine Ark and the relays reselling it: ``size`` as a tier or ``WxH``, reference
images as JSON ``image`` on ``/images/generations``, up to 14), Jimeng (``size`` as ``W*H``, or
``ratio`` and ``resolution``; JSON ``image``) and Grok (xAI: ``aspect_ratio`` and ``resolution``
1k/2k). Gemini models on the Images API get the Nano Banana resellers' ``aspect_ratio`` and
``image_size``. Sources: Volcengine's Seedream API reference and the relay docs in
``docs/relay-styles.md`` (style D), xAI's image generation docs.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from .sizes import FLEXIBLE, STANDARD, Sizes, parse

_SNAPSHOT = re.compile(r"-\d{4}-\d{2}-\d{2}$")
_GEMINI_SUFFIX = re.compile(r"-(?:preview|vip|all|hd|exp|latest|[124]k|\d{2}-\d{4}|\d{4}-\d{2}-\d{2})$")
_GEMINI_NAME = re.compile(r"gemini.*image|nano[-_ ]?banana", re.I)

GEMINI_RATIOS = ("1:1", "2:3", "3:2", "3:4", "4:3", "4:5", "5:4", "9:16", "16:9", "21:9")
# Pixels at 1K; 2K and 4K double and quadruple both sides, 512 halves them.
_PRO_1K = {"1:1": (1024, 1024), "2:3": (848, 1264), "3:2": (1264, 848), "3:4": (896, 1200), "4:3": (1200, 896),
           "4:5": (928, 1152), "5:4": (1152, 928), "9:16": (768, 1376), "16:9": (1376, 768), "21:9": (1584, 672),
           # 3.1 Flash's extreme ratios: a megapixel in that shape, sides multiples of 16.
           "1:4": (512, 2048), "4:1": (2048, 512), "1:8": (368, 2896), "8:1": (2896, 368)}
_FLASH25 = {"1:1": (1024, 1024), "2:3": (832, 1248), "3:2": (1248, 832), "3:4": (864, 1184), "4:3": (1184, 864),
            "4:5": (896, 1152), "5:4": (1152, 896), "9:16": (768, 1344), "16:9": (1344, 768), "21:9": (1536, 672)}
_SCALE = {"512": 0.5, "1K": 1, "2K": 2, "4K": 4}


@dataclass(frozen=True)
class ModelRule:
    name: str
    sizes: Sizes | None = None  # WIDTHxHEIGHT models
    refuses: tuple[tuple[str, str | None], ...] = ()  # (parameter, value) it rejects; None: any value
    why: str = ""  # what to tell the user about the refused parameters
    family: str = "gpt"  # gpt | gemini
    aliases: tuple[str, ...] = ()
    ratios: tuple[str, ...] = ()  # ratio-and-tier models: the aspect ratios it takes
    tiers: tuple[str, ...] = ()  # ... and the resolution tiers (imageSize) it takes
    sends_tier: bool = True  # False: one resolution only, imageSize is never sent
    max_images: int = 0  # reference images it takes (0: no known limit)
    pixels: dict = field(default_factory=dict, compare=False)  # ratio -> (w, h) at 1K
    fields: str = "openai"  # the Images API fields it takes: openai | seedream | jimeng | grok | gemini (vendor.py)

    def dims(self, ratio: str, tier: str | None) -> tuple[int, int] | None:
        base = self.pixels.get(ratio)
        if base is None:
            return None
        scale = _SCALE.get(tier or "1K", 1)
        return int(base[0] * scale), int(base[1] * scale)


# The one table. Names are matched as the module docstring says.
RULES = (
    ModelRule("gpt-image-2", FLEXIBLE, refuses=(("background", "transparent"), ("input_fidelity", None)),
              why="gpt-image-2 has no transparent backgrounds, and it always keeps the source images' detail "
                  "(it takes no input_fidelity)"),
    ModelRule("gpt-image-1.5", STANDARD),
    ModelRule("gpt-image-1", STANDARD),
    ModelRule("gpt-image-1-mini", STANDARD, refuses=(("input_fidelity", None),),
              why="gpt-image-1-mini takes no input_fidelity"),
    ModelRule("gemini-3-pro-image", family="gemini", aliases=("nano-banana-pro", "gemini-3.0-pro-image"),
              ratios=GEMINI_RATIOS, tiers=("1K", "2K", "4K"), max_images=14, pixels=_PRO_1K),
    ModelRule("gemini-3.1-flash-image", family="gemini", aliases=("nano-banana-2",),
              ratios=GEMINI_RATIOS + ("1:4", "4:1", "1:8", "8:1"), tiers=("512", "1K", "2K", "4K"), max_images=14,
              pixels=_PRO_1K),
    ModelRule("gemini-2.5-flash-image", family="gemini", aliases=("nano-banana", "gemini-2.5-flash-image-generation"),
              ratios=GEMINI_RATIOS, tiers=("1K",), sends_tier=False, max_images=3, pixels=_FLASH25),
)
_BY_NAME = {name: rule for rule in RULES for name in (rule.name, *rule.aliases)}
GEMINI_FAMILY = ModelRule("gemini image model", family="gemini", ratios=GEMINI_RATIOS, tiers=("1K", "2K", "4K"),
                          fields="gemini")
# Seedream 4.x's recommended sizes at 2K (Volcengine's table); 1K halves and 4K doubles each side.
SEEDREAM_2K = {"1:1": (2048, 2048), "4:3": (2304, 1728), "3:4": (1728, 2304), "16:9": (2560, 1440),
               "9:16": (1440, 2560), "3:2": (2496, 1664), "2:3": (1664, 2496), "21:9": (3024, 1296)}
VENDORS = (
    (re.compile(r"seedream", re.I), ModelRule("seedream", family="seedream", fields="seedream",
                                                  ratios=tuple(SEEDREAM_2K), tiers=("1K", "2K", "4K"), max_images=14,
                                                  pixels={r: (w // 2, h // 2) for r, (w, h) in SEEDREAM_2K.items()})),
    (re.compile(r"(?:^|[/_-])jimeng|即梦", re.I), ModelRule("jimeng", family="jimeng", fields="jimeng",
                                                          ratios=("1:1", "4:3", "3:4", "16:9", "9:16", "3:2", "2:3",
                                                                  "21:9"), tiers=("1K", "2K", "4K"))),
    (re.compile(r"grok.*imag", re.I), ModelRule("grok", family="grok", fields="grok",
                                                ratios=("1:1", "3:4", "4:3", "9:16", "16:9", "2:3", "3:2", "1:2",
                                                        "2:1", "20:9", "9:20"), tiers=("1K", "2K"), max_images=3)),
)


def rule_for(model: str | None) -> ModelRule | None:
    """The table's rule for a configured model name, or None for a model the bridge does not know."""
    if not model:
        return None
    name = model.strip().lower().rsplit("/", 1)[-1]
    rule = _BY_NAME.get(_SNAPSHOT.sub("", name))
    if rule is not None:
        return rule
    base = gemini_base_name(name)
    found = _BY_NAME.get(base)
    if found is not None and found.family == "gemini":
        return found
    return next((rule for pattern, rule in VENDORS if pattern.search(model)), None)


def gemini_base_name(name: str) -> str:
    """A Gemini name without the suffixes relays add (``-preview``, ``-vip``, ``-2K``, dates), case aside."""
    name = name.strip().lower().rsplit("/", 1)[-1]
    while True:
        shorter = _GEMINI_SUFFIX.sub("", name)
        if shorter == name:
            return name
        name = shorter


def name_tier(model: str | None) -> str | None:
    """The resolution a relay's model name fixes (``gemini-3.1-flash-image-4K``), if any."""
    match = re.search(r"-([124])k(?:-|$)", (model or "").lower())
    return f"{match[1]}K" if match else None


def family(model: str | None) -> str | None:
    """``gemini`` or ``gpt`` for the image model families the bridge knows, else None."""
    rule = rule_for(model)
    if rule is not None:
        return rule.family
    if model and _GEMINI_NAME.search(model):
        return "gemini"
    return None


def ratio_rule(model: str | None) -> ModelRule | None:
    """The rule of a model that takes an aspect ratio and a tier (known, or any of the Gemini family)."""
    rule = rule_for(model)
    if rule is not None:
        return rule if rule.ratios else None
    return GEMINI_FAMILY if family(model) == "gemini" else None


def fields_of(model: str | None) -> str:
    """The Images API fields a model takes (``vendor``): openai unless the table says otherwise."""
    rule = rule_for(model)
    if rule is not None:
        return "gemini" if rule.family == "gemini" else rule.fields
    return "gemini" if family(model) == "gemini" else "openai"


def size_problem(model: str | None, size: str) -> tuple[str, list[str]] | None:
    """(why, nearest sizes) when a known model cannot take ``size``; None when it can or is unknown."""
    rule = rule_for(model)
    parsed = parse(size)
    if rule is None or rule.sizes is None or parsed is None:
        return None
    why = rule.sizes.problem(*parsed)
    return None if why is None else (why, rule.sizes.nearest(*parsed))


def refused(model: str | None, params: dict) -> str | None:
    """The first of ``params`` (name -> value) a known model rejects, as ``name`` or ``name=value``."""
    rule = rule_for(model)
    for name, value in rule.refuses if rule else ():
        if params.get(name) is not None and (value is None or params[name] == value):
            return name if value is None else f"{name}={value}"
    return None


def experimental(model: str | None, size: str) -> bool:
    rule = rule_for(model)
    parsed = parse(size)
    return bool(rule and rule.sizes and parsed and rule.sizes.experimental_above
                and parsed[0] * parsed[1] > rule.sizes.experimental_above)


def sizes_text(model: str | None) -> str:
    """One sentence on the sizes the configured model takes."""
    rule, ratios = rule_for(model), ratio_rule(model)
    if ratios is not None:
        tiers = ", ".join(ratios.tiers)
        return (f"The configured image model {model} takes aspect_ratio ({', '.join(ratios.ratios)}) and resolution "
                f"({tiers}) rather than a size; a WIDTHxHEIGHT size is sent as the nearest ratio and resolution.")
    if rule is not None and rule.sizes is not None:
        return f"Sizes for the configured image model {model}: {rule.sizes.describe()}."
    if model:
        return (f"The configured image model {model} is not one the bridge knows, so sizes go to the relay "
                "unchecked; 1024x1024, 1536x1024, 1024x1536 and auto suit every GPT image model.")
    return "No image model is configured; 1024x1024, 1536x1024, 1024x1536 and auto suit every GPT image model."
