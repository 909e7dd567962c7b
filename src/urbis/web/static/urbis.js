// Urbis pages: live refresh of page parts from the server's event stream.
//
// An element with `data-live="TypeA,TypeB"` is refreshed (its htmx `urbis:changed` trigger fires)
// when an entity of one of those types changes; refreshes of one element are spaced at least
// REFRESH_MS apart, so a busy city costs each open page about one request per part and second.
(function () {
  "use strict";

  var REFRESH_MS = 1000;
  var source = null;

  function liveElements() {
    return Array.prototype.slice.call(document.querySelectorAll("[data-live]"));
  }

  function typesOf(element) {
    return (element.getAttribute("data-live") || "").split(",").map(function (t) { return t.trim(); })
      .filter(function (t) { return t.length > 0; });
  }

  function schedule(element) {
    if (element._urbisTimer) { element._urbisPending = true; return; }
    fire(element);
  }

  function fire(element) {
    element._urbisPending = false;
    window.dispatchEvent(new CustomEvent("urbis:refresh", { detail: element }));
    if (window.htmx && element.hasAttribute("hx-get")) {
      window.htmx.trigger(element, "urbis:changed");
    }
    element._urbisTimer = window.setTimeout(function () {
      element._urbisTimer = null;
      if (element._urbisPending) { fire(element); }
    }, REFRESH_MS);
  }

  function status(text) {
    var box = document.getElementById("live-status");
    if (box) { box.textContent = text; }
    document.body.setAttribute("data-live-state", text);
  }

  function connect() {
    var elements = liveElements();
    var wanted = {};
    elements.forEach(function (element) { typesOf(element).forEach(function (t) { wanted[t] = true; }); });
    (window.urbisLiveTypes || []).forEach(function (t) { wanted[t] = true; });
    var types = Object.keys(wanted);
    if (types.length === 0 || !window.EventSource) { return; }
    var context = document.body.getAttribute("data-context") || "";
    var url = "/api/v1/events?type=" + encodeURIComponent(types.join(",")) + "&context=" + encodeURIComponent(context);
    source = new EventSource(url);
    source.addEventListener("open", function () { status("live"); });
    source.addEventListener("error", function () { status("reconnecting"); });
    source.addEventListener("entity", function (message) {
      var change;
      try { change = JSON.parse(message.data); } catch (e) { return; }
      var changedTypes = Array.isArray(change.type) ? change.type : [change.type];
      window.dispatchEvent(new CustomEvent("urbis:entity", { detail: change }));
      liveElements().forEach(function (element) {
        var types = typesOf(element);
        if (changedTypes.some(function (t) { return types.indexOf(t) >= 0; })) { schedule(element); }
      });
    });
  }

  document.addEventListener("DOMContentLoaded", connect);
  // A fragment that has arrived is no longer busy (screen readers announce the region again).
  document.addEventListener("htmx:afterSwap", function (event) {
    if (event.target && event.target.removeAttribute) { event.target.removeAttribute("aria-busy"); }
  });
  // A button marked data-print prints the page (the report: print, or save as PDF).
  document.addEventListener("click", function (event) {
    var target = event.target;
    if (target && target.closest && target.closest("[data-print]")) { window.print(); }
  });
  window.addEventListener("beforeunload", function () { if (source) { source.close(); } });
})();
