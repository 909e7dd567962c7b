// The citizen app's pages: installable and readable offline, "use my location", and the report form's
// live parts (a category's questions, reports nearby).  Everything works without this script except
// the location buttons, which it shows only when the browser can locate.
(function () {
  "use strict";

  function each(selector, callback) {
    Array.prototype.forEach.call(document.querySelectorAll(selector), callback);
  }

  // -- offline -------------------------------------------------------------------------------------

  function showOffline() {
    var banner = document.getElementById("offline-banner");
    if (!banner) { return; }
    var cached = document.body.getAttribute("data-cached") === "1";
    banner.hidden = !(cached || navigator.onLine === false);
    document.body.classList.toggle("is-offline", !banner.hidden);
  }

  function registerWorker() {
    if (!("serviceWorker" in navigator)) { return; }
    navigator.serviceWorker.register("/app/sw.js", { scope: "/app" }).catch(function () { return undefined; });
  }

  function forgetPages() {
    // After logout the kept pages may still show the resident's reports: drop them.
    if (navigator.serviceWorker && navigator.serviceWorker.controller) {
      navigator.serviceWorker.controller.postMessage("forget-pages");
    }
    if (window.caches) {
      window.caches.keys().then(function (names) {
        names.filter(function (name) { return name.indexOf("urbis-pages-") === 0; })
          .forEach(function (name) { window.caches.delete(name); });
      });
    }
  }

  // -- location ------------------------------------------------------------------------------------

  function locate(onFound, onFailed) {
    if (!navigator.geolocation) { onFailed(); return; }
    navigator.geolocation.getCurrentPosition(function (position) {
      onFound(position.coords.latitude, position.coords.longitude);
    }, onFailed, { enableHighAccuracy: true, timeout: 15000, maximumAge: 60000 });
  }

  function wireGeolocate() {
    if (!navigator.geolocation) { return; }
    each("[data-geolocate]", function (button) {
      button.hidden = false;
      button.addEventListener("click", function () {
        var form = button.closest("form");
        var status = form ? form.querySelector("[data-geolocate-status]") : null;
        button.disabled = true;
        locate(function (lat, long) {
          var target = button.getAttribute("data-geolocate") + "?lat=" + lat.toFixed(6) + "&long=" + long.toFixed(6);
          var arrival = form ? form.querySelector("select[name=in]") : null;
          if (arrival) { target += "&in=" + encodeURIComponent(arrival.value); }
          window.location.assign(target);
        }, function () {
          button.disabled = false;
          if (status) { status.textContent = button.getAttribute("data-failed") || ""; }
        });
      });
    });
    each("[data-fill-location]", function (button) {
      button.hidden = false;
      button.addEventListener("click", function () {
        var form = button.closest("form");
        locate(function (lat, long) {
          form.querySelector("[name=lat]").value = lat.toFixed(6);
          form.querySelector("[name=long]").value = long.toFixed(6);
        }, function () { return undefined; });
      });
    });
  }

  // -- the report form -----------------------------------------------------------------------------

  function reportForm() {
    var form = document.getElementById("report-form");
    if (!form) { return; }
    function chosenService() {
      var checked = form.querySelector("input[name=service]:checked");
      return checked ? checked.value : "";
    }
    function refreshNearby() {
      var lat = form.querySelector("[name=lat]").value, long = form.querySelector("[name=long]").value;
      var service = chosenService();
      var target = document.getElementById("nearby");
      if (!window.htmx || !target) { return; }
      if (!service || !lat || !long) { target.innerHTML = ""; return; }
      window.htmx.ajax("GET", form.getAttribute("data-nearby") + "?service=" + encodeURIComponent(service) +
        "&lat=" + encodeURIComponent(lat) + "&long=" + encodeURIComponent(long), { target: "#nearby", swap: "innerHTML" });
    }
    form.addEventListener("change", function (event) {
      var input = event.target;
      if (input.name === "service") {
        if (window.htmx) {
          window.htmx.ajax("GET", form.getAttribute("data-questions") + "?service=" + encodeURIComponent(input.value),
            { target: "#questions", swap: "innerHTML" });
        }
        window.dispatchEvent(new CustomEvent("urbis:service", { detail: { service: input.value, layers: input.getAttribute("data-layers") || "" } }));
        refreshNearby();
      } else if (input.name === "lat" || input.name === "long") {
        window.dispatchEvent(new CustomEvent("urbis:typed-point"));
        refreshNearby();
      }
    });
    window.addEventListener("urbis:point", refreshNearby);
  }

  // -- small things --------------------------------------------------------------------------------

  function wireCopy() {
    if (!navigator.clipboard) { return; }
    each("[data-copy]", function (button) {
      button.hidden = false;
      button.addEventListener("click", function () {
        navigator.clipboard.writeText(button.getAttribute("data-copy")).then(function () {
          button.setAttribute("aria-pressed", "true");
        });
      });
    });
  }

  function start() {
    each("[data-nojs]", function (element) { element.hidden = true; });
    showOffline();
    window.addEventListener("online", showOffline);
    window.addEventListener("offline", showOffline);
    registerWorker();
    wireGeolocate();
    wireCopy();
    reportForm();
    each("form[data-logout]", function (form) { form.addEventListener("submit", forgetPages); });
    var first = document.querySelector("[data-focus-first]");
    if (first) { first.focus(); }
    window.addEventListener("beforeinstallprompt", function () {
      each("[data-install-hint]", function (hint) { hint.hidden = false; });
    });
  }

  document.addEventListener("DOMContentLoaded", start);
})();
