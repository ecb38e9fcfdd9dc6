/* Unified Event Analytics browser tracker. No dependencies, no cookies.
 * <script defer src="https://HOST/t.js" data-key="pk_..."></script>
 * Optional attributes: data-api (collect URL), data-respect-dnt="true", data-manual="true" (no automatic page views).
 */
(function (window, document) {
  "use strict";
  var script = document.currentScript;
  if (!script || window.uea) return;
  var key = script.getAttribute("data-key");
  var endpoint = script.getAttribute("data-api") || new URL(script.src, location.href).origin + "/api/analytics/collect";
  var noop = { track: function () {}, page: function () {} };
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
    var body = JSON.stringify({
      apiKey: key,
      events: [
        {
          event: name,
          eventId: uuid(),
          anonymousId: anonymousId,
          sessionId: sessionId(),
          url: location.href,
          referrer: referrer === undefined ? document.referrer : referrer,
          timestamp: Date.now(),
          sentAt: Date.now(),
          screen: screen.width + "x" + screen.height,
          locale: navigator.language || "",
          metadata: metadata && typeof metadata === "object" && !Array.isArray(metadata) ? metadata : {},
        },
      ],
    });
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

  var lastUrl = null;
  function page() {
    if (location.href === lastUrl) return;
    var referrer = lastUrl === null ? document.referrer : lastUrl;
    lastUrl = location.href;
    send("pageview", {}, referrer);
  }

  window.uea = {
    track: function (name, metadata) {
      if (typeof name === "string" && name) send(name, metadata);
    },
    page: page,
  };

  if (script.getAttribute("data-manual") !== "true") {
    // Single-page apps change the URL without a load: follow history changes.
    ["pushState", "replaceState"].forEach(function (method) {
      var original = history[method];
      history[method] = function () {
        var result = original.apply(this, arguments);
        page();
        return result;
      };
    });
    window.addEventListener("popstate", page);
    if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", page);
    else page();
  }
})(window, document);
