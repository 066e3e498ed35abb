// Console queue: a "N new tickets" notice without a reload (asks every 30 s how many tickets arrived since
// the page was drawn; the link reloads the view). The page works fully without this file.
(function () {
  "use strict";
  var notice = document.getElementById("new-tickets");
  if (!notice || !window.fetch) { return; }
  var since = notice.getAttribute("data-since");
  var url = notice.getAttribute("data-url");
  function check() {
    fetch(url + "?since=" + encodeURIComponent(since), { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (data) {
        if (!data || !data["new"]) { return; }
        // The words come from the page (data-one, data-many with {n}), in the console's language.
        var text = data["new"] === 1 ? notice.getAttribute("data-one") : notice.getAttribute("data-many");
        notice.querySelector(".n").textContent = String(text).replace("{n}", String(data["new"]));
        notice.hidden = false;
      })
      .catch(function () { /* the next round tries again */ });
  }
  window.setInterval(check, 30000);
  document.addEventListener("visibilitychange", function () { if (!document.hidden) { check(); } });
})();
