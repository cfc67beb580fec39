// The job page's metrics chart (vendored Chart.js 4) and log tail. The numbers come from the live fragment
// (`{{ chart_data|json_script:"job-metrics" }}`), which htmx swaps in every second while the job runs: after
// each swap the chart is updated in place (not redrawn from scratch) and the log scrolled to its end.
(function () {
  "use strict";

  const COLOURS = ["#2f5bd3", "#d9822b", "#2e9e5b", "#a4161a", "#7b4bd3", "#5b6475"];
  let chart = null;

  function readSeries() {
    const source = document.getElementById("job-metrics");
    return source ? JSON.parse(source.textContent).series : [];
  }

  // Training jobs report many series (loss, accuracy, learning rate, grad norm, ...): losses go on the left
  // axis, accuracies (0-1) on the right, and the rest start hidden (a click on the legend shows them).
  const isLoss = (name) => /loss/i.test(name);
  const isAccuracy = (name) => /acc/i.test(name);

  function training(series) {
    return series.some((s) => isLoss(s.name)) && series.length > 2;
  }

  function datasets(series) {
    // Otherwise the first metric on the left axis, the others on the right: a loss and a throughput differ in scale.
    const grouped = training(series);
    return series.map((s, i) => {
      const left = grouped ? isLoss(s.name) : i === 0;
      return {
        label: s.name, data: s.points, yAxisID: left ? "y" : "y1",
        hidden: grouped && !isLoss(s.name) && !isAccuracy(s.name),
        borderColor: COLOURS[i % COLOURS.length], backgroundColor: COLOURS[i % COLOURS.length],
        borderWidth: 2, pointRadius: s.points.length > 60 ? 0 : 2, tension: 0.2,
      };
    });
  }

  function render() {
    const canvas = document.getElementById("job-chart");
    if (!canvas || typeof Chart === "undefined") return;
    const series = readSeries();
    const box = document.getElementById("metrics-box");
    const empty = document.getElementById("metrics-empty");
    box.hidden = series.length === 0;
    empty.hidden = series.length !== 0;
    canvas.dataset.points = series.reduce((n, s) => n + s.points.length, 0);
    canvas.dataset.shown = datasets(series).filter((d) => !d.hidden).map((d) => d.label).join(",");
    if (chart) {
      // Keep what the reader toggled in the legend: carry each series' hidden flag over by name.
      const hidden = new Map(chart.data.datasets.map((d, i) => [d.label, !chart.isDatasetVisible(i)]));
      chart.data.datasets = datasets(series).map((d) => (hidden.has(d.label) ? { ...d, hidden: hidden.get(d.label) } : d));
      chart.options.scales.y1.display = series.length > 1;
      chart.update("none");
      return;
    }
    Chart.defaults.font.family = getComputedStyle(document.body).fontFamily;
    Chart.defaults.color = "#5b6475";
    chart = new Chart(canvas, {
      type: "line",
      data: { datasets: datasets(series) },
      options: {
        maintainAspectRatio: false,
        animation: false, // a live series: animating every update only makes it wobble
        parsing: false,
        interaction: { mode: "nearest", axis: "x", intersect: false },
        plugins: { legend: { position: "bottom", labels: { boxWidth: 12 } } },
        scales: {
          x: { type: "linear", title: { display: true, text: "step" }, ticks: { precision: 0 } },
          y: { position: "left" },
          y1: { position: "right", display: series.length > 1, grid: { drawOnChartArea: false } },
        },
      },
    });
  }

  function scrollLog() {
    const log = document.getElementById("job-log");
    if (log) log.scrollTop = log.scrollHeight;
  }

  function refresh() {
    render();
    scrollLog();
  }

  // htmx:load fires on content htmx has just put in the page (and bubbles: it is attached by then).
  document.addEventListener("htmx:load", (event) => {
    if (event.target && event.target.id === "job-live") refresh();
  });
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", refresh);
  } else {
    refresh();
  }
})();
