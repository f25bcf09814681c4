// Parley's small client: CSRF header, socket hello, composer keys, tabs, unread marks, offer alerts.
(function () {
  "use strict";

  function csrfToken() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.content : "";
  }

  // every htmx request carries the session's CSRF token
  document.addEventListener("htmx:configRequest", function (e) {
    e.detail.headers["X-CSRF-Token"] = csrfToken();
  });

  // --- the socket: say what we hold, so the server sends only what is missing ---------------

  function hello() {
    var seqs = {}, modes = {};
    document.querySelectorAll("[data-log]").forEach(function (log) {
      var last = log.querySelector("[data-seq]:last-of-type");
      seqs[log.dataset.log] = last ? Number(last.dataset.seq) : 0;
    });
    document.querySelectorAll("[data-controls]").forEach(function (el) {
      modes[el.dataset.controls] = el.dataset.mode;
    });
    return JSON.stringify({ seqs: seqs, modes: modes });
  }

  function banner(show) {
    var el = document.getElementById("connection");
    if (el) el.hidden = !show;
  }

  document.addEventListener("htmx:wsOpen", function (e) {
    banner(false);
    e.detail.socketWrapper.send(hello());
  });
  document.addEventListener("htmx:wsClose", function () { banner(true); });
  window.addEventListener("pagehide", function () { banner(false); });

  // the socket's resync re-renders the status: keep the profile the agent has already chosen
  document.addEventListener("htmx:oobBeforeSwap", function (e) {
    var old = e.detail.target.querySelector && e.detail.target.querySelector("select[name=profile]");
    var fresh = old && e.detail.fragment.querySelector("select[name=profile]");
    if (!fresh) return;
    fresh.querySelectorAll("option").forEach(function (o) { o.toggleAttribute("selected", o.value === old.value); });
  });

  // --- composer: Enter sends, Shift+Enter breaks the line --------------------------------------

  document.addEventListener("keydown", function (e) {
    var box = e.target;
    if (e.key !== "Enter" || e.shiftKey || e.isComposing || !box.matches("form[data-composer] textarea")) return;
    e.preventDefault();
    if (box.value.trim()) box.form.requestSubmit();
  });

  document.addEventListener("htmx:afterRequest", function (e) {
    var form = e.detail.elt;
    if (!form.matches || !form.matches("form[data-composer]") || !e.detail.successful) return;
    form.reset();
    var box = form.querySelector("textarea");
    if (box) box.focus();
    var alert = form.closest("[role=tabpanel], .chat");
    alert = alert && alert.querySelector("[role=alert]");
    if (alert) alert.textContent = "";
  });

  // --- tabs -----------------------------------------------------------------------------------

  function tabs() { return Array.from(document.querySelectorAll("#tabs [role=tab]")); }

  function select(tab, focus) {
    tabs().forEach(function (t) {
      var on = t === tab;
      t.setAttribute("aria-selected", on ? "true" : "false");
      t.tabIndex = on ? 0 : -1;
      var panel = document.getElementById(t.getAttribute("aria-controls"));
      if (panel) panel.hidden = !on;
    });
    if (!tab) return;
    markUnread(tab, false);
    if (focus) tab.focus();
    var panel = document.getElementById(tab.getAttribute("aria-controls"));
    scrollDown(panel && panel.querySelector("[data-log]"));
  }

  function selected() { return document.querySelector('#tabs [role=tab][aria-selected="true"]'); }

  function ensureSelection() {
    var all = tabs();
    document.body.classList.toggle("has-chats", all.length > 0);
    if (all.length && !selected()) select(all[0], false);
  }

  document.addEventListener("click", function (e) {
    var tab = e.target.closest && e.target.closest("#tabs [role=tab]");
    if (tab) select(tab, false);
  });

  document.addEventListener("keydown", function (e) {
    var tab = e.target.closest && e.target.closest("#tabs [role=tab]");
    if (!tab) return;
    var all = tabs(), i = all.indexOf(tab), next = null;
    if (e.key === "ArrowRight") next = all[(i + 1) % all.length];
    else if (e.key === "ArrowLeft") next = all[(i - 1 + all.length) % all.length];
    else if (e.key === "Home") next = all[0];
    else if (e.key === "End") next = all[all.length - 1];
    if (next) { e.preventDefault(); select(next, true); }
  });

  function markUnread(tab, on) {
    tab.classList.toggle("unread", on);
    var dot = tab.querySelector(".unread-dot");
    if (dot) dot.hidden = !on;
  }

  function scrollDown(log) { if (log) log.scrollTop = log.scrollHeight; }

  // --- new offers: a sound and, when allowed, a desktop notification ----------------------------

  var audio = null;
  function beep() {
    try {
      audio = audio || new (window.AudioContext || window.webkitAudioContext)();
      var osc = audio.createOscillator(), gain = audio.createGain();
      osc.frequency.value = 880;
      gain.gain.setValueAtTime(0.15, audio.currentTime);
      gain.gain.exponentialRampToValueAtTime(0.001, audio.currentTime + 0.4);
      osc.connect(gain).connect(audio.destination);
      osc.start();
      osc.stop(audio.currentTime + 0.4);
    } catch (err) { /* no audio device: the tab still shows the offer */ }
  }

  function announceOffer(tab) {
    beep();
    if (window.Notification && Notification.permission === "granted" && document.hidden) {
      var name = tab.querySelector(".tab-label").firstChild.textContent.trim();
      var note = new Notification("New chat offered", { body: name, tag: "parley-offer-" + tab.dataset.chat });
      note.onclick = function () { window.focus(); select(tab, true); note.close(); };
    }
  }

  document.addEventListener("click", function (e) {
    if (e.target.closest && e.target.closest("[data-ask-notifications]") && window.Notification &&
        Notification.permission === "default") {
      Notification.requestPermission();
    }
  });

  // --- watch what the socket and responses put in the page -------------------------------------

  new MutationObserver(function (records) {
    var tabsChanged = false;
    records.forEach(function (r) {
      var target = r.target;
      if (target.id === "tabs") {
        tabsChanged = true;
        r.addedNodes.forEach(function (n) {
          if (n.nodeType === 1 && n.querySelector(".mode-offer")) announceOffer(n);
        });
      }
      if (target.matches && target.matches("[data-log]") && r.addedNodes.length) {
        scrollDown(target);
        var panel = target.closest("[role=tabpanel]");
        var tab = panel && document.getElementById(panel.getAttribute("aria-labelledby"));
        if (tab && (panel.hidden || document.hidden)) markUnread(tab, true);
      }
      if (target.id && target.id.indexOf("tab-label-") === 0) return;
      r.addedNodes.forEach(function (n) {
        if (n.nodeType === 1 && n.matches("dialog[data-modal]") && !n.open) n.showModal();
      });
    });
    if (tabsChanged) ensureSelection();
  }).observe(document.body, { childList: true, subtree: true });

  document.addEventListener("visibilitychange", function () {
    var tab = selected();
    if (!document.hidden && tab) markUnread(tab, false);
  });

  document.addEventListener("DOMContentLoaded", function () {
    ensureSelection();
    document.querySelectorAll("[data-log]").forEach(scrollDown);
  });

  // the server sends <div data-goto="/login"> when this page must go (a supervisor disabled the
  // account): follow it at once, and only ever to a path on this site
  new MutationObserver(function () {
    var go = document.querySelector("[data-goto]");
    var path = go && go.dataset.goto;
    if (path && path.charAt(0) === "/" && path.charAt(1) !== "/") window.location.assign(path);
  }).observe(document.body, { childList: true });
})();
