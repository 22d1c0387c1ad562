/* Segment builder. The condition tree lives in the form's JSON textarea (#id_rules), the one
   thing the server reads; this script draws it as groups of rows (field, operator, value,
   days), writes every edit back to the textarea and fires "rules-changed", on which htmx
   refreshes the live count. A tree the builder cannot draw (hand-written JSON) is left to the
   textarea. Labels, operators and choices come from the page (#segment-catalogue). */
(function () {
  "use strict";

  var catalogue = JSON.parse(document.getElementById("segment-catalogue").textContent);
  var words = catalogue.words;
  var fields = {};
  catalogue.fields.forEach(function (f) { fields[f.name] = f; });
  var textarea = document.getElementById("id_rules");
  var root = document.getElementById("rules-builder");
  if (!textarea || !root) return;

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) {
      if (k === "text") node.textContent = attrs[k];
      else node.setAttribute(k, attrs[k]);
    });
    (children || []).forEach(function (c) { node.appendChild(c); });
    return node;
  }

  // Trees are normalised to groups {mode: all|any|none, items: [group|leaf]}.
  function toGroup(node) {
    if (node.all) return { mode: "all", items: node.all.map(toItem) };
    if (node.any) return { mode: "any", items: node.any.map(toItem) };
    if (node.not) {
      var inner = node.not.any ? node.not.any : [node.not];
      return { mode: "none", items: inner.map(toItem) };
    }
    return { mode: "all", items: [toItem(node)] };
  }

  function toItem(node) {
    return node.field ? { leaf: node } : toGroup(node);
  }

  function fromGroup(group) {
    var items = group.items.map(function (item) { return item.leaf ? item.leaf : fromGroup(item); });
    if (group.mode === "none") return { not: { any: items } };
    var out = {};
    out[group.mode] = items;
    return out;
  }

  var state;
  try {
    state = toGroup(JSON.parse(textarea.value || "{\"all\": []}"));
  } catch (e) {
    return; // not JSON: the textarea and the server's message say what is wrong
  }

  function save() {
    textarea.value = JSON.stringify(fromGroup(state));
    document.body.dispatchEvent(new CustomEvent("rules-changed"));
  }

  function defaultLeaf() {
    var f = catalogue.fields[0];
    return { field: f.name, op: f.ops[0], value: defaultValue(f, f.ops[0]) };
  }

  function defaultValue(f, op) {
    if (f.kind === "flag") return true;
    if (op === "in" || op === "not_in") return f.choices && f.choices.length ? [f.choices[0][0]] : [];
    if (op === "between") return [f.min || 0, (f.min || 0) + 10];
    if (f.kind === "int" || f.kind === "number") return f.min && f.min > 0 ? f.min : 1;
    return f.choices && f.choices.length ? f.choices[0][0] : "";
  }

  function select(options, value, cls, label) {
    var s = el("select", { class: "form-select form-select-sm " + cls, "aria-label": label });
    options.forEach(function (o) {
      var opt = el("option", { value: o[0], text: o[1] });
      if (String(o[0]) === String(value)) opt.selected = true;
      s.appendChild(opt);
    });
    return s;
  }

  function number(value, f, label) {
    var input = el("input", { type: "number", class: "form-control form-control-sm rules-value", "aria-label": label });
    if (f.kind === "number") input.step = "any";
    if (f.min !== null && f.min !== undefined) input.min = f.min;
    if (f.max !== null && f.max !== undefined) input.max = f.max;
    input.value = value;
    return input;
  }

  function valueInputs(leaf, f) {
    var op = leaf.op;
    if (f.kind === "flag") {
      var s = select([["true", words.yes], ["false", words.no]], String(leaf.value), "rules-value", f.label);
      s.addEventListener("change", function () { leaf.value = s.value === "true"; save(); });
      return [s];
    }
    if (op === "between") {
      var lo = number(leaf.value[0], f, f.label), hi = number(leaf.value[1], f, f.label);
      [lo, hi].forEach(function (input, i) {
        input.addEventListener("change", function () { leaf.value[i] = Number(input.value); save(); });
      });
      return [lo, el("span", { class: "small text-body-secondary", text: words.and }), hi];
    }
    if (f.kind === "int" || f.kind === "number") {
      var n = number(leaf.value, f, f.label);
      n.addEventListener("change", function () { leaf.value = Number(n.value); save(); });
      return [n];
    }
    if (f.choices && f.choices.length) {
      var multi = op === "in" || op === "not_in";
      var sel = select(f.choices, multi ? null : leaf.value, "rules-value", f.label);
      if (multi) {
        sel.multiple = true;
        Array.prototype.forEach.call(sel.options, function (o) { o.selected = leaf.value.indexOf(o.value) >= 0; });
      }
      sel.addEventListener("change", function () {
        leaf.value = multi
          ? Array.prototype.filter.call(sel.options, function (o) { return o.selected; }).map(function (o) { return o.value; })
          : sel.value;
        save();
      });
      return [sel];
    }
    var text = el("input", { type: "text", class: "form-control form-control-sm rules-value", maxlength: "80", "aria-label": f.label });
    text.value = Array.isArray(leaf.value) ? leaf.value.join(", ") : leaf.value;
    text.addEventListener("change", function () {
      var multi = op === "in" || op === "not_in";
      leaf.value = multi ? text.value.split(",").map(function (v) { return v.trim(); }).filter(Boolean) : text.value.trim();
      save();
    });
    return [text];
  }

  function leafRow(item, parent) {
    var leaf = item.leaf;
    var f = fields[leaf.field] || catalogue.fields[0];
    var row = el("div", { class: "rules-row", "data-testid": "rule-row" });
    var fieldSelect = el("select", { class: "form-select form-select-sm rules-field", "aria-label": words.add });
    catalogue.groups.forEach(function (g) {
      var og = el("optgroup", { label: g.label });
      catalogue.fields.filter(function (x) { return x.group === g.code; }).forEach(function (x) {
        var opt = el("option", { value: x.name, text: x.label });
        if (x.name === leaf.field) opt.selected = true;
        og.appendChild(opt);
      });
      fieldSelect.appendChild(og);
    });
    fieldSelect.addEventListener("change", function () {
      var nf = fields[fieldSelect.value];
      item.leaf = { field: nf.name, op: nf.ops[0], value: defaultValue(nf, nf.ops[0]) };
      if (nf.days === "required") item.leaf.days = 30;
      render(); save();
    });
    var opSelect = select(f.ops.map(function (o) { return [o, catalogue.ops[o]]; }), leaf.op, "rules-op", f.label);
    opSelect.addEventListener("change", function () {
      leaf.op = opSelect.value;
      leaf.value = defaultValue(f, leaf.op);
      render(); save();
    });
    row.appendChild(fieldSelect);
    row.appendChild(opSelect);
    valueInputs(leaf, f).forEach(function (node) { row.appendChild(node); });
    if (f.days) {
      var days = el("input", { type: "number", min: "1", max: "3650", class: "form-control form-control-sm rules-days", placeholder: "—", "aria-label": f.days === "required" ? words.within : words.days });
      days.value = leaf.days || "";
      days.addEventListener("change", function () {
        if (days.value) leaf.days = Number(days.value); else delete leaf.days;
        save();
      });
      row.appendChild(el("span", { class: "small text-body-secondary", text: f.days === "required" ? words.within : words.days }));
      row.appendChild(days);
    }
    var remove = el("button", { type: "button", class: "btn btn-sm btn-link text-danger", "aria-label": words.remove, title: words.remove }, [el("i", { class: "bi bi-x-lg" })]);
    remove.addEventListener("click", function () {
      parent.items.splice(parent.items.indexOf(item), 1);
      render(); save();
    });
    row.appendChild(remove);
    return row;
  }

  function groupBox(group, parent) {
    var box = el("div", { class: "rules-group" });
    var mode = select([["all", words.all], ["any", words.any], ["none", words.none]], group.mode, "rules-mode w-auto", words.all);
    mode.addEventListener("change", function () { group.mode = mode.value; save(); });
    var head = el("div", { class: "rules-head" }, [mode]);
    if (parent) {
      var remove = el("button", { type: "button", class: "btn btn-sm btn-link text-danger", "aria-label": words.remove, title: words.remove }, [el("i", { class: "bi bi-x-lg" })]);
      remove.addEventListener("click", function () {
        parent.items.splice(parent.items.indexOf(group), 1);
        render(); save();
      });
      head.appendChild(remove);
    }
    box.appendChild(head);
    if (!group.items.length && !parent) box.appendChild(el("p", { class: "small text-body-secondary mb-2", text: words.empty }));
    group.items.forEach(function (item) {
      box.appendChild(item.leaf ? leafRow(item, group) : groupBox(item, group));
    });
    var add = el("button", { type: "button", class: "btn btn-sm btn-outline-primary", "data-testid": "add-condition" }, [el("i", { class: "bi bi-plus-lg me-1" }), document.createTextNode(words.add)]);
    add.addEventListener("click", function () { group.items.push({ leaf: defaultLeaf() }); render(); save(); });
    var addGroup = el("button", { type: "button", class: "btn btn-sm btn-outline-secondary" }, [el("i", { class: "bi bi-diagram-2 me-1" }), document.createTextNode(words.group)]);
    addGroup.addEventListener("click", function () { group.items.push({ mode: "any", items: [{ leaf: defaultLeaf() }] }); render(); save(); });
    box.appendChild(el("div", { class: "rules-actions" }, [add, addGroup]));
    return box;
  }

  function render() {
    root.replaceChildren(groupBox(state, null));
  }

  textarea.addEventListener("change", function () {
    try {
      state = toGroup(JSON.parse(textarea.value));
      render();
    } catch (e) { /* the count panel shows the server's reason */ }
    document.body.dispatchEvent(new CustomEvent("rules-changed"));
  });
  render();
})();
