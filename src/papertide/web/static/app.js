// papertide: small progressive enhancements. Every page works without this file:
// math then shows as TeX source, abstracts stay clamped (the paper page shows them whole),
// and vote forms post normally.
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
      // Short abstracts that fit in the clamp need no button.
      if (abstract.scrollHeight <= abstract.clientHeight + 1) button.hidden = true;
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
  function setUpVotes(root) {
    var forms = root.querySelectorAll("form.vote");
    for (var i = 0; i < forms.length; i++) forms[i].addEventListener("submit", submitVote);
  }

  function submitVote(event) {
    var form = event.currentTarget;
    var button = form.querySelector("button.upvote");
    var tokenInput = form.querySelector('input[name="csrf_token"]');
    event.preventDefault();
    if (form.dataset.busy) return;
    form.dataset.busy = "1";
    if (button) button.disabled = true;
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
        if (button) button.disabled = false;
      });
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

  function start() {
    // First: the stylesheet clamps abstracts only under .js, and the expanders measure that.
    document.documentElement.classList.add("js");
    renderMath(document.body);
    setUpExpanders(document);
    setUpVotes(document);
    setUpCopy(document);
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
