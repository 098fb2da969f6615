/*
 * Complaint web chat widget. Embed with ONE tag:
 *   <script src="/channels/webchat/widget.js" defer data-lang="zh" data-endpoint="..."></script>
 * data-lang: "zh" | "en" (optional; UI language, also sent with each message). Without it,
 *   the page's <html lang> when zh or en (sent as well), else the browser's language.
 * data-endpoint: base URL of the service (optional; defaults to this script's origin).
 *
 * Plain JavaScript, no dependencies. Every piece of text goes in with textContent or
 * createTextNode: messages may contain markup and must never be parsed as HTML.
 *
 * The visitor id V (32 hex digits from crypto.getRandomValues: 128 random bits) is the chat's
 * only credential. It never goes in a URL (browser history, proxies and server logs keep
 * URLs): it travels in a body, a header or the socket's first frame.
 *
 * Wire formats:
 *   GET  {base}/channels/webchat/history   with the header  X-Visitor-Id: V
 *        -> {"messages": [{"direction": "in"|"out", "text", "quick_replies": [...],
 *                          "client_message_id"?, "id"?}]}
 *   POST {base}/channels/webchat/messages
 *        {"visitor_id", "text", "client_message_id", "lang"?}
 *        -> {"replies": [...], "masked_text": str|null}
 *   GET  {base}/channels/webchat/welcome?lang=zh|en -> {"text", "quick_replies": [...]}
 *        the greeting (not stored) shown to a visitor without history; its starter
 *        buttons send their label as an ordinary message.
 *   WS   {base}/channels/webchat/ws   (no query)
 *        first frame, browser -> server: {"type": "hello", "visitor_id": V}
 *                     server -> browser: {"type": "ready"}  (only then are messages sent)
 *        browser -> server: {"type": "message", "text", "client_message_id", "lang"?}
 *        server -> browser: {"type": "replies", "in_reply_to": id, "replies": [...],
 *                            "masked_text": str|null}
 *                           {"type": "message", "replies": [...], "id"?}
 *                           {"type": "error", "in_reply_to": id, "detail", "retry"?}
 *        "retry": true means the store was unavailable: the message is sent again later.
 *   reply = {"text", "quick_replies": [{"label", "payload"}]}
 *   A visitor id idle too long has expired: 401 from POST and history, socket close code
 *   4401. The widget then makes a new id and starts afresh (the old conversation is not
 *   shown), sending its unacknowledged messages again under the new id.
 * client_message_id is unique per visitor; a resent one gets the same answer.
 * masked_text: the customer's message as stored when an ID or card number in it was masked;
 *   it replaces the customer's own bubble so the full number does not stay on screen.
 * "in" is the customer's side, "out" the service's (the server's point of view).
 */
(() => {
  "use strict";

  if (window.__complaintChatWidget) return;
  // Without Web Crypto there is no safe visitor id; every browser that runs this script has it.
  if (!window.crypto || typeof window.crypto.getRandomValues !== "function") return;
  window.__complaintChatWidget = true;

  const script = document.currentScript ||
    document.querySelector('script[src*="/channels/webchat/widget.js"]');

  // ---- configuration ------------------------------------------------------------------
  const scriptUrl = new URL(script && script.src ? script.src : location.href, location.href);
  const endpointAttr = script && script.dataset.endpoint;
  const base = new URL(endpointAttr || scriptUrl.origin, location.href);
  const baseHref = base.href.replace(/\/+$/, "");
  const langAttr = script && script.dataset.lang;
  const pageLang = (document.documentElement.lang || "").toLowerCase().slice(0, 2);
  // The page's language speaks for the visitor too (its greeting's starters are in it);
  // the browser's language only picks the UI.
  const explicitLang = langAttr === "zh" || langAttr === "en" ? langAttr
    : pageLang === "zh" || pageLang === "en" ? pageLang : null;
  const lang = explicitLang ||
    ((navigator.language || "").toLowerCase().startsWith("zh") ? "zh" : "en");

  const MAX_TEXT = 4000;            // characters: the server's limit (channels/webchat/parse.py)
  const WARN_TEXT = MAX_TEXT - 500; // from here a counter shows under the conversation
  const ACK_TIMEOUT_MS = 8000;      // a socket message not answered by then goes by POST
  const POST_RETRIES = 4;           // automatic POST attempts before "failed, retry"
  const MAX_RENEWALS = 3;           // new visitor ids one message may cause (expiry)
  const CLOSE_EXPIRED = 4401;       // the socket's close code for an expired visitor id
  const STORE_PREFIX = "complaintChat:";

  const T = {
    zh: {
      title: "在线投诉 / Complaints",
      open: "打开在线投诉",
      close: "关闭",
      input: "输入您的问题",
      placeholder: "请描述您遇到的问题",
      send: "发送",
      sending: "发送中…",
      failed: "发送失败，重试",
      rejected: "无法发送：",
      offline: "连接中断，正在重连…",
      log: "对话记录",
      quick: "快捷回复",
      unread: "条新消息",
      count: (n) => `${n} / ${MAX_TEXT} 字`,
      tooLong: (n) => `消息最长 ${MAX_TEXT} 字，当前 ${n} 字，请删减 ${n - MAX_TEXT} 字后再发送` +
        "（内容较多可分几条发送）。",
    },
    en: {
      title: "在线投诉 / Complaints",
      open: "Open the complaints chat",
      close: "Close",
      input: "Type your message",
      placeholder: "Describe your problem",
      send: "Send",
      sending: "Sending…",
      failed: "Failed — retry",
      rejected: "Could not send: ",
      offline: "Connection lost, reconnecting…",
      log: "Conversation",
      quick: "Quick replies",
      unread: "new messages",
      count: (n) => `${n} / ${MAX_TEXT} characters`,
      tooLong: (n) => `A message can be at most ${MAX_TEXT} characters; this one has ${n}. ` +
        `Please remove ${n - MAX_TEXT} before sending (or send it in several parts).`,
    },
  }[lang];

  // ---- storage (localStorage when allowed, memory otherwise) --------------------------
  const memory = new Map();
  const store = {
    get(key) {
      try {
        return window.localStorage.getItem(STORE_PREFIX + key);
      } catch (_) {
        return memory.has(key) ? memory.get(key) : null;
      }
    },
    set(key, value) {
      memory.set(key, value);
      try {
        window.localStorage.setItem(STORE_PREFIX + key, value);
      } catch (_) { /* private mode or full: memory keeps it for this page */ }
    },
    remove(key) {
      memory.delete(key);
      try {
        window.localStorage.removeItem(STORE_PREFIX + key);
      } catch (_) { /* nothing stored there */ }
    },
  };

  // 16 bytes from the browser's CSPRNG as 32 hex digits: 128 random bits, always (a UUID
  // from crypto.randomUUID would hold only 122, and it exists only in secure contexts).
  function randomId() {
    const bytes = new Uint8Array(16);
    window.crypto.getRandomValues(bytes);
    return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  }

  // What the server accepts as a visitor id (22-64 of A-Z a-z 0-9 _ -).
  const VISITOR_RE = /^[A-Za-z0-9_-]{22,64}$/;
  let visitorId = store.get("visitor_id");
  if (!visitorId || !VISITOR_RE.test(visitorId)) {
    // None yet, or one from an older widget that the server no longer accepts: a new one,
    // keeping the messages typed under the old one.
    const previous = visitorId;
    visitorId = randomId();
    store.set("visitor_id", visitorId);
    if (previous) {
      const unsent = store.get("pending:" + previous);
      if (unsent) store.set("pending:" + visitorId, unsent);
      store.remove("pending:" + previous);
    }
  }

  // Unsent messages: [{id, text, label}] in the order typed, kept until acknowledged.
  function loadPending() {
    try {
      const list = JSON.parse(store.get("pending:" + visitorId) || "[]");
      return Array.isArray(list)
        ? list.filter((m) => m && typeof m.id === "string" && typeof m.text === "string")
        : [];
    } catch (_) {
      return [];
    }
  }
  let pending = loadPending();
  function savePending() {
    store.set("pending:" + visitorId,
      JSON.stringify(pending.map(({ id, text, label }) => ({ id, text, label }))));
  }

  // Never with the visitor id: it goes in the body, a header or the socket's hello frame.
  function url(path) {
    return new URL(baseHref + path);
  }

  // ---- styles -------------------------------------------------------------------------
  const css = `
.cw-root{position:fixed;right:20px;bottom:20px;z-index:2147483000;font:14px/1.5 system-ui,
 -apple-system,"Segoe UI","PingFang SC","Microsoft YaHei",sans-serif;color:#1f2933}
.cw-root *{box-sizing:border-box}
.cw-launcher{width:60px;height:60px;border-radius:50%;border:0;background:#b3202a;color:#fff;
 cursor:pointer;box-shadow:0 6px 18px rgba(0,0,0,.25);position:relative;display:grid;
 place-items:center;padding:0}
.cw-launcher svg{width:30px;height:30px;display:block}
.cw-launcher:focus-visible,.cw-root button:focus-visible,.cw-input:focus-visible{
 outline:3px solid #f5b400;outline-offset:2px}
.cw-badge{position:absolute;top:-4px;right:-4px;min-width:20px;height:20px;border-radius:10px;
 background:#f5b400;color:#1f2933;font-size:12px;font-weight:700;line-height:20px;padding:0 5px}
.cw-badge[hidden]{display:none}
.cw-panel{position:absolute;right:0;bottom:76px;width:min(370px,calc(100vw - 40px));
 height:min(560px,calc(100vh - 120px));background:#fff;border-radius:12px;display:flex;
 flex-direction:column;overflow:hidden;box-shadow:0 12px 40px rgba(0,0,0,.28)}
.cw-panel[hidden]{display:none}
.cw-header{background:#b3202a;color:#fff;padding:12px 14px;display:flex;align-items:center;
 justify-content:space-between;font-weight:600;font-size:15px;margin:0}
.cw-close{background:transparent;border:0;color:#fff;font-size:22px;line-height:1;cursor:pointer;
 padding:2px 6px;border-radius:4px;font-family:inherit}
.cw-status{background:#fff4d6;color:#6b4e00;font-size:12px;padding:4px 12px}
.cw-status[hidden]{display:none}
.cw-log{flex:1;overflow-y:auto;padding:12px;background:#f6f7f9;display:flex;
 flex-direction:column;gap:8px}
.cw-msg{max-width:85%;display:flex;flex-direction:column}
.cw-msg[data-direction=in]{align-self:flex-end;align-items:flex-end}
.cw-msg[data-direction=out]{align-self:flex-start;align-items:flex-start}
.cw-bubble{padding:8px 11px;border-radius:12px;white-space:pre-wrap;overflow-wrap:anywhere;
 word-break:break-word}
.cw-nowrap{white-space:nowrap}
.cw-msg[data-direction=in] .cw-bubble{background:#b3202a;color:#fff;border-bottom-right-radius:4px}
.cw-msg[data-direction=out] .cw-bubble{background:#fff;border:1px solid #e1e4e8;
 border-bottom-left-radius:4px}
.cw-msg-status{font-size:11px;color:#6b7280;margin-top:2px;background:none;border:0;padding:0}
button.cw-msg-status{color:#b3202a;text-decoration:underline;cursor:pointer}
.cw-quick{display:flex;flex-wrap:wrap;gap:6px;margin-top:6px}
.cw-quick button{border:1px solid #b3202a;color:#b3202a;background:#fff;border-radius:16px;
 padding:4px 12px;cursor:pointer;font:inherit;font-size:13px}
.cw-quick button:hover{background:#fbeaea}
.cw-quick button:disabled{opacity:.5;cursor:default}
.cw-form{display:flex;gap:8px;padding:10px;border-top:1px solid #e1e4e8;background:#fff;margin:0}
.cw-input{flex:1;resize:none;border:1px solid #c9ced6;border-radius:8px;padding:8px 10px;
 font:inherit;min-height:40px;max-height:120px}
.cw-send{border:0;border-radius:8px;background:#b3202a;color:#fff;padding:0 16px;font:inherit;
 cursor:pointer}
.cw-send:disabled{background:#c9ced6;cursor:default}
.cw-limit{font-size:12px;color:#6b7280;padding:4px 12px 0;background:#fff;
 border-top:1px solid #e1e4e8}
.cw-limit[hidden]{display:none}
.cw-limit.cw-over{color:#b3202a;font-weight:600}
.cw-limit:not([hidden])+.cw-form{border-top:0}
.cw-input[aria-invalid=true]{border-color:#b3202a}
/* Phones: the open panel takes the whole screen (the launcher would cover the send button),
   touch targets of at least 44px, and a 16px input so mobile browsers do not zoom in. */
@media (max-width:480px),(max-height:500px){
 .cw-root{right:16px;bottom:16px}
 .cw-panel{position:fixed;top:0;right:0;bottom:0;left:0;width:auto;height:auto;border-radius:0}
 .cw-root.cw-open .cw-launcher{display:none}
 .cw-form{padding-bottom:calc(10px + env(safe-area-inset-bottom,0px))}
}
@media (max-width:480px),(max-height:500px),(pointer:coarse){
 .cw-close{min-width:44px;min-height:44px}
 .cw-quick button,.cw-send,button.cw-msg-status{min-height:44px}
 .cw-send{min-width:60px}
 .cw-input{font-size:16px;min-height:44px}
}
.cw-sr{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0);
 white-space:nowrap}
`;

  // ---- DOM ----------------------------------------------------------------------------
  function el(tag, attrs, text) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === "class") node.className = v;
      else node.setAttribute(k, v);
    }
    if (text != null) node.textContent = text;
    return node;
  }

  // The launcher's icon, drawn inline: an emoji shows as an empty box without a font for it.
  // The SVG namespace is a name, never fetched.
  const NS = "http://www.w3.org/2000/svg";
  function chatIcon() {
    const svg = document.createElementNS(NS, "svg");
    for (const [k, v] of Object.entries({ viewBox: "0 0 24 24", "aria-hidden": "true",
      focusable: "false", "data-testid": "chat-icon" })) svg.setAttribute(k, v);
    const bubble = document.createElementNS(NS, "path");
    bubble.setAttribute("d", "M4 3h16a2 2 0 0 1 2 2v11a2 2 0 0 1-2 2h-9l-5 4v-4H4a2 2 0 0 " +
      "1-2-2V5a2 2 0 0 1 2-2z");
    bubble.setAttribute("fill", "currentColor");
    svg.appendChild(bubble);
    for (const cx of [8, 12, 16]) {
      const dot = document.createElementNS(NS, "circle");
      for (const [k, v] of Object.entries({ cx: String(cx), cy: "10.5", r: "1.4",
        fill: "#b3202a" })) dot.setAttribute(k, v);
      svg.appendChild(dot);
    }
    return svg;
  }

  const style = el("style", {}, css);
  const root = el("div", { class: "cw-root", "data-testid": "chat-widget" });
  root.setAttribute("lang", lang === "zh" ? "zh-CN" : "en");

  const panelId = "cw-panel-" + Math.random().toString(36).slice(2, 8);
  const launcher = el("button", {
    class: "cw-launcher", type: "button", "data-testid": "chat-launcher",
    "aria-label": T.open, "aria-expanded": "false", "aria-controls": panelId,
  });
  launcher.appendChild(chatIcon());
  const badge = el("span", { class: "cw-badge", "data-testid": "chat-unread" });
  badge.hidden = true;
  launcher.appendChild(badge);

  const titleId = panelId + "-title";
  const panel = el("section", {
    class: "cw-panel", id: panelId, role: "dialog", "aria-labelledby": titleId,
    "data-testid": "chat-panel",
  });
  panel.hidden = true;
  const header = el("h2", { class: "cw-header" });
  header.appendChild(el("span", { id: titleId }, T.title));
  const closeBtn = el("button", {
    class: "cw-close", type: "button", "aria-label": T.close, "data-testid": "chat-close",
  }, "×");
  header.appendChild(closeBtn);
  const status = el("div", { class: "cw-status", role: "status", "data-testid": "chat-status" });
  status.hidden = true;
  const log = el("div", {
    class: "cw-log", role: "log", "aria-live": "polite", "aria-label": T.log,
    "data-testid": "chat-log", tabindex: "0",
  });
  const form = el("form", { class: "cw-form", "data-testid": "chat-form" });
  const inputId = panelId + "-input";
  const label = el("label", { class: "cw-sr", for: inputId }, T.input);
  const limitId = panelId + "-limit";
  // No maxlength: it would cut a pasted text silently. The counter says what is too long.
  const limit = el("div", { class: "cw-limit", id: limitId, "data-testid": "chat-limit" });
  limit.hidden = true;
  const input = el("textarea", {
    class: "cw-input", id: inputId, rows: "1", placeholder: T.placeholder,
    "aria-label": T.input, "aria-describedby": limitId, "data-testid": "chat-input",
  });
  const sendBtn = el("button", {
    class: "cw-send", type: "submit", "aria-label": T.send, "data-testid": "chat-send",
  }, T.send);
  form.append(label, input, sendBtn);
  panel.append(header, status, log, limit, form);
  root.append(panel, launcher);

  // ---- rendering ----------------------------------------------------------------------
  const bubbles = new Map();      // client_message_id -> {node, statusNode}
  const seenIds = new Set();      // ids of server messages already shown (when it gives ids)
  const answered = new Set();     // client_message_ids already answered: later answers ignored
  let unread = 0;

  function scrollDown() {
    log.scrollTop = log.scrollHeight;
  }

  function clearQuickReplies() {
    for (const group of log.querySelectorAll(".cw-quick")) group.remove();
  }

  // Case numbers (TS20261204-0001) and dates (2026-12-19) must not break across lines.
  const UNBREAKABLE = /\b[A-Z]{2}\d{8}-\d{4,}\b|\b\d{4}-\d{2}-\d{2}(?:[ T]\d{2}:\d{2})?\b/g;

  // The bubble's text as text nodes, those tokens in no-wrap spans: never parsed as HTML.
  function fillText(bubble, text) {
    while (bubble.firstChild) bubble.removeChild(bubble.firstChild);
    const value = String(text);
    let at = 0;
    for (const m of value.matchAll(UNBREAKABLE)) {
      if (m.index > at) bubble.appendChild(document.createTextNode(value.slice(at, m.index)));
      bubble.appendChild(el("span", { class: "cw-nowrap" }, m[0]));
      at = m.index + m[0].length;
    }
    if (at < value.length) bubble.appendChild(document.createTextNode(value.slice(at)));
  }

  // `greeting`: the welcome (not a stored message, so not a "chat-message"); its starter
  // buttons send their label.
  function renderMessage(direction, text, quickReplies, greeting) {
    const node = el("div", { class: "cw-msg", "data-direction": direction,
      "data-testid": greeting ? "chat-greeting" : "chat-message" });
    const bubble = el("div", { class: "cw-bubble" });
    fillText(bubble, text);
    node.appendChild(bubble);
    if (direction === "out" && Array.isArray(quickReplies) && quickReplies.length) {
      const group = el("div", { class: "cw-quick", role: "group", "aria-label": T.quick });
      for (const q of quickReplies) {
        if (!q || typeof q.payload !== "string") continue;
        const labelText = typeof q.label === "string" && q.label ? q.label : q.payload;
        const btn = el("button", { type: "button",
          "data-testid": greeting ? "chat-starter" : "quick-reply",
          "data-payload": q.payload }, labelText);
        btn.addEventListener("click", () => {
          for (const b of group.querySelectorAll("button")) b.disabled = true;
          if (greeting) submit(labelText);
          else submit(q.payload, labelText);
        });
        group.appendChild(btn);
      }
      node.appendChild(group);
    }
    log.appendChild(node);
    scrollDown();
    return node;
  }

  function renderReplies(replies) {
    if (!Array.isArray(replies) || !replies.length) return;
    clearQuickReplies();
    for (const r of replies) {
      if (r && typeof r.text === "string") renderMessage("out", r.text, r.quick_replies);
    }
    if (panel.hidden) {
      unread += replies.length;
      badge.textContent = String(unread);
      badge.hidden = false;
      launcher.setAttribute("aria-label", `${T.open} (${unread} ${T.unread})`);
    }
  }

  function setBubbleState(item, state, detail) {
    const b = bubbles.get(item.id);
    if (!b) return;
    b.node.dataset.state = state;
    if (b.statusNode) b.statusNode.remove();
    b.statusNode = null;
    if (state === "sending") {
      b.statusNode = el("span", { class: "cw-msg-status", "data-testid": "chat-sending" },
        T.sending);
    } else if (state === "failed") {
      b.statusNode = el("button", { class: "cw-msg-status", type: "button",
        "data-testid": "chat-retry" }, detail ? T.rejected + detail : T.failed);
      b.statusNode.addEventListener("click", () => {
        item.attempts = 0;
        deliver(item);
      });
    }
    if (b.statusNode) b.node.appendChild(b.statusNode);
  }

  function renderPending(item) {
    clearQuickReplies();
    const node = renderMessage("in", item.label || item.text);
    node.dataset.clientMessageId = item.id;
    bubbles.set(item.id, { node, statusNode: null, labelled: Boolean(item.label) });
    setBubbleState(item, "sending");
  }

  // The server stored the message with an ID or card number masked: show it that way, so
  // the full number does not stay on screen (a quick reply's label is left as it is).
  function showMasked(id, masked) {
    const b = bubbles.get(id);
    if (!b || b.labelled || typeof masked !== "string" || !masked) return;
    const bubble = b.node.querySelector(".cw-bubble");
    if (bubble) fillText(bubble, masked);
  }

  // ---- sending ------------------------------------------------------------------------
  let socket = null;
  let socketOpen = false;
  let started = false;            // the panel was opened (or unsent messages resumed)

  function findPending(id) {
    return pending.find((m) => m.id === id);
  }

  function acknowledge(id, replies, masked) {
    if (answered.has(id)) return;      // a late or duplicate answer (retry, dedup)
    answered.add(id);
    showMasked(id, masked);
    const item = findPending(id);
    if (item) {
      clearTimeout(item.timer);
      pending = pending.filter((m) => m.id !== id);
      savePending();
      setBubbleState(item, "sent");
    }
    renderReplies(replies);
  }

  function reject(id, detail) {
    const item = findPending(id);
    if (!item) return;
    clearTimeout(item.timer);
    item.inflight = false;
    setBubbleState(item, "failed", detail);
  }

  // Not stored this time (network, 5xx, the store unavailable): again after a pause,
  // by socket or POST, with the same id; after POST_RETRIES tries the customer decides.
  function retryLater(item) {
    clearTimeout(item.timer);
    item.inflight = false;
    item.attempts = (item.attempts || 0) + 1;
    if (item.attempts < POST_RETRIES) {
      setBubbleState(item, "sending");
      const delay = 1000 * 2 ** (item.attempts - 1);
      item.timer = setTimeout(() => deliver(item), delay);
    } else {
      setBubbleState(item, "failed");
    }
  }

  function deliver(item) {
    if (item.inflight || answered.has(item.id)) return;
    item.inflight = true;
    setBubbleState(item, "sending");
    const frame = { type: "message", text: item.text, client_message_id: item.id };
    if (explicitLang) frame.lang = explicitLang;
    if (socket && socketOpen) {
      try {
        socket.send(JSON.stringify(frame));
        item.via = "ws";
        clearTimeout(item.timer);
        // No answer in time: the same id by POST; the server's dedup makes it safe.
        item.timer = setTimeout(() => {
          if (findPending(item.id)) post(item);
        }, ACK_TIMEOUT_MS);
        return;
      } catch (_) { /* fall through to POST */ }
    }
    post(item);
  }

  async function post(item) {
    item.inflight = true;
    item.via = "post";
    clearTimeout(item.timer);
    const sentAs = visitorId;
    const body = { visitor_id: sentAs, text: item.text, client_message_id: item.id };
    if (explicitLang) body.lang = explicitLang;
    let permanent = null;
    let expired = false;
    try {
      const res = await fetch(url("/channels/webchat/messages"), {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify(body),
      });
      if (res.ok) {
        const data = await res.json().catch(() => ({}));
        acknowledge(item.id, data && data.replies, data && data.masked_text);
        return;
      }
      if (res.status === 401) {
        expired = true;
      } else if (res.status >= 400 && res.status < 500 && res.status !== 408 &&
          res.status !== 429) {
        const data = await res.json().catch(() => null);
        permanent = (data && typeof data.detail === "string" && data.detail) ||
          String(res.status);
      }
    } catch (_) { /* network error: retry below */ }
    if (answered.has(item.id)) return;  // answered over the socket meanwhile
    // Sent under an id replaced since: renew() has already sent it again under the new one.
    if (sentAs !== visitorId) return;
    item.inflight = false;
    if (expired) {
      item.renewals = (item.renewals || 0) + 1;
      if (item.renewals <= MAX_RENEWALS) {
        renew(sentAs);              // a new id; every unsent message goes again under it
        return;
      }
      permanent = "401";
    }
    if (permanent) {
      setBubbleState(item, "failed", permanent);
      return;
    }
    retryLater(item);
  }

  // Characters as the server counts them (code points of the trimmed text).
  function lengthOf(text) {
    const clean = String(text).trim();
    return clean.length <= WARN_TEXT ? clean.length : Array.from(clean).length;
  }

  function submit(text, shownLabel) {
    const clean = String(text).trim();
    if (!clean) return false;
    // Never cut silently: the counter under the log says what is too long.
    if (lengthOf(clean) > MAX_TEXT) return false;
    const item = { id: randomId(), text: clean };
    if (shownLabel && shownLabel !== clean) item.label = shownLabel;
    pending.push(item);
    savePending();
    renderPending(item);
    deliver(item);
    return true;
  }

  function flushPending() {
    for (const item of pending) {
      if (!item.inflight) {
        item.attempts = 0;
        deliver(item);
      }
    }
  }

  // ---- socket -------------------------------------------------------------------------
  let backoff = 1000;
  let reconnectTimer = null;
  let connectedOnce = false;

  function handleFrame(frame) {
    if (!frame || typeof frame !== "object") return;
    if (frame.type === "replies" && typeof frame.in_reply_to === "string") {
      acknowledge(frame.in_reply_to, frame.replies, frame.masked_text);
    } else if (frame.type === "message") {
      if (typeof frame.id === "string") {
        if (seenIds.has(frame.id)) return;
        seenIds.add(frame.id);
      }
      renderReplies(frame.replies);
    } else if (frame.type === "error" && typeof frame.in_reply_to === "string") {
      if (frame.retry === true) {
        // The store was unavailable: nothing was stored; the same message again later.
        const item = findPending(frame.in_reply_to);
        if (item && !answered.has(item.id)) retryLater(item);
      } else {
        reject(frame.in_reply_to, typeof frame.detail === "string" ? frame.detail : "");
      }
    }
  }

  function ready() {
    socketOpen = true;
    backoff = 1000;
    status.hidden = true;
    if (connectedOnce) loadHistory(true);   // catch up on what was pushed meanwhile
    connectedOnce = true;
    flushPending();
  }

  function connect() {
    if (socket || typeof WebSocket !== "function") return;
    clearTimeout(reconnectTimer);
    const u = url("/channels/webchat/ws");
    u.protocol = base.protocol === "https:" || location.protocol === "https:" ? "wss:" : "ws:";
    const speaksFor = visitorId;
    let ws;
    try {
      ws = new WebSocket(u.href);
    } catch (_) {
      scheduleReconnect();
      return;
    }
    socket = ws;
    let helloTimer = null;
    ws.addEventListener("open", () => {
      if (socket !== ws) return;
      // Who we are goes in the first frame; messages wait for the server's "ready".
      try {
        ws.send(JSON.stringify({ type: "hello", visitor_id: speaksFor }));
      } catch (_) {
        ws.close();
        return;
      }
      helloTimer = setTimeout(() => {
        if (socket === ws && !socketOpen) ws.close();
      }, ACK_TIMEOUT_MS);
    });
    ws.addEventListener("message", (event) => {
      if (socket !== ws) return;    // a socket replaced since (a new visitor id)
      let frame;
      try {
        frame = JSON.parse(event.data);
      } catch (_) {
        return;
      }
      if (frame && frame.type === "ready") {
        clearTimeout(helloTimer);
        if (!socketOpen) ready();
        return;
      }
      handleFrame(frame);
    });
    ws.addEventListener("close", (event) => {
      clearTimeout(helloTimer);
      if (socket !== ws) return;
      socket = null;
      socketOpen = false;
      if (event.code === CLOSE_EXPIRED && speaksFor === visitorId) {
        renew(speaksFor);           // a new id, a new socket, unsent messages sent again
        return;
      }
      if (connectedOnce) {
        status.textContent = T.offline;
        status.hidden = false;
      }
      // Messages waiting for a socket answer go by POST now.
      for (const item of pending) {
        if (item.inflight && item.via === "ws") {
          clearTimeout(item.timer);
          item.inflight = false;
          deliver(item);
        }
      }
      scheduleReconnect();
    });
  }

  function scheduleReconnect() {
    clearTimeout(reconnectTimer);
    const delay = backoff + Math.floor(Math.random() * 500);
    backoff = Math.min(backoff * 2, 30000);
    reconnectTimer = setTimeout(connect, delay);
  }

  // ---- an expired visitor id ----------------------------------------------------------
  // The server no longer honours `expiredId` (idle too long): continue under a new id, in a
  // new conversation. The old conversation is not shown; unacknowledged messages are kept
  // and sent again under the new id.
  function renew(expiredId) {
    if (expiredId !== visitorId) return;      // already renewed by another request
    const stored = store.get("visitor_id");
    // Another tab of this site may have renewed it already: share its new id.
    const next = stored && stored !== expiredId && VISITOR_RE.test(stored) ? stored : randomId();
    store.remove("pending:" + expiredId);
    visitorId = next;
    store.set("visitor_id", next);
    savePending();
    seenIds.clear();
    for (const item of pending) {
      clearTimeout(item.timer);
      item.inflight = false;
      item.attempts = 0;
    }
    if (socket) {                             // it spoke for the old id
      const old = socket;
      socket = null;
      socketOpen = false;
      try {
        old.close(1000);
      } catch (_) { /* already closing */ }
    }
    if (!started) return;
    renderAll([]);
    historyLoaded = true;
    backoff = 1000;
    connect();
    flushPending();
  }

  // ---- history ------------------------------------------------------------------------
  let historyLoaded = false;

  function renderAll(messages) {
    while (log.firstChild) log.removeChild(log.firstChild);
    bubbles.clear();
    const known = new Set();
    let lastOut = -1;
    messages.forEach((m, i) => { if (m && m.direction === "out") lastOut = i; });
    let shown = 0;
    messages.forEach((m, i) => {
      if (!m || typeof m.text !== "string") return;
      shown += 1;
      if (typeof m.client_message_id === "string") known.add(m.client_message_id);
      if (typeof m.id === "string" || typeof m.id === "number") seenIds.add(String(m.id));
      const direction = m.direction === "in" ? "in" : "out";
      // Quick replies only on the latest service message, and only if it is the last one.
      const quick = i === lastOut && i === messages.length - 1 ? m.quick_replies : null;
      renderMessage(direction, m.text, quick);
    });
    // Messages the server already has need no resending.
    for (const id of known) {
      const item = findPending(id);
      if (item) {
        clearTimeout(item.timer);
        answered.add(id);
      }
    }
    pending = pending.filter((m) => !known.has(m.id));
    savePending();
    for (const item of pending) {
      renderPending(item);
      if (!item.inflight) setBubbleState(item, item.attempts >= POST_RETRIES ? "failed" : "sending");
    }
    // Nothing said yet: greet instead of an empty panel.
    if (!shown && !pending.length) showGreeting();
    scrollDown();
  }

  // ---- the greeting -------------------------------------------------------------------
  // Its texts are the engine's (GET /welcome), fetched once per page; shown only while the
  // conversation is empty, and never stored: history replaces it once there is any.
  let welcome = null;
  let welcomeAsked = false;

  function showGreeting() {
    if (welcome) {
      if (!log.querySelector(".cw-msg")) {
        renderMessage("out", welcome.text, welcome.quick_replies, true);
      }
      return;
    }
    if (welcomeAsked) return;
    welcomeAsked = true;
    loadWelcome().then(() => {
      // Only if the customer has not started meanwhile (nor history arrived).
      if (welcome && started && !log.querySelector(".cw-msg")) showGreeting();
    });
  }

  async function loadWelcome() {
    try {
      const res = await fetch(url("/channels/webchat/welcome?lang=" + lang));
      if (res.ok) {
        const data = await res.json();
        if (data && typeof data.text === "string") welcome = data;
      }
    } catch (_) { /* offline: the panel stays empty, as before */ }
    if (!welcome) welcomeAsked = false;     // asked again next time the log is rendered empty
  }

  async function loadHistory(refresh) {
    const asked = visitorId;
    try {
      const res = await fetch(url("/channels/webchat/history"), {
        headers: { "X-Visitor-Id": asked },
        cache: "no-store",
      });
      if (asked !== visitorId) return;        // renewed meanwhile: that history is gone
      if (res.status === 401) {
        renew(asked);
        return;
      }
      if (res.ok) {
        const data = await res.json();
        if (asked !== visitorId) return;
        if (data && Array.isArray(data.messages)) {
          renderAll(data.messages);
          historyLoaded = true;
          return;
        }
      }
    } catch (_) { /* offline: show what we have */ }
    if (asked !== visitorId) return;
    if (!refresh && !historyLoaded) {
      renderAll([]);
      historyLoaded = true;
    }
  }

  // ---- opening, closing, input --------------------------------------------------------

  async function start() {
    if (started) return;
    started = true;
    await loadHistory(false);
    connect();
    flushPending();
  }

  function openPanel() {
    panel.hidden = false;
    root.classList.add("cw-open");   // on a phone the full-screen panel hides the launcher
    launcher.setAttribute("aria-expanded", "true");
    unread = 0;
    badge.hidden = true;
    launcher.setAttribute("aria-label", T.open);
    input.focus();
    scrollDown();
    start();
  }

  function closePanel() {
    panel.hidden = true;
    root.classList.remove("cw-open");
    launcher.setAttribute("aria-expanded", "false");
    launcher.focus();
  }

  launcher.addEventListener("click", () => (panel.hidden ? openPanel() : closePanel()));
  closeBtn.addEventListener("click", closePanel);
  panel.addEventListener("keydown", (e) => {
    if (e.key === "Escape") {
      e.preventDefault();
      closePanel();
    }
  });

  function sendInput() {
    if (checkLength()) {
      if (submit(input.value)) {
        input.value = "";
        autosize();
        checkLength();
      }
    }
    input.focus();
  }

  // Near the limit a counter; over it, what the limit is, and the send button is disabled
  // (the text stays in the box for the customer to shorten). False when too long.
  function checkLength() {
    const n = lengthOf(input.value);
    const over = n > MAX_TEXT;
    limit.hidden = n < WARN_TEXT;
    limit.classList.toggle("cw-over", over);
    limit.textContent = over ? T.tooLong(n) : n >= WARN_TEXT ? T.count(n) : "";
    // Announced while too long (not every keystroke of the counter before that).
    if (over) limit.setAttribute("aria-live", "polite");
    else limit.removeAttribute("aria-live");
    sendBtn.disabled = over;
    if (over) input.setAttribute("aria-invalid", "true");
    else input.removeAttribute("aria-invalid");
    return !over;
  }

  form.addEventListener("submit", (e) => {
    e.preventDefault();
    sendInput();
  });
  input.addEventListener("keydown", (e) => {
    // Enter sends; Shift+Enter makes a new line; Enter that ends an IME composition does not.
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing && e.keyCode !== 229) {
      e.preventDefault();
      sendInput();
    }
  });
  function autosize() {
    input.style.height = "auto";
    input.style.height = Math.min(input.scrollHeight + 2, 120) + "px";
  }
  input.addEventListener("input", () => {
    autosize();
    checkLength();
  });

  window.addEventListener("online", () => {
    if (started) flushPending();
  });

  function mount() {
    document.head.appendChild(style);
    document.body.appendChild(root);
    // A returning visitor with unsent messages: deliver them without waiting for a click.
    if (pending.length) start();
  }
  if (document.body) mount();
  else document.addEventListener("DOMContentLoaded", mount);
})();
