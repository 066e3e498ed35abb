// kb-engine embeddable widget: a "Help" button that opens a small search panel with live suggestions.
//   <script src="https://kb.example.com/static/widget.js" data-lang="fr" defer></script>
// Everything lives in a shadow root (own stylesheet, nothing leaks either way). No inline script or
// style, no eval, DOM built with createElement/textContent: it runs under a strict CSP that allows
// kb-engine's origin in script-src, style-src and connect-src. It talks to /api/v1/search (CORS:
// KB_CORS_ORIGINS); articles open on the help centre with ?ch=widget, counted as widget deflections.
(function () {
  "use strict";
  var script = document.currentScript;
  if (!script || !script.src || window.kbEngineWidget) { return; }
  var base = new URL(script.src, window.location.href).origin;
  var STRINGS = {
    en: {
      open: "Help", close: "Close", title: "How can we help?", label: "Describe your problem",
      placeholder: "e.g. the printer says offline", count: "Suggested articles: {n}",
      none: "No article matches yet: keep describing the problem.",
      issue: "No need to report it again: technicians are already working on it.",
      keys: "Use the down arrow to go through the suggestions, Escape to come back.",
      all: "Open the help centre", contact: "Contact support", newTab: "(opens in a new tab)",
      answer: "The answer, from our article", more: "Read the whole article",
      openStep: "Open the article at this step",
      languages: { en: "in English", fr: "in French" }
    },
    fr: {
      open: "Aide", close: "Fermer", title: "Comment pouvons-nous vous aider\u00a0?", label: "Décrivez votre problème",
      placeholder: "ex.\u00a0: l'imprimante est hors ligne", count: "Articles suggérés\u00a0: {n}",
      none: "Aucun article ne correspond pour l'instant\u00a0: continuez à décrire le problème.",
      issue: "Inutile de le signaler à nouveau\u00a0: les techniciens y travaillent déjà.",
      keys: "Flèche vers le bas pour parcourir les suggestions, Échap pour revenir.",
      all: "Ouvrir le centre d'aide", contact: "Contacter le support", newTab: "(s'ouvre dans un nouvel onglet)",
      answer: "La réponse, tirée de notre article", more: "Lire l'article en entier",
      openStep: "Ouvrir l'article à cette étape",
      languages: { en: "en anglais", fr: "en français" }
    }
  };
  var wanted = (script.getAttribute("data-lang") || document.documentElement.lang ||
    navigator.language || "en").slice(0, 2).toLowerCase();
  var lang = STRINGS[wanted] ? wanted : "en";
  var t = STRINGS[lang];

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) { node.className = className; }
    if (text) { node.textContent = text; }
    return node;
  }

  var host = el("div");
  host.setAttribute("data-kb-engine-widget", "");
  var root = host.attachShadow({ mode: "open" });
  var sheet = el("link");
  sheet.rel = "stylesheet";
  sheet.href = base + "/static/widget.css";
  root.appendChild(sheet);

  var wrap = el("div", "kbw");
  wrap.setAttribute("lang", lang);
  var toggle = el("button", "kbw-toggle", t.open);
  toggle.type = "button";
  toggle.setAttribute("aria-expanded", "false");
  toggle.setAttribute("aria-controls", "kbw-panel");
  var panel = el("section", "kbw-panel");
  panel.id = "kbw-panel";
  panel.hidden = true;
  panel.setAttribute("aria-labelledby", "kbw-title");
  var head = el("div", "kbw-head");
  var title = el("h2", "kbw-title", t.title);
  title.id = "kbw-title";
  var close = el("button", "kbw-close", "\u00d7");
  close.type = "button";
  close.setAttribute("aria-label", t.close);
  head.appendChild(title);
  head.appendChild(close);
  var form = el("form", "kbw-form");
  form.setAttribute("role", "search");
  var label = el("label", "kbw-label", t.label);
  label.htmlFor = "kbw-q";
  var input = el("input", "kbw-input");
  input.id = "kbw-q";
  input.type = "search";
  input.autocomplete = "off";
  input.maxLength = 2000;
  input.placeholder = t.placeholder;
  form.appendChild(label);
  form.appendChild(input);
  // The same markup as the help centre's suggestion box (suggest.js fills it).
  var box = el("div", "suggest");
  var status = el("p", "visually-hidden suggest-status");
  status.setAttribute("role", "status");
  status.setAttribute("aria-live", "polite");
  var issue = el("aside", "known-issue suggest-issue");
  issue.hidden = true;
  var redirect = el("p", "redirect suggest-redirect");
  redirect.hidden = true;
  // The answer card (issue 26): the section that answers, when the engine is confident.
  var answer = el("section", "answer-card suggest-answer");
  answer.setAttribute("aria-label", t.answer);
  answer.hidden = true;
  var list = el("ul", "suggest-list");
  list.setAttribute("aria-label", t.title);
  list.hidden = true;
  [status, issue, redirect, answer, list].forEach(function (node) { box.appendChild(node); });
  form.appendChild(box);
  var foot = el("p", "kbw-foot");
  var all = el("a", "", t.all);
  all.target = "_blank";
  all.rel = "noopener";
  var contact = el("a", "", t.contact);
  contact.target = "_blank";
  contact.rel = "noopener";
  // Both open a new tab: said to screen readers, so that leaving the page is no surprise.
  [all, contact].forEach(function (link) { link.appendChild(el("span", "visually-hidden", " " + t.newTab)); });
  foot.appendChild(all);
  foot.appendChild(contact);
  [head, form, foot].forEach(function (node) { panel.appendChild(node); });
  wrap.appendChild(panel);
  wrap.appendChild(toggle);
  root.appendChild(wrap);

  function links() {
    var q = input.value.trim();
    all.href = base + (q ? "/search?" + new URLSearchParams({ q: q, ch: "widget", lang: lang }) : "/?lang=" + lang);
    contact.href = base + "/contact?" + new URLSearchParams(q ? { q: q, lang: lang } : { lang: lang });
  }
  links();

  function setOpen(open) {
    panel.hidden = !open;
    toggle.setAttribute("aria-expanded", open ? "true" : "false");
    if (open) { input.focus(); } else { toggle.focus(); }
  }
  toggle.addEventListener("click", function () { setOpen(panel.hidden); });
  close.addEventListener("click", function () { setOpen(false); });
  panel.addEventListener("keydown", function (event) {
    if (event.key === "Escape" && list.hidden) { setOpen(false); }
  });
  input.addEventListener("input", links);
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    if (input.value.trim()) { window.open(all.href, "_blank", "noopener"); }
  });

  function start() {
    window.kbEngineSuggest.attach({
      input: input,
      box: box,
      base: base,
      channel: "widget",
      lang: lang,
      target: "_blank",
      answer: true,
      messages: {
        count: t.count, none: t.none, issue: t.issue, keys: t.keys, languages: t.languages,
        answer: t.answer, more: t.more, open: t.openStep
      }
    });
    host.setAttribute("data-ready", "true");
  }

  function mount() {
    document.body.appendChild(host);
    if (window.kbEngineSuggest) { start(); return; }
    var loader = document.createElement("script");
    loader.src = base + "/static/suggest.js";
    loader.addEventListener("load", start);
    document.head.appendChild(loader);
  }

  window.kbEngineWidget = { open: function () { setOpen(true); }, close: function () { setOpen(false); } };
  if (document.body) { mount(); } else { document.addEventListener("DOMContentLoaded", mount); }
})();
