// kb-engine customer pages: progressive enhancement only; every page works without this script.
(function () {
  "use strict";
  function csrf() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.getAttribute("content") : "";
  }
  // Count an article view with a POST beacon (GET pages never write to the database).
  var art = document.querySelector("article[data-article]");
  if (art && window.fetch) {
    fetch("/events/view", {
      method: "POST",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrf() },
      body: JSON.stringify({ article: art.dataset.article, s: art.dataset.search || null }),
      credentials: "same-origin",
      keepalive: true
    }).catch(function () {});
  }
})();
