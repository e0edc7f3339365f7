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
    assert markdown_image(path, "a fox", windows=False) == expected


@pytest.mark.parametrize("path, expected", [
    ("C:\\Users\\me\\outputs\\a-b_c.png", "![a fox](file:///C:/Users/me/outputs/a-b_c.png)"),
    ("C:\\Users\\First Last\\a.png", "![a fox](file:///C:/Users/First%20Last/a.png)"),
    ("D:\\狐狸 源\\v(2)\\a.png", "![a fox](file:///D:/%E7%8B%90%E7%8B%B8%20%E6%BA%90/v%282%29/a.png)"),
    ("\\\\server\\share\\a.png", "![a fox](file://server/share/a.png)"),
    ("outputs\\a.png", "![a fox](outputs/a.png)"),
])
def test_markdown_image_on_windows_is_a_percent_encoded_file_uri(path, expected):
    assert markdown_image(path, "a fox", windows=True) == expected


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
