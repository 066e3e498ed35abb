// Console ticket page: canned replies and article links go in at the cursor (no reload, drafts kept);
// the article search of the resolve panel updates in place; the composer shows the chosen pane.
// Everything works without this file (the buttons then post the composer and the page comes back with
// both drafts). No inline script or style: fine under the strict CSP.
(function () {
  "use strict";
  var composer = document.getElementById("composer");
  var message = document.getElementById("message");

  function insertAtCursor(field, text) {
    var start = field.selectionStart, end = field.selectionEnd, value = field.value;
    if (typeof start !== "number") { start = end = value.length; }
    var before = value.slice(0, start), after = value.slice(end);
    var joined = before + text + after;
    field.value = joined;
    var caret = before.length + text.length;
    field.focus();
    field.setSelectionRange(caret, caret);
  }

  function chooseReply() {
    var reply = document.getElementById("mode-reply");
    if (reply && !reply.disabled) { reply.checked = true; showPane(); }
  }

  function showPane() {
    if (!composer) { return; }
    var note = document.getElementById("mode-note");
    composer.setAttribute("data-mode", note && note.checked ? "note" : "reply");
  }

  if (composer) {
    composer.classList.add("js");
    showPane();
    composer.addEventListener("change", function (event) {
      if (event.target && event.target.name === "mode") { showPane(); }
    });
    composer.addEventListener("click", function (event) {
      var button = event.target.closest ? event.target.closest("button") : null;
      if (!button || !message) { return; }
      if (button.name === "canned" && button.hasAttribute("data-text")) {
        event.preventDefault();
        chooseReply();
        insertAtCursor(message, button.getAttribute("data-text"));
      }
    });
  }

  // Insert-link buttons live in the resolve panel (form="composer"): handled on the document.
  document.addEventListener("click", function (event) {
    var button = event.target.closest ? event.target.closest("button") : null;
    if (!button) { return; }
    if (button.classList.contains("insert-link") && message) {
      event.preventDefault();
      chooseReply();
      insertAtCursor(message, button.value + "\n");
    } else if (button.classList.contains("use-article")) {
      event.preventDefault();
      var select = document.getElementById("article");
      if (!select) { return; }
      var id = button.getAttribute("data-article");
      var option = Array.prototype.find.call(select.options, function (o) { return o.value === id; });
      if (!option) {
        option = document.createElement("option");
        option.value = id;
        option.textContent = button.getAttribute("data-title") + " (" + id + ")";
        select.insertBefore(option, select.options[1] || null);
      }
      select.value = id;
      select.focus();
    }
  });

  var find = document.getElementById("find");
  var findButton = document.getElementById("find-button");
  var found = document.getElementById("found");
  function reveal() {
    Array.prototype.forEach.call(document.querySelectorAll(".use-article"), function (b) { b.hidden = false; });
  }
  reveal();
  function search(event) {
    if (event) { event.preventDefault(); }
    var q = find.value.trim();
    if (!q) { return; }
    fetch(find.getAttribute("data-url") + "?q=" + encodeURIComponent(q), { credentials: "same-origin" })
      .then(function (r) { if (!r.ok) { throw new Error(r.status); } return r.text(); })
      .then(function (html) {
        var doc = new DOMParser().parseFromString(html, "text/html");
        while (found.firstChild) { found.removeChild(found.firstChild); }
        Array.prototype.forEach.call(doc.body.childNodes, function (n) { found.appendChild(document.importNode(n, true)); });
        reveal();
      })
      .catch(function () { if (composer && composer.requestSubmit) { composer.requestSubmit(findButton); } });
  }
  if (find && findButton && found) {
    findButton.addEventListener("click", search);
    find.addEventListener("keydown", function (event) { if (event.key === "Enter") { search(event); } });
  }
})();
