/* Staff dashboard keyboard shortcuts and small behaviours (no build step, no dependencies
   beyond Bootstrap and htmx, both vendored).

   "/"          focus the page's search box, or the global customer search
   j / ArrowDown, k / ArrowUp   move through the rows of the current result table
   Enter        open the selected row
   Escape       leave the search box / clear the row selection
*/
(function () {
  "use strict";

  function isTyping(el) {
    if (!el) return false;
    const tag = el.tagName;
    return el.isContentEditable || tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT";
  }

  function searchBox() {
    return document.querySelector("[data-primary-search]") || document.getElementById("global-search");
  }

  function rows() {
    const table = document.querySelector("table[data-row-nav]");
    return table ? Array.from(table.querySelectorAll("tbody tr[data-href]")) : [];
  }

  let current = -1;

  function select(index) {
    const list = rows();
    if (!list.length) return;
    index = Math.max(0, Math.min(index, list.length - 1));
    list.forEach(function (row) { row.classList.remove("row-active"); row.removeAttribute("aria-selected"); });
    const row = list[index];
    row.classList.add("row-active");
    row.setAttribute("aria-selected", "true");
    row.scrollIntoView({ block: "nearest" });
    current = index;
  }

  function clearSelection() {
    rows().forEach(function (row) { row.classList.remove("row-active"); row.removeAttribute("aria-selected"); });
    current = -1;
  }

  function open(row, newTab) {
    const href = row && row.getAttribute("data-href");
    if (!href) return;
    if (newTab) window.open(href, "_blank", "noopener");
    else window.location.assign(href);
  }

  document.addEventListener("keydown", function (event) {
    if (event.defaultPrevented || event.altKey || event.ctrlKey || event.metaKey) return;
    const target = event.target;

    if (isTyping(target)) {
      if (event.key === "Escape" && target.matches("[data-primary-search], #global-search")) {
        target.blur();
      } else if (event.key === "ArrowDown" && target.matches("[data-primary-search]") && rows().length) {
        // From the search box straight into the results.
        event.preventDefault();
        target.blur();
        select(0);
      }
      return;
    }

    switch (event.key) {
      case "/": {
        const box = searchBox();
        if (box) {
          event.preventDefault();
          box.focus();
          box.select();
        }
        break;
      }
      case "j":
      case "ArrowDown":
        if (rows().length) { event.preventDefault(); select(current + 1); }
        break;
      case "k":
      case "ArrowUp":
        if (rows().length && current >= 0) { event.preventDefault(); select(current - 1); }
        break;
      case "Enter":
        if (current >= 0 && target === document.body) {
          event.preventDefault();
          open(rows()[current], event.shiftKey);
        }
        break;
      case "Escape":
        clearSelection();
        break;
    }
  });

  // A click anywhere on a linked row opens it (links, buttons and forms inside keep working).
  document.addEventListener("click", function (event) {
    const row = event.target.closest("tr[data-href]");
    if (!row || event.target.closest("a, button, input, select, textarea, label, form")) return;
    if (window.getSelection && String(window.getSelection()).length) return; // copying text
    open(row, event.metaKey || event.ctrlKey);
  });

  // New results: forget the old selection.
  document.addEventListener("htmx:afterSwap", function () { current = -1; });

  // Open the tab named in the URL fragment: "#tab-interactions" shows the pane "#interactions".
  // No element carries the "tab-" id, so the browser does not jump down the page.
  function showTabFromHash() {
    const hash = window.location.hash.slice(1);
    if (!hash || !window.bootstrap) return;
    const id = hash.indexOf("tab-") === 0 ? hash.slice(4) : hash;
    const trigger = document.querySelector('[data-bs-toggle="tab"][data-bs-target="#' + CSS.escape(id) + '"]');
    if (trigger) window.bootstrap.Tab.getOrCreateInstance(trigger).show();
  }
  document.addEventListener("DOMContentLoaded", showTabFromHash);
  window.addEventListener("hashchange", showTabFromHash);

  // Success messages step aside after a few seconds; errors stay until dismissed.
  document.addEventListener("DOMContentLoaded", function () {
    if (!window.bootstrap) return;
    document.querySelectorAll(".messages .alert-success, .messages .alert-info").forEach(function (el) {
      window.setTimeout(function () { window.bootstrap.Alert.getOrCreateInstance(el).close(); }, 6000);
    });
  });

  // Keep the global search box in step with the page's query.
  document.addEventListener("DOMContentLoaded", function () {
    const global = document.getElementById("global-search");
    const primary = document.querySelector("[data-primary-search]");
    if (global && primary && primary.name === "q" && document.getElementById("customer-filter")) {
      global.closest("form").addEventListener("submit", function (event) {
        event.preventDefault();
        primary.value = global.value;
        primary.dispatchEvent(new Event("input", { bubbles: true }));
        primary.focus();
      });
    }
  });
})();

/* A "select all" checkbox: data-check-all="NAME" ticks every checkbox named NAME on the page
   (the fulfilment queue's rows). Without JavaScript each row is ticked by hand. */
(function () {
  "use strict";
  document.addEventListener("change", function (event) {
    var all = event.target;
    if (!all.matches || !all.matches("input[data-check-all]")) return;
    var name = all.getAttribute("data-check-all");
    document.querySelectorAll('input[type="checkbox"][name="' + CSS.escape(name) + '"]').forEach(function (box) {
      box.checked = all.checked;
    });
  });
})();

/* The top bar's search as you type (htmx fills #global-search-results): ArrowDown from the box
   into the matches, ArrowUp/ArrowDown between them, Escape back to the box and closes them;
   Enter on a match opens it, Enter in the box opens the full customer list (the form's submit). */
(function () {
  "use strict";
  var box = document.getElementById("global-search");
  var panel = document.getElementById("global-search-results");
  if (!box || !panel) return;

  function links() { return Array.prototype.slice.call(panel.querySelectorAll("a.search-result")); }
  function open() { return !panel.hidden && links().length > 0; }
  function close() { panel.hidden = true; }

  box.addEventListener("focus", function () { panel.hidden = false; });
  document.addEventListener("htmx:afterSwap", function (event) {
    if (event.target === panel) panel.hidden = false;
  });
  document.addEventListener("click", function (event) {
    if (!event.target.closest(".topbar-search")) close();
  });

  // Capture phase, ahead of the page-wide shortcuts (j/k, arrows through table rows).
  document.addEventListener("keydown", function (event) {
    if (event.altKey || event.ctrlKey || event.metaKey) return;
    var target = event.target;
    var list = links();
    if (target === box) {
      if (event.key === "ArrowDown" && open()) {
        event.preventDefault();
        list[0].focus();
      } else if (event.key === "Escape") {
        close();
      }
      return;
    }
    if (!panel.contains(target)) return;
    var index = list.indexOf(target);
    if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      event.preventDefault();
      var next = index + (event.key === "ArrowDown" ? 1 : -1);
      if (next < 0) box.focus();
      else if (next < list.length) list[next].focus();
    } else if (event.key === "Escape") {
      event.preventDefault();
      box.focus(); // reopens on focus: close after
      close();
    }
  }, true);
})();

// Ask before destructive buttons marked data-confirm (deleting a segment, say).
document.addEventListener("click", function (event) {
  var button = event.target.closest("[data-confirm]");
  if (button && !window.confirm(button.getAttribute("data-confirm"))) event.preventDefault();
});
