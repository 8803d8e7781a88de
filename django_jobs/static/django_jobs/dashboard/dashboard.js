/* The dashboard's live parts: a tick every few seconds refreshes the polled
   fragments (htmx, on the "jd-tick" event) and redraws the charts (uPlot). */
(function () {
  "use strict";
  var PERIOD = 5000;
  var charts = {};
  var drawn = {};

  function css(name, fallback) {
    var value = getComputedStyle(document.documentElement).getPropertyValue(name).trim();
    return value || fallback;
  }

  function palette() {
    return {
      fg: css("--body-quiet-color", "#666"),
      grid: css("--hairline-color", "#e8e8e8"),
      ok: css("--jd-ok", "#417690"),
      bad: css("--jd-bad", "#ba2121"),
      queues: ["#417690", "#e08f1a", "#6a9b2f", "#9a4fb5", "#c04d6b", "#3a9aa8", "#8a7a3a"],
    };
  }

  function options(el, series) {
    var colors = palette();
    return {
      width: Math.max(280, el.clientWidth),
      height: el.dataset.height ? Number(el.dataset.height) : 220,
      series: [{}].concat(series),
      legend: { live: true },
      cursor: { drag: { x: false, y: false } },
      scales: { x: { time: true }, y: { range: function (u, min, max) { return [0, Math.max(1, max)]; } } },
      axes: [
        { stroke: colors.fg, grid: { stroke: colors.grid, width: 1 }, ticks: { stroke: colors.grid } },
        { stroke: colors.fg, grid: { stroke: colors.grid, width: 1 }, ticks: { stroke: colors.grid }, size: 50 },
      ],
    };
  }

  function runSeries() {
    var colors = palette();
    return [
      { label: "completed", stroke: colors.ok, fill: colors.ok + "33", width: 2 },
      { label: "failed", stroke: colors.bad, fill: colors.bad + "33", width: 2 },
    ];
  }

  // series: a function returning the uPlot series, so a theme change can rebuild them
  // in the new colours; the last data of each chart is kept for that redraw.
  function draw(id, series, data) {
    var el = document.getElementById(id);
    if (!el || typeof uPlot === "undefined") return;
    var made = series();
    var chart = charts[id];
    if (chart && chart.series.length !== made.length + 1) {
      chart.destroy();
      chart = null;
    }
    if (chart) {
      chart.setData(data);
    } else {
      el.innerHTML = "";
      charts[id] = new uPlot(options(el, made), data, el);
    }
    drawn[id] = { series: series, data: data };
    el.dataset.drawn = "true";
    el.dataset.stroke = made[0].stroke;
    el.dataset.points = String(data[0].length);
    el.dataset.total = String(data.slice(1).reduce(function (sum, values) {
      return sum + values.reduce(function (a, b) { return a + (b || 0); }, 0);
    }, 0));
  }

  // The admin's theme switch sets <html data-theme>; "auto" follows the system.
  // Charts are canvases: they take the new colours only when drawn again.
  function recolour() {
    Object.keys(drawn).forEach(function (id) {
      if (charts[id]) charts[id].destroy();
      delete charts[id];
      draw(id, drawn[id].series, drawn[id].data);
    });
  }

  function followTheme() {
    var last = JSON.stringify(palette());
    function check() {
      var now = JSON.stringify(palette());
      if (now !== last) {
        last = now;
        recolour();
      }
    }
    new MutationObserver(check).observe(document.documentElement,
      { attributes: true, attributeFilter: ["data-theme"] });
    if (window.matchMedia) {
      var query = window.matchMedia("(prefers-color-scheme: dark)");
      if (query.addEventListener) query.addEventListener("change", check);
    }
  }

  function drawOverview(payload) {
    ["minute", "hour"].forEach(function (key) {
      var s = payload[key];
      draw("chart-" + key, runSeries, [s.t, s.completed, s.failed]);
    });
    var depth = payload.depth;
    var names = Object.keys(depth.queues);
    function depthSeries() {
      var colors = palette();
      if (!names.length) return [{ label: "due", stroke: colors.ok, width: 2 }];
      return names.map(function (name, i) {
        return { label: name, stroke: colors.queues[i % colors.queues.length], width: 2 };
      });
    }
    if (!names.length) {
      draw("chart-depth", depthSeries, [depth.t, depth.t.map(function () { return 0; })]);
    } else {
      draw("chart-depth", depthSeries, [depth.t].concat(names.map(function (n) { return depth.queues[n]; })));
    }
  }

  function refreshCharts() {
    var box = document.querySelector(".jd-charts[data-source]");
    if (!box) return Promise.resolve();
    return fetch(box.dataset.source, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) {
        if (!response.ok) throw new Error("HTTP " + response.status);
        return response.json();
      })
      .then(drawOverview)
      .catch(function (error) {
        var note = document.getElementById("jd-updated");
        if (note) note.textContent = "Could not refresh: " + error.message;
      });
  }

  function drawStatic() {
    document.querySelectorAll("[data-chart-points]").forEach(function (el) {
      var source = document.getElementById(el.dataset.chartPoints);
      if (!source) return;
      var points = JSON.parse(source.textContent);
      draw(el.id, function () {
        var colors = palette();
        return [{ label: "duration (ms)", stroke: colors.ok, fill: colors.ok + "33", width: 2,
                  points: { show: true, size: 5 } }];
      }, [points.map(function (p) { return p[0]; }), points.map(function (p) { return p[1]; })]);
    });
  }

  function live() {
    var box = document.getElementById("jd-live");
    return !box || box.checked;
  }

  function tick() {
    if (!live() || document.hidden) return;
    if (document.querySelector("[hx-trigger~='jd-tick']") && window.htmx) {
      document.body.dispatchEvent(new Event("jd-tick"));
    }
    refreshCharts().then(function () {
      var note = document.getElementById("jd-updated");
      if (note && !note.textContent.startsWith("Could not")) {
        note.textContent = "Updated " + new Date().toLocaleTimeString();
      }
    });
  }

  function confirmForms() {
    document.querySelectorAll("form[data-confirm]").forEach(function (form) {
      form.addEventListener("submit", function (event) {
        if (!window.confirm(form.dataset.confirm)) event.preventDefault();
      });
    });
  }

  function selectAll() {
    var all = document.getElementById("jd-select-all");
    if (!all) return;
    all.addEventListener("change", function () {
      document.querySelectorAll("input[name='ids']").forEach(function (box) { box.checked = all.checked; });
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var box = document.getElementById("jd-live");
    if (box) {
      box.checked = localStorage.getItem("jd-live") !== "off";
      box.addEventListener("change", function () {
        localStorage.setItem("jd-live", box.checked ? "on" : "off");
        var note = document.getElementById("jd-updated");
        if (note) note.textContent = box.checked ? "" : "Paused";
      });
    }
    refreshCharts();
    drawStatic();
    followTheme();
    confirmForms();
    selectAll();
    if (document.querySelector(".jd-charts, [hx-trigger~='jd-tick']")) {
      setInterval(tick, PERIOD);
    }
    window.addEventListener("resize", function () {
      Object.keys(charts).forEach(function (id) {
        var el = document.getElementById(id);
        if (el) charts[id].setSize({ width: Math.max(280, el.clientWidth), height: charts[id].height });
      });
    });
  });
})();
