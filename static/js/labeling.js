/* PrefStudio task pages: keyboard shortcuts, ranking, live edit diff, long responses.
 *
 * Progressive enhancement of a plain form: without this file the pages still work (radio
 * buttons, rank numbers, a textarea, a Submit button). With htmx the form posts without a page
 * load and the next task page is swapped into <main>: what is bound to a page is bound per page
 * (mount). Nothing here inserts untrusted text as HTML: the diff is built with textContent only.
 */
(() => {
  "use strict";

  const $ = (selector, scope = document) => scope.querySelector(selector);
  const $$ = (selector, scope = document) => Array.from(scope.querySelectorAll(selector));

  /** Bind one task page (`root`, its .labeling element): the page loaded, or the next one htmx swapped in after a
   * submit. Listeners go on elements inside `root` (they leave with it); what the document listens to is bound
   * once, below, and calls the returned handlers of the page on screen. */
  function mount(root) {
    const form = document.getElementById("label-form");
    const kind = root.dataset.kind;
    const loadedAt = Date.now();

    // -- submitting ---------------------------------------------------------------------------------
    let submitting = false;
    function onSubmit(event) {
      if (submitting) {  // a double click or a second Enter: the first request carries the label
        event.preventDefault();
        event.stopImmediatePropagation();  // nor does htmx send it
        return;
      }
      submitting = true;
      // Time on this item: what an earlier, refused submission counted plus the time since this page loaded.
      const spent = form.elements.namedItem("time_spent_ms");
      if (spent) spent.value = String((Number(spent.value) || 0) + (Date.now() - loadedAt));
      const button = $("#submit");
      if (button) button.classList.add("busy");
      // htmx gives the focus back to the element of the same id after a swap: on the next item the rationale (say)
      // would take the next shortcut key as text.
      if (root.contains(document.activeElement)) document.activeElement.blur();
    }
    function unlock() {  // the request did not reach the server: let the annotator send it again (same key)
      submitting = false;
      const button = $("#submit");
      if (button) button.classList.remove("busy");
    }

    function submitForm(target) {
      const owner = target && target.closest ? target.closest("form") : null;
      (owner || form).requestSubmit();
    }

    // -- selecting a choice by key ------------------------------------------------------------------
    function choose(input) {
      if (!input || input.disabled) return;
      input.checked = true;
      input.dispatchEvent(new Event("change", { bubbles: true }));
    }

    // Verdict inputs live in the form or in the sticky verdict bar (form="label-form"): look them up on the page.
    function chooseByKey(name, key) {
      const input = $(`input[name="${name}"][data-key="${key}"]`, root);
      if (!input) return false;
      choose(input);
      return true;
    }

    // -- pairwise: per-aspect verdicts from the keyboard --------------------------------------------
    // `a` focuses the next aspect row; while a row has the focus, 1 / 2 / 0 / x / - rate that aspect.
    const aspectRows = $$(".aspect-row", form);
    function focusedAspectRow() {
      const active = document.activeElement;
      return active && active.closest ? active.closest(".aspect-row") : null;
    }
    function focusNextAspect() {
      if (!aspectRows.length) return;
      const current = focusedAspectRow();
      const next = aspectRows[(aspectRows.indexOf(current) + 1) % aspectRows.length];
      const input = $("input:checked", next) || $("input", next);
      input.focus();
      next.scrollIntoView({ block: "nearest" });
    }
    function chooseVerdict(key) {
      const row = focusedAspectRow();
      if (row) {
        const input = $(`input[data-key="${key}"]`, row);
        if (input) {
          choose(input);
          input.focus();
        }
        return;
      }
      chooseByKey("winner", key);
    }

    // -- pairwise: strength follows the verdict -----------------------------------------------------
    const strength = $("#strength");
    function syncStrength() {
      if (!strength) return;
      const winner = $('input[name="winner"]:checked', root);
      const off = Boolean(winner && (winner.value === "tie" || winner.value === "both_bad"));
      strength.disabled = off;  // a disabled fieldset's radios are not submitted
      strength.classList.toggle("off", off);
    }
    function stepStrength(delta) {
      if (!strength || strength.disabled) return;
      const levels = $$('input[name="strength"]', strength);
      const current = levels.findIndex((input) => input.checked);
      const next = current < 0 ? 0 : Math.min(levels.length - 1, Math.max(0, current + delta));
      choose(levels[next]);
    }
    root.addEventListener("change", (event) => {
      if (event.target.name === "winner") syncStrength();
    });
    syncStrength();

    // -- long responses collapse --------------------------------------------------------------------
    const COLLAPSED_PX = 360;  // about 15 lines of text: enough to judge the start of an answer
    const collapsibles = $$(".collapsible").filter((el) => el.scrollHeight > COLLAPSED_PX + 80);
    for (const el of collapsibles) {
      el.classList.add("collapsed");
      const toggle = document.createElement("button");
      toggle.type = "button";
      toggle.className = "expand ghost";
      toggle.textContent = "Show the whole response";
      toggle.addEventListener("click", () => setExpanded(el, el.classList.contains("collapsed")));
      el.after(toggle);
    }
    function setExpanded(el, open) {
      el.classList.toggle("collapsed", !open);
      const toggle = el.nextElementSibling;
      if (toggle && toggle.classList.contains("expand")) {
        toggle.textContent = open ? "Collapse" : "Show the whole response";
      }
    }
    function toggleAll() {
      const open = collapsibles.some((el) => el.classList.contains("collapsed"));
      collapsibles.forEach((el) => setExpanded(el, open));
    }

    // -- listwise ranking ---------------------------------------------------------------------------
    const ranking = $("#ranking");
    const rankItems = () => (ranking ? $$(":scope > li", ranking) : []);

    function renumber() {
      let index = 0;
      let previousRank = 0;
      let below = false;
      for (const li of rankItems()) {
        if (li.classList.contains("cutoff")) {
          below = true;
          continue;
        }
        const input = $(".rank-input input", li);
        const badge = $(".rank-badge", li);
        const tie = $("input.tie", li);
        li.classList.toggle("unranked", below);
        if (below) {
          input.value = "";
          badge.textContent = "–";
          tie.checked = false;
          tie.disabled = true;
          continue;
        }
        tie.disabled = index === 0;
        if (index === 0) tie.checked = false;
        const rank = tie.checked ? previousRank : index + 1;  // competition ranking: 1, 1, 3
        li.classList.toggle("tied", tie.checked);
        input.value = String(rank);
        badge.textContent = String(rank);
        previousRank = rank;
        index += 1;
      }
    }

    function initRanking() {
      if (!ranking) return;
      const cards = rankItems().filter((li) => !li.classList.contains("cutoff"));
      const rankOf = (li) => $(".rank-input input", li).value;
      if (cards.some((li) => rankOf(li))) {  // a re-rendered form: restore the order it had
        const cutoff = $(".cutoff", ranking);
        const ranked = cards.filter((li) => rankOf(li)).sort((a, b) => Number(rankOf(a)) - Number(rankOf(b)));
        const unranked = cards.filter((li) => !rankOf(li));
        let previous = null;
        for (const li of ranked) {
          $("input.tie", li).checked = previous !== null && rankOf(li) === rankOf(previous);
          ranking.append(li);
          previous = li;
        }
        if (cutoff) ranking.append(cutoff);
        unranked.forEach((li) => ranking.append(li));
      }
      ranking.addEventListener("change", (event) => {
        if (event.target.classList.contains("tie")) renumber();
      });
      if (window.Sortable) {
        window.Sortable.create(ranking, {
          animation: 150,
          handle: ".rank-side, .cutoff",
          ghostClass: "dragging",
          onEnd: renumber,
        });
      }
      renumber();
    }

    function focusedRankItem() {
      const active = document.activeElement;
      return active && ranking && active.parentElement === ranking ? active : null;
    }
    function focusRank(delta) {
      const items = rankItems();
      if (!items.length) return;
      const current = focusedRankItem();
      const at = current ? items.indexOf(current) : (delta > 0 ? -1 : items.length);
      const next = items[Math.min(items.length - 1, Math.max(0, at + delta))];
      next.focus();
      next.scrollIntoView({ block: "nearest" });
    }
    function moveRank(delta) {
      const li = focusedRankItem();
      if (!li) return;
      const sibling = delta > 0 ? li.nextElementSibling : li.previousElementSibling;
      if (!sibling) return;
      if (delta > 0) sibling.after(li);
      else sibling.before(li);
      renumber();
      li.focus();
      li.scrollIntoView({ block: "nearest" });
    }
    function toggleTie() {
      const li = focusedRankItem();
      const tie = li ? $("input.tie", li) : null;
      if (!tie || tie.disabled) return;
      tie.checked = !tie.checked;
      renumber();
    }

    // -- edit: live diff and edit distance ----------------------------------------------------------
    const editor = $("#edited");
    const originalNode = $("#original-text");
    const original = originalNode ? JSON.parse(originalNode.textContent) : "";
    const MAX_CELLS = 4e6;  // DP cells per recompute: ~10 ms in a browser, fine on every keystroke

    const tokenize = (text) => text.match(/\s+|[\p{L}\p{N}_]+|[^\s\p{L}\p{N}_]/gu) || [];

    function trimCommon(a, b) {
      let start = 0;
      while (start < a.length && start < b.length && a[start] === b[start]) start += 1;
      let end = 0;
      while (end < a.length - start && end < b.length - start && a[a.length - 1 - end] === b[b.length - 1 - end]) end += 1;
      return [start, end];
    }

    /** Token diff as [op, text] runs (op: "=", "-", "+"): common ends trimmed, LCS on the middle. */
    function diffTokens(a, b) {
      const [start, end] = trimCommon(a, b);
      const x = a.slice(start, a.length - end);
      const y = b.slice(start, b.length - end);
      const ops = [];
      const push = (op, text) => {
        const last = ops[ops.length - 1];
        if (last && last[0] === op) last[1] += text;
        else ops.push([op, text]);
      };
      a.slice(0, start).forEach((t) => push("=", t));
      if (x.length * y.length > MAX_CELLS) {
        x.forEach((t) => push("-", t));
        y.forEach((t) => push("+", t));
      } else {
        const n = x.length, m = y.length;
        const lcs = new Uint32Array((n + 1) * (m + 1));  // lcs[i*(m+1)+j] = LCS of x[i:], y[j:]
        for (let i = n - 1; i >= 0; i -= 1) {
          for (let j = m - 1; j >= 0; j -= 1) {
            lcs[i * (m + 1) + j] = x[i] === y[j]
              ? lcs[(i + 1) * (m + 1) + j + 1] + 1
              : Math.max(lcs[(i + 1) * (m + 1) + j], lcs[i * (m + 1) + j + 1]);
          }
        }
        let i = 0, j = 0;
        while (i < n && j < m) {
          if (x[i] === y[j]) { push("=", x[i]); i += 1; j += 1; }
          else if (lcs[(i + 1) * (m + 1) + j] >= lcs[i * (m + 1) + j + 1]) { push("-", x[i]); i += 1; }
          else { push("+", y[j]); j += 1; }
        }
        for (; i < n; i += 1) push("-", x[i]);
        for (; j < m; j += 1) push("+", y[j]);
      }
      a.slice(a.length - end).forEach((t) => push("=", t));
      return ops;
    }

    /** Levenshtein distance in characters (exact up to MAX_CELLS, else the length difference bound). */
    function editDistance(a, b) {
      const [start, end] = trimCommon(a, b);
      const x = a.slice(start, a.length - end);
      const y = b.slice(start, b.length - end);
      if (!x.length || !y.length) return x.length + y.length;
      if (x.length * y.length > MAX_CELLS) return Math.max(x.length, y.length);
      let previous = new Uint32Array(y.length + 1).map((_, j) => j);
      let current = new Uint32Array(y.length + 1);
      for (let i = 1; i <= x.length; i += 1) {
        current[0] = i;
        for (let j = 1; j <= y.length; j += 1) {
          const substitution = previous[j - 1] + (x[i - 1] === y[j - 1] ? 0 : 1);
          current[j] = Math.min(previous[j] + 1, current[j - 1] + 1, substitution);
        }
        [previous, current] = [current, previous];
      }
      return previous[y.length];
    }

    function renderDiff() {
      if (!editor) return;
      const edited = editor.value.replace(/\r\n/g, "\n");
      const view = $("#diff");
      view.replaceChildren();
      const words = (text) => (text.match(/[\p{L}\p{N}_]+/gu) || []).length;
      let added = 0, removed = 0;
      if (edited === original) {
        const none = document.createElement("span");
        none.className = "muted";
        none.textContent = "No changes yet.";
        view.append(none);
      } else {
        for (const [op, text] of diffTokens(tokenize(original), tokenize(edited))) {
          const node = document.createElement(op === "=" ? "span" : op === "+" ? "ins" : "del");
          node.textContent = text;
          view.append(node);
          if (op === "+") added += words(text);
          if (op === "-") removed += words(text);
        }
      }
      $("#edit-distance").textContent = String(editDistance(original, edited));
      $("#edit-words").textContent = edited === original ? "" : `+${added} / −${removed} words`;
    }

    function fitEditor() {  // grow with the text, so the whole edit stays in view
      editor.style.height = "auto";
      editor.style.height = `${editor.scrollHeight + 2}px`;
    }

    if (editor) {
      let pending = 0;
      editor.addEventListener("input", () => {
        fitEditor();
        cancelAnimationFrame(pending);
        pending = requestAnimationFrame(renderDiff);
      });
      fitEditor();
      const reset = $('[data-action="reset-edit"]');
      if (reset) reset.addEventListener("click", () => { editor.value = original; renderDiff(); editor.focus(); });
      renderDiff();
    }

    // -- listwise: differences of near-identical responses (rendered by the server) -----------------
    function toggleDiffs() {
      const diffs = $$("details.word-diff");
      const open = diffs.some((d) => !d.open);
      diffs.forEach((d) => { d.open = open; });
    }

    // -- dialogs and panels -------------------------------------------------------------------------
    const help = $("#help");
    const skip = $("#skip");
    const guidelines = $("#guidelines");

    function toggleHelp() {
      if (help.open) help.close();
      else help.showModal();
    }
    $$('[data-action="help"]').forEach((button) => button.addEventListener("click", toggleHelp));

    function openSkip() {
      skip.open = true;
      $(".skip-form", skip).scrollIntoView({ block: "nearest" });
      const first = $('input[name="reason"]', skip);
      if (first) first.focus();
    }

    // -- keyboard -----------------------------------------------------------------------------------
    const TEXT_INPUTS = new Set(["text", "search", "email", "number", "password", "url", "tel"]);
    function isTyping(el) {
      if (!el || el === document.body) return false;
      if (el.isContentEditable || el.tagName === "TEXTAREA" || el.tagName === "SELECT") return true;
      return el.tagName === "INPUT" && TEXT_INPUTS.has(el.type);
    }
    function activatesOnEnter(el) {  // Enter already means something on these
      return Boolean(el && el.closest && el.closest("button, a, summary"));
    }

    const common = {
      "?": toggleHelp,
      g: () => { guidelines.open = !guidelines.open; },
      s: openSkip,
      e: toggleAll,
      r: () => $("#rationale").focus(),
    };
    const perKind = {
      pairwise: {
        1: () => chooseVerdict("1"),
        2: () => chooseVerdict("2"),
        0: () => chooseVerdict("0"),
        x: () => chooseVerdict("x"),
        "-": () => chooseVerdict("-"),
        a: focusNextAspect,
        ArrowRight: () => stepStrength(1),
        ArrowLeft: () => stepStrength(-1),
      },
      listwise: {
        j: () => focusRank(1),
        k: () => focusRank(-1),
        J: () => moveRank(1),
        K: () => moveRank(-1),
        t: toggleTie,
        d: toggleDiffs,
      },
      edit: {
        i: () => editor.focus(),
        n: () => { const button = $("#no-change"); if (button) button.click(); },
      },
      thumbs: { 1: () => chooseByKey("thumbs", "1"), 2: () => chooseByKey("thumbs", "2") },
    };

    function onKeydown(event) {
      if (event.defaultPrevented || event.isComposing) return;
      const target = event.target;
      if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
        event.preventDefault();
        submitForm(target);
        return;
      }
      if (event.key === "Escape" && (isTyping(target) || focusedAspectRow())) {
        target.blur();
        return;
      }
      if (isTyping(target) || event.ctrlKey || event.metaKey || event.altKey) return;
      if (help.open && event.key !== "?") return;  // the dialog handles Escape itself
      if (event.key.startsWith("Arrow") && target.type === "radio" && !target.closest("#strength")) return;
      if (event.key === "Enter") {
        if (activatesOnEnter(target)) return;
        event.preventDefault();
        submitForm(target);
        return;
      }
      const action = (perKind[kind] || {})[event.key] || common[event.key];
      if (!action) return;
      event.preventDefault();
      action();
    }

    initRanking();
    return { root, form, onSubmit, onKeydown, unlock };
  }

  // -- the document: bound once, for whichever task page is on screen ---------------------------------
  let page = null;
  // htmx's events about a request fire on its target (<main>) or on the element that sent it: this is the sender.
  const fromLabelForm = (event) => {
    const config = event.detail && event.detail.requestConfig;
    return Boolean(page) && (config ? config.elt : event.target) === page.form;
  };
  function boot() {
    const root = document.querySelector(".labeling");
    if (root && page && page.root === root) return;  // this page is bound already
    page = root ? mount(root) : null;
  }

  document.documentElement.classList.add("js");
  document.addEventListener("keydown", (event) => { if (page) page.onKeydown(event); });
  // Capture phase: before htmx's own listener on the form, so that a second submit never reaches it and the time
  // spent is in the form before htmx reads the form.
  document.addEventListener("submit", (event) => {
    if (page && event.target === page.form) page.onSubmit(event);
  }, true);
  // The label form's answer (hx-post): the next task page (200, HX-Push-Url) or, on a refused label, the same page
  // with the error (400 / 409), swapped in like a success. Anything else (a login page after a redirect, a 404,
  // a CSRF failure) is loaded as a whole page.
  document.addEventListener("htmx:beforeSwap", (event) => {
    if (!fromLabelForm(event)) return;
    const xhr = event.detail.xhr;
    const redirected = xhr.responseURL && !new URL(xhr.responseURL).pathname.endsWith("/submit/");
    if (redirected) {
      event.detail.shouldSwap = false;
      window.location.assign(xhr.responseURL);
    } else if (xhr.status === 400 || xhr.status === 409) {
      event.detail.shouldSwap = true;
      event.detail.isError = false;
    } else if (xhr.status >= 400) {
      event.detail.shouldSwap = false;
      window.location.reload();
    }
  });
  document.addEventListener("htmx:sendError", (event) => {
    if (fromLabelForm(event)) page.unlock();
  });
  // A page swapped in: bound at once (afterSwap), and on htmx:load (which also fires once on the first load).
  document.addEventListener("htmx:afterSwap", boot);
  document.addEventListener("htmx:load", boot);
  boot();
})();
