"""What the console's browser tests share: Chromium started the way this machine needs,
and screenshots saved under HOOKD_SCREENSHOTS (docs/ui.md shows them)."""

import os
import pathlib

from playwright.sync_api import sync_playwright

CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic",
]

BASE = os.environ["HOOKD_URL"]
TOKEN = os.environ.get("HOOKD_TOKEN", "")
SHOTS = pathlib.Path(os.environ.get("HOOKD_SCREENSHOTS", "target/ui-screenshots"))


def browser(playwright):
    return playwright.chromium.launch(
        executable_path=os.environ.get("HOOKD_CHROMIUM", "/usr/bin/chromium"), args=CHROMIUM_ARGS
    )


def new_page(b, **options):
    """A page that fails the test on any script error or dialog (an XSS would raise one)."""
    context = b.new_context(**options)
    page = context.new_page()
    page.set_default_timeout(15000)
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("dialog", lambda d: errors.append(f"dialog opened: {d.message}") or d.dismiss())
    page.errors = errors
    return page


def shot(page, name):
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def sign_in(page, token):
    page.goto(BASE + "/")
    page.get_by_label("Token").fill(token)
    page.get_by_role("button", name="Sign in").click()


def check(condition, what):
    if not condition:
        raise AssertionError(what)
