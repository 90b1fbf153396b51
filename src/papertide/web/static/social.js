// papertide: the Save button as a menu of your lists. Without this file the button opens
// /lists/save (a page of the same choices), which is where it still goes when you are not
// signed in or anything fails.
(function () {
  "use strict";

  function csrfToken() {
    var match = document.cookie.match(/(?:^|;\s*)pt_csrf=([^;]+)/);
    if (match) return decodeURIComponent(match[1]);
    var input = document.querySelector('input[name="csrf_token"]');
    return input ? input.value : "";
  }

  function fallback(form) {
    var paper = form.querySelector('input[name="paper"]').value;
    window.location.assign(form.action + "?paper=" + encodeURIComponent(paper));
  }

  function closeMenus(except) {
    var open = document.querySelectorAll(".save-menu");
    for (var i = 0; i < open.length; i++) {
      if (open[i] === except) continue;
      var button = open[i].parentNode.querySelector("button");
      if (button) button.setAttribute("aria-expanded", "false");
      open[i].remove();
    }
  }

  function listPath(list, paper) {
    return "/api/users/" + encodeURIComponent(list.owner) + "/lists/" +
      encodeURIComponent(list.slug) + "/papers/" + paper;
  }

  // Not disabled while the request runs: a disabled box loses the keyboard focus.
  function toggle(box, list, paper) {
    if (box.dataset.busy) {
      box.checked = !box.checked;
      return;
    }
    box.dataset.busy = "1";
    box.setAttribute("aria-busy", "true");
    fetch(listPath(list, paper), {
      method: box.checked ? "PUT" : "DELETE",
      credentials: "same-origin",
      headers: { Accept: "application/json", "X-CSRF-Token": csrfToken() },
    })
      .then(function (response) {
        if (!response.ok) throw new Error("save failed: HTTP " + response.status);
        return response.json();
      })
      .then(function (data) {
        box.checked = !!data.saved;
        box.parentNode.querySelector(".size").textContent = " (" + data.size + ")";
      })
      .catch(function () {
        box.checked = !box.checked;
      })
      .then(function () {
        delete box.dataset.busy;
        box.removeAttribute("aria-busy");
      });
  }

  function buildMenu(form, lists, paper) {
    var menu = document.createElement("div");
    menu.className = "save-menu";
    menu.setAttribute("role", "group");
    menu.setAttribute("aria-label", "Save to your lists");
    lists.forEach(function (list) {
      var label = document.createElement("label");
      var box = document.createElement("input");
      box.type = "checkbox";
      box.checked = !!list.saved;
      box.addEventListener("change", function () { toggle(box, list, paper); });
      var size = document.createElement("span");
      size.className = "size";
      size.textContent = " (" + list.size + ")";
      label.appendChild(box);
      label.appendChild(document.createTextNode(" " + list.name));
      label.appendChild(size);
      menu.appendChild(label);
    });
    var more = document.createElement("a");
    more.href = form.action + "?paper=" + paper;
    more.textContent = lists.length ? "New list…" : "Start a list…";
    menu.appendChild(more);
    menu.addEventListener("keydown", function (event) {
      if (event.key !== "Escape") return;
      closeMenus(null);
      form.querySelector("button").focus();
    });
    return menu;
  }

  function openMenu(event) {
    var form = event.currentTarget;
    var button = form.querySelector("button");
    event.preventDefault();
    if (form.querySelector(".save-menu")) {
      closeMenus(null);
      return;
    }
    var paper = encodeURIComponent(form.querySelector('input[name="paper"]').value);
    fetch("/api/lists?paper=" + paper, {
      credentials: "same-origin",
      headers: { Accept: "application/json" },
    })
      .then(function (response) {
        if (!response.ok) throw new Error("lists: HTTP " + response.status);
        return response.json();
      })
      .then(function (lists) {
        closeMenus(null);
        var menu = buildMenu(form, lists, paper);
        form.appendChild(menu);
        button.setAttribute("aria-expanded", "true");
        var first = menu.querySelector("input, a");
        if (first) first.focus();
      })
      .catch(function () {
        fallback(form);
      });
  }

  function setUp() {
    var forms = document.querySelectorAll("form.save");
    for (var i = 0; i < forms.length; i++) {
      forms[i].addEventListener("submit", openMenu);
      forms[i].querySelector("button").setAttribute("aria-expanded", "false");
    }
    document.addEventListener("click", function (event) {
      if (!event.target.closest || !event.target.closest("form.save")) closeMenus(null);
    });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", setUp);
  else setUp();
})();
