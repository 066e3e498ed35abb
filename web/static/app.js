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

  // Arriving on a section (a search result links to the section that answers): mark the section, down
  // to the next heading of the same or a higher level, and move focus there for keyboard and screen
  // reader users. Without this script the browser still scrolls to the heading (and CSS :target marks it).
  function markSection() {
    var id = decodeURIComponent((window.location.hash || "").slice(1));
    var body = document.querySelector(".article .body");
    if (!id || !body) { return; }
    var old = body.querySelectorAll(".in-section");
    Array.prototype.forEach.call(old, function (el) { el.classList.remove("in-section", "section-start"); });
    var heading = document.getElementById(id);
    if (!heading || !body.contains(heading) || !/^H[2-6]$/.test(heading.tagName)) { return; }
    var level = Number(heading.tagName.charAt(1));
    heading.classList.add("in-section", "section-start");
    for (var el = heading.nextElementSibling; el; el = el.nextElementSibling) {
      if (/^H[2-6]$/.test(el.tagName) && Number(el.tagName.charAt(1)) <= level) { break; }
      el.classList.add("in-section");
    }
    heading.setAttribute("tabindex", "-1");
    heading.focus({ preventScroll: false });
  }
  markSection();

  // "Yes" on the results page's answer card: the thank-you replaces the question, focus goes to it.
  var thanks = document.getElementById("answer-thanks");
  if (thanks) { thanks.focus(); }
  window.addEventListener("hashchange", markSection);

  // Long fields (the description, the details) say how many characters are left once 80% are used, so a
  // long paste is never cut without notice (the server refuses, with the limit, what goes beyond).
  var leftText = document.body.getAttribute("data-chars-left") || "%(num)s";
  Array.prototype.forEach.call(document.querySelectorAll("input[maxlength], textarea[maxlength]"), function (field) {
    var max = field.maxLength;
    if (!(max >= 500) || !field.id) { return; }
    var note = document.createElement("p");
    note.className = "hint char-count";
    note.id = field.id + "-count";
    note.hidden = true;
    note.setAttribute("aria-live", "polite");
    var after = field.closest(".row") || field;
    after.parentNode.insertBefore(note, after.nextSibling);
    function update() {
      var used = field.value.length;
      note.hidden = used < max * 0.8;
      note.textContent = leftText.replace("%(num)s", String(Math.max(0, max - used)));
    }
    field.addEventListener("input", update);
    update();
  });

  // A message a form answered with (an error summary, a confirmation) takes the focus, so that keyboard
  // and screen reader users land on it instead of the top of the page.
  var told = document.querySelector("[data-focus-on-load]");
  if (told && !thanks) { told.focus(); }

  // Count an article view with a POST beacon (GET pages never write to the database). An article opened
  // from a suggestion carries the words typed (q) and the channel: the server logs that search and
  // answers its id, which "Did this solve your problem?" then refers to.
  var art = document.querySelector("article[data-article]");
  // (Not again when the page comes back with the answer to "Did this solve your problem?".)
  if (art && window.fetch && !art.hasAttribute("data-no-view")) {
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
        window.history.replaceState(null, "", window.location.pathname + "?s=" + data.s + window.location.hash);
      }
    }).catch(function () {});
  }
})();
