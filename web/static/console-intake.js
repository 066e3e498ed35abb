// Console intake (phone / walk-in): the customers' live suggestions (suggest.js) under the caller's words,
// mirrored into the "article that solved it" list; the caller's earlier tickets looked up as the agent
// types an email or phone. Without this file the form's buttons post it back with everything kept.
(function () {
  "use strict";
  var input = document.getElementById("query");
  var box = document.querySelector("[data-suggest-for=query]");
  var select = document.getElementById("article");
  if (input && box && window.kbEngineSuggest && window.fetch) {
    window.kbEngineSuggest.attach({
      input: input, box: box, channel: "web", lang: box.getAttribute("data-lang"), target: "_blank",
      messages: window.kbEngineSuggest.messagesOf(box)
    });
    var list = box.querySelector(".suggest-list");
    new MutationObserver(function () {
      if (!select) { return; }
      var chosen = select.value;
      Array.prototype.slice.call(select.options, 1).forEach(function (o) { if (o.value !== chosen) { o.remove(); } });
      Array.prototype.forEach.call(list.querySelectorAll("a"), function (a) {
        var m = /\/articles\/([a-z]{2})\/([^/?#]+)/.exec(a.getAttribute("href") || "");
        if (!m) { return; }
        var id = m[1] + "/" + m[2];
        if (Array.prototype.some.call(select.options, function (o) { return o.value === id; })) { return; }
        var option = document.createElement("option");
        option.value = id;
        option.textContent = a.querySelector(".suggest-title").textContent + " (" + id + ")";
        select.appendChild(option);
      });
    }).observe(list, { childList: true });
  }

  var email = document.getElementById("email");
  var phone = document.getElementById("phone");
  var button = document.getElementById("find-caller");
  var history = document.getElementById("caller-history");
  var timer = null;
  function lookUp(event) {
    if (event && event.type === "click") { event.preventDefault(); }
    var e = email.value.trim(), p = phone.value.trim();
    if (!e && !p) { return; }
    fetch(button.getAttribute("data-url") + "?email=" + encodeURIComponent(e) + "&phone=" + encodeURIComponent(p),
          { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.text() : ""; })
      .then(function (html) {
        if (!html) { return; }
        var doc = new DOMParser().parseFromString(html, "text/html");
        while (history.firstChild) { history.removeChild(history.firstChild); }
        Array.prototype.forEach.call(doc.body.childNodes, function (n) { history.appendChild(document.importNode(n, true)); });
      });
  }
  if (email && phone && button && history && window.fetch) {
    button.addEventListener("click", lookUp);
    [email, phone].forEach(function (field) {
      field.addEventListener("input", function () { window.clearTimeout(timer); timer = window.setTimeout(lookUp, 400); });
    });
  }
})();
