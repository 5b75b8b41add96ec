"""Checks a Mastodon-style webhook the way Mastodon's receivers do.

Reads JSON from stdin: {"secret": "...", "body": "...", "signature": "sha256=...", "digest": "SHA-256=..."}.
Exits 0 and prints VERIFIED if X-Hub-Signature is the hex HMAC-SHA256 of the body under the
secret and Digest is the body's base64 SHA-256; exits 1 otherwise.
"""
import base64
import hashlib
import hmac
import json
import sys

request = json.load(sys.stdin)
body = request["body"].encode()
expected = "sha256=" + hmac.new(request["secret"].encode(), body, hashlib.sha256).hexdigest()
digest = "SHA-256=" + base64.b64encode(hashlib.sha256(body).digest()).decode()
if hmac.compare_digest(expected, request["signature"]) and request["digest"] == digest:
    print("VERIFIED")
    sys.exit(0)
print(f"NOT VERIFIED: expected {expected} / {digest}")
sys.exit(1)
