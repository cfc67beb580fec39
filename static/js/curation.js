// Charts of the curation pages (vendored Chart.js 4): agreement per annotator, predicted gain of routing,
// a dataset version's drops and label sources. The numbers come from the page itself
// (`{{ chart_data|json_script:"curation-data" }}`); a canvas the page left out (an empty state) is skipped.
// Names (annotators, reasons) reach Chart.js as data, which draws them as text on a canvas: never as HTML.
(function () {
  "use strict";

  const PERSON = "#2f5bd3";
  const JUDGE = "#d9822b";
  const PALETTE = ["#2f5bd3", "#d9822b", "#2e9e5b", "#8e44ad", "#a4161a", "#6d8cd0", "#b8c2d6"];

  function bars(canvas, labels, values, colours, options) {
    return new Chart(canvas, {
      type: "bar",
      data: { labels, datasets: [{ data: values, backgroundColor: colours, borderRadius: 3 }] },
      options: Object.assign({ plugins: { legend: { display: false } } }, options),
    });
  }

  // Shade each cell of the confusion tables by its share of the table's largest count.
  function heatmaps() {
    document.querySelectorAll("table.heatmap").forEach((table) => {
      const cells = Array.from(table.querySelectorAll("td.heat"));
      const max = Math.max(1, ...cells.map((cell) => Number(cell.dataset.n) || 0));
      cells.forEach((cell) => {
        const share = (Number(cell.dataset.n) || 0) / max;
        cell.style.backgroundColor = `rgba(47, 91, 211, ${(0.08 + 0.72 * share).toFixed(3)})`;
        if (share > 0.55) cell.style.color = "#fff";
      });
    });
  }

  function draw() {
    heatmaps();
    const source = document.getElementById("curation-data");
    if (!source || typeof Chart === "undefined") return;
    const data = JSON.parse(source.textContent) || {};
    Chart.defaults.font.family = getComputedStyle(document.body).fontFamily;
    Chart.defaults.color = "#5b6475";
    Chart.defaults.maintainAspectRatio = false;
    Chart.defaults.animation = false; // a snapshot, not a live feed

    const agreement = document.getElementById("chart-agreement");
    if (agreement && data.annotators) {
      const a = data.annotators;
      agreement.parentElement.style.height = 28 * a.labels.length + 48 + "px";
      bars(agreement, a.labels, a.values, a.judge.map((isJudge) => (isJudge ? JUDGE : PERSON)), {
        indexAxis: "y",
        scales: { x: { min: 0, max: 1, title: { display: true, text: "agreement with the others" } },
                  y: { grid: { display: false } } },
      });
    }

    const gain = document.getElementById("chart-gain");
    if (gain && data.gain && data.gain.edges) {
      const edges = data.gain.edges;
      const labels = edges.slice(0, -1).map((low, i) => `${low.toFixed(2)}–${edges[i + 1].toFixed(2)}`);
      new Chart(gain, {
        type: "bar",
        data: {
          labels,
          datasets: [
            { label: "To people", data: data.gain.human, backgroundColor: PERSON, borderRadius: 3 },
            { label: "AI labels kept", data: data.gain.ai, backgroundColor: JUDGE, borderRadius: 3 },
          ],
        },
        options: {
          plugins: { legend: { position: "bottom", labels: { boxWidth: 12 } } },
          scales: { x: { stacked: true, title: { display: true, text: "predicted gain of a human label" } },
                    y: { stacked: true, beginAtZero: true, ticks: { precision: 0 } } },
        },
      });
    }

    const dropped = document.getElementById("chart-dropped");
    if (dropped && data.dropped) {
      dropped.parentElement.style.height = Math.min(16 * 16, 32 * data.dropped.labels.length + 48) + "px";
      bars(dropped, data.dropped.labels, data.dropped.values, "#a4161a", {
        indexAxis: "y",
        scales: { x: { beginAtZero: true, ticks: { precision: 0 } }, y: { grid: { display: false } } },
      });
    }

    const sources = document.getElementById("chart-sources");
    if (sources && data.sources) {
      new Chart(sources, {
        type: "doughnut",
        data: {
          labels: data.sources.labels,
          datasets: [{ data: data.sources.values, backgroundColor: PALETTE.slice(0, data.sources.values.length) }],
        },
        options: { plugins: { legend: { position: "bottom", labels: { boxWidth: 12 } } } },
      });
    }
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", draw);
  } else {
    draw();
  }
})();
