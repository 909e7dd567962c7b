// Urbis charts page: draws each chart from its JSON twin and writes its summary in words.
//
// Every `canvas[data-src]` names the JSON of its chart (`data-chart`); `data-labels` holds the
// translated names of its series and axes, `data-texts` its translated summary sentences, in which
// `{name}` marks where a figure goes.  Figures are written in the page's language (<html lang>).
// The summary paragraph under a canvas (`[data-summary]`) is what screen readers read: a canvas
// says nothing to them.  Colours come from charts.css (custom properties), never from here.
(function () {
  "use strict";

  var lang = document.documentElement.getAttribute("lang") || "en";
  var reducedMotion = window.matchMedia && window.matchMedia("(prefers-reduced-motion: reduce)").matches;

  function cssValue(name) {
    return window.getComputedStyle(document.documentElement).getPropertyValue(name).trim();
  }

  function palette() {
    var colours = [];
    for (var n = 1; n <= 8; n++) { colours.push(cssValue("--chart-" + n) || "#0b5cad"); }
    return colours;
  }

  function json(element, name) {
    try { return JSON.parse(element.getAttribute(name) || "{}"); } catch (e) { return {}; }
  }

  function number(value, digits) {
    if (value === null || value === undefined) { return "–"; }
    var d = digits || 0;
    return new Intl.NumberFormat(lang, { minimumFractionDigits: d, maximumFractionDigits: d }).format(value);
  }

  function percent(share) {
    if (share === null || share === undefined) { return "–"; }
    return new Intl.NumberFormat(lang, { style: "percent", maximumFractionDigits: 0 }).format(share);
  }

  // An ISO date ("2026-11-17") as the reader writes a day; read and written in UTC so it never shifts.
  function day(iso, long) {
    var parts = iso.split("-");
    var moment = new Date(Date.UTC(+parts[0], +parts[1] - 1, +parts[2], 12));
    var style = long ? { weekday: "short", day: "numeric", month: "long" } : { day: "numeric", month: "short" };
    style.timeZone = "UTC";
    return new Intl.DateTimeFormat(lang, style).format(moment);
  }

  function hour(h) {
    return (h < 10 ? "0" : "") + h + ":00";
  }

  function fill(pattern, values) {
    return String(pattern || "").replace(/\{(\w+)\}/g, function (whole, key) {
      return Object.prototype.hasOwnProperty.call(values, key) ? values[key] : whole;
    });
  }

  function baseOptions(yTitle, xTitle) {
    return {
      responsive: true,
      maintainAspectRatio: false,
      animation: reducedMotion ? false : {},
      locale: lang,
      interaction: { mode: "index", intersect: false },
      plugins: { legend: { position: "bottom" } },
      scales: {
        x: { title: { display: !!xTitle, text: xTitle || "" } },
        y: { beginAtZero: true, title: { display: !!yTitle, text: yTitle || "" } }
      }
    };
  }

  function dayLabels(data) {
    return data.window.labels.map(function (iso) { return day(iso, false); });
  }

  // -- one builder per chart: (data, labels, texts, card) -> {config, summary} --------------------

  var builders = {
    aqi_daily: function (data, labels, texts) {
      var colours = palette();
      var datasets = data.districts.map(function (district, n) {
        var colour = colours[n % colours.length];
        return { label: district.name, data: district.usAqi, borderColor: colour, backgroundColor: colour,
                 spanGaps: false, tension: 0.2, pointRadius: 3 };
      });
      var options = baseOptions(labels.axis, labels.day);
      var high = data.summary.highest;
      var summary = high
        ? fill(texts.highest, { value: number(high.value), district: high.district, day: day(high.day, true) })
        : texts.none;
      return { config: { type: "line", data: { labels: dayLabels(data), datasets: datasets }, options: options },
               summary: summary };
    },

    energy_daily: function (data, labels, texts) {
      var colours = palette();
      var options = baseOptions(labels.axis);
      var s = data.summary;
      var parts = [];
      if (s.kwh > 0 || s.baselineKwh > 0) {
        // Lamps burning by day can use more than the baseline: that is said as such, not as a negative saving.
        parts.push(s.savedKwh >= 0
          ? fill(texts.total, { kwh: number(s.kwh, 1), baseline: number(s.baselineKwh, 1),
                                saved: number(s.savedKwh, 1), share: percent(s.savedShare) })
          : fill(texts.over, { kwh: number(s.kwh, 1), baseline: number(s.baselineKwh, 1),
                               over: number(-s.savedKwh, 1) }));
      }
      if (s.highest) { parts.push(fill(texts.highest, { day: day(s.highest.day, true), value: number(s.highest.value, 1) })); }
      return {
        config: {
          type: "bar",
          data: {
            labels: dayLabels(data),
            datasets: [
              { type: "bar", label: labels.kwh, data: data.kwh, backgroundColor: colours[0], order: 2 },
              { type: "line", label: labels.baseline, data: data.baselineKwh, borderColor: colours[1],
                backgroundColor: colours[1], borderDash: [6, 4], pointRadius: 2, order: 1 }
            ]
          },
          options: options
        },
        summary: parts.length ? parts.join(" ") : texts.none
      };
    },

    occupancy_profile: function (data, labels, texts, card) {
      var colours = palette();
      var weekdays = labels.weekdays || [];
      var datasets = [{ type: "bar", label: labels.all, data: data.byHour, backgroundColor: colours[0], order: 2 }];
      data.byWeekdayHour.forEach(function (row, n) {
        var colour = colours[(n + 1) % colours.length];
        // Each weekday as a line, hidden until chosen in the legend: the heat table shows them all.
        datasets.push({ type: "line", label: weekdays[n] || String(n + 1), data: row, hidden: true,
                        borderColor: colour, backgroundColor: colour, pointRadius: 2, order: 1 });
      });
      var options = baseOptions(labels.axis, labels.hour);
      options.scales.y.max = 1;
      options.scales.y.ticks = { callback: function (value) { return percent(value); } };
      options.plugins.tooltip = { callbacks: { label: function (item) {
        return item.dataset.label + ": " + percent(item.raw);
      } } };
      fillHeatTable(card, data.byWeekdayHour);
      var s = data.summary;
      var parts = [];
      if (s.busiestHour) {
        parts.push(fill(texts.busiest, { hour: hour(s.busiestHour.hour), value: percent(s.busiestHour.value),
                                         quietHour: hour(s.quietestHour.hour), quietValue: percent(s.quietestHour.value) }));
      }
      if (s.busiestWeekday) {
        parts.push(fill(texts.weekday, { weekday: weekdays[s.busiestWeekday.weekday] || "",
                                         value: percent(s.busiestWeekday.value) }));
      }
      return {
        config: { type: "bar", data: { labels: data.hours.map(hour), datasets: datasets }, options: options },
        summary: parts.length ? parts.join(" ") : texts.none
      };
    },

    alarms_daily: function (data, labels, texts) {
      var severityNames = labels.severities || {};
      var datasets = data.severities.map(function (severity) {
        var colour = cssValue("--severity-" + severity) || "#4a5560";
        return { label: severityNames[severity] || severity, data: data.bySeverity[severity], backgroundColor: colour };
      });
      var options = baseOptions(labels.axis);
      options.scales.x.stacked = true;
      options.scales.y.stacked = true;
      options.scales.y.ticks = { precision: 0 };
      var s = data.summary;
      var summary = s.highest
        ? fill(texts.total, { total: number(s.total), day: day(s.highest.day, true), value: number(s.highest.value) })
        : texts.none;
      return { config: { type: "bar", data: { labels: dayLabels(data), datasets: datasets }, options: options },
               summary: summary };
    },

    pm25_vs_parking: function (data, labels, texts) {
      var colours = palette();
      var names = data.window.labels;
      var datasets = data.districts.map(function (district, n) {
        var points = [];
        district.pm25.forEach(function (pm25, k) {
          var occupancy = district.occupancy[k];
          if (pm25 !== null && occupancy !== null) { points.push({ x: pm25, y: occupancy, day: names[k] }); }
        });
        var colour = colours[n % colours.length];
        return { label: district.name, data: points, borderColor: colour, backgroundColor: colour, pointRadius: 4 };
      });
      var options = baseOptions(labels.y, labels.x);
      options.interaction = { mode: "nearest", intersect: true };
      options.scales.x.type = "linear";
      options.scales.x.beginAtZero = true;
      options.scales.y.max = 1;
      options.scales.y.ticks = { callback: function (value) { return percent(value); } };
      options.plugins.tooltip = { callbacks: { label: function (item) {
        return item.dataset.label + ", " + day(item.raw.day, false) + ": " + number(item.raw.x, 1) + " µg/m³, " + percent(item.raw.y);
      } } };
      var parts = data.districts.map(function (district) {
        return district.correlation === null
          ? fill(texts.few, { district: district.name, pairs: number(district.pairs) })
          : fill(texts.district, { district: district.name, r: number(district.correlation, 3), pairs: number(district.pairs) });
      });
      return { config: { type: "scatter", data: { datasets: datasets }, options: options },
               summary: parts.length ? parts.join(" ") : texts.none };
    },

    energy_vs_programs: function (data, labels, texts) {
      var colours = palette();
      // A marker above each day's bar where the control changed; none elsewhere.
      var markers = data.kwh.map(function (kwh, n) { return data.changes[n] ? kwh : null; });
      var options = baseOptions(labels.axis);
      options.plugins.tooltip = { callbacks: { label: function (item) {
        if (item.datasetIndex === 1) { return labels.count + ": " + number(data.changes[item.dataIndex]); }
        return item.dataset.label + ": " + number(item.raw, 1);
      } } };
      var s = data.summary;
      var list = s.changeDays.map(function (d) { return day(d.day, false) + " (" + number(d.changes) + ")"; }).join(", ");
      return {
        config: {
          type: "bar",
          data: {
            labels: dayLabels(data),
            datasets: [
              { type: "bar", label: labels.kwh, data: data.kwh, backgroundColor: colours[0], order: 2 },
              { type: "line", label: labels.changes, data: markers, showLine: false, pointStyle: "triangle",
                pointRadius: 9, pointHoverRadius: 11, borderColor: colours[1], backgroundColor: colours[1], order: 1 }
            ]
          },
          options: options
        },
        summary: s.changes ? fill(texts.changes, { changes: number(s.changes), days: number(s.daysWithChanges), list: list })
                           : texts.none
      };
    }
  };

  // The weekday × hour table: each cell's share written out, its shade a class (no inline styles).
  function fillHeatTable(card, matrix) {
    var table = card && card.querySelector("[data-heat-table] tbody");
    if (!table) { return; }
    Array.prototype.forEach.call(table.rows, function (row, weekday) {
      Array.prototype.forEach.call(row.querySelectorAll("td[data-cell]"), function (cell) {
        var share = (matrix[weekday] || [])[+cell.getAttribute("data-cell")];
        var known = share !== null && share !== undefined;
        cell.textContent = known ? percent(share) : "–";
        cell.className = known ? "heat-" + Math.min(4, Math.floor(share * 5)) : "heat-none";
      });
    });
  }

  function load(canvas, pageTexts) {
    var card = canvas.closest("[data-chart-card]");
    var summary = card ? card.querySelector("[data-summary]") : null;
    var build = builders[canvas.getAttribute("data-chart")];
    var labels = json(canvas, "data-labels");
    var texts = json(canvas, "data-texts");
    function say(text) { if (summary) { summary.textContent = text; } }
    if (!build || !window.Chart) { say(pageTexts.failed); return; }
    window.fetch(canvas.getAttribute("data-src"), { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) {
        if (!response.ok) { throw new Error("HTTP " + response.status); }
        return response.json();
      })
      .then(function (data) {
        var built = build(data, labels, texts, card);
        new window.Chart(canvas, built.config);
        say(built.summary || pageTexts.empty);
      })
      .catch(function () { say(pageTexts.failed); });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var page = document.querySelector("[data-charts]");
    var pageTexts = page ? json(page, "data-texts") : {};
    if (window.Chart) {
      window.Chart.defaults.color = cssValue("--chart-ink") || "#1b1f24";
      window.Chart.defaults.font.family = window.getComputedStyle(document.body).fontFamily;
    }
    Array.prototype.forEach.call(document.querySelectorAll("canvas[data-src]"), function (canvas) {
      load(canvas, pageTexts);
    });
  });
})();
