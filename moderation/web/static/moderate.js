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

// Live updates for the queue page: short polling of /moderate/updates (docs/deployment.md says why
// not server-sent events). Counts are kept true; arrivals are announced with a "N new — show"
// button instead of moving the list; a card a colleague decided is greyed and says who and what,
// but stays where it is. Without this script the page is simply as it was drawn.
(function () {
  "use strict";

  const STATUS_NAMES = { held: "Held", approved: "Approved", rejected: "Rejected" };

  function viewOf(link) {
    return new URL(link.href, window.location.href).searchParams.get("view") || "pending";
  }

  function reasonOf(link) {
    return new URL(link.href, window.location.href).searchParams.get("reason");
  }

  function setCount(element, n) {
    if (element && typeof n === "number") element.textContent = String(n);
  }

  function updateCounts(data) {
    document.querySelectorAll("nav.views a").forEach((link) => setCount(link.querySelector("b"), data.views[viewOf(link)]));
    const byReason = data.by_reason || {};
    // A comment with several reasons is in several reason counts: the total is its own number.
    const total = data.total;
    document.querySelectorAll("nav.counts a").forEach((link) => {
      const reason = reasonOf(link);
      setCount(link.querySelector("b"), reason ? (byReason[reason] || 0) : total);
    });
    document.querySelectorAll("form.filters select[name=reason] option").forEach((option) => {
      if (option.value) option.textContent = option.textContent.replace(/\(\d+\)$/, `(${byReason[option.value] || 0})`);
    });
    const size = data.views[data.view];
    if (typeof size === "number") {
      const heading = document.querySelector("h1.page-title span");
      if (heading) heading.textContent = `(${size})`;
      document.title = document.title.replace(/\(\d+\)/, `(${size})`);
    }
  }

  function describe(entry) {
    const now = STATUS_NAMES[entry.status] || entry.status;
    if (entry.action === "undo") return `${entry.by} undid a decision ${entry.age}: now ${now.toLowerCase()}. Reload to act on it.`;
    return `${now} by ${entry.by} ${entry.age}. Reload to act on it.`;
  }

  function markDecided(data) {
    (data.decided || []).forEach((entry) => {
      const card = document.getElementById(`c-${entry.id}`);
      if (!card) return;
      let note = card.querySelector("p.elsewhere");
      if (card.dataset.status === entry.status) {
        // Changed and changed back (an undo): the card is true again.
        card.classList.remove("decided-elsewhere");
        if (note) note.remove();
        return;
      }
      card.classList.add("decided-elsewhere");
      if (!note) {
        note = document.createElement("p");
        note.className = "elsewhere";
        const decision = card.querySelector("p.decision");
        if (decision) decision.after(note); else card.prepend(note);
      }
      note.textContent = describe(entry);
    });
  }

  function start(live) {
    const url = live.dataset.updates;
    const interval = Math.max(0.2, Number(live.dataset.pollSeconds) || 5) * 1000;
    const prompt = document.createElement("button");
    prompt.type = "button";
    prompt.className = "new-comments primary";
    prompt.hidden = true;
    prompt.addEventListener("click", () => window.location.reload());
    const status = document.createElement("span");
    status.className = "live-status";
    live.append(prompt, status);
    let timer = null;
    let busy = false;
    let stopped = false;
    let failures = 0;

    function schedule() {
      if (stopped || timer !== null || busy || document.hidden) return;
      timer = setTimeout(poll, interval * Math.min(1 + failures, 6));
    }

    function apply(data) {
      updateCounts(data);
      markDecided(data);
      const shown = new Set(Array.from(document.querySelectorAll("li.comment[data-id]"), (li) => li.dataset.id));
      const fresh = (data.arrived || []).filter((id) => !shown.has(id)).length;
      prompt.textContent = `${fresh} new — show`;
      prompt.hidden = fresh === 0;
    }

    async function poll() {
      timer = null;
      if (stopped || busy || document.hidden) return;
      busy = true;
      try {
        const response = await fetch(url, { credentials: "same-origin", cache: "no-store", headers: { Accept: "application/json" } });
        if (response.status === 401) {
          stopped = true;
          const link = document.createElement("a");
          link.href = "login";
          link.textContent = "Sign in again";
          status.replaceChildren("You are signed out; the queue is no longer updated. ", link);
          return;
        }
        if (!response.ok) throw new Error(`updates answered ${response.status}`);
        apply(await response.json());
        failures = 0;
        status.textContent = "";
      } catch (error) {
        failures += 1;
        if (failures >= 3) status.textContent = "Live updates are not reaching the server; still trying.";
      } finally {
        busy = false;
        schedule();
      }
    }

    // A hidden tab does not poll; it catches up as soon as it is shown again.
    document.addEventListener("visibilitychange", () => {
      if (document.hidden) return;
      if (timer !== null) { clearTimeout(timer); timer = null; }
      poll();
    });
    schedule();
  }

  document.addEventListener("DOMContentLoaded", () => {
    const live = document.getElementById("live");
    if (live && live.dataset.updates) start(live);
  });
})();
