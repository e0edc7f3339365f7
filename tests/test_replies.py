"""What the model reads: text shapes and previews, from results and files alone."""
from __future__ import annotations

import io

from PIL import Image

from bridge.images.pillow import preview
from bridge.result import GenerationResult, markdown_image
from bridge.server.replies import failure_text, notice_lines, success_text


def test_success_text_leads_with_the_tag_and_stays_small(tmp_path):
    path = tmp_path / "a cat.png"
    path.write_bytes(b"x" * 1234)
    result = GenerationResult(ok=True, elapsed_seconds=1, complete=True, image_paths=(str(path),), alt_text="a cat",
                              actual_size="1024x1024", output_format="png", bytes=1234,
                              warnings=("The relay returned 1024x1024 instead of the requested 1536x1024.",),
                              debug_summary={"big": "x" * 5000}, raw_log_path="/logs/x.log")
    text = success_text(result)
    assert text.startswith(markdown_image(str(path), "a cat") + "\n") and f"Saved {path} (1024x1024, png, 1234 bytes)." in text
    assert "Warning: The relay returned" in text and "big" not in text and "/logs/" not in text
    assert len(text) - len(markdown_image(str(path), "a cat")) - len(str(path)) < 320  # whatever the folder's length
    assert text.splitlines()[-1] == "Not shown in this client (e.g. it shows [Image])? Tell the user to run " \
                                    "image-relay-library to see it in their browser."


def test_failure_text_has_code_message_partial_and_next_step(tmp_path):
    partial = tmp_path / "p-partial-1.png"
    result = GenerationResult(ok=False, elapsed_seconds=1, error={"code": "quota_exceeded", "message": "No credit."},
                              partial_image_paths=(str(partial),), alt_text="x", exit_code=4)
    text = failure_text(result)
    assert text.splitlines() == ["Image generation failed (quota_exceeded): No credit.",
                                 f"A partial image was kept: {markdown_image(str(partial), 'x')}",
                                 "Not shown in this client (e.g. it shows [Image])? Tell the user to run "
                                 "image-relay-library to see it in their browser.",
                                 "Next: Tell the user the relay account is out of credit; do not retry."]


def test_notices_for_lost_and_finished_jobs(tmp_path):
    done = tmp_path / "d.png"
    done.write_bytes(b"x")
    lines = notice_lines([{"id": "job_1", "status": "done", "ok": True, "prompt": "p", "image_paths": [str(done)]},
                          {"id": "job_2", "status": "lost", "prompt": "q", "partial_image_paths": []}])
    assert lines[0].endswith(f"timed out: {markdown_image(str(done), 'p')}") and "nothing was saved" in lines[1]


def _picture(mode, size, colour):
    out = io.BytesIO()
    Image.new(mode, size, colour).save(out, "PNG")
    return out.getvalue()


def test_opaque_previews_are_jpeg_transparent_ones_webp_and_the_file_is_untouched(tmp_path):
    opaque, clear = tmp_path / "o.png", tmp_path / "t.png"
    opaque.write_bytes(_picture("RGB", (3840, 2160), (20, 90, 200)))
    clear.write_bytes(_picture("RGBA", (1024, 1024), (20, 90, 200, 0)))
    before = opaque.read_bytes()
    made = preview(str(opaque), 1024, 300_000)
    assert made.mime_type == "image/jpeg" and (made.width, made.height) == (1024, 576)
    assert opaque.read_bytes() == before
    made = preview(str(clear), 1024, 300_000)
    assert made.mime_type == "image/webp" and Image.open(io.BytesIO(made.data)).mode == "RGBA"


def test_previews_shrink_to_their_byte_cap(tmp_path):
    import os
    noisy = tmp_path / "n.png"
    Image.frombytes("RGB", (1024, 1024), os.urandom(1024 * 1024 * 3)).save(noisy)
    made = preview(str(noisy), 1024, 60_000)
    assert made is not None and len(made.data) <= 60_000 and max(made.width, made.height) <= 1024
    assert preview(str(tmp_path / "missing.png"), 1024, 60_000) is None


def test_a_remote_callers_texts_carry_links_and_never_the_path(tmp_path):
    path = tmp_path / "a cat.png"
    path.write_bytes(b"x" * 1234)
    link = {str(path): "https://images.example/images/img_1.png"}.__getitem__
    done = GenerationResult(ok=True, elapsed_seconds=1, complete=True, image_paths=(str(path),), alt_text="a cat",
                            actual_size="64x48", output_format="png", bytes=1234)
    failed = GenerationResult(ok=False, elapsed_seconds=1, error={"code": "stream_broken", "message": "Cut."},
                              partial_image_paths=(str(path),), alt_text="a cat", exit_code=9)
    record = {"id": "job_1", "status": "done", "ok": True, "prompt": "a cat", "image_paths": [str(path)]}
    texts = [success_text(done, link), failure_text(failed, link=link), *notice_lines([record], link)]
    for text in texts:
        assert "![a cat](https://images.example/images/img_1.png)" in text and str(tmp_path) not in text
    assert "Download https://images.example/images/img_1.png (64x48, png, 1234 bytes;" in texts[0]
