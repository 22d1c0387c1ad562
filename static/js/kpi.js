/* The KPI dashboard's sparklines: each <canvas data-kpi-spark="KEY"> draws KEY's trend from the
   {labels, series} the page embeds as <script type="application/json" id="kpi-trend"> (the
   Content-Security-Policy allows no inline script). Gaps (days without a figure) stay gaps. */
(function () {
  "use strict";

  var source = document.getElementById("kpi-trend");
  if (!source || !window.Chart) return;
  var trend = JSON.parse(source.textContent);

  document.querySelectorAll("canvas[data-kpi-spark]").forEach(function (canvas) {
    var values = trend.series[canvas.getAttribute("data-kpi-spark")] || [];
    if (!values.some(function (v) { return v !== null; })) return;
    new window.Chart(canvas, {
      type: "line",
      data: {
        labels: trend.labels,
        datasets: [{ data: values, borderColor: "#0d6efd", borderWidth: 1.5, pointRadius: 0,
                     fill: false, tension: 0.25, spanGaps: false }]
      },
      options: {
        maintainAspectRatio: false,
        animation: false,
        interaction: { mode: "index", intersect: false },
        plugins: { legend: { display: false } },
        scales: { x: { display: false }, y: { display: false } }
      }
    });
  });
})();
