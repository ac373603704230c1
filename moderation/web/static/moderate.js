// The review queue's keyboard, focus and in-place actions. Every action submits a form the page
// already has (with its CSRF token), by fetch, and updates the card where it is; without this file
// the same forms post and the page reloads. Comment text is never parsed as HTML here: whatever
// the server says is set with textContent.
(function () {
  "use strict";

  // The cards still in the view (one decided away from it is hidden, kept for an undo).
  const cards = () => Array.from(document.querySelectorAll("li.comment:not([hidden])"));
  const LABELS = { a: "ham", s: "spam", t: "toxic" };
  // The highlighted card. It is also the focused element, or holds it (roving tabindex: only it is
  // in the tab order), so the keys act on what the moderator sees focused.
  let current = null;
  // A card's decision line and status as drawn, for an undo after an in-place change.
  const drawn = new WeakMap();
  let undoTimer = null;

  function highlight(card, focus = true, scroll = true) {
    if (!card) return;
    document.querySelectorAll("li.comment").forEach((item) => {
      const on = item === card;
      item.classList.toggle("current", on);
      item.tabIndex = on ? 0 : -1;
    });
    current = card;
    if (focus) card.focus({ preventScroll: true });
    if (scroll) card.scrollIntoView({ block: "nearest" });
  }

  function move(step) {
    const list = cards();
    if (list.length === 0) return;
    const at = list.indexOf(current);
    highlight(list[at < 0 ? 0 : Math.max(0, Math.min(at + step, list.length - 1))]);
  }

  function box(card) {
    return card.querySelector(".meta input[type=checkbox]");
  }

  function markSelected(card) {
    const input = box(card);
    card.classList.toggle("selected", Boolean(input && input.checked));
  }

  function selectedCards() {
    return cards().filter((card) => box(card) && box(card).checked);
  }

  function verdict(key) {
    // With a selection the key acts on every selected card (the bulk form); else on the current one.
    const scope = selectedCards().length ? document.getElementById("bulk") : current && current.querySelector("form.verdict");
    const button = scope && scope.querySelector(`button[name=label][value="${LABELS[key]}"]`);
    if (button) button.form.requestSubmit(button);
  }

  // --- messages -----------------------------------------------------------------------------

  function statusLine() {
    const live = document.getElementById("live");
    if (!live) return null;
    let line = live.querySelector(".action-status");
    if (!line) {
      line = document.createElement("span");
      line.className = "action-status";
      line.setAttribute("role", "status");
      live.prepend(line);
    }
    return line;
  }

  function announce(messages) {
    const line = statusLine();
    if (!line) return;
    const warn = messages.some((m) => m.level === "warn");
    line.classList.toggle("warn", warn);
    line.textContent = messages.map((m) => m.text).join(" ");
  }

  function cardError(card, text) {
    let note = card.querySelector("p.action-error");
    if (!text) {
      if (note) note.remove();
      return;
    }
    if (!note) {
      note = document.createElement("p");
      note.className = "action-error";
      note.setAttribute("role", "alert");
      card.querySelector("form.verdict").before(note);
    }
    note.textContent = text;
  }

  function signedOut() {
    const line = statusLine();
    if (!line) return;
    const link = document.createElement("a");
    link.href = "login";
    link.textContent = "Sign in again";
    line.classList.add("warn");
    line.replaceChildren("Your session has ended; nothing was changed. ", link);
  }

  // --- cards --------------------------------------------------------------------------------

  function setSeen(card, status) {
    card.querySelectorAll("input[name=seen]").forEach((input) => { input.value = `${card.dataset.id}:${status}`; });
  }

  function setStatus(card, status) {
    if (!drawn.has(card)) {
      const line = card.querySelector("p.decision");
      drawn.set(card, { status: card.dataset.status, decision: line && line.cloneNode(true) });
    }
    card.classList.remove(`status-${card.dataset.status}`);
    card.classList.add(`status-${status}`);
    card.dataset.status = status;
    setSeen(card, status);
  }

  function showDecision(card, entry) {
    setStatus(card, entry.status);
    const line = card.querySelector("p.decision");
    if (!line) return;
    const badge = document.createElement("span");
    badge.className = `badge ${entry.status}`;
    badge.textContent = entry.status.charAt(0).toUpperCase() + entry.status.slice(1);
    const parts = [badge, ` by ${entry.by || "you"} just now`];
    if (entry.reason) parts.push(` · reason: ${entry.reason.toLowerCase()}`);
    if (entry.note) {
      const note = document.createElement("q");
      note.className = "note";
      note.textContent = entry.note;
      parts.push(" · note: ", note);
    }
    line.replaceChildren(...parts);
    const more = card.querySelector("details.decide-more");
    if (more) {
      more.open = false;
      card.querySelector("form.verdict").reset();
    }
  }

  function leave(card) {
    // Out of this view now: hidden, not removed, so that an undo can bring it back as it was.
    card.hidden = true;
    const input = box(card);
    if (input) input.checked = false;
    markSelected(card);
    card.querySelectorAll("input[form=bulk]").forEach((input) => { input.disabled = true; });
  }

  function restore(card, status) {
    card.hidden = false;
    card.querySelectorAll("input[form=bulk]").forEach((input) => { input.disabled = false; });
    const was = drawn.get(card);
    if (was && was.status === status) {
      setStatus(card, status);
      if (was.decision) card.querySelector("p.decision").replaceWith(was.decision.cloneNode(true));
      drawn.delete(card);
    } else {
      showDecision(card, { status, by: "your undo" });
    }
  }

  function offerUndo(seconds) {
    const form = document.querySelector("form.undo");
    if (!form) return;
    if (undoTimer !== null) clearTimeout(undoTimer);
    undoTimer = null;
    form.hidden = seconds <= 0;
    if (seconds <= 0) return;
    // Into the bar that stays in sight, next to what was done.
    const live = document.getElementById("live");
    if (live && form.parentElement !== live) live.append(form);
    const text = form.querySelector(".undo-text");
    if (text) text.textContent = `You can undo your last action for ${seconds} more seconds.`;
    // The server refuses an undo after the window anyway; this only hides a button that would fail.
    undoTimer = setTimeout(() => { form.hidden = true; }, seconds * 1000);
  }

  // --- acting in place ------------------------------------------------------------------------

  function applyReview(form, body) {
    const before = cards();
    const focused = current;
    (body.done || []).forEach((entry) => {
      const card = document.getElementById(`c-${entry.id}`);
      if (!card) return;
      cardError(card, "");
      if (entry.stays) {
        showDecision(card, entry);
        const input = box(card);
        if (input) input.checked = false;
        markSelected(card);
      } else {
        leave(card);
      }
    });
    const taken = body.taken || [];
    taken.forEach((id) => {
      const card = document.getElementById(`c-${id}`);
      if (card) cardError(card, "Someone else reviewed this comment first; reload to see their decision.");
    });
    (body.missing || []).forEach((id) => {
      const card = document.getElementById(`c-${id}`);
      if (card) cardError(card, "This comment no longer exists.");
    });
    if ((body.done || []).length === 0 && taken.length === 0 && form.matches("form.verdict")) {
      // Refused as a whole (no reason chosen, say): the card says why.
      const card = form.closest("li.comment");
      if (card) cardError(card, (body.messages || []).map((m) => m.text).join(" "));
    }
    if (body.undo_seconds) offerUndo(body.undo_seconds);
    // The highlight moves on from a card just decided: to the next card still shown, else back.
    const acted = new Set((body.done || []).map((entry) => entry.id));
    const at = before.indexOf(focused);
    let next = focused && !focused.hidden ? focused : null;
    if (at < 0 || acted.has(focused.dataset.id)) {
      const onward = before.slice(at + 1).concat(before.slice(0, Math.max(at, 0)).reverse());
      next = onward.find((item) => !item.hidden) || next;
    }
    // Focus is moved only from a card that left, or when it was lost (a button clicked at the top
    // of the page keeps it, and the page does not scroll away from it).
    const active = document.activeElement;
    const lost = !active || active === document.body || Boolean(active.closest("[hidden]"));
    if (next && (next !== focused || lost)) highlight(next);
    if (!next) current = null;
    if (cards().length === 0) {
      const list = document.querySelector("ol.queue");
      if (list && !document.querySelector("ol.queue + p.empty")) {
        const note = document.createElement("p");
        note.className = "empty";
        note.textContent = "Nothing more on this page.";
        list.after(note);
      }
    }
  }

  function applyUndo(body) {
    let first = null;
    (body.done || []).forEach((entry) => {
      const card = document.getElementById(`c-${entry.id}`);
      if (!card) return;
      restore(card, entry.status);
      cardError(card, "");
      first = first || card;
    });
    const empty = document.querySelector("ol.queue + p.empty");
    if (first && empty) empty.remove();
    offerUndo(0);
    if (first) highlight(first);
  }

  async function act(form, submitter) {
    if (form.dataset.busy) return;
    form.dataset.busy = "1";
    const card = form.closest("li.comment");
    try {
      const response = await fetch(new URL(form.getAttribute("action"), window.location.href), {
        method: "POST",
        body: new URLSearchParams(new FormData(form, submitter || null)),
        credentials: "same-origin",
        cache: "no-store",
        headers: { Accept: "application/json" },
      });
      if (response.status === 401) {
        signedOut();
        return;
      }
      let body = null;
      try { body = await response.json(); } catch (error) { body = null; }
      if (!body) throw new Error(`the server answered ${response.status}`);
      if (body.message && !body.messages) {
        // Refused before the action (a stale security token, say): nothing was changed.
        announce([{ level: "warn", text: body.message }]);
        if (card) cardError(card, body.message);
        return;
      }
      if (form.matches("form.undo")) applyUndo(body); else applyReview(form, body);
      announce(body.messages || []);
      document.dispatchEvent(new CustomEvent("moderate:changed"));
    } catch (error) {
      const text = "The server could not be reached; nothing was changed. Try again.";
      announce([{ level: "warn", text }]);
      if (card) cardError(card, text);
    } finally {
      delete form.dataset.busy;
    }
  }

  document.addEventListener("submit", (event) => {
    const form = event.target;
    if (!(form instanceof HTMLFormElement) || !form.matches("form.verdict, form#bulk, form.undo")) return;
    if (typeof window.fetch !== "function") return;
    event.preventDefault();
    act(form, event.submitter);
  });

  // --- dialogs --------------------------------------------------------------------------------

  let helpReturn = null;

  function toggleHelp(show) {
    const help = document.getElementById("help");
    if (!help || typeof help.showModal !== "function") return;
    if (show === undefined) show = !help.open;
    if (!show) {
      if (help.open) help.close();
      return;
    }
    if (help.open) return;
    helpReturn = document.activeElement;
    help.showModal();
    // Focus goes into the dialog; the close event gives it back.
    const close = help.querySelector(".help-close");
    if (close) close.focus();
  }

  function trapFocus(dialog, event) {
    const focusable = Array.from(dialog.querySelectorAll("button, [href], input, select, textarea, summary, [tabindex]:not([tabindex='-1'])"))
      .filter((element) => !element.disabled && element.getClientRects().length > 0);
    if (focusable.length === 0) {
      event.preventDefault();
      return;
    }
    const first = focusable[0];
    const last = focusable[focusable.length - 1];
    const inside = dialog.contains(document.activeElement);
    if (event.shiftKey && (document.activeElement === first || !inside)) {
      event.preventDefault();
      last.focus();
    } else if (!event.shiftKey && (document.activeElement === last || !inside)) {
      event.preventDefault();
      first.focus();
    }
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

  // The drawer's forms (note, ban, always hold, suspend, lift) post in the background too: the
  // drawer then shows the author page the action leads to, with its notice, and the queue stays.
  // A ban that rejected the author's held comments updates their cards here.
  async function authorAct(form, submitter) {
    const drawer = document.getElementById("author-drawer");
    const body = drawer.querySelector(".drawer-body");
    const data = new FormData(form, submitter || null);
    const say = (text) => {
      const note = document.createElement("p");
      note.className = "notice warn";
      note.setAttribute("role", "alert");
      note.textContent = text;
      body.prepend(note);
      note.scrollIntoView({ block: "nearest" });
    };
    let response;
    try {
      // Read as an attribute: the form's own "action" field would shadow form.action.
      response = await fetch(new URL(form.getAttribute("action"), window.location.href), { method: "POST", body: new URLSearchParams(data), credentials: "same-origin", headers: { Accept: "text/html" } });
    } catch (error) {
      say("The server could not be reached; nothing was changed. Try again.");
      return;
    }
    const page = new DOMParser().parseFromString(await response.text(), "text/html");
    const view = page.querySelector("section.author-view");
    if (!response.ok || !view) {
      const why = page.querySelector("section.error p, main > p.notice");
      say(new URL(response.url).pathname.endsWith("/login")
        ? "Your session has ended; nothing was changed. Reload the page to sign in again."
        : (why ? why.textContent : `The action was refused (${response.status}).`));
      return;
    }
    const notices = Array.from(page.querySelectorAll("main > p.notice"), (notice) => document.adoptNode(notice));
    body.replaceChildren(...notices, document.adoptNode(view));
    const first = body.querySelector("p.notice") || body.querySelector("h1");
    if (first) {
      first.tabIndex = -1;
      first.focus();
    }
    if (data.get("action") === "ban" && data.get("reject_pending") === "1" && notices.every((n) => !n.classList.contains("warn"))) {
      rejectedWithBan(String(data.get("email") || "").trim().toLowerCase());
    }
    document.dispatchEvent(new CustomEvent("moderate:changed"));
  }

  function rejectedWithBan(email) {
    const view = new URL(window.location.href).searchParams.get("view") || "pending";
    document.querySelectorAll("li.comment[data-status=held]").forEach((card) => {
      const link = card.querySelector("a.author-link");
      const of = link && new URL(link.href, window.location.href).searchParams.get("email");
      if (!of || of.trim().toLowerCase() !== email) return;
      if (view === "all" || view === "rejected") showDecision(card, { status: "rejected", by: "you (with the ban)" });
      else leave(card);
    });
    if (current && current.hidden) {
      current = null;
      move(0);
    }
  }

  document.addEventListener("submit", (event) => {
    const form = event.target;
    if (!(form instanceof HTMLFormElement) || (form.getAttribute("method") || "").toLowerCase() !== "post" || !form.closest("#author-drawer .drawer-body")) return;
    event.preventDefault();
    authorAct(form, event.submitter);
  });

  document.addEventListener("click", (event) => {
    const link = event.target instanceof Element && event.target.closest("a.author-link");
    if (!link || event.ctrlKey || event.metaKey || event.shiftKey || event.button !== 0) return;
    if (!document.getElementById("author-drawer")) return;
    event.preventDefault();
    openAuthor(link).then((shown) => { if (!shown) window.location.href = link.href; },
      () => { window.location.href = link.href; });
  });

  document.addEventListener("keydown", (event) => {
    // An open dialog has the keys: the queue's shortcuts wait, and Tab stays inside it.
    const dialog = document.querySelector("dialog[open]");
    if (dialog) {
      if (event.key === "Tab") trapFocus(dialog, event);
      else if (event.key === "?" && dialog.id === "help") {
        event.preventDefault();
        toggleHelp(false);
      }
      return;
    }
    if (event.ctrlKey || event.metaKey || event.altKey || typing(event.target)) return;
    const actions = {
      j: () => move(1),
      k: () => move(-1),
      a: () => verdict("a"),
      s: () => verdict("s"),
      t: () => verdict("t"),
      x: () => {
        const input = current && box(current);
        if (!input) return;
        input.checked = !input.checked;
        markSelected(current);
      },
      u: () => {
        const button = document.getElementById("undo");
        if (button && !button.form.hidden) button.form.requestSubmit(button);
      },
      "?": () => toggleHelp(true),
    };
    const action = actions[event.key];
    if (action) {
      event.preventDefault();
      action();
    }
  });

  // Clicking or tabbing into a card makes it the current one (focus and highlight are one thing).
  document.addEventListener("focusin", (event) => {
    const card = event.target instanceof Element && event.target.closest("li.comment");
    if (card && card !== current) highlight(card, false, false);
  });

  document.addEventListener("change", (event) => {
    const card = event.target instanceof Element && event.target.matches(".meta input[type=checkbox]") && event.target.closest("li.comment");
    if (card) markSelected(card);
  });

  document.addEventListener("DOMContentLoaded", () => {
    const helpButton = document.querySelector(".help-toggle");
    const help = document.getElementById("help");
    if (helpButton && help && typeof help.showModal === "function") {
      helpButton.hidden = false;
      helpButton.addEventListener("click", () => toggleHelp(true));
      help.addEventListener("close", () => {
        if (helpReturn && helpReturn.isConnected) helpReturn.focus({ preventScroll: true });
        helpReturn = null;
      });
    }
    // On a phone the filters fold behind their summary.
    const filters = document.querySelector("details.filter-box");
    if (filters && window.matchMedia("(max-width: 600px)").matches) filters.open = false;
    const undo = document.querySelector("form.undo[data-remaining]");
    if (undo && !undo.hidden) offerUndo(Number(undo.dataset.remaining) || 0);
    cards().forEach(markSelected);
    highlight(cards()[0], true, true);
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
    let again = false;

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
        if (again) {
          again = false;
          poll();
        } else {
          schedule();
        }
      }
    }

    // After an action taken in place, the counts are asked for at once (the server's, under the filters).
    document.addEventListener("moderate:changed", () => {
      if (timer !== null) { clearTimeout(timer); timer = null; }
      if (busy) again = true; else poll();
    });

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
