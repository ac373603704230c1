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

  document.addEventListener("keydown", (event) => {
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
