/* Survey trend: <canvas data-survey-trend="ID"> draws the {labels, value, low, high, value_label,
   band_label} held in <script type="application/json" id="ID"> (json_script; the
   Content-Security-Policy allows no inline script) as a line with its 95% interval as a shaded
   band. Needs vendor/chartjs first. */
(function () {
  "use strict";

  function draw(canvas) {
    var source = document.getElementById(canvas.getAttribute("data-survey-trend"));
    if (!source || !window.Chart) return;
    var data = JSON.parse(source.textContent);
    new window.Chart(canvas, {
      type: "line",
      data: {
        labels: data.labels,
        datasets: [
          { label: data.value_label, data: data.value, borderColor: "#0d6efd",
            backgroundColor: "#0d6efd", tension: 0.2, spanGaps: true },
          { label: data.band_label, data: data.high, borderWidth: 0, pointRadius: 0,
            backgroundColor: "rgba(13, 110, 253, 0.15)", fill: "+1", spanGaps: true },
          { label: data.band_label, data: data.low, borderWidth: 0, pointRadius: 0,
            backgroundColor: "rgba(13, 110, 253, 0.15)", fill: false, spanGaps: true }
        ]
      },
      options: {
        maintainAspectRatio: false,
        animation: false,
        interaction: { mode: "index", intersect: false },
        plugins: {
          legend: {
            position: "bottom",
            labels: { filter: function (item) { return item.datasetIndex < 2; } }
          }
        }
      }
    });
  }

  document.querySelectorAll("canvas[data-survey-trend]").forEach(draw);
})();
