"""Requests as WeChat's servers send them to an Official Account's server URL, and readers of
the replies that go back.

XML bodies follow WeChat's documented layout (strings in CDATA, numbers bare). Signatures and
the AES scheme are written here from the protocol description, not taken from wechatpy, so the
tests can check wechatpy against them; only ``encrypt_request`` uses wechatpy's ``WeChatCrypto``
on purpose (the service will face wechatpy's own output in production tests).

Usage::

    body = text_xml("gh_0123456789ab", "oUser", "我要投诉", msg_id=24000000000000001)
    params = query(TOKEN, openid="oUser")              # plaintext mode
    body, params = encrypt_request(body, TOKEN, AES_KEY, APPID)   # safe mode
    xml = decrypt_reply(response_body, TOKEN, AES_KEY, APPID)
    assert parse_reply(xml)["Content"] == "..."
"""

from __future__ import annotations

import base64
import hashlib
import os
import secrets
import struct
import time
import xml.etree.ElementTree as ET
from typing import Any

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

_BLOCK = 32  # WeChat pads to 32 bytes, not AES's 16


def _cdata(value: str) -> str:
    # "]]>" cannot appear inside one CDATA section: split it across two.
    return "<![CDATA[" + value.replace("]]>", "]]]]><![CDATA[>") + "]]>"


def _now() -> int:
    return int(time.time())


def _envelope(to_user: str, from_user: str, create_time: int | None, msg_type: str) -> str:
    return (
        f"<ToUserName>{_cdata(to_user)}</ToUserName>\n"
        f"<FromUserName>{_cdata(from_user)}</FromUserName>\n"
        f"<CreateTime>{create_time if create_time is not None else _now()}</CreateTime>\n"
        f"<MsgType>{_cdata(msg_type)}</MsgType>\n"
    )


# ---------------------------------------------------------------- XML bodies


def text_xml(
    to_user: str, from_user: str, content: str, msg_id: int, create_time: int | None = None
) -> str:
    return (
        "<xml>\n"
        + _envelope(to_user, from_user, create_time, "text")
        + f"<Content>{_cdata(content)}</Content>\n<MsgId>{msg_id}</MsgId>\n</xml>"
    )


def voice_xml(
    to_user: str,
    from_user: str,
    media_id: str,
    msg_id: int,
    create_time: int | None = None,
    *,
    recognition: str | None = None,
    format: str = "amr",
) -> str:
    # Recognition only appears when speech recognition is switched on for the account.
    recognized = (
        f"<Recognition>{_cdata(recognition)}</Recognition>\n" if recognition is not None else ""
    )
    return (
        "<xml>\n"
        + _envelope(to_user, from_user, create_time, "voice")
        + f"<MediaId>{_cdata(media_id)}</MediaId>\n<Format>{_cdata(format)}</Format>\n"
        + recognized
        + f"<MsgId>{msg_id}</MsgId>\n</xml>"
    )


def image_xml(
    to_user: str,
    from_user: str,
    pic_url: str,
    media_id: str,
    msg_id: int,
    create_time: int | None = None,
) -> str:
    return (
        "<xml>\n"
        + _envelope(to_user, from_user, create_time, "image")
        + f"<PicUrl>{_cdata(pic_url)}</PicUrl>\n<MediaId>{_cdata(media_id)}</MediaId>\n"
        + f"<MsgId>{msg_id}</MsgId>\n</xml>"
    )


def event_xml(
    to_user: str,
    from_user: str,
    event: str,
    create_time: int | None = None,
    key: str | None = None,
) -> str:
    """subscribe / unsubscribe / CLICK (with ``key``): events carry no MsgId."""
    event_key = f"<EventKey>{_cdata(key)}</EventKey>\n" if key is not None else ""
    return (
        "<xml>\n"
        + _envelope(to_user, from_user, create_time, "event")
        + f"<Event>{_cdata(event)}</Event>\n"
        + event_key
        + "</xml>"
    )


# ---------------------------------------------------------------- signatures and query strings


def _sha1_sorted(*parts: str) -> str:
    return hashlib.sha1("".join(sorted(parts)).encode("utf-8")).hexdigest()


def signature(token: str, timestamp: str, nonce: str) -> str:
    """The ``signature`` query parameter: sha1 of the sorted, joined token, timestamp, nonce."""
    return _sha1_sorted(token, timestamp, nonce)


def msg_signature(token: str, timestamp: str, nonce: str, encrypt: str) -> str:
    """``msg_signature`` (requests) and ``MsgSignature`` (replies) in safe/compatible mode."""
    return _sha1_sorted(token, timestamp, nonce, encrypt)


def _nonce() -> str:
    return str(secrets.randbelow(9 * 10**9) + 10**9)  # WeChat's nonces are decimal digits


def query(
    token: str, timestamp: str | None = None, nonce: str | None = None, *, openid: str | None = None
) -> dict[str, str]:
    """``signature``, ``timestamp``, ``nonce`` (and ``openid``, which WeChat adds to message
    POSTs) for the server URL."""
    timestamp = timestamp or str(_now())
    nonce = nonce or _nonce()
    params = {
        "signature": signature(token, timestamp, nonce),
        "timestamp": timestamp,
        "nonce": nonce,
    }
    if openid is not None:
        params["openid"] = openid
    return params


def verify_query(
    token: str, echostr: str, timestamp: str | None = None, nonce: str | None = None
) -> dict[str, str]:
    """The GET with which WeChat verifies the server URL; the answer must be ``echostr``."""
    return {**query(token, timestamp, nonce), "echostr": echostr}


# ---------------------------------------------------------------- safe and compatible modes


def random_aes_key() -> str:
    """A valid EncodingAESKey: 32 random bytes in base64 without the trailing "="."""
    key = base64.b64encode(os.urandom(32)).decode("ascii").rstrip("=")
    assert len(key) == 43
    return key


def _aes(aes_key: str) -> Cipher[modes.CBC]:
    key = base64.b64decode(aes_key + "=")
    if len(key) != 32:
        raise ValueError("an EncodingAESKey decodes to 32 bytes")
    return Cipher(algorithms.AES(key), modes.CBC(key[:16]))


def independent_encrypt(
    xml: str, aes_key: str, appid: str, random_prefix: bytes | None = None
) -> str:
    """WeChat's scheme: base64(AES-256-CBC(16 random bytes + len(msg) big-endian u32 + msg +
    appid, PKCS#7 to 32-byte blocks)), key = b64decode(aes_key + "="), iv = key[:16]."""
    message = xml.encode("utf-8")
    prefix = random_prefix if random_prefix is not None else os.urandom(16)
    assert len(prefix) == 16
    plain = prefix + struct.pack(">I", len(message)) + message + appid.encode("utf-8")
    pad = _BLOCK - len(plain) % _BLOCK
    plain += bytes([pad]) * pad
    encryptor = _aes(aes_key).encryptor()
    return base64.b64encode(encryptor.update(plain) + encryptor.finalize()).decode("ascii")


def independent_decrypt(encrypted_b64: str, aes_key: str, appid: str) -> str:
    """The inverse of ``independent_encrypt``; strict about padding, length and appid."""
    decryptor = _aes(aes_key).decryptor()
    plain = decryptor.update(base64.b64decode(encrypted_b64)) + decryptor.finalize()
    pad = plain[-1] if plain else 0
    if not 1 <= pad <= _BLOCK or plain[-pad:] != bytes([pad]) * pad:
        raise ValueError("bad PKCS#7 padding (wrong key?)")
    body = plain[16:-pad]
    (length,) = struct.unpack(">I", body[:4])
    if length > len(body) - 4:
        raise ValueError("message length exceeds the plaintext")
    if body[4 + length :].decode("utf-8") != appid:
        raise ValueError("appid mismatch")
    return body[4 : 4 + length].decode("utf-8")


def encrypt_request(
    xml: str,
    token: str,
    aes_key: str,
    appid: str,
    timestamp: str | None = None,
    nonce: str | None = None,
    *,
    compatible: bool = False,
) -> tuple[str, dict[str, str]]:
    """(body, query params) of a safe-mode request, or a compatible-mode one (the plaintext
    elements kept beside ``Encrypt``), encrypted by wechatpy's own ``WeChatCrypto``."""
    from wechatpy.crypto import WeChatCrypto

    timestamp = timestamp or str(_now())
    nonce = nonce or _nonce()
    # encrypt_message gives the reply envelope; take its Encrypt and re-wrap it as a request.
    crypto = WeChatCrypto(token, aes_key, appid)
    envelope = ET.fromstring(crypto.encrypt_message(xml, nonce, timestamp))
    encrypt = envelope.findtext("Encrypt") or ""
    plain = ET.fromstring(xml)
    if compatible:
        inner = "".join(_element_xml(child) for child in plain)
        body = f"<xml>\n{inner}<Encrypt>{_cdata(encrypt)}</Encrypt>\n</xml>"
    else:
        to_user = plain.findtext("ToUserName") or ""
        body = (
            f"<xml>\n<ToUserName>{_cdata(to_user)}</ToUserName>\n"
            f"<Encrypt>{_cdata(encrypt)}</Encrypt>\n</xml>"
        )
    params = query(token, timestamp, nonce, openid=plain.findtext("FromUserName"))
    params["encrypt_type"] = "aes"
    params["msg_signature"] = envelope.findtext("MsgSignature") or ""
    return body, params


def _element_xml(element: ET.Element) -> str:
    text = element.text or ""
    value = text if text.isdigit() else _cdata(text)
    return f"<{element.tag}>{value}</{element.tag}>\n"


# ---------------------------------------------------------------- replies


def decrypt_reply(body: str | bytes, token: str, aes_key: str, appid: str) -> str:
    """The plaintext XML of an encrypted passive reply, after checking its MsgSignature."""
    root = ET.fromstring(body)
    encrypt, sent_signature, timestamp, nonce = (
        root.findtext(name) or "" for name in ("Encrypt", "MsgSignature", "TimeStamp", "Nonce")
    )
    if not (encrypt and sent_signature and timestamp and nonce):
        raise ValueError("an encrypted reply needs Encrypt, MsgSignature, TimeStamp and Nonce")
    if msg_signature(token, timestamp, nonce, encrypt) != sent_signature:
        raise ValueError("reply MsgSignature does not match")
    return independent_decrypt(encrypt, aes_key, appid)


def parse_reply(xml: str | bytes) -> dict[str, Any]:
    """A passive reply as a dict: leaves as text, nested elements (Image, Voice, ...) as dicts."""
    root = ET.fromstring(xml)
    if root.tag != "xml":
        raise ValueError(f"reply root is <{root.tag}>, not <xml>")
    return _element_dict(root)


def _element_dict(element: ET.Element) -> dict[str, Any]:
    return {
        child.tag: _element_dict(child) if len(child) else (child.text or "")
        for child in element
    }


def is_ack(body: str | bytes) -> bool:
    """WeChat's "answered later" replies: an empty body or ``success``."""
    text = body.decode("utf-8") if isinstance(body, bytes) else body
    return text.strip() in ("", "success")
