"""Take the README's screenshot (docs/screenshot.png): the chat page in headless Chromium, on a platform of its own.

.venv/bin/python scripts/screenshot.py
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from playwright.sync_api import sync_playwright  # noqa: E402

from tests.harness.platform import Platform  # noqa: E402

ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def main() -> None:
    p = Platform(Path(tempfile.mkdtemp(prefix="screenshot-")), LOG_LEVEL="WARNING")
    try:
        p.start_all()
        p.create_user("ada")
        api = p.client("ada")
        session = api.post("/api/chatbot/sessions", {"preset": "maze_strategist", "title": "Maze strategy"}).json()
        with sync_playwright() as pw:
            browser = pw.chromium.launch(
                executable_path=shutil.which("chromium") or "/usr/bin/chromium", args=ARGS, headless=True
            )
            page = browser.new_page(viewport={"width": 1200, "height": 720})
            page.goto(p.base_url + "/accounts/login/?next=/chat/")
            page.fill("input[name=username]", "ada")
            page.fill("input[name=password]", "correct-horse-battery-9")
            page.click("form [type=submit]")
            page.wait_for_url(p.base_url + "/chat/")
            page.click(f"button.session-item[data-session-id='{session['id']}']")
            page.wait_for_selector("#composer-input:not([disabled])")
            for question in ("How do I get past the germs in the east corridor?", "And if oxygen runs low?"):
                page.fill("#composer-input", question)
                page.click("#composer-send")
                page.wait_for_selector(f".message-assistant:has-text('{question}')", timeout=10000)
            page.screenshot(path=str(ROOT / "docs" / "screenshot.png"))
            browser.close()
    finally:
        p.stop_all()


if __name__ == "__main__":
    main()
