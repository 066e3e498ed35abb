// Support console: draws the dashboard charts (vendored Chart.js) from the JSON in #dashboard-data.
// No inline script anywhere (the CSP is script-src 'self'); every page works without this file.
(function () {
  "use strict";
  var holder = document.getElementById("dashboard-data");
  if (!holder || typeof window.Chart === "undefined") { return; }
  var data;
  var words = {};
  try { data = JSON.parse(holder.getAttribute("data-dashboard")); } catch (e) { return; }
  // Labels in the console's language, rendered by the server (data-labels).
  try { words = JSON.parse(holder.getAttribute("data-labels") || "{}"); } catch (e) { words = {}; }
  function word(key, fallback) { return words[key] || fallback; }
  var Chart = window.Chart;
  Chart.defaults.animation = false; // charts appear at once (and screenshots are stable)
  Chart.defaults.maintainAspectRatio = false;
  if (words.lang) { Chart.defaults.locale = words.lang; }
  var colours = ["#0b57d0", "#5a8ee6", "#1e8e3e", "#f4b400", "#b3261e"];

  function chart(id, config) {
    var canvas = document.getElementById(id);
    if (!canvas) { return; }
    canvas.parentNode.setAttribute("data-chart-drawn", "true");
    return new Chart(canvas, config);
  }

  var f = data.funnel;
  chart("funnel-chart", {
    type: "bar",
    data: {
      labels: [word("searches", "Searches"), word("answered", "Answered"), word("opened", "Article opened"),
        word("solved", "Solved"), word("no_ticket_7d", "No ticket in 7 days")],
      datasets: [{
        label: word("searches", "Searches"),
        data: [f.stages.searches, f.stages.answered, f.stages.opened, f.stages.solved, f.stages.no_ticket_7d],
        backgroundColor: colours
      }]
    },
    options: { indexAxis: "y", plugins: { legend: { display: false } }, scales: { x: { beginAtZero: true, ticks: { precision: 0 } } } }
  });

  var d = data.daily;
  chart("daily-chart", {
    type: "line",
    data: {
      labels: d.days,
      datasets: [
        { label: word("searches", "Searches"), data: d.searches, borderColor: colours[0], backgroundColor: colours[0] },
        { label: word("answered", "Answered"), data: d.answered, borderColor: colours[1], backgroundColor: colours[1] },
        { label: word("solved", "Solved"), data: d.solved, borderColor: colours[2], backgroundColor: colours[2] },
        { label: word("tickets", "Tickets"), data: d.tickets, borderColor: colours[4], backgroundColor: colours[4] }
      ]
    },
    options: { scales: { y: { beginAtZero: true, ticks: { precision: 0 } } } }
  });

  var tiers = Object.keys(data.tickets.by_tier_priority);
  chart("tier-chart", {
    type: "bar",
    data: {
      labels: tiers.map(function (t) { return (words.tiers && words.tiers[t]) || t; }),
      datasets: ["1", "2", "3", "4"].map(function (p, i) {
        return {
          label: "P" + p,
          data: tiers.map(function (t) { return data.tickets.by_tier_priority[t][p]; }),
          backgroundColor: [colours[4], colours[3], colours[1], "#9aa4b2"][i]
        };
      })
    },
    options: { scales: { x: { stacked: true }, y: { stacked: true, beginAtZero: true, ticks: { precision: 0 } } } }
  });
})();
