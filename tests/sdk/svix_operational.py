#!/usr/bin/env python3
"""Drives hookd's operational-webhook endpoint routes with the official Svix Python SDK.

Env: HOOKD_URL, HOOKD_TOKEN. Prints 'SVIX OPERATIONAL OK' on success.
"""
import os

from svix.api import Svix, SvixOptions
from svix.models import (
    OperationalWebhookEndpointIn,
    OperationalWebhookEndpointUpsertIn,
)


def main() -> None:
    svix = Svix(os.environ["HOOKD_TOKEN"],
                SvixOptions(server_url=os.environ["HOOKD_URL"], retry_schedule=[]))
    ops = svix.operational_webhook.endpoint
    created = ops.create(OperationalWebhookEndpointIn(
        url="https://ops.example/hook", event_types=["endpoint.disabled"], description="pager"))
    assert created.url == "https://ops.example/hook" and created.event_types == ["endpoint.disabled"], created
    listed = ops.list()
    assert [e.id for e in listed.data] == [created.id], listed
    assert ops.get(created.id).description == "pager"
    assert ops.get_secret(created.id).key.startswith("whsec_")
    updated = ops.upsert(created.id, OperationalWebhookEndpointUpsertIn(
        url="https://ops.example/other", event_types=["message.attempt.exhausted"]))
    assert updated.url == "https://ops.example/other", updated
    ops.delete(created.id)
    assert ops.list().data == []
    print("SVIX OPERATIONAL OK")


if __name__ == "__main__":
    main()
