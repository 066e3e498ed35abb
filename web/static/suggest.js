// kb-engine live suggestions: the best articles update as the customer types (help centre pages and the
// embeddable widget). Read-only: GET /api/v1/search with a small k; never writes.
// - debounced (DELAY ms after the last keystroke), and a stale request is cancelled (AbortController);
//   an answer for anything but the field's current text is dropped;
// - keyboard: Down arrow from the field goes into the list, Up/Down move, Escape comes back to the field;
// - the count is announced in a polite live region; known issue and out-of-scope redirect shown above;
// - with opts.answer (the widget), the answer card above the list when the engine is confident: the
//   section's sanitised HTML (answer=1) rebuilt node by node from an allowlist, never inserted as markup.
// No eval, no inline script or style, DOM built with createElement/textContent: fine under a strict CSP.
(function () {
  "use strict";
  var DELAY = 180;
  var MIN_CHARS = 3;
  var K = 5;
  var counter = 0;
  // What the answer card may contain (the rest is unwrapped to its text; images and anything else dropped).
  var CARD_TAGS = { P: 1, OL: 1, UL: 1, LI: 1, STRONG: 1, EM: 1, B: 1, I: 1, CODE: 1, PRE: 1, KBD: 1, MARK: 1,
    BR: 1, A: 1, H3: 1, H4: 1, H5: 1, H6: 1, BLOCKQUOTE: 1, TABLE: 1, THEAD: 1, TBODY: 1, TR: 1, TH: 1, TD: 1 };
  var CARD_DROP = { IMG: 1, SCRIPT: 1, STYLE: 1, IFRAME: 1, OBJECT: 1, SVG: 1, TEMPLATE: 1 };

  function attach(opts) {
    var input = opts.input;
    var box = opts.box;
    var list = box.querySelector(".suggest-list");
    var status = box.querySelector(".suggest-status");
    var issue = box.querySelector(".suggest-issue");
    var redirect = box.querySelector(".suggest-redirect");
    var answer = opts.answer ? box.querySelector(".suggest-answer") : null;
    var base = opts.base || "";
    var msg = opts.messages || {};
    var timer = null;
    var controller = null;
    var shownFor = null;
    var id = "kb-suggest-" + (++counter);

    list.id = id;
    input.setAttribute("aria-controls", id);
    if (msg.keys) {
      var help = document.createElement("span");
      help.id = id + "-keys";
      help.className = "visually-hidden";
      help.textContent = msg.keys;
      box.appendChild(help);
      var described = input.getAttribute("aria-describedby");
      input.setAttribute("aria-describedby", (described ? described + " " : "") + help.id);
    }

    function text() { return input.value.replace(/\s+/g, " ").trim(); }

    function links() { return Array.prototype.slice.call(list.querySelectorAll("a")); }

    function clear(el) { while (el.firstChild) { el.removeChild(el.firstChild); } }

    function hide() {
      if (answer) { answer.hidden = true; clear(answer); }
      list.hidden = true;
      issue.hidden = true;
      redirect.hidden = true;
      clear(list);
      shownFor = null;
    }

    function articleUrl(hit, query) {
      var url = base + hit.url + "?ch=" + encodeURIComponent(opts.channel || "web") +
        "&q=" + encodeURIComponent(query.slice(0, 300));
      // Straight to the section that answers (its anchor on the article page).
      if (hit.section && hit.section.anchor) { url += "#" + encodeURIComponent(hit.section.anchor); }
      return url;
    }

    function copyCard(from, to, query) {
      Array.prototype.forEach.call(from.childNodes, function (node) {
        if (node.nodeType === 3) { to.appendChild(document.createTextNode(node.nodeValue)); return; }
        if (node.nodeType !== 1 || CARD_DROP[node.tagName]) { return; }
        if (!CARD_TAGS[node.tagName]) { copyCard(node, to, query); return; }
        var copy = document.createElement(node.tagName.toLowerCase());
        if (node.tagName === "A") {
          var url;
          try { url = new URL(node.getAttribute("href") || "", base || window.location.href); } catch (e) { url = null; }
          if (!url || (url.protocol !== "https:" && url.protocol !== "http:")) { copyCard(node, to, query); return; }
          copy.href = url.href;
          if (opts.target) { copy.target = opts.target; copy.rel = "noopener"; }
        }
        copyCard(node, copy, query);
        to.appendChild(copy);
      });
    }

    function renderAnswer(query, data) {
      if (!answer) { return; }
      clear(answer);
      var card = data.answer;
      answer.hidden = !card;
      if (!card) { return; }
      var at = articleUrl({ url: card.url.split("#")[0], section: { anchor: card.anchor } }, query);
      var other = card.article_id.split("/")[0] !== opts.lang;
      var kicker = document.createElement("p");
      kicker.className = "answer-kicker";
      kicker.textContent = msg.answer || "";
      var title = document.createElement("h3");
      title.className = "answer-title";
      var link = document.createElement("a");
      link.href = at;
      if (opts.target) { link.target = opts.target; link.rel = "noopener"; }
      link.textContent = card.title;
      title.appendChild(link);
      var heading = document.createElement("p");
      heading.className = "answer-section";
      heading.textContent = card.heading.split(" > ").join(" \u203a ");
      var body = document.createElement("div");
      body.className = "answer-body";
      copyCard(new DOMParser().parseFromString(card.html, "text/html").body, body, query);
      [title, heading, body].forEach(function (node) {
        if (other) { node.setAttribute("lang", card.article_id.split("/")[0]); }
      });
      var more = document.createElement("p");
      more.className = "answer-more";
      var moreLink = document.createElement("a");
      moreLink.href = at;
      if (opts.target) { moreLink.target = opts.target; moreLink.rel = "noopener"; }
      moreLink.textContent = card.truncated ? (msg.more || "") : (msg.open || msg.more || "");
      more.appendChild(moreLink);
      [kicker, title, heading, body, more].forEach(function (node) { answer.appendChild(node); });
    }

    function render(query, data) {
      renderAnswer(query, data);
      clear(list);
      var hits = data.hits || [];
      var known = data.known_issue;
      issue.hidden = !known;
      if (known) {
        clear(issue);
        var strong = document.createElement("strong");
        strong.textContent = known.banner || known.title;
        var p1 = document.createElement("p");
        p1.appendChild(strong);
        var p2 = document.createElement("p");
        p2.textContent = msg.issue || "";
        issue.appendChild(p1);
        issue.appendChild(p2);
      }
      redirect.hidden = !data.redirect;
      if (data.redirect) {
        redirect.textContent = data.redirect.message;
      }
      hits.forEach(function (hit) {
        var li = document.createElement("li");
        var a = document.createElement("a");
        a.href = articleUrl(hit, query);
        if (opts.target) { a.target = opts.target; a.rel = "noopener"; }
        var title = document.createElement("span");
        title.className = "suggest-title";
        title.textContent = hit.title;
        a.appendChild(title);
        if (hit.lang && hit.lang !== opts.lang) {
          a.setAttribute("hreflang", hit.lang);
          title.setAttribute("lang", hit.lang);
          var badge = document.createElement("span");
          badge.className = "badge";
          badge.textContent = (msg.languages || {})[hit.lang] || hit.lang.toUpperCase();
          a.appendChild(badge);
        }
        if (hit.snippet) {
          var snip = document.createElement("span");
          snip.className = "suggest-snippet";
          snip.textContent = hit.snippet;
          if (hit.lang && hit.lang !== opts.lang) { snip.setAttribute("lang", hit.lang); }
          a.appendChild(snip);
        }
        li.appendChild(a);
        list.appendChild(li);
      });
      list.hidden = hits.length === 0;
      shownFor = query;
      var count = hits.length ? (msg.count || "{n}").replace("{n}", String(hits.length)) : (msg.none || "");
      // Re-announce even when the count did not change (the articles did).
      status.textContent = "";
      window.setTimeout(function () { status.textContent = count; }, 50);
      box.setAttribute("data-state", "shown");
      if (opts.onResult) { opts.onResult(data); }
    }

    function fetchNow() {
      var query = text();
      if (query.length < MIN_CHARS) { hide(); return; }
      if (query === shownFor) { return; }
      if (controller) { controller.abort(); }
      controller = window.AbortController ? new AbortController() : null;
      var params = "q=" + encodeURIComponent(query) + "&k=" + K + "&known_issues=1" +
        (opts.lang ? "&ui=" + encodeURIComponent(opts.lang) : "") + (answer ? "&answer=1" : "");
      box.setAttribute("data-state", "loading");
      fetch(base + "/api/v1/search?" + params, {
        signal: controller ? controller.signal : undefined,
        headers: { "Accept": "application/json" },
        credentials: base ? "omit" : "same-origin"
      }).then(function (response) {
        if (!response.ok) { throw new Error("search " + response.status); }
        return response.json();
      }).then(function (data) {
        if (text() !== query) { return; }  // the customer kept typing: a newer request is on its way
        render(query, data);
      }).catch(function (err) {
        if (err && err.name === "AbortError") { return; }
        box.setAttribute("data-state", "error");  // suggestions are a bonus: the form still works
      });
    }

    input.addEventListener("input", function () {
      window.clearTimeout(timer);
      timer = window.setTimeout(fetchNow, DELAY);
    });

    input.addEventListener("keydown", function (event) {
      var items = links();
      if (event.key === "ArrowDown" && items.length && !list.hidden) {
        // In a multi-line field the arrow moves the caret until it is on the last line.
        if (input.tagName === "TEXTAREA" && input.selectionStart < input.value.length &&
            input.value.slice(input.selectionStart).indexOf("\n") !== -1) { return; }
        event.preventDefault();
        items[0].focus();
      } else if (event.key === "Escape" && !list.hidden) {
        event.preventDefault();
        hide();
      }
    });

    list.addEventListener("keydown", function (event) {
      var items = links();
      var at = items.indexOf(document.activeElement);
      if (box.getRootNode && box.getRootNode() !== document) {
        at = items.indexOf(box.getRootNode().activeElement);
      }
      if (event.key === "ArrowDown") {
        event.preventDefault();
        if (at < items.length - 1) { items[at + 1].focus(); }
      } else if (event.key === "ArrowUp") {
        event.preventDefault();
        if (at > 0) { items[at - 1].focus(); } else { input.focus(); }
      } else if (event.key === "Escape") {
        event.preventDefault();
        input.focus();
        hide();
      } else if (event.key === "Home" || event.key === "End") {
        event.preventDefault();
        items[event.key === "Home" ? 0 : items.length - 1].focus();
      }
    });

    return { refresh: fetchNow, hide: hide };
  }

  // Reads the translated messages a help-centre page rendered into the box's data-msg-* attributes.
  function messagesOf(box) {
    return {
      count: box.getAttribute("data-msg-count"),
      none: box.getAttribute("data-msg-none"),
      issue: box.getAttribute("data-msg-issue"),
      languages: JSON.parse(box.getAttribute("data-msg-languages") || "{}"),
      keys: box.getAttribute("data-msg-keys")
    };
  }

  window.kbEngineSuggest = { attach: attach, messagesOf: messagesOf };
})();
