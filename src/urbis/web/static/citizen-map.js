// The citizen app's maps: picking where a problem is (#report-map) and showing a report's point (#point-map).
//
// The city is drawn from /app/map.json (districts and streets) without a tile background unless one is
// configured.  On the report form a tap sets the latitude and longitude fields; when the chosen kind of
// problem concerns assets (street lights, parking bays) they are drawn too, and tapping one names it in
// the report.  Everything the map sets can also be typed in the form's fields.  For tests and keyboard
// users, window.urbisReportMap offers setPoint(lat, long).
(function () {
  "use strict";

  var POINT_STYLE = { radius: 9, color: "#7a0916", weight: 3, fillColor: "#ffffff", fillOpacity: 0.9 };
  var ASSET_STYLE = { radius: 5, color: "#1b1f24", weight: 1, fillColor: "#ffd23f", fillOpacity: 1 };
  var CHOSEN_ASSET_STYLE = { radius: 8, color: "#7a0916", weight: 3, fillColor: "#ffd23f", fillOpacity: 1 };

  function json(url) {
    return window.fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) {
        if (!response.ok) { throw new Error("HTTP " + response.status); }
        return response.json();
      });
  }

  function baseMap(element) {
    var canvas = window.L.canvas({ padding: 0.2 });
    var map = window.L.map(element, { renderer: canvas, preferCanvas: true, zoomSnap: 0.25, keyboard: true });
    map.setView([0, 0], 2);
    var tiles = element.getAttribute("data-tile-url");
    if (tiles) {
      window.L.tileLayer(tiles, { attribution: element.getAttribute("data-tile-attribution") || "", maxZoom: 19 }).addTo(map);
    }
    return { map: map, canvas: canvas };
  }

  function drawCity(parts, data) {
    var layers = data.layers || {};
    var group = window.L.featureGroup().addTo(parts.map);
    if (layers.districts) {
      window.L.geoJSON(layers.districts, { renderer: parts.canvas, interactive: false,
        style: function () { return { color: "#102a43", weight: 1.5, fillColor: "#dfe8f1", fillOpacity: 0.35 }; } }).addTo(group);
    }
    if (layers.streets) {
      window.L.geoJSON(layers.streets, { renderer: parts.canvas, interactive: false,
        style: function () { return { color: "#6b7785", weight: 2, opacity: 0.9 }; } }).addTo(group);
    }
    return group;
  }

  function fmt(template, values) {
    return String(template || "").replace(/\{(\w+)\}/g, function (_, key) { return values[key] !== undefined ? values[key] : ""; });
  }

  // -- the report form's map --------------------------------------------------------------------------

  function reportMap(element) {
    var form = element.closest("form");
    var labels = {};
    try { labels = JSON.parse(element.getAttribute("data-labels") || "{}"); } catch (e) { labels = {}; }
    var status = document.getElementById("point-status");
    var lat = form.querySelector("[name=lat]"), long = form.querySelector("[name=long]");
    var objectType = form.querySelector("[name=object_type]"), objectId = form.querySelector("[name=object_id]");
    var parts = baseMap(element);
    var map = parts.map;
    var marker = null;
    var assets = window.L.featureGroup().addTo(map);
    var assetShapes = {};
    var loadedLayers = "";
    var city = null;

    function say(text) { if (status) { status.textContent = text; } }

    function showPoint(latitude, longitude, pan) {
      var where = [latitude, longitude];
      if (marker) { marker.setLatLng(where); } else {
        marker = window.L.circleMarker(where, Object.assign({ renderer: parts.canvas, interactive: false }, POINT_STYLE)).addTo(map);
      }
      if (pan) { map.panTo(where); }
    }

    function clearAsset() {
      if (objectId.value && assetShapes[objectId.value]) { assetShapes[objectId.value].setStyle(ASSET_STYLE); }
      objectType.value = "";
      objectId.value = "";
    }

    function setPoint(latitude, longitude, pan) {
      lat.value = latitude.toFixed(6);
      long.value = longitude.toFixed(6);
      showPoint(latitude, longitude, pan);
      say(fmt(labels.point, { lat: lat.value, long: long.value }));
      window.dispatchEvent(new CustomEvent("urbis:point"));
    }

    function chooseAsset(feature, shape) {
      clearAsset();
      objectType.value = feature.properties.objectType;
      objectId.value = feature.id;
      shape.setStyle(CHOSEN_ASSET_STYLE);
      var c = feature.geometry.coordinates;
      setPoint(c[1], c[0], false);
      say(fmt(labels.asset, { name: feature.properties.name || feature.id }) + " · " + fmt(labels.point, { lat: lat.value, long: long.value }));
    }

    function loadAssets(layers) {
      if (layers === loadedLayers) { return; }
      loadedLayers = layers;
      assets.clearLayers();
      assetShapes = {};
      if (!layers) { clearAsset(); return; }
      json(element.getAttribute("data-src") + "?layers=" + encodeURIComponent(layers)).then(function (data) {
        Object.keys(data.layers || {}).forEach(function (name) {
          (data.layers[name].features || []).forEach(function (feature) {
            var c = feature.geometry && feature.geometry.coordinates;
            if (!c) { return; }
            var shape = window.L.circleMarker([c[1], c[0]], Object.assign({ renderer: parts.canvas, bubblingMouseEvents: false }, ASSET_STYLE));
            shape.bindTooltip(feature.properties.name || feature.id);
            shape.on("click", function (event) {
              window.L.DomEvent.stopPropagation(event);
              chooseAsset(feature, shape);
            });
            assets.addLayer(shape);
            assetShapes[feature.id] = shape;
          });
        });
        if (objectId.value && assetShapes[objectId.value]) { assetShapes[objectId.value].setStyle(CHOSEN_ASSET_STYLE); }
        assets.bringToFront();
      }).catch(function () { return undefined; });
    }

    map.on("click", function (event) {
      clearAsset();
      setPoint(event.latlng.lat, event.latlng.lng, false);
    });

    json(element.getAttribute("data-src")).then(function (data) {
      city = drawCity(parts, data);
      var typedLat = parseFloat(lat.value), typedLong = parseFloat(long.value);
      if (isFinite(typedLat) && isFinite(typedLong)) {
        showPoint(typedLat, typedLong, false);
        map.setView([typedLat, typedLong], 16);
      } else if (city.getLayers().length && city.getBounds().isValid()) {
        map.fitBounds(city.getBounds(), { padding: [8, 8] });
      }
      element.setAttribute("data-loaded", "true");
    }).catch(function () {
      say(labels.mapFailed || "");
      element.setAttribute("data-loaded", "failed");
    });

    var chosen = form.querySelector("input[name=service]:checked");
    if (chosen) { loadAssets(chosen.getAttribute("data-layers") || ""); }
    window.addEventListener("urbis:service", function (event) { loadAssets(event.detail.layers); });
    window.addEventListener("urbis:typed-point", function () {
      var typedLat = parseFloat(lat.value), typedLong = parseFloat(long.value);
      if (isFinite(typedLat) && isFinite(typedLong)) { clearAsset(); showPoint(typedLat, typedLong, true); }
    });

    var locateButton = form.querySelector("[data-locate]");
    if (locateButton && navigator.geolocation) {
      locateButton.hidden = false;
      locateButton.addEventListener("click", function () {
        say(labels.locating || "");
        navigator.geolocation.getCurrentPosition(function (position) {
          clearAsset();
          setPoint(position.coords.latitude, position.coords.longitude, true);
          map.setView([position.coords.latitude, position.coords.longitude], Math.max(map.getZoom(), 16));
          say(labels.located || "");
        }, function () { say(labels.noLocation || ""); }, { enableHighAccuracy: true, timeout: 15000, maximumAge: 60000 });
      });
    }

    var findButton = form.querySelector("[data-find]");
    if (findButton) {
      findButton.addEventListener("click", function (event) {
        var text = form.querySelector("[name=address]").value.trim();
        if (!text) { return; }
        event.preventDefault();
        say(labels.searching || "");
        json("/app/places.json?q=" + encodeURIComponent(text)).then(function (found) {
          if (!found.length) { say(labels.notFound || ""); return; }
          clearAsset();
          setPoint(found[0].lat, found[0].long, true);
          map.setView([found[0].lat, found[0].long], Math.max(map.getZoom(), 16));
        }).catch(function () { form.submit(); });
      });
    }

    window.urbisReportMap = {
      map: map,
      setPoint: function (latitude, longitude) { clearAsset(); setPoint(latitude, longitude, true); },
      asset: function (id) { return assetShapes[id] || null; }
    };
  }

  // -- a report's point ---------------------------------------------------------------------------------

  function pointMap(element) {
    var latitude = parseFloat(element.getAttribute("data-lat"));
    var longitude = parseFloat(element.getAttribute("data-long"));
    if (!isFinite(latitude) || !isFinite(longitude)) { return; }
    var parts = baseMap(element);
    parts.map.setView([latitude, longitude], 16);
    window.L.circleMarker([latitude, longitude], Object.assign({ renderer: parts.canvas, interactive: false }, POINT_STYLE)).addTo(parts.map);
    json(element.getAttribute("data-src")).then(function (data) {
      drawCity(parts, data).bringToBack();
      element.setAttribute("data-loaded", "true");
    }).catch(function () { element.setAttribute("data-loaded", "failed"); });
  }

  function start() {
    if (!window.L) { return; }
    var report = document.getElementById("report-map");
    if (report) { reportMap(report); }
    var point = document.getElementById("point-map");
    if (point) { pointMap(point); }
  }

  document.addEventListener("DOMContentLoaded", start);
})();
