// kb-engine customer pages: progressive enhancement only; every page works without this script.
(function () {
  "use strict";
  function csrf() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.getAttribute("content") : "";
  }

  // Live suggestions under the search box and the contact form's description (static/suggest.js).
  if (window.kbEngineSuggest && window.fetch) {
    Array.prototype.forEach.call(document.querySelectorAll("[data-suggest-for]"), function (box) {
      var input = document.getElementById(box.getAttribute("data-suggest-for"));
      if (!input) { return; }
      window.kbEngineSuggest.attach({
        input: input,
        box: box,
        channel: box.getAttribute("data-channel"),
        lang: box.getAttribute("data-lang"),
        messages: window.kbEngineSuggest.messagesOf(box)
      });
    });
  }

  // Count an article view with a POST beacon (GET pages never write to the database). An article opened
  // from a suggestion carries the words typed (q) and the channel: the server logs that search and
  // answers its id, which "Did this solve your problem?" then refers to.
  var art = document.querySelector("article[data-article]");
  if (art && window.fetch) {
    var query = art.getAttribute("data-query") || "";
    fetch("/events/view", {
      method: "POST",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrf() },
      body: JSON.stringify({
        article: art.getAttribute("data-article"),
        s: art.getAttribute("data-search") || null,
        ch: art.getAttribute("data-channel") || "web",
        q: query || null
      }),
      credentials: "same-origin",
      keepalive: true
    }).then(function (response) {
      return response.ok ? response.json() : null;
    }).then(function (data) {
      if (!data || !data.s || !query) { return; }
      var field = document.querySelector('.feedback input[name="s"]');
      if (field) { field.value = String(data.s); }
      // Reloading the page must not log the search again: the address now names it.
      if (window.history && window.history.replaceState) {
        window.history.replaceState(null, "", window.location.pathname + "?s=" + data.s);
      }
    }).catch(function () {});
  }
})();
