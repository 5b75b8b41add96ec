"""Validates an OpenAPI document (JSON on stdin) with openapi-spec-validator.

Prints VALID and exits 0 if it is a valid OpenAPI 3.1 document; exits 1 otherwise.
"""
import json
import sys

from openapi_spec_validator import validate
from openapi_spec_validator.validation.exceptions import OpenAPIValidationError

document = json.load(sys.stdin)
try:
    validate(document)
except OpenAPIValidationError as e:
    print(f"NOT VALID: {e}")
    sys.exit(1)
print("VALID")
