/* The dashboard's charts (Chart.js from static/vendor), drawn from the page's JSON block; no inline script. */
(function () {
  'use strict';
  var el = document.getElementById('dashboard-data');
  if (!el || typeof window.Chart === 'undefined') { return; }
  var data;
  try { data = JSON.parse(el.textContent); } catch (e) { return; }
  var font = {family: '"Noto Sans CJK SC", "Microsoft YaHei", "PingFang SC", sans-serif'};
  window.Chart.defaults.font.family = font.family;
  window.Chart.defaults.animation = false;

  var bars = document.getElementById('chart-children');
  if (bars && data.labels && data.labels.length) {
    // Past a dozen institutions their long names overlap under vertical bars: lay the bars on their side and
    // give each institution a line of its own.
    var many = data.labels.length > 12;
    var names = {ticks: {autoSkip: false, maxRotation: 30}};
    var counts = {beginAtZero: true, ticks: {precision: 0}};
    if (many) { bars.parentNode.style.height = (data.labels.length * 26 + 70) + 'px'; }
    new window.Chart(bars, {
      type: 'bar',
      data: {
        labels: data.labels,
        datasets: [
          {label: data.text.sampling, data: data.sampling, backgroundColor: '#2f80c9'},
          {label: data.text.testing, data: data.testing, backgroundColor: '#f0a030'}
        ]
      },
      options: {
        maintainAspectRatio: false,
        indexAxis: many ? 'y' : 'x',
        scales: many ? {x: counts, y: names} : {y: counts, x: names},
        plugins: {legend: {position: many ? 'top' : 'bottom'}}
      }
    });
  }

  var line = document.getElementById('chart-daily');
  if (line && data.days) {
    new window.Chart(line, {
      type: 'line',
      data: {
        labels: data.days,
        datasets: [{label: data.text.submissions, data: data.submissions, borderColor: '#28a745',
                    backgroundColor: 'rgba(40,167,69,0.15)', fill: true, tension: 0.25, pointRadius: 2}]
      },
      options: {
        maintainAspectRatio: false,
        scales: {y: {beginAtZero: true, ticks: {precision: 0}}, x: {ticks: {maxTicksLimit: 10}}},
        plugins: {legend: {position: 'bottom'}}
      }
    });
  }
}());
