// Keyboard shortcuts for the review queue. Every shortcut submits a form the page already has,
// so the page works the same without this file.
(function () {
  "use strict";

  const items = () => Array.from(document.querySelectorAll("li.comment"));
  let current = -1;

  function select(index) {
    const list = items();
    if (list.length === 0) return;
    current = Math.max(0, Math.min(index, list.length - 1));
    list.forEach((item, i) => item.classList.toggle("selected", i === current));
    list[current].focus({ preventScroll: true });
    list[current].scrollIntoView({ block: "nearest" });
  }

  function currentItem() {
    return items()[current] || null;
  }

  function submitVerdict(key) {
    const item = currentItem();
    const button = item && item.querySelector(`form.verdict button[data-key="${key}"]`);
    if (button) button.form.requestSubmit(button);
  }

  function toggleHelp(show) {
    const help = document.getElementById("help");
    if (help) help.hidden = show === undefined ? !help.hidden : !show;
  }

  function typing(target) {
    return target instanceof HTMLElement &&
      (target.isContentEditable || ["INPUT", "SELECT", "TEXTAREA"].includes(target.tagName) &&
        !(target instanceof HTMLInputElement && target.type === "checkbox"));
  }

  // The author drawer: the author page loaded into a modal dialog (the link opens it as a page
  // without this script). The dialog closes on Escape by itself; focus goes to its heading.
  async function openAuthor(link) {
    const drawer = document.getElementById("author-drawer");
    if (!drawer || typeof drawer.showModal !== "function") return false;
    const response = await fetch(link.href, { credentials: "same-origin", headers: { Accept: "text/html" } });
    if (!response.ok) return false;
    const page = new DOMParser().parseFromString(await response.text(), "text/html");
    const view = page.querySelector("section.author-view");
    if (!view) return false;
    const body = drawer.querySelector(".drawer-body");
    body.replaceChildren(document.adoptNode(view));
    drawer.showModal();
    const heading = body.querySelector("h1");
    if (heading) heading.focus();
    return true;
  }

  document.addEventListener("click", (event) => {
    const link = event.target instanceof Element && event.target.closest("a.author-link");
    if (!link || event.ctrlKey || event.metaKey || event.shiftKey || event.button !== 0) return;
    if (!document.getElementById("author-drawer")) return;
    event.preventDefault();
    openAuthor(link).then((shown) => { if (!shown) window.location.href = link.href; },
      () => { window.location.href = link.href; });
  });

  document.addEventListener("keydown", (event) => {
    // Shortcuts act on the queue; while the author drawer is open they are its own keys.
    if (document.querySelector("dialog[open]")) return;
    if (event.ctrlKey || event.metaKey || event.altKey || typing(event.target)) return;
    const actions = {
      j: () => select(current + 1),
      k: () => select(current - 1),
      a: () => submitVerdict("a"),
      s: () => submitVerdict("s"),
      t: () => submitVerdict("t"),
      x: () => {
        const box = currentItem() && currentItem().querySelector("input[type=checkbox]");
        if (box) box.checked = !box.checked;
      },
      u: () => {
        const button = document.getElementById("undo");
        if (button) button.form.requestSubmit(button);
      },
      "?": () => toggleHelp(),
      Escape: () => toggleHelp(false),
    };
    const action = actions[event.key];
    if (action) {
      event.preventDefault();
      action();
    }
  });

  document.addEventListener("DOMContentLoaded", () => {
    items().forEach((item, i) => item.addEventListener("click", () => {
      if (current !== i) select(i);
    }));
    const helpButton = document.querySelector(".help-toggle");
    if (helpButton) {
      helpButton.hidden = false;
      helpButton.addEventListener("click", () => toggleHelp());
    }
    // The server refuses an undo after the window anyway; this only hides a button that would fail.
    const undo = document.querySelector("form.undo[data-remaining]");
    if (undo) {
      const seconds = Number(undo.dataset.remaining) || 0;
      setTimeout(() => { undo.hidden = true; }, seconds * 1000);
    }
    select(0);
  });
})();
