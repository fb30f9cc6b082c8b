"""Logs never carry secrets: every record passes the secret filter, and httpx's per-request lines (each CRM
URL, Bitrix24's webhook code in its path) are not written at all."""

from __future__ import annotations

import subprocess
import sys

SCRIPT = """
import logging
from service.logs import configure_logging
configure_logging("INFO")
logging.getLogger("httpx").info("HTTP Request: GET https://portal.example/rest/1/code4httpx/crm.deal.get")
logging.getLogger("qualify.test").warning("calling https://portal.example/rest/7/code4warning/crm.deal.get")
logging.getLogger("qualify.test").info("key qk_0123abcd_secretsecretsecret, hook /v1/webhooks/3?secret=s3cr3t")
try:
    raise RuntimeError("Bearer tok3n-in-a-traceback")
except RuntimeError:
    logging.getLogger("qualify.test").exception("failed")
"""


def test_configured_logging_redacts_every_secret_and_drops_httpx_request_lines() -> None:
    stderr = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, check=True).stderr

    assert "code4httpx" not in stderr and "HTTP Request" not in stderr
    assert "code4warning" not in stderr and "/rest/[redacted]" in stderr
    assert "secretsecretsecret" not in stderr and "s3cr3t" not in stderr and "?secret=[redacted]" in stderr
    assert "tok3n" not in stderr and "RuntimeError" in stderr
