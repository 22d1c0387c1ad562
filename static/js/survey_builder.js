/* Survey builder: drag question rows to reorder them. The rows live in a container with
   data-reorder-url; each row has data-question-id. On drop the new order is POSTed as JSON
   ({"order": [ids]}) with the page's CSRF token; a refusal restores the old order and shows
   the reason. The up / down buttons keep working without JavaScript. */
(function () {
  "use strict";

  function ids(tbody) {
    return Array.prototype.map.call(tbody.querySelectorAll("tr[data-question-id]"), function (tr) {
      return tr.getAttribute("data-question-id");
    });
  }

  function renumber(tbody) {
    tbody.querySelectorAll("tr[data-question-id]").forEach(function (tr, i) {
      var cell = tr.children[1];
      if (cell) cell.textContent = String(i + 1);
    });
  }

  function init(container) {
    var url = container.getAttribute("data-reorder-url");
    var tbody = container.querySelector("tbody");
    var token = container.querySelector("input[name=csrfmiddlewaretoken]");
    if (!url || !tbody || !token) return;
    var dragged = null;
    var before = null;

    tbody.addEventListener("dragstart", function (event) {
      dragged = event.target.closest("tr[data-question-id]");
      if (!dragged) return;
      before = ids(tbody);
      dragged.classList.add("is-dragging");
      event.dataTransfer.effectAllowed = "move";
      event.dataTransfer.setData("text/plain", dragged.getAttribute("data-question-id"));
    });

    tbody.addEventListener("dragover", function (event) {
      var row = event.target.closest("tr[data-question-id]");
      if (!dragged || !row || row === dragged) return;
      event.preventDefault();
      var box = row.getBoundingClientRect();
      var after = event.clientY > box.top + box.height / 2;
      tbody.insertBefore(dragged, after ? row.nextSibling : row);
    });

    tbody.addEventListener("drop", function (event) {
      if (dragged) event.preventDefault();
    });

    tbody.addEventListener("dragend", function () {
      if (!dragged) return;
      dragged.classList.remove("is-dragging");
      dragged = null;
      var order = ids(tbody);
      if (order.join(",") === before.join(",")) return;
      renumber(tbody);
      fetch(url, {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-CSRFToken": token.value },
        body: JSON.stringify({ order: order.map(Number) })
      }).then(function (response) {
        if (response.ok) { window.location.reload(); return null; }
        return response.json().then(function (data) { throw new Error(data.message || ""); });
      }).catch(function (error) {
        var rows = {};
        tbody.querySelectorAll("tr[data-question-id]").forEach(function (tr) {
          rows[tr.getAttribute("data-question-id")] = tr;
        });
        before.forEach(function (id) { tbody.appendChild(rows[id]); });
        renumber(tbody);
        if (error && error.message) window.alert(error.message);
      });
    });
  }

  document.querySelectorAll("[data-reorder-url]").forEach(init);
})();
