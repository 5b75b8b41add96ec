"""Verifies one webhook with the official Standard Webhooks library.

Reads JSON from stdin: {"secret": "whsec_...", "headers": {...}, "body": "..."}.
Prints VERIFIED and exits 0 if the signature is valid; exits 1 otherwise.
"""
import json
import sys

from standardwebhooks import Webhook

request = json.load(sys.stdin)
try:
    Webhook(request["secret"]).verify(request["body"], request["headers"])
except Exception as e:  # noqa: BLE001
    print(f"NOT VERIFIED: {type(e).__name__}: {e}")
    sys.exit(1)
print("VERIFIED")
