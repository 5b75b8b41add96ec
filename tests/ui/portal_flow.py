"""The application portal in a real Chromium: the operator makes a portal link; it opens one
application only; a read-only link changes nothing; revoking ends the sessions."""

import os
import re

from playwright.sync_api import expect, sync_playwright

from common import BASE, TOKEN, browser, check, new_page, shot, sign_in

SHOP, BLOG = os.environ["SHOP_ID"], os.environ["BLOG_ID"]
RECEIVER = os.environ["RECEIVER_URL"]


def make_link(admin, read_only):
    admin.goto(f"{BASE}/apps/{SHOP}/settings")
    if read_only:
        admin.get_by_label("Read-only").check()
    admin.get_by_role("button", name="Create portal link").click()
    url = admin.locator("#portal-url").inner_text()
    check("/portal#token=hkp_" in url, f"a portal link: {url}")
    return url


def portal_user(b, url):
    page = new_page(b)
    page.goto(url)
    expect(page).to_have_url(re.compile(f"/apps/{SHOP}/endpoints$"))
    check("token" not in page.url, "the token left the address bar")
    return page


def manages_its_own_application(page):
    expect(page.get_by_role("link", name="Applications")).to_have_count(0)
    expect(page.get_by_role("link", name="Settings")).to_have_count(0)
    page.get_by_role("link", name="Add endpoint").click()
    page.get_by_label("URL").fill(RECEIVER)
    page.get_by_label("Description").fill("from the portal")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("status")).to_have_text("Saved.")
    page.get_by_role("link", name="Endpoints").click()
    shot(page, "portal")


def sees_nothing_else(page):
    page.goto(f"{BASE}/apps/{BLOG}/endpoints")
    expect(page.get_by_role("heading", name="Not found")).to_be_visible()
    for path in ["/apps", "/event-types", f"/apps/{SHOP}/settings"]:
        page.goto(BASE + path)
        expect(page.get_by_role("heading", name="Not allowed")).to_be_visible()


def read_only_changes_nothing(page):
    expect(page.get_by_role("link", name="Add endpoint")).to_have_count(0)
    expect(page.get_by_role("switch")).to_have_count(0)
    expect(page.get_by_role("link", name=RECEIVER)).to_be_visible()
    status = page.evaluate(
        """async (shop) => {
            const csrf = document.querySelector("input[name=csrf]").value;
            const body = new URLSearchParams({csrf, url: "https://example.com/x"});
            const r = await fetch(`/apps/${shop}/endpoints/new`, {method: "POST", body});
            return r.status;
        }""",
        SHOP,
    )
    check(status == 403, f"a read-only session's change is refused, got {status}")


def main():
    with sync_playwright() as p:
        b = browser(p)
        admin = new_page(b)
        sign_in(admin, TOKEN)
        writer = portal_user(b, make_link(admin, read_only=False))
        shot(admin, "portal-link")
        manages_its_own_application(writer)
        sees_nothing_else(writer)
        reader = portal_user(b, make_link(admin, read_only=True))
        read_only_changes_nothing(reader)
        admin.goto(f"{BASE}/apps/{SHOP}/settings")
        admin.get_by_role("button", name="Revoke all portal access").click()
        expect(admin.get_by_role("status")).to_contain_text("ended")
        for page in [writer, reader]:
            page.reload()
            expect(page).to_have_url(re.compile(r"/sign-in$"))
        for page in [admin, writer, reader]:
            check(not page.errors, f"page errors: {page.errors}")
        b.close()
    print("OK")


if __name__ == "__main__":
    main()
