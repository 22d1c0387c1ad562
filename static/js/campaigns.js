/* Campaign pages (the Content-Security-Policy allows no inline script: markup declares, this
   file acts).

   [data-variant-add]        "Add a variant": clones <template id="variant-template"> (the
                             formset's empty form) with the next index, gives it the next free
                             label (A, B, C …), and hides itself at data-max variants
   [data-variant-remove]     a variant's "Remove" box: the block dims while it is ticked (the
                             formset leaves it out on save)
   [data-insert="name"]      in the help panel: puts {{ name }} where the writer last was in a
                             variant's subject, message or SMS text ([data-template-field])
   canvas[data-groups-chart="ID"]  conversion (%) and revenue per member per group, from the
                             {labels, conversion, revenue, conversion_label, revenue_label} held
                             in <script type="application/json" id="ID">; needs vendor/chartjs */
(function () {
  "use strict";

  var PREFIX = "variants";

  function totalInput() {
    return document.getElementById("id_" + PREFIX + "-TOTAL_FORMS");
  }

  function liveVariants() {
    return Array.prototype.filter.call(
      document.querySelectorAll("#variant-list [data-variant]"),
      function (block) {
        var remove = block.querySelector("[data-variant-remove]");
        return !(remove && remove.checked);
      }
    );
  }

  function nextLabel() {
    var used = {};
    document.querySelectorAll("#variant-list input[name$='-label']").forEach(function (input) {
      used[input.value.trim().toUpperCase()] = true;
    });
    for (var i = 0; i < 26; i++) {
      var letter = String.fromCharCode(65 + i);
      if (!used[letter]) return letter;
    }
    return "";
  }

  function refreshAddButton() {
    var button = document.querySelector("[data-variant-add]");
    if (!button) return;
    var max = parseInt(button.getAttribute("data-max"), 10) || 5;
    button.hidden = liveVariants().length >= max;
  }

  function addVariant() {
    var template = document.getElementById("variant-template");
    var total = totalInput();
    if (!template || !total) return;
    var index = parseInt(total.value, 10) || 0;
    var holder = document.createElement("div");
    holder.innerHTML = template.innerHTML.replace(/__prefix__/g, String(index));
    var block = holder.querySelector("[data-variant]");
    var label = block.querySelector("input[name$='-label']");
    if (label) label.value = nextLabel();
    document.getElementById("variant-list").appendChild(block);
    total.value = String(index + 1);
    refreshAddButton();
    var first = block.querySelector("[data-template-field]");
    if (first) first.focus();
  }

  var lastField = null;
  document.addEventListener("focusin", function (event) {
    if (event.target.matches && event.target.matches("[data-template-field]")) {
      lastField = event.target;
    }
  });

  function insert(name) {
    var field = lastField || document.querySelector("[data-template-field]");
    if (!field) return;
    var start = field.selectionStart != null ? field.selectionStart : field.value.length;
    var end = field.selectionEnd != null ? field.selectionEnd : start;
    var before = field.value.slice(0, start);
    var text = (before && !/\s$/.test(before) ? " " : "") + "{{ " + name + " }}";
    field.value = field.value.slice(0, start) + text + field.value.slice(end);
    field.focus();
    field.setSelectionRange(start + text.length, start + text.length);
  }

  document.addEventListener("click", function (event) {
    var add = event.target.closest("[data-variant-add]");
    if (add) {
      event.preventDefault();
      addVariant();
      return;
    }
    var name = event.target.closest("[data-insert]");
    if (name) {
      event.preventDefault();
      insert(name.getAttribute("data-insert"));
    }
  });

  document.addEventListener("change", function (event) {
    if (!event.target.matches || !event.target.matches("[data-variant-remove]")) return;
    event.target.closest("[data-variant]").classList.toggle("is-removed", event.target.checked);
    refreshAddButton();
  });

  document.querySelectorAll("[data-variant-remove]:checked").forEach(function (box) {
    box.closest("[data-variant]").classList.add("is-removed");
  });
  refreshAddButton();

  function drawGroups(canvas) {
    var source = document.getElementById(canvas.getAttribute("data-groups-chart"));
    if (!source || !window.Chart) return;
    var data = JSON.parse(source.textContent);
    new window.Chart(canvas, {
      type: "bar",
      data: {
        labels: data.labels,
        datasets: [
          { label: data.conversion_label, data: data.conversion, yAxisID: "y",
            backgroundColor: "#2f55d4", borderRadius: 3 },
          { label: data.revenue_label, data: data.revenue, yAxisID: "y1",
            backgroundColor: "#20c997", borderRadius: 3 }
        ]
      },
      options: {
        maintainAspectRatio: false,
        animation: false,
        interaction: { mode: "index", intersect: false },
        scales: {
          y: { beginAtZero: true, position: "left", title: { display: true, text: data.conversion_label } },
          y1: { beginAtZero: true, position: "right", grid: { drawOnChartArea: false },
                title: { display: true, text: data.revenue_label } }
        },
        plugins: { legend: { position: "bottom" } }
      }
    });
  }

  document.querySelectorAll("canvas[data-groups-chart]").forEach(drawGroups);
})();
