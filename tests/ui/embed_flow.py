"""The portal embedded in another site's page (as an application shows it in its own
settings): the frame signs in with the portal link and works inside the frame."""

import http.server
import os
import threading

from playwright.sync_api import expect, sync_playwright

from common import browser, check, new_page, shot

PORTAL_URL = os.environ["PORTAL_URL"]
EMBED_PORT = int(os.environ["EMBED_PORT"])

PAGE = f"""<!doctype html><title>My application</title>
<h1>My application's webhook settings</h1>
<iframe id="portal" src="{PORTAL_URL}" width="1000" height="700" title="Webhooks"></iframe>"""


class Embedding(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = PAGE.encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def main():
    # "localhost" is another site than "127.0.0.1", where hookd listens: a cross-site frame.
    server = http.server.HTTPServer(("127.0.0.1", EMBED_PORT), Embedding)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    with sync_playwright() as p:
        b = browser(p)
        page = new_page(b)
        page.goto(f"http://localhost:{EMBED_PORT}/")
        frame = page.frame_locator("#portal")
        expect(frame.get_by_role("heading", name="Endpoints")).to_be_visible()
        frame.get_by_role("link", name="Messages").click()
        expect(frame.get_by_role("heading", name="Messages")).to_be_visible()
        frame.get_by_label("Payload").fill('{"from": "the frame"}')
        frame.get_by_role("button", name="Send").click()
        expect(frame.get_by_role("status")).to_have_text("Message accepted.")
        shot(page, "portal-embedded")
        check(not page.errors, f"page errors: {page.errors}")
        b.close()
    server.shutdown()
    print("OK")


if __name__ == "__main__":
    main()
