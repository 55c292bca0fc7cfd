// A form generated from a JSON Schema, with inline validation messages.
// Supports string (enum, minLength, maxLength, pattern), number, integer (minimum,
// maximum, exclusive bounds), boolean, arrays of enums (checkboxes), other arrays (one
// item per line), nested objects and required fields. The server checks the answer again.
"use strict";
(function () {
  let counter = 0;
  const fields = [];

  function el(tag, attrs, text) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) if (v !== undefined && v !== null) node.setAttribute(k, v);
    if (text !== undefined) node.textContent = text;
    return node;
  }
  function typeOf(schema) {
    let t = schema.type;
    if (Array.isArray(t)) t = t.find((x) => x !== "null") || "string";
    if (!t && schema.enum) t = typeof schema.enum[0] === "number" ? "number" : "string";
    if (!t && schema.properties) t = "object";
    return t || "json";
  }
  function labelOf(name, schema) { return schema.title || String(name).replace(/_/g, " ").replace(/^./, (c) => c.toUpperCase()); }

  function build(container, schema) {
    container.replaceChildren();
    const root = field(container, "", "response", schema, true, "response");
    return { collect: () => collect(root), root };
  }

  function field(parent, name, label, schema, required, path) {
    const id = "f-" + (++counter);
    const type = typeOf(schema || {});
    const wrap = el("div", { class: "field", "data-path": path });
    const error = el("p", { class: "field-error", id: id + "-error", hidden: "" });
    const hint = schema && schema.description ? el("p", { class: "hint", id: id + "-hint" }, schema.description) : null;
    const described = [hint ? id + "-hint" : null, id + "-error"].filter(Boolean).join(" ");
    const node = { schema: schema || {}, type, required, path, error, wrap, label: label };
    if (type === "object" && schema.properties) {
      const fs = el("fieldset");
      if (path !== "response") fs.appendChild(el("legend", {}, label + (required ? " *" : "")));
      if (hint) fs.appendChild(hint);
      node.children = [];
      const req = new Set(schema.required || []);
      for (const [key, sub] of Object.entries(schema.properties)) {
        const child = field(fs, key, labelOf(key, sub), sub, req.has(key), path + "." + key);
        child.key = key;
        node.children.push(child);
      }
      fs.appendChild(error);
      wrap.appendChild(fs);
      parent.appendChild(wrap);
      return node;
    }
    if (type === "array" && schema.items && schema.items.enum) {
      const fs = el("fieldset", { "aria-describedby": described });
      fs.appendChild(el("legend", {}, label + (required ? " *" : "")));
      node.checks = schema.items.enum.map((value, i) => {
        const cid = id + "-" + i;
        const row = el("label", { class: "check", for: cid });
        const box = el("input", { type: "checkbox", id: cid, value: JSON.stringify(value) });
        row.append(box, document.createTextNode(String(value)));
        fs.appendChild(row);
        return box;
      });
      node.input = node.checks[0];
      if (hint) fs.appendChild(hint);
      fs.appendChild(error);
      wrap.appendChild(fs);
      parent.appendChild(wrap);
      return node;
    }
    const lab = el("label", { for: id }, label + (required ? " *" : ""));
    let input;
    if (type === "boolean") {
      input = el("input", { type: "checkbox", id, "aria-describedby": described });
      lab.className = "check";
      lab.textContent = "";
      lab.append(input, document.createTextNode(label));
      wrap.appendChild(lab);
    } else {
      if (schema && schema.enum) {
        input = el("select", { id, "aria-describedby": described });
        input.appendChild(el("option", { value: "" }, required ? "Choose…" : "—"));
        for (const v of schema.enum) input.appendChild(el("option", { value: JSON.stringify(v) }, String(v)));
      } else if (type === "number" || type === "integer") {
        input = el("input", { type: "number", id, step: type === "integer" ? "1" : "any", inputmode: type === "integer" ? "numeric" : "decimal",
                              min: schema.minimum, max: schema.maximum, "aria-describedby": described });
      } else if (type === "string") {
        const long = (schema.maxLength || 0) > 200 && !schema.pattern;
        input = el(long ? "textarea" : "input", { id, rows: long ? "3" : undefined, maxlength: schema.maxLength,
                    "aria-describedby": described });
      } else {
        input = el("textarea", { id, rows: "3", class: "mono", "aria-describedby": described,
                                 placeholder: type === "array" ? "One item per line" : "JSON" });
      }
      if (required) input.setAttribute("aria-required", "true");
      wrap.append(lab, input);
    }
    if (hint) wrap.appendChild(hint);
    wrap.appendChild(error);
    node.input = input;
    input.addEventListener("change", () => { const r = read(node); show(node, r.error); });
    parent.appendChild(wrap);
    fields.push(node);
    return node;
  }

  function show(node, message) {
    node.error.hidden = !message;
    node.error.textContent = message || "";
    if (node.input) {
      if (message) node.input.setAttribute("aria-invalid", "true");
      else node.input.removeAttribute("aria-invalid");
    }
  }

  // Read one field: {value, empty, error}.
  function read(node) {
    const s = node.schema;
    if (node.children) {
      const value = {};
      let error = null;
      for (const child of node.children) {
        const r = read(child);
        show(child, r.error);
        if (r.error && !error) error = r.error;
        if (!r.empty) value[child.key] = r.value;
      }
      return { value, empty: false, error: error ? "" : null, nestedError: !!error };
    }
    if (node.checks) {
      const value = node.checks.filter((b) => b.checked).map((b) => JSON.parse(b.value));
      if (node.required && s.minItems === undefined && value.length === 0) return { value, error: "Choose at least one." };
      if (s.minItems !== undefined && value.length < s.minItems) return { value, error: "Choose at least " + s.minItems + "." };
      if (s.maxItems !== undefined && value.length > s.maxItems) return { value, error: "Choose at most " + s.maxItems + "." };
      return { value, empty: value.length === 0 && !node.required };
    }
    const input = node.input;
    if (node.type === "boolean") return { value: input.checked, empty: false };
    const raw = input.value;
    if (raw.trim() === "") {
      return node.required ? { error: "This field is required." } : { empty: true };
    }
    if (s.enum) return { value: JSON.parse(raw) };
    if (node.type === "number" || node.type === "integer") {
      const n = Number(raw);
      if (!Number.isFinite(n)) return { error: "Enter a number." };
      if (node.type === "integer" && !Number.isInteger(n)) return { error: "Enter a whole number." };
      if (s.minimum !== undefined && n < s.minimum) return { error: "Must be at least " + s.minimum + "." };
      if (s.maximum !== undefined && n > s.maximum) return { error: "Must be at most " + s.maximum + "." };
      if (s.exclusiveMinimum !== undefined && n <= s.exclusiveMinimum) return { error: "Must be more than " + s.exclusiveMinimum + "." };
      if (s.exclusiveMaximum !== undefined && n >= s.exclusiveMaximum) return { error: "Must be less than " + s.exclusiveMaximum + "." };
      return { value: n };
    }
    if (node.type === "string") {
      const length = Array.from(raw).length;
      if (s.minLength !== undefined && length < s.minLength) return { error: "At least " + s.minLength + " characters." };
      if (s.maxLength !== undefined && length > s.maxLength) return { error: "At most " + s.maxLength + " characters." };
      if (s.pattern) {
        let re = null;
        try { re = new RegExp(s.pattern, "u"); } catch (e) { re = null; }
        if (re && !re.test(raw)) return { error: "Does not match the expected format (" + s.pattern + ")." };
      }
      return { value: raw };
    }
    if (node.type === "array") {
      const items = raw.split("\n").map((x) => x.trim()).filter(Boolean);
      const itemType = s.items ? typeOf(s.items) : "string";
      const value = itemType === "number" || itemType === "integer" ? items.map(Number) : items;
      if (s.minItems !== undefined && value.length < s.minItems) return { error: "At least " + s.minItems + " items." };
      return { value };
    }
    try { return { value: JSON.parse(raw) }; } catch (e) { return { error: "Not valid JSON." }; }
  }

  function collect(root) {
    const r = read(root);
    if (!root.children) show(root, r.error);
    const bad = fields.find((f) => f.input && f.input.getAttribute("aria-invalid") === "true");
    const ok = !r.error && r.error !== "" && !bad;
    return { ok, value: r.value, first: bad ? bad.input : null };
  }

  // A 422 from the server names a field such as response.amount: mark it.
  function markServerError(path, message) {
    const node = fields.find((f) => f.path === path);
    if (node) { show(node, message); node.input.focus(); }
  }

  window.InloopSchemaForm = { build, markServerError };
})();
