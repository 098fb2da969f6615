"""WeChat's request signatures and its safe (AES) mode, with wechatpy's crypto.

Every request carries `signature` = sha1 of the sorted token, timestamp and nonce; an
encrypted one (`encrypt_type=aes`) also carries `msg_signature` over the ciphertext. That
signature does not cover a plaintext body, so plaintext is accepted only while no AES key is
set (plaintext mode); with a key (compatible or safe mode, where WeChat always encrypts) a
plaintext request is refused. A timestamp more than MAX_SKEW seconds away from our clock is
refused too, so a signature seen once (in a proxy's access log, say) cannot be replayed later.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Mapping
from dataclasses import dataclass
from xml.parsers.expat import ExpatError

import xmltodict
from wechatpy.crypto import WeChatCrypto
from wechatpy.exceptions import InvalidAppIdException, InvalidSignatureException

from channels.base import BadSignature, InvalidPayload

MAX_SKEW = 600  # seconds a request's timestamp may be off; retries come within a minute


@dataclass(frozen=True)
class Opened:
    """A verified request's plaintext XML and how to answer it."""

    xml: str
    encrypted: bool
    nonce: str


def signature(*parts: str) -> str:
    return hashlib.sha1("".join(sorted(parts)).encode()).hexdigest()


def parse_xml(text: str) -> dict:
    """The `<xml>` element as a dict; entity declarations and malformed XML are refused."""
    try:
        document = xmltodict.parse(text)  # xmltodict >= 1.0 refuses entity declarations
    except (ExpatError, ValueError) as exc:
        raise InvalidPayload(f"malformed XML: {exc}") from None
    root = document.get("xml") if isinstance(document, dict) else None
    if not isinstance(root, dict):
        raise InvalidPayload("not a WeChat message: no <xml> element with fields")
    return root


class WeChatSecurity:
    def __init__(self, token: str, appid: str, aes_key: str | None = None) -> None:
        self._token = token
        self._crypto: WeChatCrypto | None = None
        if aes_key:
            try:
                self._crypto = WeChatCrypto(token, aes_key, appid)
            except (AssertionError, ValueError) as exc:
                raise ValueError("INTAKE_WECHAT_AES_KEY must be WeChat's 43-character "
                                 "EncodingAESKey") from exc

    def check(self, params: Mapping[str, str], now: float | None = None) -> None:
        given = params.get("signature", "")
        timestamp = params.get("timestamp", "")
        expected = signature(self._token, timestamp, params.get("nonce", ""))
        if not given or not hmac.compare_digest(given.encode(), expected.encode()):
            raise BadSignature("signature does not match")
        try:
            skew = abs((time.time() if now is None else now) - int(timestamp))
        except ValueError:
            raise BadSignature("timestamp is not a Unix time") from None
        if skew > MAX_SKEW:
            raise BadSignature(f"timestamp is {int(skew)} s away from the server's clock")

    def verify_url(self, params: Mapping[str, str]) -> str:
        """The server-URL check: the `echostr` to answer when the signature holds."""
        self.check(params)
        echostr = params.get("echostr")
        if not echostr:
            raise InvalidPayload("echostr is missing")
        return echostr

    def open(self, body: bytes, params: Mapping[str, str]) -> Opened:
        """Verify a POST and return its plaintext XML."""
        self.check(params)
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            raise InvalidPayload("body is not UTF-8") from None
        nonce = params.get("nonce", "")
        if params.get("encrypt_type", "raw").lower() != "aes":
            if self._crypto is not None:
                raise BadSignature("plaintext refused: the account encrypts its messages")
            return Opened(text, False, nonce)
        if self._crypto is None:
            raise InvalidPayload("encrypted message, but no INTAKE_WECHAT_AES_KEY is set")
        outer = parse_xml(text)
        encrypt = outer.get("Encrypt")
        msg_signature = params.get("msg_signature", "")
        if not isinstance(encrypt, str) or not encrypt:
            raise InvalidPayload("encrypted message without <Encrypt>")
        if not hmac.compare_digest(
                msg_signature.encode(),
                signature(self._token, params.get("timestamp", ""), nonce, encrypt).encode()):
            raise BadSignature("msg_signature does not match")
        try:
            xml = self._crypto.decrypt_message({"Encrypt": encrypt}, msg_signature,
                                               params.get("timestamp", ""), nonce)
        except InvalidSignatureException:
            raise BadSignature("msg_signature does not match") from None
        except InvalidAppIdException:
            raise BadSignature("encrypted for another AppID") from None
        except Exception as exc:  # bad base64, padding or length: not WeChat's ciphertext
            raise InvalidPayload(f"cannot decrypt: {type(exc).__name__}") from None
        return Opened(xml if isinstance(xml, str) else xml.decode("utf-8"), True, nonce)

    def seal(self, reply_xml: str, opened: Opened) -> str:
        """The reply as the request came: encrypted and signed in safe mode."""
        if not opened.encrypted or self._crypto is None:
            return reply_xml
        return self._crypto.encrypt_message(reply_xml, opened.nonce, str(int(time.time())))
