"""End to end in a real browser (Debian's chromium, driven by Playwright): the documented ``memorynet serve``
command, a digit drawn with mouse strokes, a new class taught from five drawings, undo, save, and the saved file
served again. The screenshot is kept in ``$MEMORYNET_ARTIFACTS`` (default ``build/test-artifacts``)."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest

from memorynet import save_model
from memorynet.models import presets

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("MEMORYNET_CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = Path(os.environ.get("MEMORYNET_ARTIFACTS", ROOT / "build" / "test-artifacts"))


@pytest.fixture(scope="module")
def browser():
    if shutil.which(CHROMIUM) is None:
        message = f"no browser at {CHROMIUM}: install Debian's chromium (apt-get install chromium)"
        pytest.fail(message) if os.environ.get("CI") == "true" else pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True,
            args=["--no-sandbox", "--disable-background-networking", "--disable-component-update", "--no-first-run"])
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def model_file(mnist, tmp_path_factory) -> Path:
    model = presets.preset("paper", random_state=0).fit(mnist.X_train[:20000], mnist.y_train[:20000])
    path = tmp_path_factory.mktemp("served") / "model.mnet"
    save_model(model, path, {"dataset": "mnist", "pixel_max": 255.0, "class_names": list(mnist.class_names)})
    return path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class _Server:
    """``memorynet serve --model PATH`` as a user starts it, on a free port of 127.0.0.1."""

    def __init__(self, path: Path):
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process = subprocess.Popen([sys.executable, "-m", "memorynet", "serve", "--model", str(path),
                                         "--port", str(self.port)], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(self.url + "/api/model", timeout=2) as response:
                    self.info = json.load(response)
                return
            except OSError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    raise AssertionError(f"the server did not start: {self.process.stderr.read().decode()[-2000:]}")
                time.sleep(0.2)

    def stop(self):
        self.process.terminate()
        self.process.wait(timeout=30)


def _draw(page, strokes):
    """Mouse strokes on the drawing canvas; points in canvas pixels (0-280)."""
    page.click("#clear-button")
    box = page.locator("#canvas").bounding_box()
    for stroke in strokes:
        x, y = stroke[0]
        page.mouse.move(box["x"] + x, box["y"] + y)
        page.mouse.down()
        for x, y in stroke[1:]:
            page.mouse.move(box["x"] + x, box["y"] + y, steps=4)
        page.mouse.up()


def _one(dx: float = 0):
    return [[(140 + dx, 40), (140 + dx, 140), (140 + dx, 240)]]


def _zero():
    angles = np.linspace(0, 2 * np.pi, 25)
    return [[(140 + 55 * np.cos(a), 140 + 85 * np.sin(a)) for a in angles]]


def _cross(shift: float = 0, size: float = 70):
    c = 140 + shift
    return [[(c - size, c - size), (c + size, c + size)], [(c + size, c - size), (c - size, c + size)]]


def _open(browser, server, requests):
    page = browser.new_page(viewport={"width": 1200, "height": 1400})
    page.on("request", lambda request: requests.append(request.url))
    page.goto(server.url + "/")
    page.wait_for_function("document.getElementById('status').textContent === 'ready'", timeout=30000)
    return page


def test_draw_teach_a_new_class_undo_save_and_serve_the_saved_file(browser, model_file):
    from playwright.sync_api import expect

    started = time.monotonic()
    requests: list[str] = []
    server = _Server(model_file)
    try:
        page = _open(browser, server, requests)
        _draw(page, _one())
        expect(page.locator("#prediction")).to_have_text("1", timeout=15000)
        _draw(page, _zero())
        expect(page.locator("#prediction")).to_have_text("0", timeout=15000)
        assert page.locator("#nearest figure").count() == 5
        for i, (shift, size) in enumerate([(0, 70), (-15, 60), (15, 75), (0, 50), (10, 65)]):
            _draw(page, _cross(shift, size))
            page.fill("#label-input", "cross")
            page.click("#teach-button")
            expect(page.locator("#status")).to_have_text("lesson learnt: cross", timeout=15000)
            expect(page.locator("#summary")).to_contain_text(f"{i + 1} lesson", timeout=15000)
        expect(page.locator("#lesson")).to_contain_text("Learnt as \"cross\"")
        page.click("#undo-button")
        expect(page.locator("#status")).to_have_text("the last lesson was undone", timeout=15000)
        expect(page.locator("#summary")).to_contain_text("4 lessons")
        page.click("#teach-button")  # the same drawing again
        expect(page.locator("#summary")).to_contain_text("5 lessons", timeout=15000)
        _draw(page, _cross(-5, 68))
        expect(page.locator("#prediction")).to_have_text("cross", timeout=15000)
        page.select_option("#class-select", label="cross (5)")
        expect(page.locator("#neurons figure")).to_have_count(5, timeout=15000)
        page.click("#save-button")
        expect(page.locator("#status")).to_have_text("saved model-1.mnet", timeout=15000)
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "serve.png"), full_page=True)
        page.close()
    finally:
        server.stop()
    saved = model_file.with_name("model-1.mnet")
    server = _Server(saved)  # the saved file, served again: the new class is still there
    try:
        assert server.info["classes"][-1] == {"index": 10, "label": 10, "name": "cross", "neurons": 5}
        page = _open(browser, server, requests)
        _draw(page, _cross(8, 60))
        expect(page.locator("#prediction")).to_have_text("cross", timeout=15000)
        _draw(page, _one(dx=10))
        expect(page.locator("#prediction")).to_have_text("1", timeout=15000)
        page.close()
    finally:
        server.stop()
    assert all(url.startswith("http://127.0.0.1:") for url in requests), "the page asked for something outside"
    assert time.monotonic() - started < 120
