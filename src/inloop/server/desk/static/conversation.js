// The desk's live conversation view: new lines over SSE, the composer, canned responses.
// Text is only ever set with textContent: never parsed as HTML.
"use strict";
(function () {
  const view = document.querySelector("[data-conversation]");
  if (!view) return;
  const id = view.dataset.conversation;
  const base = "/desk/conversations/" + encodeURIComponent(id);
  const log = document.getElementById("conversation-log");
  const form = document.getElementById("composer");
  const text = document.getElementById("composer-text");
  const error = document.getElementById("composer-error");
  const canned = document.getElementById("canned");
  const csrf = () => (document.querySelector('meta[name="csrf-token"]') || {}).content || "";
  let last = Number(view.dataset.last || 0);
  let status = null;

  function add(m) {
    if (log.querySelector('[data-id="' + m.id + '"]')) return;
    const li = document.createElement("li");
    li.className = "msg who-" + m.role + (m.audience === "humans" ? " internal" : "") + (m.status !== "sent" ? " held" : "");
    li.dataset.id = String(m.id);
    const who = document.createElement("b");
    who.className = "who";
    who.textContent = m.who + (m.audience === "humans" ? " · only humans see this" : "") + (m.status !== "sent" ? " · " + m.status.replace("_", " ") : "");
    const body = document.createElement("span");
    body.className = "prose";
    body.textContent = m.text;
    li.append(who, " ", body);
    log.appendChild(li);
    li.scrollIntoView({ block: "nearest" });
  }
  let busy = null, again = false;
  async function refresh() {
    if (busy) { again = true; return; }
    busy = (async () => {
      const response = await fetch(base + "/messages.json?after=" + last, { credentials: "same-origin", headers: { "Accept": "application/json" } });
      if (response.status === 401) { location.href = "/desk/login"; return; }
      if (!response.ok) return;
      const data = await response.json();
      for (const m of data.items) { add(m); last = Math.max(last, m.id); }
      const now = data.session ? data.session.status + (data.session.end_reason ? " · " + data.session.end_reason : "") : null;
      if (status !== null && now !== status) {
        const notice = document.getElementById("live-notice");
        notice.hidden = false;
        notice.replaceChildren();
        const span = document.createElement("span");
        span.textContent = "The session is now " + now + ". ";
        const reload = document.createElement("a");
        reload.href = location.pathname;
        reload.textContent = "Reload";
        notice.append(span, reload);
        if (data.session && data.session.status === "ended" && form) {
          for (const el of form.querySelectorAll("textarea, button, select")) el.disabled = true;
        }
      }
      status = now;
    })();
    try { await busy; } finally { busy = null; if (again) { again = false; refresh(); } }
  }
  if (form && text) {
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      if (!text.value.trim()) { error.hidden = false; error.textContent = "Write a message first."; text.focus(); return; }
      const response = await fetch(form.getAttribute("action"), {
        method: "POST", credentials: "same-origin",
        headers: { "Content-Type": "application/json", "Accept": "application/json", "X-CSRF-Token": csrf() },
        body: JSON.stringify({ text: text.value }),
      });
      let data = {};
      try { data = await response.json(); } catch (e) { data = {}; }
      if (response.ok) { text.value = ""; error.hidden = true; refresh(); text.focus(); return; }
      error.hidden = false;
      error.textContent = (data.error && data.error.message) || ("The message was refused (" + response.status + ").");
    });
    text.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && !event.shiftKey) { event.preventDefault(); form.requestSubmit(); }
    });
  }
  if (canned && text) {
    canned.addEventListener("change", () => {
      if (!canned.value) return;
      text.value = text.value ? text.value + "\n" + canned.value : canned.value;
      canned.value = "";
      text.focus();
    });
  }
  document.addEventListener("keydown", (event) => {
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    const t = event.target;
    if (t instanceof HTMLElement && (["INPUT", "TEXTAREA", "SELECT"].includes(t.tagName) || t.isContentEditable)) return;
    if (event.key === "c") {
      const join = document.querySelector('button[data-key="c"]');
      if (join && !join.disabled) { event.preventDefault(); join.click(); }
    } else if (event.key === "m" && text && !text.disabled) { event.preventDefault(); text.focus(); }
  });
  if (window.EventSource) {
    const source = new EventSource(base + "/stream");
    source.addEventListener("open", () => { document.documentElement.dataset.live = "on"; refresh(); });
    source.addEventListener("error", () => { document.documentElement.dataset.live = "off"; });
    source.addEventListener("change", () => refresh());
    window.addEventListener("pagehide", () => source.close());
  }
})();
