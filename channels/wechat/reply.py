"""What the customer reads on WeChat: reply texts, tap-to-answer links, passive reply XML."""

from __future__ import annotations

import html
from collections.abc import Iterable

from wechatpy.replies import TextReply

from channels.base import Outbound, QuickReply, split_within

# WeChat cuts a text message at 2048 bytes; stay under it.
TEXT_LIMIT_BYTES = 2000
_LINK_UNSAFE = str.maketrans("", "", "&\"'<>#%")


def render(message: Outbound) -> str:
    """A reply's text with its quick replies as links the customer taps to answer.

    WeChat's `weixin://bizmsgmenu` link sends `msgmenucontent` back as the customer's
    text message, so the label (what the customer sees sent) must read as the answer.
    """
    if not message.quick_replies:
        return message.text
    return f"{message.text}\n\n{_links(message.quick_replies)}"


def combine(messages: Iterable[Outbound]) -> str:
    """Several replies to one message as one passive reply (WeChat takes only one)."""
    return "\n\n".join(render(m) for m in messages)


def fits(text: str) -> bool:
    return len(text.encode("utf-8")) <= TEXT_LIMIT_BYTES


def split(text: str, limit: int = TEXT_LIMIT_BYTES) -> list[str]:
    """A long text in messages under WeChat's limit (UTF-8 bytes)."""
    return split_within(text, limit, _utf8_bytes)


def _utf8_bytes(char: str) -> int:
    return len(char.encode("utf-8"))


def passive_reply(text: str, *, to_user: str, from_user: str, create_time: int) -> str:
    """The XML that answers a push directly, with CDATA kept closed whatever the text holds."""
    safe = text.replace("]]>", "]]]]><![CDATA[>")
    return TextReply(source=from_user, target=to_user, content=safe, time=create_time).render()


def _links(quick: Iterable[QuickReply]) -> str:
    links = []
    for number, q in enumerate(quick, start=1):
        content = q.label.translate(_LINK_UNSAFE)
        links.append(f'<a href="weixin://bizmsgmenu?msgmenucontent={content}'
                     f'&msgmenuid={number}">{html.escape(q.label)}</a>')
    return "  ".join(links)
