// The compare page's chart: one line per run for the metric chosen in #compare-metric (vendored Chart.js 4).
// Data: {{ comparison.curves|json_script:"compare-data" }} = {"runs": [{"id", "label", "series": {name: [{x, y}]}}],
// "metrics": [names]}. A run that never recorded the metric has no line.
(function () {
  "use strict";

  const COLOURS = ["#2f5bd3", "#d9822b", "#2e9e5b", "#a4161a", "#7b4bd3", "#5b6475"];
  let chart = null;

  function datasets(data, metric) {
    return data.runs
      .filter((run) => run.series[metric])
      .map((run, i) => ({
        label: run.label, data: run.series[metric], borderColor: COLOURS[i % COLOURS.length],
        backgroundColor: COLOURS[i % COLOURS.length], borderWidth: 2, tension: 0.2,
        pointRadius: run.series[metric].length > 60 ? 0 : 2,
      }));
  }

  function draw() {
    const source = document.getElementById("compare-data");
    const canvas = document.getElementById("compare-chart");
    const select = document.getElementById("compare-metric");
    if (!source || !canvas || !select || typeof Chart === "undefined") return;
    const data = JSON.parse(source.textContent);
    // Start on the training loss when there is one: the curve people compare first.
    if (data.metrics.includes("loss")) select.value = "loss";
    const build = () => {
      const sets = datasets(data, select.value);
      canvas.dataset.lines = sets.length;
      canvas.dataset.metric = select.value;
      if (chart) {
        chart.data.datasets = sets;
        chart.update("none");
        return;
      }
      chart = new Chart(canvas, {
        type: "line",
        data: { datasets: sets },
        options: {
          maintainAspectRatio: false, animation: false, parsing: false,
          interaction: { mode: "nearest", axis: "x", intersect: false },
          plugins: { legend: { position: "bottom", labels: { boxWidth: 12 } } },
          scales: { x: { type: "linear", title: { display: true, text: "step" }, ticks: { precision: 0 } } },
        },
      });
    };
    select.addEventListener("change", build);
    build();
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", draw);
  } else {
    draw();
  }
})();
