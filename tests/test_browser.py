"""The browser harness itself: it must flag what a broken page does (negative controls).

A harness that reports nothing on a page with a console error or a remote image proves nothing
about the reports, so each check the report tests rely on is exercised here on pages built to
fail it, and on one built to pass.
"""
from __future__ import annotations

import base64
import os

import pytest

from browser import open_page, require_chromium

pytestmark = pytest.mark.browser

# A 1x1 PNG, embedded: loads offline.
PIXEL = base64.b64encode(bytes.fromhex(
    "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c4890000000d49444154789c6360f8"
    "cfc0f01f0005000201a5d6c1a40000000049454e44ae426082")).decode()


@pytest.fixture(autouse=True)
def _chromium():
    if os.environ.get("WORKBOOK_SKIP_BROWSER") == "1":
        pytest.skip("WORKBOOK_SKIP_BROWSER=1")
    require_chromium()


def _open(tmp_path, body: str, **kwargs):
    page = tmp_path / "page.html"
    page.write_text(f"<!DOCTYPE html><html><head><title>t</title></head><body>{body}</body></html>",
                    encoding="utf-8")
    return open_page(page, tmp_path / "shot.png", **kwargs)


def test_console_error_and_remote_image_are_flagged(tmp_path):
    report = _open(tmp_path, '<h1>Broken</h1><script>console.error("boom")</script>'
                             '<img src="https://example.com/tracker.png" alt="remote">')
    assert any("boom" in e for e in report.console_errors)
    assert any(u.startswith("https://example.com/tracker.png") for u in report.remote_requests)
    assert (report.images, report.images_loaded) == (1, 0)


def test_uncaught_exception_is_flagged(tmp_path):
    report = _open(tmp_path, "<script>undefinedFunction()</script>")
    assert any("undefinedFunction" in e for e in report.console_errors)


def test_blank_page_has_no_text_and_no_headings(tmp_path):
    report = _open(tmp_path, "")
    assert report.text_length == 0 and report.headings == [] and report.images == 0


def test_good_page_loads_its_embedded_image_and_reads_its_headings(tmp_path):
    report = _open(tmp_path, f'<h1>Weekly ¶</h1><h2>Risks</h2><p>Some text.</p>'
                             f'<img src="data:image/png;base64,{PIXEL}" alt="one pixel">')
    assert report.console_errors == [] and report.remote_requests == []
    assert report.headings == ["Weekly", "Risks"]
    assert (report.images, report.images_loaded) == (1, 1)
    assert report.title == "t" and report.text_length >= len("Weekly Risks Some text.")


def test_script_runs_before_the_page_is_read(tmp_path):
    report = _open(tmp_path, '<input id="q"><ul><li>Ana</li><li>Bo</li></ul>',
                   script="document.querySelectorAll('li')[1].remove()",
                   evaluate={"items": "document.querySelectorAll('li').length"})
    assert report.values == {"items": 1}
