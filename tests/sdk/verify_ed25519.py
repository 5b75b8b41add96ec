"""Verifies Standard Webhooks v1a (ed25519) signatures with the `cryptography` package, an
implementation independent of hookd's (the `standardwebhooks` library has no v1a).

Reads JSON from stdin: {"public_key": "whpk_...", "headers": {...}, "body": "..."}.
Exits 0 if one `v1a,` signature in webhook-signature verifies over id.timestamp.body.
"""
import base64
import json
import sys

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

request = json.load(sys.stdin)
headers = {k.lower(): v for k, v in request["headers"].items()}
key = Ed25519PublicKey.from_public_bytes(base64.b64decode(request["public_key"].removeprefix("whpk_")))
signed = f'{headers["webhook-id"]}.{headers["webhook-timestamp"]}.{request["body"]}'.encode()
for entry in headers["webhook-signature"].split():
    version, _, signature = entry.partition(",")
    if version != "v1a":
        continue
    try:
        key.verify(base64.b64decode(signature), signed)
    except InvalidSignature:
        continue
    print("VERIFIED")
    sys.exit(0)
print("NOT VERIFIED")
sys.exit(1)
