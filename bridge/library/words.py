"""The library page's words in English and Chinese (the page draws every text from these).

What the model reads stays English (SPEC §11); this is what a person reads in the browser.
"""
from __future__ import annotations

from .language import CHINESE

ENGLISH_WORDS = {
    "title": "Image library", "search_placeholder": "Search prompts", "search_label": "Search the prompts",
    "filters": "Filters", "project": "Project", "model": "Model", "status": "Status", "since": "From", "until": "to",
    "totals": "Totals", "images": "Images", "detail_title": "Image", "copy_tag": "Copy Markdown tag",
    "copy_prompt": "Copy prompt", "close": "Close", "card_title": "The image and its actions",
    "all_projects": "All projects", "all_models": "All models", "unknown": "unknown", "all_statuses": "Any status",
    "status_ok": "Done", "status_failed": "Failed", "status_running": "Generating…", "status_missing": "File missing",
    "load_failed": "Could not load the library: {reason}", "found": "{n} found", "entries": "{n} generations",
    "nothing_found": "Nothing matches.", "empty": "No images yet. Make one with image-relay-generate or your agent.",
    "file_missing": "File missing", "no_image": "No image", "when_day": "Day", "when_month": "Month",
    "when_model": "Model", "cost": "Cost", "by_day": "By day", "by_month": "By month", "by_model": "By model",
    "totals_line": "{images} images; {cost} as your relay reported it ({unpriced} generations without a price)",
    "totals_unpriced": "{images} images; your relay reported no prices.",
    "prompt": "Prompt", "revised_prompt": "Revised prompt", "when": "When", "duration": "Took",
    "seconds": "{n} s", "size": "Size", "format": "Format", "api_mode": "API mode", "not_reported": "not reported",
    "made_by": "Made by", "face_cli": "the command line", "face_mcp": "an agent (MCP)", "face_card": "the image card",
    "face_library": "this library", "error": "Error", "file": "File", "partial": "Partial",
    "copied_tag": "Markdown tag copied.", "copied_prompt": "Prompt copied.", "folder_opened": "Opened {folder}",
    "folder_not_opened": "No file manager could open {folder} here.", "downloading": "Downloading {name}",
}

CHINESE_WORDS = {
    "title": "图片库", "search_placeholder": "搜索提示词", "search_label": "搜索提示词", "filters": "筛选",
    "project": "项目", "model": "模型", "status": "状态", "since": "从", "until": "到", "totals": "统计",
    "images": "图片", "detail_title": "图片", "copy_tag": "复制 Markdown 标签", "copy_prompt": "复制提示词",
    "close": "关闭", "card_title": "图片及其操作", "all_projects": "全部项目", "all_models": "全部模型",
    "unknown": "未知", "all_statuses": "全部状态", "status_ok": "已完成", "status_failed": "失败",
    "status_running": "生成中…", "status_missing": "文件已丢失", "load_failed": "无法加载图片库：{reason}",
    "found": "找到 {n} 条", "entries": "共 {n} 次生成", "nothing_found": "没有匹配的结果。",
    "empty": "还没有图片。用 image-relay-generate 或你的智能体生成一张吧。", "file_missing": "文件已丢失",
    "no_image": "没有图片", "when_day": "日期", "when_month": "月份", "when_model": "模型", "cost": "费用",
    "by_day": "按日", "by_month": "按月", "by_model": "按模型",
    "totals_line": "{images} 张图片；中转站报告的费用 {cost}（{unpriced} 次生成没有报价）",
    "totals_unpriced": "{images} 张图片；中转站没有报告价格。",
    "prompt": "提示词", "revised_prompt": "改写后的提示词", "when": "时间", "duration": "耗时", "seconds": "{n} 秒",
    "size": "尺寸", "format": "格式", "api_mode": "API 模式", "not_reported": "未报告", "made_by": "来源",
    "face_cli": "命令行", "face_mcp": "智能体（MCP）", "face_card": "图片卡片", "face_library": "图片库",
    "error": "错误", "file": "文件", "partial": "中间图", "copied_tag": "已复制 Markdown 标签。",
    "copied_prompt": "已复制提示词。", "folder_opened": "已打开 {folder}",
    "folder_not_opened": "这里没有能打开 {folder} 的文件管理器。", "downloading": "正在下载 {name}",
}


def strings(language: str) -> dict[str, str]:
    return {**ENGLISH_WORDS, **CHINESE_WORDS} if language == CHINESE else dict(ENGLISH_WORDS)
