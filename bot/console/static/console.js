// The console's little JavaScript: live updates over /console/live, urgent alerts, canned
// replies into the reply box, CSRF on htmx requests. No inline scripts (see the CSP).
(function () {
  "use strict";
  var body = document.body;
  var page = body.dataset.page;
  var conversation = body.dataset.conversation || null;
  var csrf = document.querySelector('meta[name="csrf-token"]');
  var lost = document.getElementById("live-lost");
  var baseTitle = document.title;
  var timer = null;
  var delay = 1000;

  document.addEventListener("htmx:configRequest", function (event) {
    if (csrf) event.detail.headers["X-CSRF-Token"] = csrf.content;
  });
  document.addEventListener("htmx:afterSwap", function () {
    scrollMessages();
    // The reply box is outside the refreshed part (so a half-typed reply survives): it is
    // shown only while this agent has the conversation.
    var head = document.querySelector("[data-holder-me]");
    var form = document.getElementById("reply");
    if (head && form) form.hidden = head.dataset.holderMe !== "1";
  });

  function refresh() {
    // Several notices in a burst make one reload of the changed part.
    clearTimeout(timer);
    timer = setTimeout(function () {
      if (window.htmx) window.htmx.trigger(body, "intake:refresh");
    }, 150);
  }

  function beep() {
    try {
      var Ctx = window.AudioContext || window.webkitAudioContext;
      var ctx = new Ctx();
      var osc = ctx.createOscillator();
      osc.frequency.value = 880;
      osc.connect(ctx.destination);
      osc.start();
      osc.stop(ctx.currentTime + 0.25);
    } catch (e) { /* no audio: the title still changes */ }
  }

  function alertUrgent() {
    document.title = "(!) " + body.dataset.urgentTitle + " · " + baseTitle;
    body.classList.add("alerting");
    beep();
  }

  window.addEventListener("focus", function () {
    document.title = baseTitle;
    body.classList.remove("alerting");
  });

  function connect() {
    if (page !== "queue" && page !== "conversation" && page !== "case") return;
    var scheme = location.protocol === "https:" ? "wss://" : "ws://";
    var ws = new WebSocket(scheme + location.host + "/console/live");
    ws.onopen = function () {
      // What changed between rendering the page and this socket opening (or while it was
      // down) came as notices nobody heard: read the page's live part once now.
      if (lost) lost.hidden = true;
      if (page === "case") checkCase(); else refresh();
      delay = 1000;
    };
    ws.onmessage = function (event) {
      var notice;
      try { notice = JSON.parse(event.data); } catch (e) { return; }
      if (notice.kind === "ping") return;
      if (notice.kind === "resync") { refresh(); return; }
      if (page === "queue") {
        refresh();
        if (notice.kind === "handoff" && notice.urgent) alertUrgent();
      } else if (page === "case") {
        if (conversation && String(notice.conversation_id) === conversation) caseChanged();
      } else if (String(notice.conversation_id) === conversation) {
        refresh();
      }
    };
    ws.onclose = function (event) {
      if (event.code === 4401) { location.href = "/console/login"; return; }
      if (lost) lost.hidden = false;
      setTimeout(connect, delay);
      delay = Math.min(delay * 2, 15000);
    };
  }

  function checkCase() {
    // Changes made while this page loaded came as notices nobody heard: compare stamps.
    fetch("/console/cases/" + encodeURIComponent(body.dataset["case"]) + "/stamp",
          { credentials: "same-origin", cache: "no-store" })
      .then(function (r) { return r.ok ? r.text() : null; })
      .then(function (stamp) { if (stamp && stamp !== body.dataset.stamp) caseChanged(); })
      .catch(function () { /* the socket's reconnect tries again */ });
  }

  function caseChanged() {
    // The case page is mostly forms: reload it when nothing is half typed, else say so.
    var typed = Array.prototype.some.call(
      document.querySelectorAll("main textarea, main input[type=text], main input:not([type])"),
      function (el) { return el.value !== el.defaultValue; });
    var note = document.getElementById("case-changed");
    if (!typed) { location.reload(); return; }
    if (note) note.hidden = false;
  }

  function scrollMessages() {
    var box = document.getElementById("messages");
    if (box) box.scrollTop = box.scrollHeight;
  }

  var canned = document.getElementById("canned");
  var reply = document.getElementById("reply-text");
  if (canned && reply) {
    canned.addEventListener("change", function () {
      var option = canned.options[canned.selectedIndex];
      if (option && option.dataset.text) {
        reply.value = reply.value ? reply.value + "\n" + option.dataset.text : option.dataset.text;
        reply.focus();
      }
      canned.selectedIndex = 0;
    });
  }

  // Waiting times keep counting between refreshes.
  var lang = body.dataset.lang;
  function duration(seconds) {
    if (seconds < 60) return lang === "en" ? seconds + " s" : seconds + " 秒";
    var minutes = Math.floor(seconds / 60);
    if (minutes < 60) return lang === "en" ? minutes + " min" : minutes + " 分钟";
    var h = Math.floor(minutes / 60), m = minutes % 60;
    return lang === "en" ? h + " h " + m + " min" : h + " 小时 " + m + " 分钟";
  }
  setInterval(function () {
    var cells = document.querySelectorAll("[data-since]");
    for (var i = 0; i < cells.length; i++) {
      var since = Date.parse(cells[i].dataset.since);
      if (!isNaN(since)) {
        cells[i].textContent = duration(Math.max(0, Math.floor((Date.now() - since) / 1000)));
      }
    }
  }, 5000);

  scrollMessages();
  connect();
})();
