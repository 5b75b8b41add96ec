#!/usr/bin/env python3
"""Smoke test: drive a hookd server with the official Svix Python SDK (svix==2.9.1).

Env: HOOKD_URL (e.g. http://127.0.0.1:12345), HOOKD_TOKEN.
Optional: HOOKD_REQUIRE_ATTEMPT=1 -> fail if no delivery attempt shows up within ~10s.
Prints 'SVIX SDK OK' on success; any failure raises -> non-zero exit.
"""
import os
import sys
import time
import uuid

from standardwebhooks import Webhook
from svix.api import (
    AppPortalAccessIn,
    ApplicationIn, EndpointIn, EventTypeIn, MessageGetOptions, MessageIn,
    MessageListOptions, Svix, SvixOptions,
)
from svix.exceptions import HttpError


def main() -> None:
    svix = Svix(os.environ["HOOKD_TOKEN"],
                SvixOptions(server_url=os.environ["HOOKD_URL"], retry_schedule=[]))
    sfx = uuid.uuid4().hex[:10]
    app_uid, et_name, event_id = f"smoke-app-{sfx}", f"smoke.{sfx}", f"evt-{sfx}"
    payload = {"hello": "world", "n": 42, "nested": {"list": [1, 2, 3]}}
    hook_url = "https://example.com/hook"

    app = svix.application.create(ApplicationIn(name=f"Smoke {sfx}", uid=app_uid))
    assert (app.name, app.uid) == (f"Smoke {sfx}", app_uid), app

    et = svix.event_type.create(EventTypeIn(name=et_name, description="smoke event"))
    assert (et.name, et.description) == (et_name, "smoke event"), et

    ep = svix.endpoint.create(app.id, EndpointIn(url=hook_url, event_types=[et_name]))
    assert ep.url == hook_url and ep.event_types == [et_name], ep

    secret = svix.endpoint.get_secret(app.id, ep.id).key
    assert secret.startswith("whsec_"), secret
    Webhook(secret)  # must be valid standard base64 after the prefix

    msg = svix.message.create(app.id, MessageIn(event_type=et_name, event_id=event_id, payload=payload))
    assert (msg.event_type, msg.event_id) == (et_name, event_id), msg

    # --- read back ---
    got = svix.application.get(app_uid)  # lookup by uid
    assert (got.id, got.name, got.uid) == (app.id, app.name, app_uid), got
    assert app.id in [a.id for a in svix.application.list().data]

    got_ep = svix.endpoint.get(app.id, ep.id)
    assert (got_ep.id, got_ep.url, got_ep.event_types) == (ep.id, hook_url, [et_name]), got_ep
    assert [e.id for e in svix.endpoint.list(app.id).data] == [ep.id]

    got_msg = svix.message.get(app.id, msg.id, MessageGetOptions(with_content=True))
    assert (got_msg.id, got_msg.event_type, got_msg.event_id) == (msg.id, et_name, event_id), got_msg
    assert got_msg.payload == payload, got_msg.payload

    msgs = svix.message.list(app.id, MessageListOptions(with_content=True)).data
    assert [(m.id, m.event_type, m.payload) for m in msgs] == [(msg.id, et_name, payload)], msgs

    attempts = []
    require_attempt = os.environ.get("HOOKD_REQUIRE_ATTEMPT") == "1"
    for _ in range(20 if require_attempt else 1):  # delivery is async; give it up to ~10s
        attempts = svix.message_attempt.list_by_msg(app.id, msg.id).data
        if attempts:
            break
        time.sleep(0.5)
    for a in attempts:
        assert (a.msg_id, a.endpoint_id, a.url) == (msg.id, ep.id, hook_url), a
    if require_attempt:
        assert attempts, "no delivery attempt recorded"

    # --- recovery: a background task, read with the SDK's background-task API ---
    from datetime import datetime, timezone
    from svix.api import RecoverIn
    task = svix.endpoint.recover(app.id, ep.id, RecoverIn(since=datetime(2000, 1, 1, tzinfo=timezone.utc)))
    assert (task.id[:6], str(task.task)) == ("qtask_", "endpoint.recover"), task
    for _ in range(40):
        got_task = svix.background_task.get(task.id)
        if str(got_task.status) != "running":
            break
        time.sleep(0.25)
    assert str(got_task.status) == "finished", got_task
    assert "messagesSent" in got_task.data, got_task.data
    assert task.id in [t.id for t in svix.background_task.list().data]

    # --- portal access: a token scoped to this application, usable by the SDK itself ---
    access = svix.authentication.app_portal_access(
        app.id, AppPortalAccessIn(expiry=3600, readOnly=True))
    assert "/portal#token=" in access.url and access.token.startswith("hkp_"), access
    portal = Svix(access.token, SvixOptions(server_url=os.environ["HOOKD_URL"], retry_schedule=[]))
    assert [e.id for e in portal.endpoint.list(app.id).data] == [ep.id]
    try:
        portal.application.list()
        raise AssertionError("a portal token listed the applications")
    except HttpError as e:
        assert e.status_code == 403, e.status_code

    # --- cleanup (also checks delete + JSON error body on 404) ---
    svix.endpoint.delete(app.id, ep.id)
    svix.application.delete(app.id)
    try:
        svix.application.get(app.id)
        raise AssertionError("app still exists after delete")
    except HttpError as e:
        assert e.status_code == 404, e.status_code

    print(f"attempts seen: {len(attempts)}")
    print("SVIX SDK OK")


if __name__ == "__main__":
    try:
        main()
    except Exception as e:  # noqa: BLE001
        import traceback
        traceback.print_exc()
        print(f"SVIX SDK FAILED: {type(e).__name__}: {e}", file=sys.stderr)
        sys.exit(1)
