"""The library page's words: the page draws every text it shows from these, in the reader's language.

The English is the source (each marked for the catalogue, ``bridge/i18n``); the Chinese is the
catalogue's (``bridge/locale``), as for every other text a person reads (SPEC §11). ``{name}``
is filled in by the page itself.
"""
from __future__ import annotations

from ..i18n import N_, translate

ENGLISH_WORDS = {
    "title": N_("Image library"),
    "search_placeholder": N_("Search prompts"),
    "search_label": N_("Search the prompts"),
    "filters": N_("Filters"),
    "project": N_("Project"),
    "model": N_("Model"),
    "status": N_("Status"),
    "since": N_("From"),
    "until": N_("to"),
    "totals": N_("Totals"),
    "images": N_("Images"),
    "detail_title": N_("Image"),
    "copy_tag": N_("Copy Markdown tag"),
    "copy_prompt": N_("Copy prompt"),
    "close": N_("Close"),
    "card_title": N_("The image and its actions"),
    "all_projects": N_("All projects"),
    "all_models": N_("All models"),
    "unknown": N_("unknown"),
    "all_statuses": N_("Any status"),
    "status_ok": N_("Done"),
    "status_failed": N_("Failed"),
    "status_running": N_("Generating…"),
    "status_missing": N_("File missing"),
    "load_failed": N_("Could not load the library: {reason}"),
    "found": N_("{n} found"),
    "entries": N_("{n} generations"),
    "nothing_found": N_("Nothing matches."),
    "empty": N_("No images yet. Make one with image-relay-generate or your agent."),
    "file_missing": N_("File missing"),
    "no_image": N_("No image"),
    "when_day": N_("Day"),
    "when_month": N_("Month"),
    "when_model": N_("Model"),
    "cost": N_("Cost"),
    "by_day": N_("By day"),
    "by_month": N_("By month"),
    "by_model": N_("By model"),
    "totals_line": N_("{images} images; {cost} as your relay reported it ({unpriced} generations without a price)"),
    "totals_unpriced": N_("{images} images; your relay reported no prices."),
    "prompt": N_("Prompt"),
    "revised_prompt": N_("Revised prompt"),
    "when": N_("When"),
    "duration": N_("Took"),
    "seconds": N_("{n} s"),
    "size": N_("Size"),
    "format": N_("Format"),
    "api_mode": N_("API mode"),
    "not_reported": N_("not reported"),
    "made_by": N_("Made by"),
    "face_cli": N_("the command line"),
    "face_mcp": N_("an agent (MCP)"),
    "face_card": N_("the image card"),
    "face_library": N_("this library"),
    "error": N_("Error"),
    "file": N_("File"),
    "partial": N_("Partial"),
    "copied_tag": N_("Markdown tag copied."),
    "copied_prompt": N_("Prompt copied."),
    "folder_opened": N_("Opened {folder}"),
    "folder_not_opened": N_("No file manager could open {folder} here."),
    "downloading": N_("Downloading {name}"),
}


def strings(language: str) -> dict[str, str]:
    return {key: translate(text, language, sentences=False) for key, text in ENGLISH_WORDS.items()}
