import pytest

from bridge.result import GenerationResult, markdown_image


@pytest.mark.parametrize("path, expected", [
    ("/home/me/outputs/a-b_c.png", "![a fox](/home/me/outputs/a-b_c.png)"),
    ("/home/me/my images/a.png", "![a fox](</home/me/my images/a.png>)"),
    ("/home/me/v(2)/a.png", "![a fox](</home/me/v(2)/a.png>)"),
    ("/home/me/<odd>/a.png", "![a fox](</home/me/\\<odd\\>/a.png>)"),
    ("/home/me/café/a.png", "![a fox](</home/me/café/a.png>)"),
    ("/home/me/back\\slash/a.png", "![a fox](</home/me/back\\\\slash/a.png>)"),
    ("C:/Users/me/a.png", "![a fox](C:/Users/me/a.png)"),
])
def test_markdown_image_is_commonmark_for_any_path(path, expected):
    assert markdown_image(path, "a fox") == expected


def test_alt_text_is_escaped_and_shortened():
    assert markdown_image("/a.png", "a [bracketed]\nprompt") == "![a \\[bracketed\\] prompt](/a.png)"
    assert len(markdown_image("/a.png", "x" * 500)) < 100
    assert markdown_image("/a.png", "   ") == "![image](/a.png)"


def test_failure_shape():
    result = GenerationResult(ok=False, elapsed_seconds=1.0, error={"code": "rejected", "message": "m.",
                                                                   "retryable": False}, exit_code=4)
    data = result.to_dict()
    assert data == {"ok": False, "complete": False, "error": {"code": "rejected", "message": "m.", "retryable": False},
                    "elapsed_seconds": 1.0}
