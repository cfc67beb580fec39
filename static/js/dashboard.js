// The project dashboard's charts (vendored Chart.js 4). The numbers come from the page itself:
// `{{ chart_data|json_script:"dashboard-data" }}`; a canvas the page left out (an empty state) is skipped.
(function () {
  "use strict";

  const PERSON = "#2f5bd3";
  const JUDGE = "#d9822b";
  // One colour per workflow state, in the order of ItemState (new → … → final, excluded).
  const STATE_COLOURS = ["#b8c2d6", "#8fa3c9", "#6d8cd0", "#4c73d6", "#2f5bd3", "#d9822b", "#2e9e5b", "#a4161a"];

  function draw() {
    const source = document.getElementById("dashboard-data");
    if (!source || typeof Chart === "undefined") return;
    const data = JSON.parse(source.textContent);
    Chart.defaults.font.family = getComputedStyle(document.body).fontFamily;
    Chart.defaults.color = "#5b6475";
    Chart.defaults.maintainAspectRatio = false;
    // The numbers are a snapshot, not a live feed: animating them in only delays reading them.
    Chart.defaults.animation = false;

    const states = document.getElementById("chart-states");
    if (states) {
      new Chart(states, {
        type: "bar",
        data: {
          labels: data.states.labels,
          datasets: [{ label: "Items", data: data.states.values, backgroundColor: STATE_COLOURS, borderRadius: 3 }],
        },
        options: {
          plugins: { legend: { display: false } },
          scales: { y: { beginAtZero: true, ticks: { precision: 0 } }, x: { grid: { display: false } } },
        },
      });
    }

    const hours = document.getElementById("chart-hours");
    if (hours) {
      const line = (label, values, colour) => ({
        label, data: values, borderColor: colour, backgroundColor: colour + "22", fill: true,
        tension: 0.25, pointHitRadius: 6, borderWidth: 2,
        // A dot on every hour that has labels, so a burst (an import) stands out on a flat week.
        pointRadius: values.map((n) => (n ? 3 : 0)), pointBackgroundColor: colour,
      });
      new Chart(hours, {
        type: "line",
        data: {
          labels: data.hours.labels,
          datasets: [line("People", data.hours.human, PERSON), line("Judges", data.hours.judge, JUDGE)],
        },
        options: {
          interaction: { mode: "index", intersect: false },
          plugins: { legend: { position: "bottom", labels: { boxWidth: 12 } } },
          scales: {
            y: { beginAtZero: true, ticks: { precision: 0 } },
            x: { grid: { display: false }, ticks: { maxTicksLimit: 8, maxRotation: 0 } },
          },
        },
      });
    }

    const annotators = document.getElementById("chart-annotators");
    if (annotators) {
      // One bar of ~28px per annotator, plus room for the axis.
      annotators.parentElement.style.height = 28 * data.annotators.labels.length + 48 + "px";
      new Chart(annotators, {
        type: "bar",
        data: {
          labels: data.annotators.labels,
          datasets: [{
            label: "Labels",
            data: data.annotators.values,
            backgroundColor: data.annotators.judge.map((isJudge) => (isJudge ? JUDGE : PERSON)),
            borderRadius: 3,
          }],
        },
        options: {
          indexAxis: "y",
          plugins: { legend: { display: false } },
          scales: { x: { beginAtZero: true, ticks: { precision: 0 } }, y: { grid: { display: false } } },
        },
      });
    }
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", draw);
  } else {
    draw();
  }
})();
