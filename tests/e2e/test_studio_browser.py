"""The studio in a real browser, as a person uses it: create a project from a story, walk the five pages,
Generate all, pick a candidate, render, and watch the video element load a video of the right length.
Screenshots of each page go to artifacts/."""

from __future__ import annotations

import os
import sqlite3
import subprocess
from pathlib import Path

import numpy as np
import pytest
from browser import CHROMIUM, browser, count, create_project, open_page, settle, studio_server

from storyreel.render.ffmpeg import probe
from storyreel.store.db import Project

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "artifacts"

STORY = """# The dragon of the mountain

Prince Siegfried rode out of the city at dawn with his grey hair in the wind.
The dragon Fafnir slept in the mountain, and the beast dreamed of gold.
Old Mira, the village healer, waited for him at the edge of the forest.
He climbed the mountain, and the dragon woke and roared at him.
"""

if not Path(CHROMIUM).exists():
    if os.environ.get("STORYREEL_REQUIRE_BROWSER"):
        raise RuntimeError(f"{CHROMIUM} is missing: install Debian's chromium (the CI script does)")
    pytest.skip(f"{CHROMIUM} is missing (apt-get install chromium)", allow_module_level=True)
pytest.importorskip("playwright")

pytestmark = pytest.mark.browser


def _thumb(rgb: np.ndarray) -> np.ndarray:
    """The top 60% (clear of the captions), small: what tells one sketch card from another."""
    import cv2

    top = rgb[: int(rgb.shape[0] * 0.6)]
    return cv2.resize(top, (24, 24), interpolation=cv2.INTER_AREA).astype(np.float32)


def _frame(video: Path, t: float) -> np.ndarray:
    from storyreel.render.ffmpeg import ffmpeg_exe

    info = probe(video)
    raw = subprocess.run([ffmpeg_exe(), "-v", "error", "-ss", f"{t:.3f}", "-i", str(video), "-frames:v", "1",
                          "-f", "rawvideo", "-pix_fmt", "rgb24", "-"], capture_output=True, check=True).stdout  # fmt: skip
    return np.frombuffer(raw, np.uint8).reshape(info.height, info.width, 3)


def test_a_story_video_made_in_the_browser(tmp_path):
    from PIL import Image

    ARTIFACTS.mkdir(exist_ok=True)
    folder = tmp_path / "projects"
    folder.mkdir()
    with studio_server(folder) as url, browser(height=1000) as page:
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        # Story: a new project from a pasted story
        create_project(page, url, "dragon", STORY)
        assert "project=dragon" in page.url
        assert page.get_by_text("4 scenes").is_visible()
        page.screenshot(path=ARTIFACTS / "studio-story.png")
        project = Project(folder / "dragon")
        scenes = project.scenes()
        assert len(scenes) == 4

        # Characters: every one found, with the story's mentions in their colours
        open_page(page, "Characters")
        for name in ("Siegfried", "Fafnir", "Mira"):
            assert page.get_by_text(name).first.is_visible()
        assert page.locator("mark").count() >= 8
        page.screenshot(path=ARTIFACTS / "studio-characters.png")

        # Storyboard: Generate all; the worker makes 8 candidates a scene and the page shows them as they come
        open_page(page, "Storyboard")
        page.get_by_role("button", name="Generate all").click()
        page.wait_for_function("document.querySelectorAll('[data-testid=\"stImage\"]').length >= 32",
                               timeout=180_000)  # fmt: skip
        settle(page)
        assert count(page, "stImage") == 32
        assert page.get_by_text("32 of 32 images").is_visible()
        # pick scene 1's third candidate
        picked = project.candidates(scenes[0].id)[2]
        first = page.locator(f'[class*="st-key-cand_{scenes[0].id}_{picked.id}"]')
        first.get_by_role("button", name="Pick").click()
        settle(page)
        marked = page.locator(f".st-key-cand_{scenes[0].id}_{picked.id}_picked")
        marked.wait_for(timeout=30_000)
        assert "Picked" in marked.inner_text()
        assert page.locator('[class*="_picked"]').count() == 1
        assert project.picks()[scenes[0].id] == (picked.id, "user")
        page.set_viewport_size({"width": 1400, "height": 1700})
        page.screenshot(path=ARTIFACTS / "studio-storyboard.png")
        page.set_viewport_size({"width": 1400, "height": 1000})
        # a reload, or the link opened in a new tab, lands on the same page of the same project, with the pick
        page.reload()
        settle(page)
        assert "project=dragon" in page.url
        tab = page.context.browser.new_page()
        tab.goto(f"{url}/storyboard?project=dragon")
        settle(tab)
        assert tab.get_by_role("heading", name="Storyboard").is_visible()
        assert "Picked" in tab.locator(f".st-key-cand_{scenes[0].id}_{picked.id}_picked").inner_text()
        tab.close()
        assert "Picked" in page.locator(f".st-key-cand_{scenes[0].id}_{picked.id}_picked").inner_text()

        # Video: render in the background, then play it on the page
        open_page(page, "Video")
        page.screenshot(path=ARTIFACTS / "studio-video-before.png")
        page.get_by_role("button", name="Render").click()
        page.wait_for_selector('[data-testid="stVideo"]', timeout=300_000)
        settle(page)
        duration = page.evaluate(
            """async () => { const v = document.querySelector('video');
                if (v.readyState < 1) await new Promise(r => v.addEventListener('loadedmetadata', r, {once: true}));
                return v.duration; }"""
        )  # fmt: skip
        video = folder / "dragon" / "video.mp4"
        narrations = [r[0] for r in sqlite3.connect(folder / "dragon" / "project.db").execute(
            "SELECT duration FROM narrations")]  # fmt: skip
        expected = sum(narrations) + 0.6 * len(scenes)
        assert len(narrations) == 4
        assert abs(duration - expected) < 0.3, (duration, expected)
        assert abs(probe(video).duration - duration) < 0.1
        assert page.get_by_role("button", name="Download MP4").is_visible()
        assert page.get_by_role("button", name="Download SRT").is_visible()
        page.screenshot(path=ARTIFACTS / "studio-video.png")
        # the picture picked is the one the video shows in scene 1
        frame = _thumb(_frame(video, 1.0))
        distance = {r.id: float(np.abs(_thumb(np.asarray(Image.open(project.media.path(r.media)).convert("RGB")))
                                       - frame).mean()) for r in project.candidates(scenes[0].id)}  # fmt: skip
        assert min(distance, key=distance.get) == picked.id, distance

        # Settings: the backend in use is named
        open_page(page, "Settings")
        assert page.get_by_text("Pictures come from").is_visible()
        page.screenshot(path=ARTIFACTS / "studio-settings.png")
        assert count(page, "stException") == 0
        # New project, from the sidebar: the Story page's form, no project open
        page.locator('[data-testid="stSidebar"]').get_by_role("button", name="New project").click()
        page.get_by_role("button", name="Create project").wait_for(timeout=30_000)  # a busy machine is slow
        settle(page)
        assert "project=" not in page.url
        assert page.get_by_role("button", name="Create project").is_visible()
        assert not errors, errors
    assert [p.name for p in folder.iterdir()] == ["dragon"]  # nothing written beside the project
