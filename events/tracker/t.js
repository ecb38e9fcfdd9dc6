/* Unified Event Analytics browser tracker. No dependencies, no cookies.
 * <script defer src="https://HOST/t.js" data-key="pk_..."></script>
 * Optional attributes: data-api (collect URL), data-respect-dnt="true", data-manual="true" (no automatic
 * page views), data-outbound="true" (clicks on links to other sites as "outbound_click"),
 * data-query-params="ref,plan" (query parameters kept besides utm_*; every other one, and the #fragment,
 * is dropped before the URL leaves the page: tokens in URLs must not reach analytics).
 * window.uea: track(name, metadata), page(), identify(userId, traits), reset().
 */
(function (window, document) {
  "use strict";
  var script = document.currentScript;
  if (!script || window.uea) return;
  var key = script.getAttribute("data-key");
  var endpoint = script.getAttribute("data-api") || new URL(script.src, location.href).origin + "/api/analytics/collect";
  var noop = { track: function () {}, page: function () {}, identify: function () {}, reset: function () {} };
  var dnt = navigator.doNotTrack === "1" || window.doNotTrack === "1" || navigator.msDoNotTrack === "1";
  if (!key || (script.getAttribute("data-respect-dnt") === "true" && dnt)) {
    window.uea = noop;
    return;
  }

  function uuid() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    return "10000000-1000-4000-8000-100000000000".replace(/[018]/g, function (c) {
      return (c ^ (crypto.getRandomValues(new Uint8Array(1))[0] & (15 >> (c / 4)))).toString(16);
    });
  }

  function stored(name, make) {
    try {
      // Inside the try: merely reading window.localStorage throws where storage is blocked.
      var value = localStorage.getItem(name);
      if (!value) localStorage.setItem(name, (value = make()));
      return value;
    } catch (e) {
      return make(); // storage blocked (private mode, sandboxed frame): an id for this page only
    }
  }

  var anonymousId = stored("uea_aid", uuid);
  var userId = stored("uea_uid", function () {
    return "";
  });

  function remember(name, value) {
    try {
      localStorage.setItem(name, value);
    } catch (e) {} // storage blocked: kept for this page only
  }

  var keptParams = (script.getAttribute("data-query-params") || "").split(",").map(function (name) {
    return name.trim();
  });
  function cleanUrl(href) {
    var url = new URL(href);
    var kept = new URLSearchParams();
    url.searchParams.forEach(function (value, name) {
      if (name.indexOf("utm_") === 0 || keptParams.indexOf(name) >= 0) kept.append(name, value);
    });
    var query = kept.toString();
    return url.origin + url.pathname + (query ? "?" + query : "");
  }

  // The landing page's referrer, unless it is this site itself (a reload, or a page of a multi-page
  // site): only another site refers.
  function landingReferrer() {
    if (!document.referrer) return "";
    try {
      return new URL(document.referrer).host === location.host ? "" : document.referrer;
    } catch (e) {
      return "";
    }
  }

  // A session ends after 30 minutes without events, as the reports count it.
  function sessionId() {
    var now = Date.now();
    try {
      var saved = JSON.parse(localStorage.getItem("uea_session") || "null");
      var id = saved && now - saved.last < 30 * 60 * 1000 ? saved.id : uuid();
      localStorage.setItem("uea_session", JSON.stringify({ id: id, last: now }));
      return id;
    } catch (e) {
      return anonymousId;
    }
  }

  function send(name, metadata, referrer) {
    var event = {
      event: name,
      eventId: uuid(),
      anonymousId: anonymousId,
      sessionId: sessionId(),
      url: cleanUrl(location.href),
      referrer: referrer === undefined ? landingReferrer() : referrer,
      timestamp: Date.now(),
      sentAt: Date.now(),
      screen: screen.width + "x" + screen.height,
      locale: navigator.language || "",
      metadata: metadata && typeof metadata === "object" && !Array.isArray(metadata) ? metadata : {},
    };
    if (userId) event.userId = userId;
    var body = JSON.stringify({ apiKey: key, events: [event] });
    // text/plain keeps the request "simple": no CORS preflight, and sendBeacon survives page unload.
    var blob = new Blob([body], { type: "text/plain" });
    if ((navigator.sendBeacon && navigator.sendBeacon(endpoint, blob)) || !window.fetch) return;
    // The beacon is refused once the page's in-flight beacons pass 64 KiB, and keepalive fetches share
    // that budget: retry as a plain request (eventId makes a repeat harmless), and never reject into the page.
    var post = function (keepalive) {
      var headers = { "Content-Type": "text/plain" };
      return fetch(endpoint, { method: "POST", body: body, headers: headers, keepalive: keepalive, credentials: "omit" });
    };
    post(true)
      .catch(function () {
        return post(false);
      })
      .catch(function () {});
  }

  var lastPath = null;
  function page() {
    var path = location.pathname + location.search;
    if (path === lastPath) return;
    // A navigation inside a single-page app has no referrer: the previous page is this site's own.
    var referrer = lastPath === null ? undefined : "";
    lastPath = path;
    send("pageview", {}, referrer);
  }

  window.uea = {
    track: function (name, metadata) {
      if (typeof name === "string" && name) send(name, metadata);
    },
    page: page,
    // The visitor is userId from now on (kept across page loads); the server links the anonymous id to
    // them, so what they did before signing in counts as theirs.
    identify: function (id, traits) {
      if (typeof id !== "string" || !id) return;
      userId = id;
      remember("uea_uid", id);
      send("identify", traits);
    },
    // Signed out: a new anonymous visitor, so the next person on this browser is not the last one.
    reset: function () {
      userId = "";
      anonymousId = uuid();
      remember("uea_uid", "");
      remember("uea_aid", anonymousId);
    },
  };

  if (script.getAttribute("data-outbound") === "true") {
    document.addEventListener("click", function (click) {
      var link = click.target && click.target.closest && click.target.closest("a[href]");
      if (link && link.host && link.host !== location.host && /^https?:$/.test(link.protocol)) {
        send("outbound_click", { url: link.href });
      }
    });
  }

  if (script.getAttribute("data-manual") !== "true") {
    // Single-page apps change the URL without a load: follow pushState. replaceState rewrites the
    // current entry (a filter in the query, a scroll position) and is not a new page.
    var push = history.pushState;
    history.pushState = function () {
      var result = push.apply(this, arguments);
      page();
      return result;
    };
    window.addEventListener("popstate", page);
    if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", page);
    else page();
  }
})(window, document);
