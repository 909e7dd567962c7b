// The citizen app's service worker (served as /app/sw.js, scope /app).
//
// At install it keeps the app shell (the start page, styles, scripts, icons, map library); files and
// report photos are served from what is kept and refreshed in the background.  Pages
// under /app and their .json twins are fetched network first; each good answer is kept, so when the
// network is gone the last copy is shown instead, marked so the page shows an "offline" banner with
// its own generation time.  Nothing personal or changing is kept: no POST, no /api/v1/me, not the
// resident's own pages, the login forms or confirmation links.  The server writes the version into
// the cache names, so a new release replaces every old copy.
"use strict";

var VERSION = "__URBIS_CACHE_VERSION__";
var SHELL_CACHE = "urbis-shell-" + VERSION;
var PAGES_CACHE = "urbis-pages-" + VERSION;
var SHELL = [
  "/app",
  "/static/urbis/citizen.css",
  "/static/urbis/citizen.js",
  "/static/urbis/citizen-map.js",
  "/static/urbis/icons/icon-192.png",
  "/static/urbis/icons/icon-512.png",
  "/static/vendor/leaflet/leaflet.js",
  "/static/vendor/leaflet/leaflet.css",
  "/static/vendor/htmx.org/htmx.min.js"
];
// Paths never kept: personal pages, forms that carry secrets, and the resident API.
var PRIVATE = [/^\/app\/me(\/|\.json$|$)/, /^\/app\/login/, /^\/app\/signup/, /^\/app\/logout/, /\/confirm(\?|$)/,
  /^\/api\/v1\/me(\/|$)/, /^\/app\/sw\.js$/,
  // A budget's page shows the voter's own ballot and receipt: not for a shared phone's cache.
  /^\/app\/participate\/budgets\//];

self.addEventListener("install", function (event) {
  event.waitUntil(
    caches.open(SHELL_CACHE).then(function (cache) {
      // One missing file (an optional library) must not stop the rest from being kept.
      return Promise.all(SHELL.map(function (url) {
        return fetch(url, { credentials: "same-origin" }).then(function (response) {
          if (response.ok) {
            return cache.put(url, response.clone()).then(function () {
              if (url === "/app") { return caches.open(PAGES_CACHE).then(function (pages) { return pages.put(url, response); }); }
              return undefined;
            });
          }
          return undefined;
        }).catch(function () { return undefined; });
      }));
    }).then(function () { return self.skipWaiting(); })
  );
});

self.addEventListener("activate", function (event) {
  event.waitUntil(
    caches.keys().then(function (names) {
      return Promise.all(names.filter(function (name) {
        return name.indexOf("urbis-") === 0 && name !== SHELL_CACHE && name !== PAGES_CACHE;
      }).map(function (name) { return caches.delete(name); }));
    }).then(function () { return self.clients.claim(); })
  );
});

function isPrivate(url) {
  return PRIVATE.some(function (pattern) { return pattern.test(url.pathname + url.search); });
}

function markCached(response) {
  // The page says it came from the cache, so its script shows when its data is from.
  var type = response.headers.get("Content-Type") || "";
  if (type.indexOf("text/html") !== 0) { return response; }
  return response.text().then(function (html) {
    var headers = new Headers(response.headers);
    headers.set("X-Urbis-Offline", "1");
    return new Response(html.replace('data-cached="0"', 'data-cached="1"'),
      { status: response.status, statusText: response.statusText, headers: headers });
  });
}

function networkFirst(request) {
  return fetch(request).then(function (response) {
    if (response.ok && response.type === "basic" && !response.redirected) {
      var copy = response.clone();
      caches.open(PAGES_CACHE).then(function (cache) { cache.put(request, copy); });
    }
    return response;
  }).catch(function () {
    return caches.open(PAGES_CACHE).then(function (cache) {
      return cache.match(request).then(function (found) {
        if (found) { return markCached(found); }
        if (request.mode === "navigate") {
          // A page never seen before: the start page, which says the app is offline.
          return cache.match("/app").then(function (home) {
            return home ? markCached(home) : Response.error();
          });
        }
        return Response.error();
      });
    });
  });
}

function cacheFirst(request) {
  return caches.match(request).then(function (found) {
    var fresh = fetch(request).then(function (response) {
      if (response.ok && response.type === "basic") {
        var copy = response.clone();
        caches.open(SHELL_CACHE).then(function (cache) { cache.put(request, copy); });
      }
      return response;
    });
    if (found) {
      fresh.catch(function () { return undefined; });  // refreshed in the background
      return found;
    }
    return fresh;
  });
}

self.addEventListener("fetch", function (event) {
  var request = event.request;
  if (request.method !== "GET") { return; }
  var url = new URL(request.url);
  if (url.origin !== self.location.origin || isPrivate(url)) { return; }
  if (url.pathname === "/app" || url.pathname.indexOf("/app/") === 0) {
    event.respondWith(networkFirst(request));
  } else if (url.pathname.indexOf("/static/") === 0 || url.pathname.indexOf("/media/reports/") === 0) {
    event.respondWith(cacheFirst(request));
  }
});

self.addEventListener("message", function (event) {
  // The page asks to forget the kept pages (on logout: they may show the resident's reports).
  if (event.data === "forget-pages") {
    event.waitUntil(caches.delete(PAGES_CACHE));
  }
});
