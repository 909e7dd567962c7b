// The city map: Leaflet layers from /dashboard/map.json, the detail of a clicked object in the side
// panel (an htmx fragment, its history drawn with Chart.js), and live restyling from the event stream.
//
// Configured through data-* attributes of #city-map (the Content-Security-Policy forbids inline
// script).  Colours come from the legend's swatches (map.css), so legend and map always agree.
// For keyboard users and browser tests every object is also a button in #map-objects (data-id),
// and window.urbisMap offers open(id) and marker(id).
(function () {
  "use strict";

  // Read by urbis.js on DOMContentLoaded: the entity types whose changes refresh the map.
  window.urbisLiveTypes = ["Streetlight", "AirQualityObserved", "ParkingSpot", "OnStreetParking",
    "OffStreetParking", "Alert"];

  var REFRESH_MS = 1000;
  var POINT_LAYERS = ["lights", "air", "parking", "alarms", "reports"];
  var LAYERS = ["districts", "streets", "lights", "parking", "air", "reports", "alarms"];

  var root, map, labels, selectKpi, search, list, count, status, panel;
  var groups = {};        // layer name -> L.LayerGroup
  var objects = {};       // entity id -> {layer, feature, shape}
  var canvas = null;
  var swatches = {};
  var openId = null;
  var chart = null;
  var fitted = false;
  var listKey = "";
  var listItems = [];      // {id, text, item, button} of the keyboard list, in its order
  var currentButton = null;
  var refreshTimer = null, refreshPending = false, detailTimer = null, detailPending = false;

  // -- colours -----------------------------------------------------------------------------------

  function swatch(name, property) {
    var key = name + "|" + (property || "background-color");
    if (swatches[key] === undefined) {
      var element = document.querySelector('.map-legends [data-swatch="' + name + '"]');
      var value = element ? window.getComputedStyle(element).getPropertyValue(property || "background-color") : "";
      swatches[key] = value || "#888888";
    }
    return swatches[key];
  }

  function occupancyClass(rate) {
    if (rate === null || rate === undefined) { return "none"; }
    if (rate < 0.6) { return "occ-low"; }
    return rate < 0.8 ? "occ-target" : "occ-high";
  }

  function choroplethClass(kpi, value) {
    if (value === null || value === undefined) { return "none"; }
    var items = root.ownerDocument.querySelectorAll('[data-kpi-legend="' + kpi + '"] li[data-min]');
    for (var i = 0; i < items.length; i += 1) {
      var low = parseFloat(items[i].getAttribute("data-min"));
      var highText = items[i].getAttribute("data-max");
      var high = highText === "" ? Infinity : parseFloat(highText);
      if (value >= low && value < high) {
        return items[i].querySelector("[data-swatch]").getAttribute("data-swatch");
      }
    }
    return "none";
  }

  function styleOf(layer, properties) {
    var selected = properties.id === openId;
    if (layer === "districts") {
      var kpi = selectKpi.value;
      var fill = kpi ? swatch(choroplethClass(kpi, properties[kpi])) : "#ffffff";
      return { color: selected ? "#c24e00" : "#102a43", weight: selected ? 4 : 1.5, fillColor: fill,
        fillOpacity: kpi ? 0.45 : 0.05 };
    }
    if (layer === "streets") {
      var main = ["primary", "secondary", "motorway", "trunk"].indexOf(properties.roadClass) >= 0;
      return { color: "#9aa5b1", weight: main ? 3 : 1.5, opacity: 0.9, interactive: false };
    }
    if (layer === "lights") {
      return { radius: selected ? 7 : 4, color: selected ? "#c24e00" : "#1b1f24", weight: selected ? 3 : 1,
        fillColor: swatch("lamp-" + (properties.state || "unknown")), fillOpacity: 1 };
    }
    if (layer === "air") {
      return { radius: selected ? 12 : 9, color: selected ? "#c24e00" : "#1b1f24", weight: selected ? 3 : 1.5,
        fillColor: swatch(properties.band ? "aqi-" + properties.band : "none"), fillOpacity: 1 };
    }
    if (layer === "parking") {
      return { radius: selected ? 11 : 8, color: selected ? "#c24e00" : "#1b1f24", weight: selected ? 3 : 1.5,
        fillColor: swatch(occupancyClass(properties.occupancy)), fillOpacity: 1 };
    }
    // alarms (and, later, reports): a ring in the severity's colour
    return { radius: selected ? 13 : 10, color: swatch("sev-" + (properties.severity || "informational"), "color"),
      weight: 4, fillColor: "#ffffff", fillOpacity: 0.2 };
  }

  // -- building and updating the layers ----------------------------------------------------------------

  function latLngOf(feature) {
    var c = feature.geometry && feature.geometry.coordinates;
    return c ? [c[1], c[0]] : null;
  }

  function bindOpen(shape, id) {
    shape.on("click", function () { open(id, false); });
  }

  function order() {
    // One canvas draws every layer (a canvas over an SVG layer would swallow the SVG's clicks), so
    // the stacking is the drawing order: districts at the back, streets over them, alarms on top.
    groups.streets.bringToBack();
    groups.districts.bringToBack();
    ["parking", "air", "reports", "alarms"].forEach(function (layer) { groups[layer].bringToFront(); });
  }

  function placePoint(layer, feature, seen) {
    var id = feature.id;
    var where = latLngOf(feature);
    if (!where) { return; }
    seen[id] = true;
    var known = objects[id];
    if (known && known.layer === layer) {
      known.feature = feature;
      known.shape.setLatLng(where);
      known.shape.setStyle(styleOf(layer, feature.properties));
      return;
    }
    if (known) { groups[known.layer].removeLayer(known.shape); }
    var shape = window.L.circleMarker(where, Object.assign({ renderer: canvas }, styleOf(layer, feature.properties)));
    if (layer !== "lights") { shape.bindTooltip(feature.properties.name || id); }
    bindOpen(shape, id);
    groups[layer].addLayer(shape);
    objects[id] = { layer: layer, feature: feature, shape: shape };
  }

  function placeDistricts(collection, seen) {
    collection.features.forEach(function (feature) {
      var id = feature.id;
      seen[id] = true;
      var known = objects[id];
      if (known) {
        known.feature = feature;
        known.shape.setStyle(styleOf("districts", feature.properties));
        return;
      }
      var shape = window.L.geoJSON(feature, { renderer: canvas, style: function () { return styleOf("districts", feature.properties); } });
      shape.bindTooltip(feature.properties.name || id, { sticky: true });
      bindOpen(shape, id);
      groups.districts.addLayer(shape);
      objects[id] = { layer: "districts", feature: feature, shape: shape };
    });
  }

  function placeStreets(collection) {
    // The background does not change while the page is open: drawn once.
    if (groups.streets.getLayers().length > 0) { return; }
    collection.features.forEach(function (feature) {
      groups.streets.addLayer(window.L.geoJSON(feature, { renderer: canvas, interactive: false,
        style: function () { return styleOf("streets", feature.properties); } }));
    });
  }

  function apply(data) {
    var seen = {};
    placeDistricts(data.layers.districts, seen);
    if (data.layers.streets) { placeStreets(data.layers.streets); }
    POINT_LAYERS.forEach(function (layer) {
      (data.layers[layer] || { features: [] }).features.forEach(function (feature) { placePoint(layer, feature, seen); });
    });
    Object.keys(objects).forEach(function (id) {
      if (!seen[id]) { groups[objects[id].layer].removeLayer(objects[id].shape); delete objects[id]; }
    });
    order();
    if (!fitted) { fit(); }
    renderList();
  }

  function fit() {
    var bounds = groups.districts.getLayers().length ? groups.districts.getBounds() : null;
    if (!bounds || !bounds.isValid()) {
      var all = window.L.featureGroup(POINT_LAYERS.map(function (layer) { return groups[layer]; }));
      bounds = all.getBounds();
    }
    if (bounds && bounds.isValid()) {
      map.fitBounds(bounds, { padding: [10, 10] });
      fitted = true;
    }
  }

  function restyleAll() {
    Object.keys(objects).forEach(function (id) {
      var known = objects[id];
      known.shape.setStyle(styleOf(known.layer, known.feature.properties));
    });
  }

  // -- the keyboard list of objects ----------------------------------------------------------------------

  function visibleLayers() {
    var out = {};
    document.querySelectorAll("#map-layers input[data-layer]").forEach(function (box) {
      out[box.getAttribute("data-layer")] = box.checked;
    });
    return out;
  }

  function renderList() {
    var shown = visibleLayers();
    var ids = Object.keys(objects).filter(function (id) { return shown[objects[id].layer]; });
    ids.sort(function (a, b) {
      var x = objects[a], y = objects[b];
      return (x.layer + (x.feature.properties.name || a)).localeCompare(y.layer + (y.feature.properties.name || b));
    });
    var key = ids.join("|");
    if (key !== listKey) {
      listKey = key;
      listItems = [];
      var fragment = document.createDocumentFragment();
      ids.forEach(function (id) {
        var properties = objects[id].feature.properties;
        var item = document.createElement("li");
        var button = document.createElement("button");
        button.type = "button";
        button.setAttribute("data-id", id);
        button.setAttribute("data-layer", objects[id].layer);
        button.textContent = (properties.name || id) + " ";
        var kind = document.createElement("span");
        kind.className = "kind";
        kind.textContent = "· " + ((labels.kinds || {})[properties.kind] || properties.kind || "");
        button.appendChild(kind);
        item.appendChild(button);
        fragment.appendChild(item);
        // Searched as typed: the text is lower-cased once, not on every key press.
        listItems.push({ id: id, text: (button.textContent + " " + id).toLowerCase(), item: item, button: button });
      });
      list.replaceChildren(fragment);
      currentButton = null;
    }
    filterList();
  }

  function filterList() {
    var needle = (search.value || "").trim().toLowerCase();
    var visible = 0;
    listItems.forEach(function (entry) {
      var hide = needle !== "" && entry.text.indexOf(needle) < 0;
      if (entry.item.hidden !== hide) { entry.item.hidden = hide; }
      if (!hide) { visible += 1; }
    });
    markCurrent();
    count.textContent = (labels.shown || "{shown} / {total}").replace("{shown}", visible).replace("{total}", listItems.length);
  }

  function markCurrent() {
    if (currentButton) { currentButton.removeAttribute("aria-current"); currentButton = null; }
    for (var i = 0; i < listItems.length; i += 1) {
      if (listItems[i].id === openId) {
        currentButton = listItems[i].button;
        currentButton.setAttribute("aria-current", "true");
        return;
      }
    }
  }

  // -- the detail panel ------------------------------------------------------------------------------------

  function open(id, fromKeyboard) {
    var previous = openId;
    openId = id;
    [previous, id].forEach(function (which) {
      var known = which && objects[which];
      if (known) { known.shape.setStyle(styleOf(known.layer, known.feature.properties)); }
    });
    markCurrent();
    loadDetail(fromKeyboard);
  }

  function loadDetail(moveFocus) {
    if (!openId || !window.htmx) { return; }
    panel.setAttribute("aria-busy", "true");
    panel.setAttribute("data-move-focus", moveFocus ? "true" : "false");
    window.htmx.ajax("GET", root.getAttribute("data-detail") + "?id=" + encodeURIComponent(openId),
      { target: "#map-detail", swap: "innerHTML" });
  }

  function syncOpen() {
    // An alarm's id opens its source: the panel says which object it shows.
    var article = panel.querySelector("[data-entity-id]");
    var shown = article ? article.getAttribute("data-entity-id") : openId;
    if (shown && shown !== openId) {
      var previous = objects[openId];
      openId = shown;
      [previous, objects[shown]].forEach(function (known) {
        if (known) { known.shape.setStyle(styleOf(known.layer, known.feature.properties)); }
      });
      markCurrent();
    }
  }

  function afterDetail() {
    panel.removeAttribute("aria-busy");
    syncOpen();
    drawChart();
    if (panel.getAttribute("data-move-focus") === "true") {
      var heading = panel.querySelector("#detail-heading");
      if (heading) { heading.focus(); }
    }
    panel.setAttribute("data-move-focus", "false");
  }

  function drawChart() {
    if (chart) { chart.destroy(); chart = null; }
    var canvas = panel.querySelector("canvas[data-chart]");
    if (!canvas || !window.Chart) { return; }
    var data;
    try { data = JSON.parse(canvas.getAttribute("data-chart")); } catch (e) { return; }
    var colours = ["#0b5cad", "#c24e00"];
    var scales = { x: { ticks: { maxTicksLimit: 8 } } };
    data.series.forEach(function (series, index) {
      scales[series.axis] = { position: index === 0 ? "left" : "right", beginAtZero: true,
        title: { display: true, text: series.label }, grid: { drawOnChartArea: index === 0 } };
    });
    chart = new window.Chart(canvas, {
      type: "line",
      data: {
        labels: data.labels,
        datasets: data.series.map(function (series, index) {
          return { label: series.label, data: series.values, yAxisID: series.axis, borderColor: colours[index % 2],
            backgroundColor: colours[index % 2], pointRadius: 2, spanGaps: false, tension: 0.2 };
        })
      },
      options: { responsive: true, maintainAspectRatio: false, animation: false, interaction: { mode: "index", intersect: false },
        scales: scales }
    });
  }

  // -- loading and live refresh ----------------------------------------------------------------------------

  function load() {
    // After the first load the streets (the unchanging background) are not fetched again.
    var url = root.getAttribute("data-src") + (fitted ? "?layers=" + LAYERS.filter(function (l) { return l !== "streets"; }).join(",") : "");
    return window.fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) {
        if (response.status === 401) { window.location.assign("/login?next=" + encodeURIComponent(window.location.pathname + window.location.search)); }
        if (!response.ok) { throw new Error("HTTP " + response.status); }
        return response.json();
      })
      .then(function (data) {
        apply(data);
        status.textContent = labels.loaded || "";
        root.setAttribute("data-loaded", data.at || "yes");
      })
      .catch(function () { status.textContent = labels.failed || ""; });
  }

  function refresh() {
    if (refreshTimer) { refreshPending = true; return; }
    refreshPending = false;
    load();
    refreshTimer = window.setTimeout(function () {
      refreshTimer = null;
      if (refreshPending) { refresh(); }
    }, REFRESH_MS);
  }

  function refreshDetail() {
    if (detailTimer) { detailPending = true; return; }
    detailPending = false;
    // Keep the reader where they are: a live update never moves the focus.
    if (!panel.contains(document.activeElement) || document.activeElement === panel) { loadDetail(false); }
    detailTimer = window.setTimeout(function () {
      detailTimer = null;
      if (detailPending) { refreshDetail(); }
    }, REFRESH_MS);
  }

  function onEntity(event) {
    var change = event.detail || {};
    refresh();
    var entity = change.entity || {};
    if (openId && (change.id === openId || entity.alertSource === openId || entity.id === openId)) { refreshDetail(); }
  }

  // -- wiring ---------------------------------------------------------------------------------------------------

  function start() {
    root = document.getElementById("city-map");
    if (!root || !window.L) { return; }
    try { labels = JSON.parse(root.getAttribute("data-labels") || "{}"); } catch (e) { labels = {}; }
    selectKpi = document.getElementById("map-kpi");
    search = document.getElementById("map-search");
    list = document.getElementById("map-objects");
    count = document.getElementById("map-objects-count");
    status = document.getElementById("map-status");
    panel = document.getElementById("map-detail");

    // Canvas: thousands of lamps draw as one bitmap instead of thousands of SVG elements.
    canvas = window.L.canvas({ padding: 0.2 });
    map = window.L.map(root, { renderer: canvas, preferCanvas: true, zoomSnap: 0.25, keyboard: true });
    map.setView([0, 0], 2);
    var tiles = root.getAttribute("data-tile-url");
    if (tiles) {
      window.L.tileLayer(tiles, { attribution: root.getAttribute("data-tile-attribution") || "", maxZoom: 19 }).addTo(map);
    }
    LAYERS.forEach(function (name) { groups[name] = window.L.featureGroup(); });
    document.querySelectorAll("#map-layers input[data-layer]").forEach(function (box) {
      var layer = box.getAttribute("data-layer");
      if (box.checked && groups[layer]) { groups[layer].addTo(map); }
      box.addEventListener("change", function () {
        if (!groups[layer]) { return; }
        if (box.checked) { groups[layer].addTo(map); order(); } else { map.removeLayer(groups[layer]); }
        renderList();
      });
    });
    selectKpi.addEventListener("change", function () {
      document.querySelectorAll("[data-kpi-legend]").forEach(function (legend) {
        legend.hidden = legend.getAttribute("data-kpi-legend") !== selectKpi.value;
      });
      Object.keys(objects).forEach(function (id) {
        if (objects[id].layer === "districts") { objects[id].shape.setStyle(styleOf("districts", objects[id].feature.properties)); }
      });
    });
    document.getElementById("map-layers").addEventListener("submit", function (event) { event.preventDefault(); });
    search.addEventListener("input", filterList);
    list.addEventListener("click", function (event) {
      var button = event.target.closest("button[data-id]");
      if (!button) { return; }
      // A click from the keyboard (Enter or Space on the button) has no pointer position.
      var keyboard = event.detail === 0;
      var known = objects[button.getAttribute("data-id")];
      if (known && known.shape.getLatLng) { map.panTo(known.shape.getLatLng()); }
      open(button.getAttribute("data-id"), keyboard);
    });
    document.body.addEventListener("htmx:afterSwap", function (event) {
      if (event.detail && event.detail.target === panel) { afterDetail(); }
    });
    document.body.addEventListener("htmx:responseError", function (event) {
      if (!event.detail || event.detail.target !== panel) { return; }
      panel.removeAttribute("aria-busy");
      status.textContent = labels.detailFailed || "";
    });
    window.addEventListener("urbis:entity", onEntity);

    var focus = root.getAttribute("data-focus");
    if (focus) {
      openId = focus;
      syncOpen();
      drawChart();  // the page came with the focused object's detail
    }
    load();

    window.urbisMap = {
      map: map,
      open: function (id) { open(id, false); },
      marker: function (id) { return objects[id] ? objects[id].shape : null; },
      feature: function (id) { return objects[id] ? objects[id].feature : null; },
      restyle: restyleAll
    };
  }

  document.addEventListener("DOMContentLoaded", start);
})();
