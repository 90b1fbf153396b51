// papertide: small progressive enhancements. Every page works without this file:
// math then shows as TeX source, abstracts stay clamped (the paper page shows them whole),
// vote forms post normally, and the theme follows the system's.
// boot.js (inline in <head>, before the first paint) applies the stored theme and density.
(function () {
  "use strict";

  // Math: KaTeX auto-render over titles and abstracts. The server (web/tex.py) has already
  // told math from dollar signs (prices) and written math as \(...\) and \[...\], so
  // those are the only delimiters here: a "$" on the page is always a dollar.
  function renderMath(root) {
    if (typeof window.renderMathInElement !== "function") return;
    var nodes = root.querySelectorAll(".math");
    for (var i = 0; i < nodes.length; i++) {
      window.renderMathInElement(nodes[i], {
        delimiters: [
          { left: "\\[", right: "\\]", display: true },
          { left: "\\(", right: "\\)", display: false },
        ],
        throwOnError: false,
        ignoredTags: ["script", "noscript", "style", "textarea", "pre", "code", "option"],
      });
    }
    // A formula wider than the column scrolls: let the keyboard scroll it too.
    var wide = root.querySelectorAll(".katex-display");
    for (var j = 0; j < wide.length; j++) {
      if (wide[j].scrollWidth > wide[j].clientWidth) wide[j].setAttribute("tabindex", "0");
    }
  }

  // Abstracts: "More" unclamps the abstract of its card, "Less" clamps it again.
  function setUpExpanders(root) {
    var buttons = root.querySelectorAll("article.paper button.expand");
    for (var i = 0; i < buttons.length; i++) {
      var button = buttons[i];
      var card = button.closest("article.paper");
      var abstract = card && card.querySelector(".abstract");
      if (!abstract) continue;
      if (!abstract.id) abstract.id = "abstract-" + (card.dataset.paperId || i).replace(/\W/g, "-");
      button.setAttribute("aria-controls", abstract.id);
      button.setAttribute("aria-expanded", "false");
      // Short abstracts that fit in the clamp need no button; it keeps its line (no shift).
      if (abstract.scrollHeight <= abstract.clientHeight + 1) button.classList.add("fits");
      button.addEventListener("click", toggleAbstract);
    }
  }

  function toggleAbstract(event) {
    var button = event.currentTarget;
    var abstract = document.getElementById(button.getAttribute("aria-controls"));
    var expanded = abstract.classList.toggle("expanded");
    button.textContent = expanded ? "Less" : "More";
    button.setAttribute("aria-expanded", expanded ? "true" : "false");
  }

  // Votes: post with fetch and update the count in place; a 401 goes to the login page.
  // A reader who is not logged in has a plain form to the log-in page instead (method get).
  function setUpVotes(root) {
    var forms = root.querySelectorAll('form.vote[method="post"]');
    for (var i = 0; i < forms.length; i++) forms[i].addEventListener("submit", submitVote);
  }

  function submitVote(event) {
    var form = event.currentTarget;
    var button = form.querySelector("button.upvote");
    var tokenInput = form.querySelector('input[name="csrf_token"]');
    event.preventDefault();
    if (form.dataset.busy) return;
    form.dataset.busy = "1";
    // Not `disabled`: a disabled button loses focus, and a keyboard user is left on <body>.
    if (button) button.setAttribute("aria-disabled", "true");
    fetch(form.action, {
      method: "POST",
      credentials: "same-origin",
      headers: {
        Accept: "application/json",
        "X-CSRF-Token": tokenInput ? tokenInput.value : "",
      },
      body: new FormData(form),
    })
      .then(function (response) {
        if (response.status === 401) {
          var here = window.location.pathname + window.location.search;
          window.location.assign("/login?next=" + encodeURIComponent(here));
          return null;
        }
        if (!response.ok) throw new Error("vote failed: HTTP " + response.status);
        return response.json();
      })
      .then(function (data) {
        if (!data) return;
        var card = form.closest("article.paper") || form.parentElement || document;
        var count = card.querySelector(".vote-count");
        if (count) count.textContent = String(data.votes);
        if (button) button.setAttribute("aria-pressed", data.voted ? "true" : "false");
        // The form says what the next click does: vote, or take the vote back.
        var next = form.querySelector('input[name="up"]');
        if (next) next.value = data.voted ? "false" : "true";
      })
      .catch(function () {
        // The JSON path failed (network, CSRF): fall back on the plain form post.
        form.removeEventListener("submit", submitVote);
        form.submit();
      })
      .finally(function () {
        delete form.dataset.busy;
        if (button) button.removeAttribute("aria-disabled");
      });
  }

  // After a vote posted without scripts' help (the fallback), the page comes back with
  // #voted=<paper id>: focus that paper's vote button again, and drop the fragment.
  function refocusVote() {
    var match = /^#voted=(.+)$/.exec(window.location.hash);
    if (!match) return;
    var id = decodeURIComponent(match[1]);
    var cards = document.querySelectorAll("article.paper");
    for (var i = 0; i < cards.length; i++) {
      var button = cards[i].querySelector("button.upvote");
      if (cards[i].dataset.paperId === id && button) {
        button.focus();
        break;
      }
    }
    if (window.history && window.history.replaceState) {
      window.history.replaceState(null, "", window.location.pathname + window.location.search);
    }
  }

  // BibTeX: copy the entry to the clipboard; say so on the button for a moment.
  function setUpCopy(root) {
    var buttons = root.querySelectorAll("button.copy-bibtex");
    for (var i = 0; i < buttons.length; i++) buttons[i].addEventListener("click", copyBibtex);
  }

  function copyBibtex(event) {
    var button = event.currentTarget;
    var scope = button.closest("section, article, main") || document;
    var pre = scope.querySelector("pre.bibtex") || document.querySelector("pre.bibtex");
    if (!pre) return;
    var label = button.dataset.label || button.textContent;
    button.dataset.label = label;
    function done(message) {
      button.textContent = message;
      window.setTimeout(function () { button.textContent = label; }, 1500);
    }
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(pre.textContent).then(
        function () { done("Copied"); },
        function () { selectText(pre); done("Press Ctrl+C"); }
      );
    } else {
      selectText(pre);
      done(document.execCommand && document.execCommand("copy") ? "Copied" : "Press Ctrl+C");
    }
  }

  function selectText(element) {
    var range = document.createRange();
    range.selectNodeContents(element);
    var selection = window.getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
  }

  // View toggles in the header: dark theme and compact list, kept in localStorage.
  // Picking what the system prefers anyway forgets the choice (the page follows the system).
  var root = document.documentElement;
  var systemDark = window.matchMedia ? window.matchMedia("(prefers-color-scheme: dark)") : null;

  function store(key, value) {
    try {
      if (value === null) window.localStorage.removeItem(key);
      else window.localStorage.setItem(key, value);
    } catch (e) { /* storage refused (private mode): the choice lasts for this page */ }
  }

  function isDark() {
    var chosen = root.getAttribute("data-theme");
    if (chosen) return chosen === "dark";
    return Boolean(systemDark && systemDark.matches);
  }

  function showToggles() {
    var theme = document.querySelector('button[data-toggle="theme"]');
    var density = document.querySelector('button[data-toggle="density"]');
    if (theme) theme.setAttribute("aria-pressed", isDark() ? "true" : "false");
    if (density) {
      var compact = root.getAttribute("data-density") === "compact";
      density.setAttribute("aria-pressed", compact ? "true" : "false");
    }
  }

  function toggleTheme() {
    var dark = !isDark();
    var systemMatches = Boolean(systemDark && systemDark.matches) === dark;
    if (systemMatches) root.removeAttribute("data-theme");
    else root.setAttribute("data-theme", dark ? "dark" : "light");
    store("pt-theme", systemMatches ? null : dark ? "dark" : "light");
    showToggles();
  }

  function toggleDensity() {
    var compact = root.getAttribute("data-density") !== "compact";
    if (compact) root.setAttribute("data-density", "compact");
    else root.removeAttribute("data-density");
    store("pt-density", compact ? "compact" : null);
    showToggles();
  }

  function setUpToggles() {
    var theme = document.querySelector('button[data-toggle="theme"]');
    var density = document.querySelector('button[data-toggle="density"]');
    if (theme) theme.addEventListener("click", toggleTheme);
    if (density) density.addEventListener("click", toggleDensity);
    if (systemDark && systemDark.addEventListener) systemDark.addEventListener("change", showToggles);
    showToggles();
  }

  // The phone menu: one button opens the nav and view toggles; Escape closes it again.
  function setUpMenu() {
    var button = document.querySelector("button.menu-toggle");
    var menu = document.getElementById("site-menu");
    if (!button || !menu) return;
    function show(open) {
      button.setAttribute("aria-expanded", open ? "true" : "false");
      menu.classList.toggle("open", open);
    }
    button.addEventListener("click", function () {
      show(button.getAttribute("aria-expanded") !== "true");
    });
    document.addEventListener("keydown", function (event) {
      if (event.key === "Escape" && button.getAttribute("aria-expanded") === "true") {
        show(false);
        button.focus();
      }
    });
  }

  // Pictures past the first screen: a card draws its cover until the reader scrolls within
  // 150 px of it, then the picture replaces the cover once it has loaded
  // (the box keeps its size, so nothing moves). Browsers' own loading="lazy" fetches 1250-
  // 2500 px ahead, which on a day page is some twenty pictures nobody has looked at yet
  // (a home page's first visit would weigh 170 KB and more instead of 150).
  function setUpPictures() {
    var later = document.querySelectorAll("a.picture[data-picture]");
    if (!later.length) return;
    function show(box) {
      var img = new Image(320, 200);
      img.alt = "";
      img.decoding = "async";
      img.onload = function () { box.replaceChildren(img); };
      img.src = box.getAttribute("data-picture");
      box.removeAttribute("data-picture");
    }
    if (!("IntersectionObserver" in window)) {
      later.forEach(show);
      return;
    }
    var near = new IntersectionObserver(function (entries) {
      entries.forEach(function (entry) {
        if (!entry.isIntersecting) return;
        near.unobserve(entry.target);
        show(entry.target);
      });
    }, { rootMargin: "150px 0px" });
    later.forEach(function (box) { near.observe(box); });
  }

  function start() {
    root.classList.add("js");  // boot.js did it already; kept for pages cached without it
    setUpToggles();
    setUpMenu();
    setUpPictures();
    renderMath(document.body);
    setUpExpanders(document);
    setUpVotes(document);
    setUpCopy(document);
    refocusVote();
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
