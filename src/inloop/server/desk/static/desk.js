// The desk's behaviour: keyboard, live updates, relative times, answering.
// Agents' text is only ever set with textContent: never parsed as HTML.
"use strict";
document.documentElement.classList.add("js");

(function () {
  const csrf = () => (document.querySelector('meta[name="csrf-token"]') || {}).content || "";
  const $ = (sel, root) => (root || document).querySelector(sel);
  const $$ = (sel, root) => Array.from((root || document).querySelectorAll(sel));

  // Relative times ("3 min ago", "in 2 h"), kept current.
  function relative(iso) {
    const seconds = (new Date(iso).getTime() - Date.now()) / 1000;
    const past = seconds < 0, s = Math.abs(seconds);
    let amount = null;
    for (const [size, unit] of [[86400, "d"], [3600, "h"], [60, "min"]]) {
      if (s >= size) { amount = Math.floor(s / size) + " " + unit; break; }
    }
    if (amount === null) return past ? "just now" : "in under a minute";
    return past ? amount + " ago" : "in " + amount;
  }
  function tick() {
    for (const el of $$("time[data-relative]")) el.textContent = relative(el.getAttribute("datetime"));
  }
  setInterval(tick, 30000);

  // Presence: the select submits its form at once.
  for (const form of $$("form[data-autosubmit]")) {
    const select = $("select", form);
    if (select) select.addEventListener("change", () => form.submit());
  }

  async function post(url, body) {
    const response = await fetch(url, {
      method: "POST",
      headers: { "Accept": "application/json", "X-CSRF-Token": csrf(),
                 "Content-Type": "application/json" },
      body: JSON.stringify(body),
      credentials: "same-origin",
    });
    let data = {};
    try { data = await response.json(); } catch (e) { data = {}; }
    return { ok: response.ok, status: response.status, data };
  }

  // ---- The queue ----
  const queue = $("[data-queue]");
  let selected = null;

  function rows() { return $$("#queue-rows tr"); }
  function select(row) {
    for (const r of rows()) { r.classList.remove("selected"); r.removeAttribute("aria-selected"); }
    selected = row ? row.dataset.id : null;
    if (row) {
      row.classList.add("selected");
      row.setAttribute("aria-selected", "true");
      row.scrollIntoView({ block: "nearest" });
      const link = $("a", row);
      if (link && document.activeElement !== link) link.focus({ preventScroll: true });
    }
  }
  function selectedRow() { return rows().find((r) => r.dataset.id === selected) || null; }
  function move(step) {
    const all = rows();
    if (!all.length) return;
    const at = all.indexOf(selectedRow());
    const next = at < 0 ? (step > 0 ? 0 : all.length - 1) : Math.min(all.length - 1, Math.max(0, at + step));
    select(all[next]);
  }

  function cell(text, cls) {
    const td = document.createElement("td");
    if (cls) td.className = cls;
    if (text !== null && text !== undefined) td.textContent = text;
    return td;
  }
  function timeCell(iso, text) {
    const td = document.createElement("td");
    if (iso) {
      const t = document.createElement("time");
      t.setAttribute("datetime", iso);
      t.setAttribute("data-relative", "");
      t.textContent = text;
      td.appendChild(t);
    }
    return td;
  }
  function buildRow(item, fresh) {
    const tr = document.createElement("tr");
    tr.dataset.id = item.id;
    tr.dataset.answers = JSON.stringify(item.answers || {});
    const prio = cell(null);
    const badge = document.createElement("span");
    badge.className = "badge prio-" + item.priority;
    badge.textContent = item.priority;
    prio.appendChild(badge);
    const title = cell(null, "title");
    const a = document.createElement("a");
    a.href = "/desk/requests/" + encodeURIComponent(item.id);
    a.textContent = item.title;
    title.appendChild(a);
    const status = cell(null);
    const st = document.createElement("span");
    st.className = "status st-" + item.status;
    st.textContent = item.status;
    status.appendChild(st);
    tr.append(prio, title, cell(item.kind), status, cell(item.assigned_to || "—"),
              timeCell(item.due_at, item.due), timeCell(item.created_at, item.created));
    if (fresh) tr.classList.add("fresh");
    return tr;
  }

  let refreshing = null, again = false;
  async function refresh() {
    if (refreshing) { again = true; return; }
    refreshing = (async () => {
      const response = await fetch("/desk/queue.json" + location.search, {
        headers: { "Accept": "application/json" }, credentials: "same-origin",
      });
      if (response.status === 401) { location.href = "/desk/login"; return; }
      if (!response.ok) return;
      const data = await response.json();
      const before = new Set(rows().map((r) => r.dataset.id));
      const body = $("#queue-rows");
      const fresh = data.items.map((item) => buildRow(item, !before.has(item.id)));
      body.replaceChildren(...fresh);
      $("#queue-empty").hidden = data.items.length > 0;
      for (const [tab, n] of Object.entries(data.tab_counts)) {
        const el = $('[data-tab-count="' + tab + '"]');
        if (el) el.textContent = n + (n >= data.cap ? "+" : "");
      }
      for (const [p, n] of Object.entries(data.priority_counts)) {
        const el = $('[data-priority-count="' + p + '"]');
        if (el) el.textContent = n + (n >= data.cap ? "+" : "");
      }
      const keep = rows().find((r) => r.dataset.id === selected);
      if (keep) { keep.classList.add("selected"); keep.setAttribute("aria-selected", "true"); }
      else if (selected !== null) select(rows()[0] || null);
      const live = $("#live-status");
      if (live) live.textContent = "Updated " + new Date().toLocaleTimeString();
    })();
    try { await refreshing; } finally {
      refreshing = null;
      if (again) { again = false; refresh(); }
    }
  }

  function listen(url, onChange) {
    if (!window.EventSource) return;
    const source = new EventSource(url);
    source.addEventListener("open", () => { document.documentElement.dataset.live = "on"; });
    source.addEventListener("error", () => { document.documentElement.dataset.live = "off"; });
    source.addEventListener("change", (message) => {
      let data = {};
      try { data = JSON.parse(message.data); } catch (e) { return; }
      onChange(data);
    });
    window.addEventListener("pagehide", () => source.close());
  }

  if (queue) {
    listen("/desk/stream?after=" + encodeURIComponent(queue.dataset.after || ""), () => refresh());
    const search = $("#search");
    if (search && new URLSearchParams(location.search).get("focus") === "search") search.focus();
  }

  async function answerRow(key) {
    const row = selectedRow();
    if (!row) return;
    const answers = JSON.parse(row.dataset.answers || "{}");
    if (!(key in answers)) {
      announce("This request is not answered with " + key + ": open it (Enter).");
      return;
    }
    const result = await post("/desk/requests/" + encodeURIComponent(row.dataset.id) + "/respond",
                              { response: answers[key] });
    if (result.ok) {
      const all = rows(), at = all.indexOf(row);
      const next = all[at + 1] || all[at - 1] || null;
      row.remove();
      select(next);
      announce("Answered " + answers[key] + ".");
      refresh();
    } else {
      announce((result.data.error && result.data.error.message) || "The answer was refused.");
    }
  }
  function announce(text) {
    const live = $("#live-status") || $("#live-notice");
    if (live) { live.hidden = false; live.textContent = text; }
  }

  // ---- The request page ----
  const page = $("[data-request]");
  const form = $("#answer-form");
  if (page) {
    listen("/desk/stream?request_id=" + encodeURIComponent(page.dataset.request) +
           "&after=" + encodeURIComponent(page.dataset.after || ""), (data) => {
      if (data.actor === "user:" + (document.body.dataset.me || "")) return;
      const notice = $("#live-notice");
      notice.hidden = false;
      notice.replaceChildren();
      const text = document.createElement("span");
      text.textContent = "This request changed (" + data.type + " by " + data.actor + "), now " + data.status + ". ";
      const reload = document.createElement("a");
      reload.href = location.pathname;
      reload.textContent = "Reload";
      notice.append(text, reload);
      if (data.status !== "pending" && data.status !== "assigned" && form) {
        for (const b of $$("button", form)) b.disabled = true;
      }
    });
  }

  function showError(message, field) {
    const box = $("#answer-error");
    if (box) { box.hidden = false; box.textContent = message; box.focus && box.setAttribute("tabindex", "-1"); }
    if (field && window.InloopSchemaForm) window.InloopSchemaForm.markServerError(field, message);
  }

  if (form) {
    const kind = form.dataset.kind;
    let schemaForm = null;
    if (kind === "form" && window.InloopSchemaForm) {
      const schema = JSON.parse($("#response-schema").textContent);
      schemaForm = window.InloopSchemaForm.build($("#schema-form"), schema);
    }
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const submitter = event.submitter;
      const editor = $("#edit-payload");
      if (submitter && submitter.hasAttribute("data-edit") && editor && !editor.open) {
        editor.open = true;
        $("#edited-json").focus();
        return;
      }
      const body = { next: "/desk" };
      const comment = $("#comment", form).value;
      if (comment) body.comment = comment;
      if (kind === "form") {
        if (schemaForm) {
          const result = schemaForm.collect();
          if (!result.ok) { showError("Please correct the highlighted fields."); result.first && result.first.focus(); return; }
          body.response = result.value;
        } else {
          try { body.response = JSON.parse($("#response-json").value); }
          catch (e) { showError("The answer is not valid JSON.", "response"); return; }
        }
      } else if (submitter && submitter.name === "response_json") {
        body.response = submitter.value === "true";
      } else if (submitter && submitter.name === "response") {
        body.response = submitter.value;
      } else {
        const text = $("#response-text");
        if (text) {
          if (!text.value.trim()) { text.setAttribute("aria-invalid", "true"); showError("Write an answer first.", "response"); text.focus(); return; }
          body.response = text.value;
        }
      }
      if (submitter && submitter.hasAttribute("data-send-edit")) {
        const edited = $("#edited-json");
        try { body.edited = JSON.parse(edited.value); }
        catch (e) {
          const err = $("#edited-error");
          err.hidden = false; err.textContent = "The edited action is not valid JSON: " + e.message;
          edited.setAttribute("aria-invalid", "true"); edited.focus(); return;
        }
      }
      if (body.response === undefined) { showError("Choose an answer.", "response"); return; }
      for (const b of $$("button", form)) b.disabled = true;
      const result = await post(form.getAttribute("action"), body);
      if (result.ok) { location.href = result.data.next || "/desk"; return; }
      for (const b of $$("button", form)) b.disabled = false;
      const error = result.data.error || {};
      showError(error.message || "The answer was refused (" + result.status + ").", error.field);
    });
  }

  // ---- Keyboard ----
  let pendingG = false;
  document.addEventListener("keydown", (event) => {
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    const target = event.target;
    const typing = target instanceof HTMLElement &&
      (target.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(target.tagName));
    if (event.key === "Escape") {
      if (typing) target.blur();
      return;
    }
    if (typing) return;
    const dialog = $("#shortcuts");
    if (dialog && dialog.open) return;
    const key = event.key;
    if (pendingG) {
      pendingG = false;
      if (key === "q") { location.href = "/desk"; event.preventDefault(); }
      return;
    }
    if (key === "g") { pendingG = true; return; }
    if (key === "?") { if (dialog) dialog.showModal(); event.preventDefault(); return; }
    if (key === "/") {
      event.preventDefault();
      const search = $("#search");
      if (search) { search.focus(); search.select(); } else location.href = "/desk?focus=search";
      return;
    }
    if (queue) {
      if (key === "j" || key === "ArrowDown") { move(1); event.preventDefault(); }
      else if (key === "k" || key === "ArrowUp") { move(-1); event.preventDefault(); }
      else if (key === "Enter") {
        const row = selectedRow();
        if (row) { event.preventDefault(); location.href = $("a", row).href; }
      } else if (key === "a" || key === "r") { event.preventDefault(); answerRow(key); }
      return;
    }
    if (page) {
      if (key === "a" || key === "r" || key === "c" || key === "t") {
        const button = $('button[data-key="' + key + '"]');
        if (button && !button.disabled) { event.preventDefault(); button.click(); }
      } else if (key === "e") {
        const edit = $("#edit-payload");
        if (edit) { event.preventDefault(); edit.open = true; $("#edited-json").focus(); }
      } else if (key === "u") {
        event.preventDefault(); location.href = "/desk";
      }
    }
  });

  // On the queue, focus follows selection: clicking a row selects it too.
  if (queue) {
    $("#queue-rows").addEventListener("focusin", (event) => {
      const row = event.target.closest("tr");
      if (row && row.dataset.id !== selected) select(row);
    });
  }
})();
