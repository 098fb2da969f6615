"""No secret reaches a log line: configured secrets and credentials carried in URLs."""

from __future__ import annotations

import logging

from bot.logs import RedactSecrets


def test_secrets_and_url_credentials_are_redacted(caplog):
    logger = logging.getLogger("intake.test.logs")
    redact = RedactSecrets(["wechat-app-secret-123", "server-token-xyz"])
    logger.addFilter(redact)
    try:
        with caplog.at_level(logging.INFO, logger="intake.test.logs"):
            logger.info("GET https://api.weixin.qq.com/cgi-bin/token?grant_type=client_credential"
                        "&appid=wx1&secret=%s", "wechat-app-secret-123")
            logger.info("POST /cgi-bin/message/custom/send?access_token=ACCESS.tok-en_9 200")
            logger.info("checked signature with %s", "server-token-xyz")
    finally:
        logger.removeFilter(redact)
    text = caplog.text
    for leaked in ("wechat-app-secret-123", "ACCESS.tok-en_9", "server-token-xyz"):
        assert leaked not in text
    assert "secret=[redacted]" in text and "access_token=[redacted]" in text
    assert "appid=wx1" in text  # what is not secret stays readable


def test_tracebacks_are_redacted_too(caplog):
    logger = logging.getLogger("intake.test.tracebacks")
    redact = RedactSecrets(["tok-secret-987"])
    logger.addFilter(redact)
    try:
        with caplog.at_level(logging.ERROR, logger="intake.test.tracebacks"):
            try:
                raise RuntimeError("GET /send?access_token=LIVE-TOKEN-1 with tok-secret-987")
            except RuntimeError:
                logger.exception("send failed")
    finally:
        logger.removeFilter(redact)
    assert "LIVE-TOKEN-1" not in caplog.text and "tok-secret-987" not in caplog.text
    assert "RuntimeError" in caplog.text and "send failed" in caplog.text
