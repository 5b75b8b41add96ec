"""The operator's flows in a real Chromium: sign in, an application, an endpoint with the
Mastodon profile and a template (previewed), test, switch off and on, a message and its
attempt, resend, recover, rotate, delete; escaping of what users typed; sign out."""

import os
import re
import time

from playwright.sync_api import expect, sync_playwright

from common import BASE, TOKEN, browser, check, new_page, shot, sign_in

RECEIVER = os.environ["RECEIVER_URL"]
HOSTILE = "<img src=x onerror=alert(1)>"


def signs_in(page):
    page.goto(BASE + "/")
    expect(page).to_have_url(re.compile(r"/sign-in$"))
    shot(page, "sign-in")
    page.get_by_label("Token").fill("wrong")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_contain_text("not valid")
    sign_in(page, TOKEN)
    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()


def imports_a_catalogue(page):
    page.get_by_role("link", name="Event types").click()
    page.get_by_role("button", name="Import Mastodon events").click()
    expect(page.get_by_role("status")).to_have_text("Imported.")
    expect(page.get_by_role("cell", name="account.created", exact=True)).to_be_visible()
    shot(page, "event-types")


def creates_an_application(page):
    page.get_by_role("link", name="Applications").click()
    page.get_by_label("Name", exact=True).fill("Shop")
    page.get_by_label("UID", exact=True).fill("shop")
    page.get_by_role("button", name="Create").click()
    expect(page.get_by_role("heading", name="Endpoints")).to_be_visible()
    expect(page.get_by_role("link", name="Messages")).to_be_visible()


def adds_a_mastodon_endpoint(page):
    page.get_by_role("link", name="Add endpoint").click()
    page.get_by_label("URL").fill(RECEIVER)
    page.get_by_label("Description").fill(HOSTILE)
    page.get_by_label("account.created").check()
    page.get_by_label("Profile").select_option(label="Mastodon")
    page.get_by_label("Payload template").fill('{"oops": "{{event"}')
    page.get_by_role("button", name="Preview").click()
    expect(page.locator("#template-error")).to_contain_text("position")
    page.get_by_label("Payload template").fill('{"kind": "{{event}}"}')
    page.get_by_label("Preview with an example of").select_option("account.created")
    page.get_by_role("button", name="Preview").click()
    expect(page.locator(".preview pre")).to_have_text('{"kind": "account.created"}')
    shot(page, "endpoint-form")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("status")).to_have_text("Saved.")
    expect(page.get_by_text(HOSTILE)).to_be_visible()  # shown as text, not run


def tests_and_switches(page):
    page.get_by_role("link", name="Endpoints").click()
    page.get_by_role("button", name="Test").click()
    expect(page.locator(".test-result")).to_contain_text("200")
    switch = page.get_by_role("switch", name="Enabled")
    expect(switch).to_have_attribute("aria-checked", "true")
    switch.click()
    expect(page.get_by_role("switch", name="Enabled")).to_have_attribute("aria-checked", "false")
    page.get_by_role("switch", name="Enabled").click()
    expect(page.get_by_role("switch", name="Enabled")).to_have_attribute("aria-checked", "true")
    shot(page, "endpoints")


def sends_and_resends(page):
    page.get_by_role("link", name="Messages").click()
    page.get_by_label("Event type", exact=True).last.fill("account.created")
    page.get_by_label("Payload").fill('{"id": "42"}')
    page.get_by_role("button", name="Send").click()
    expect(page.get_by_role("status")).to_have_text("Message accepted.")
    reload_until(page, lambda: page.get_by_text("thanks from the receiver").count() > 0)
    page.get_by_role("button", name="Resend").click()
    expect(page.get_by_role("status")).to_have_text("Queued to be sent again.")
    reload_until(page, lambda: page.get_by_text("thanks from the receiver").count() >= 2)
    shot(page, "message")
    page.get_by_role("link", name="Messages").click()
    expect(page.get_by_role("cell", name="account.created")).to_have_count(1)
    shot(page, "messages")


def reads_the_attempt_log(page):
    page.get_by_role("link", name="Endpoints").click()
    page.get_by_role("link", name=RECEIVER).click()
    expect(page.get_by_text("2 attempts succeeded, 0 failed.")).to_be_visible()
    expect(page.get_by_role("img", name=re.compile("Last 24 hours"))).to_be_visible()
    row = page.locator("tr.ok").first
    expect(row).to_contain_text("200")
    page.get_by_text("Request and response").first.click()
    expect(page.locator(".response").first).to_have_text("thanks from the receiver")
    check("webhook-signature" not in page.content().lower() or "••••" in page.content(), "masked")
    shot(page, "endpoint")


def recovers_and_rotates(page):
    page.get_by_label("Recover failed since").fill("2026-01-01T00:00")
    page.get_by_role("button", name="Recover").click()
    expect(page.get_by_role("status")).to_contain_text("failed deliveries queued again")
    page.get_by_text("Reveal secret").click()
    before = page.locator("#secret").inner_text()
    page.get_by_role("button", name="Rotate secret").click()
    expect(page.get_by_role("status")).to_contain_text("rotated")
    page.get_by_text("Reveal secret").click()
    check(page.locator("#secret").inner_text() != before, "the secret changed")


def deletes_with_confirmation(page):
    page.get_by_role("link", name="Applications").click()
    page.get_by_role("link", name="Shop").click()
    page.get_by_text("Delete", exact=True).click()
    page.get_by_role("button", name="Yes, delete it").click()
    expect(page.get_by_role("status")).to_have_text("Deleted.")
    expect(page.get_by_text("No endpoints yet.")).to_be_visible()


def views_the_dashboard(page):
    page.get_by_role("link", name="Dashboard").click()
    expect(page.get_by_text("Messages accepted")).to_be_visible()
    page.get_by_role("link", name="http://127.0.0.1:9/down").click()
    expect(page.get_by_text("Failing since")).to_be_visible()
    page.get_by_role("link", name="Dashboard").click()
    shot(page, "dashboard")


def signs_out(page):
    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(re.compile(r"/sign-in$"))
    page.goto(BASE + "/apps")
    expect(page).to_have_url(re.compile(r"/sign-in$"))


def reload_until(page, condition, seconds=15):
    deadline = time.time() + seconds
    while not condition():
        check(time.time() < deadline, "timed out waiting on the page")
        time.sleep(0.2)
        page.reload()


def phone_width(b):
    """At phone width the pages still work (a smoke check, with a screenshot)."""
    page = new_page(b, viewport={"width": 390, "height": 844})
    sign_in(page, TOKEN)
    page.goto(BASE + "/apps")
    expect(page.get_by_role("button", name="Create")).to_be_visible()
    shot(page, "applications-phone")
    check(not page.errors, f"page errors: {page.errors}")


def main():
    with sync_playwright() as p:
        b = browser(p)
        page = new_page(b, timezone_id="Europe/Paris")
        for step in [signs_in, imports_a_catalogue, creates_an_application,
                     adds_a_mastodon_endpoint, tests_and_switches, sends_and_resends,
                     reads_the_attempt_log, recovers_and_rotates, views_the_dashboard,
                     deletes_with_confirmation, signs_out]:
            step(page)
            check(not page.errors, f"after {step.__name__}: page errors: {page.errors}")
        phone_width(b)
        b.close()
    print("OK")


if __name__ == "__main__":
    main()
