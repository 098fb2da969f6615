"""WeChat Official Account channel: verified pushes in, passive replies or the
customer-service API out."""

from .parse import CHANNEL, MENU_KEYS, parse_message
from .reply import combine, fits, passive_reply, render, split
from .security import BadSignature, Opened, WeChatSecurity, parse_xml, signature
from .send import DEFAULT_API_BASE, ApiClient, Media, MediaFailed, TokenKeeper, WeChatSender

__all__ = [
    "CHANNEL",
    "DEFAULT_API_BASE",
    "MENU_KEYS",
    "ApiClient",
    "BadSignature",
    "Media",
    "MediaFailed",
    "Opened",
    "TokenKeeper",
    "WeChatSecurity",
    "WeChatSender",
    "combine",
    "fits",
    "parse_message",
    "parse_xml",
    "passive_reply",
    "render",
    "signature",
    "split",
]
