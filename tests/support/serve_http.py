"""Plain HTTP helpers for tests of the inference server: a raw POST to /v1/completions (so tests can
send bodies and headers no client library would) and a completion request body for an engine."""

from __future__ import annotations

import http.client
import json
from urllib.parse import urlsplit

from hashgrad.serve.protocol import compute_model_id


def post(url: str, body: bytes, headers: dict) -> tuple[int, dict]:
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    try:
        conn.request("POST", "/v1/completions", body=body, headers={"Content-Type": "application/json", **headers})
        response = conn.getresponse()
        return response.status, json.loads(response.read())
    finally:
        conn.close()


def body_for(engine, **fields) -> bytes:
    return json.dumps(
        {
            "model": compute_model_id(engine.fingerprint),
            "prompt": "from email import ",
            "max_tokens": 8,
            "temperature": 0,
            **fields,
        }
    ).encode()
