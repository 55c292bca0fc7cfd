// The customer's chat page: send, and refetch on each server-sent change.
// Messages are only ever set with textContent: never parsed as HTML.
"use strict";
(function () {
  const chat = document.querySelector("[data-chat]");
  if (!chat) return;
  const base = chat.dataset.chat;
  const csrf = (document.querySelector('meta[name="chat-csrf"]') || {}).content || "";
  const log = document.getElementById("chat-log");
  const form = document.getElementById("chat-form");
  const text = document.getElementById("chat-text");
  const error = document.getElementById("chat-error");
  const status = document.getElementById("chat-status");
  let last = Number(chat.dataset.last || 0);

  function who(m) {
    if (m.role === "user") return "You";
    if (m.role === "human") return m.author || "Human agent";
    if (m.role === "system") return "Notice";
    return "Assistant";
  }
  function span(cls, value) {
    const el = document.createElement("span");
    el.className = cls;
    el.textContent = value;
    return el;
  }
  function safeUrl(url) {
    try { const u = new URL(url, location.href); return (u.protocol === "https:" || u.protocol === "http:") ? u.href : null; }
    catch (e) { return null; }
  }
  function part(item) {
    if (item.type === "image") {
      const url = safeUrl(item.url);
      if (!url) return span("text", "[image]");
      const img = document.createElement("img");
      img.src = url; img.alt = item.text || "image";
      return img;
    }
    if (item.type === "file") {
      const url = safeUrl(item.url);
      if (!url) return span("text", item.name || "[file]");
      const a = document.createElement("a");
      a.href = url; a.rel = "noopener noreferrer"; a.target = "_blank"; a.textContent = item.name || url;
      return a;
    }
    return span("text", item.text || "");
  }
  function render(m) {
    if (log.querySelector('[data-id="' + m.id + '"]')) return;
    const li = document.createElement("li");
    li.className = "msg from-" + m.role;
    li.dataset.id = String(m.id);
    li.appendChild(span("who", who(m)));
    const items = m.type === "bloc" ? (m.content.items || []) : [Object.assign({ type: m.type }, m.content)];
    for (const item of items) li.appendChild(part(item));
    log.appendChild(li);
    li.scrollIntoView({ block: "end" });
  }
  let busy = null, again = false;
  async function refresh() {
    if (busy) { again = true; return; }
    busy = (async () => {
      const response = await fetch(base + "/messages.json?after=" + last, { credentials: "same-origin", headers: { "Accept": "application/json" } });
      if (!response.ok) return;
      const data = await response.json();
      for (const m of data.items) { render(m); last = Math.max(last, m.id); }
      const ask = chat.dataset.ask, close = data.close_command || chat.dataset.close || "/end";
      status.textContent = data.handoff === "active" ? "You are talking with a human agent. Type " + close + " to end."
        : data.handoff === "pending" ? "Waiting for a human agent… Type " + close + " to cancel."
        : "You are talking with our assistant." + (ask ? " Type " + ask + " to ask for a person." : "");
    })();
    try { await busy; } finally { busy = null; if (again) { again = false; refresh(); } }
  }
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const value = text.value;
    if (!value.trim()) { error.hidden = false; error.textContent = "Write a message first."; text.focus(); return; }
    error.hidden = true;
    const response = await fetch(base + "/messages", {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "Accept": "application/json", "X-Chat-CSRF": csrf },
      body: JSON.stringify({ text: value, client_id: String(Date.now()) + "-" + Math.random().toString(16).slice(2) }),
    });
    if (response.ok) { text.value = ""; refresh(); text.focus(); return; }
    let data = {};
    try { data = await response.json(); } catch (e) { data = {}; }
    error.hidden = false;
    error.textContent = (data.error && data.error.message) || ("The message was not sent (" + response.status + ").");
  });
  text.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey) { event.preventDefault(); form.requestSubmit(); }
  });
  if (window.EventSource) {
    const source = new EventSource(base + "/stream");
    source.addEventListener("open", () => { document.documentElement.dataset.live = "on"; refresh(); });
    source.addEventListener("error", () => { document.documentElement.dataset.live = "off"; });
    source.addEventListener("change", () => refresh());
    window.addEventListener("pagehide", () => source.close());
  }
})();
