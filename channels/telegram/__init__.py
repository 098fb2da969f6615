"""The Telegram channel: Bot API updates in, messages with inline buttons out.

Updates arrive by webhook (`set_webhook`, with the secret Telegram echoes in the
`X-Telegram-Bot-Api-Secret-Token` header) or by long polling (`TelegramPoller`); either way
each Update's JSON goes through `parse_update(data, now)`, which raises `InvalidPayload` for
a body that is not an Update and returns None for updates we ignore (channel posts, polls,
chat-member changes, service messages, inline queries, ...). Otherwise the `Inbound` has
`channel="telegram"`, `user_id` = the chat id as a string, `message_id` = `f"u{update_id}"`
(Telegram redelivers an update with the same id: it is the dedup key), `raw` = the update,
`display_name` from `from.first_name`/`last_name` and `lang` "zh" for any `zh*`
`language_code`, "en" for `en*`, else None. Its `kind` is one of:

* "text": a private text message (or a caption without media); `text` is stripped.
* "command": `/start`, `/cancel`, `/status <case>`, `/human`, `/help`; `text` keeps the
  command and its argument, lower-cased command, a `@BotName` suffix removed
  (`/cancel@MyBot` -> `/cancel`). Other slash-words are "text".
* "attachment": a photo, document or video; `text` = the caption (or ""), `attachments` =
  one `Attachment(kind, file_id, meta)` with kind "image" (the largest photo size), "file" or
  "video", and `meta` holding those of `file_unique_id, file_size, mime_type, file_name,
  width, height` present plus `telegram_type` (the message field).
* "unsupported": voice, audio, sticker, animation, video note, location, venue, a contact
  other than the sender's own (their own is a verified phone),
  poll, dice, game, story, paid media, checklist; `text` = "" and, when the thing has a
  file_id, an attachment describing it (kind "voice", "video" or "other", `telegram_type`).
* "edited": an `edited_message` in a private chat; `text` = the new text or caption,
  `message_id` = `f"e{update_id}"`, `timestamp` = `edit_date`; `original_message_id(inbound)`
  gives the Telegram id of the edited message (it is in `raw`). Edits to unsupported media
  and to group messages are ignored.
* "callback": an inline-button press; `text` = its `data`, the user from
  `callback_query.from`, the chat from `callback_query.message.chat`, `timestamp` = `now`;
  `callback_query_id(inbound)` gives the id to pass to `answer_callback`.
* "group": a message (or button press) in a group or supergroup; `user_id` is the group's
  chat id, so the polite refusal goes to the group.

Sending (`TelegramSender`): one inline button per quick reply, two per row,
`callback_data` = the payload cut to 64 UTF-8 bytes (`callback_data`); texts over 4096
characters go as several messages; a `RateLimiter` paces sends (about 1/s per chat with a
burst of 3, 30/s overall); Bot API errors become `DeliveryError` (`delivery_error`).
"""

from __future__ import annotations

from .parse import (
    ALLOWED_UPDATES,
    CHANNEL,
    COMMANDS,
    callback_query_id,
    original_message_id,
    parse_update,
)
from .poller import TelegramPoller
from .ratelimit import RateLimiter
from .send import (
    BUTTONS_PER_ROW,
    MAX_CALLBACK_DATA,
    MAX_MESSAGE,
    TelegramSender,
    answer_callback,
    callback_data,
    delivery_error,
    keyboard,
    set_webhook,
    split_text,
    validate_secret,
)

__all__ = [
    "ALLOWED_UPDATES",
    "BUTTONS_PER_ROW",
    "CHANNEL",
    "COMMANDS",
    "MAX_CALLBACK_DATA",
    "MAX_MESSAGE",
    "RateLimiter",
    "TelegramPoller",
    "TelegramSender",
    "answer_callback",
    "callback_data",
    "callback_query_id",
    "delivery_error",
    "keyboard",
    "original_message_id",
    "parse_update",
    "set_webhook",
    "split_text",
    "validate_secret",
]
