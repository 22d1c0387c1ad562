/* Charts drawn from data the page embeds with json_script (the Content-Security-Policy allows no
   inline script): <canvas data-chart="ID"> draws the {labels, datasets} held in
   <script type="application/json" id="ID"> as a bar chart. Needs vendor/chartjs first. */
(function () {
  "use strict";

  var COLOURS = ["#0d6efd", "#198754", "#dc3545", "#fd7e14", "#6f42c1", "#20c997"];

  function draw(canvas) {
    var source = document.getElementById(canvas.getAttribute("data-chart"));
    if (!source || !window.Chart) return;
    var data = JSON.parse(source.textContent);
    data.datasets.forEach(function (dataset, i) {
      dataset.backgroundColor = COLOURS[i % COLOURS.length];
      dataset.borderColor = COLOURS[i % COLOURS.length];
      dataset.borderRadius = 3;
    });
    new window.Chart(canvas, {
      type: canvas.getAttribute("data-chart-type") || "bar",
      data: data,
      options: {
        maintainAspectRatio: false,
        animation: false,
        interaction: { mode: "index", intersect: false },
        scales: { y: { beginAtZero: true, ticks: { precision: 0 } } },
        plugins: { legend: { position: "bottom" } }
      }
    });
  }

  document.querySelectorAll("canvas[data-chart]").forEach(draw);
})();
