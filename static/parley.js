// Parley's small client: CSRF header, socket hello, composer keys, tabs and their ×, unread marks,
// private mode and typing. Files to send: static/files.js; predefined messages and options: static/tools.js.
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

  // reconnect within seconds, not htmx's minute-long backoff: a restart should hardly be noticed;
  // the jitter still spreads thousands of pages over the first seconds
  htmx.config.wsReconnectDelay = function (retry) {
    var cap = Math.min(500 * Math.pow(2, retry), 8000);
    return cap / 2 + Math.random() * cap / 2;
  };

  var socket = null, socketOpen = false;
  document.addEventListener("htmx:wsOpen", function (e) {
    banner(false);
    socket = e.detail.socketWrapper;
    socketOpen = true;
    socket.send(hello());
    resend();
  });
  // the server closed the socket for good: the session ended (4001: sign in again), the page is for
  // supervisors and this agent is none now (4003: to the console), or the page is open in too many
  // tabs (4008: this one says so and stays closed); any other close reconnects
  var GONE_TO = { 4001: "/login", 4003: "/" };
  document.addEventListener("htmx:wsClose", function (e) {
    var code = e.detail.event && e.detail.event.code;
    socketOpen = false;
    if (GONE_TO[code]) { leaving = true; window.location.assign(GONE_TO[code]); return; }
    banner(true);
    if (code === 4008) {
      document.getElementById("connection").textContent =
        "This page is open in too many tabs, so it was closed here. Reload it to use it in this tab.";
    }
  });
  window.addEventListener("pagehide", function () { banner(false); });

  // the socket's resync re-renders the status: keep the profile the agent has already chosen
  document.addEventListener("htmx:oobBeforeSwap", function (e) {
    var old = e.detail.target.querySelector && e.detail.target.querySelector("select[name=profile]");
    var fresh = old && e.detail.fragment.querySelector("select[name=profile]");
    if (!fresh) return;
    fresh.querySelectorAll("option").forEach(function (o) { o.toggleAttribute("selected", o.value === old.value); });
  });

  // a chat's controls are replaced only when their mode changes, so drafts and open tools survive
  document.addEventListener("htmx:oobBeforeSwap", function (e) {
    var target = e.detail.target, fresh = e.detail.fragment.firstElementChild;
    if (target.dataset && target.dataset.controls && fresh && fresh.dataset.mode === target.dataset.mode) {
      e.detail.shouldSwap = false;
    }
  });

  // --- composer: Enter sends, Shift+Enter breaks the line --------------------------------------

  document.addEventListener("keydown", function (e) {
    var box = e.target;
    if (e.key !== "Enter" || e.shiftKey || e.isComposing || !box.matches("form[data-composer] textarea")) return;
    if (e.defaultPrevented) return;  // static/tools.js took it: a predefined message chosen by "/"
    e.preventDefault();
    if (box.value.trim() || queuedFiles(box.form).length) box.form.requestSubmit();
  });

  document.addEventListener("htmx:afterRequest", function (e) {
    var form = e.detail.elt;
    if (form.matches && form.matches("form[data-composer]") && e.detail.successful) sent(form);
  });

  // a composer's POST carries a key, kept until it went through: sent twice, it is stored once
  document.addEventListener("htmx:configRequest", function (e) {
    var form = e.detail.elt;
    if (!form.matches || !form.matches("form[data-composer]")) return;
    form.dataset.key = form.dataset.key || newKey();
    e.detail.parameters.key = form.dataset.key;
  });

  // the files chosen for the composer's next message (static/files.js keeps them)
  function queuedFiles(form) { return form._files || []; }

  // only the text and files go: private mode stays as the agent set it
  function sent(form) {
    delete form.dataset.key;
    var box = form.querySelector("textarea");
    box.value = "";
    form.dispatchEvent(new Event("parley:sent", { bubbles: true }));  // static/files.js lets its files go
    box.focus();
    var alert = form.closest("[role=tabpanel], .chat");
    alert = alert && alert.querySelector("[role=alert]");
    if (alert) alert.textContent = "";
  }

  // --- a message goes over the socket when the page has it; files and a page without it POST ------
  // Each carries a key; it stays in the outbox until the message comes back marked with that key,
  // and is sent again after a reconnect (the server stores a key once), so none is lost or doubled.

  var outbox = {};

  function newKey() {
    return Array.from(crypto.getRandomValues(new Uint8Array(12)), function (b) {
      return (b + 256).toString(16).slice(1);
    }).join("");
  }

  document.addEventListener("submit", function (e) {
    var form = e.target, box = form.querySelector && form.querySelector("textarea");
    if (!form.matches("form[data-composer]") || !socketOpen || queuedFiles(form).length || !box.value.trim()) return;
    e.preventDefault();
    e.stopPropagation();  // not htmx's POST as well
    var field = form.querySelector("[data-private-field]");
    var message = {
      chat: Number(form.closest("[data-controls]").dataset.controls),
      text: box.value.trim(),
      private: Boolean(field && field.value),
      key: newKey()
    };
    outbox[message.key] = message;
    socket.send(JSON.stringify({ send: message }));
    sent(form);
  }, true);

  function resend() {
    Object.keys(outbox).forEach(function (key) { socket.send(JSON.stringify({ send: outbox[key] })); });
  }

  // the server refused it (the chat ended, say): the text goes back into its composer
  function refused(key) {
    var message = outbox[key];
    delete outbox[key];
    var form = message && document.querySelector('[data-controls="' + message.chat + '"] form[data-composer]');
    if (!form) return;
    var box = form.querySelector("textarea");
    box.value = box.value ? message.text + "\n" + box.value : message.text;
  }

  // --- tabs -----------------------------------------------------------------------------------

  function tabs() { return Array.from(document.querySelectorAll("#tabs [role=tab]")); }

  // the × beside a tab; only the selected tab's is a tab stop (tab, its ×, then the panel)
  function closer(tab) { return tab.parentElement.querySelector("[data-close-tab]"); }

  function select(tab, focus) {
    tabs().forEach(function (t) {
      var on = t === tab;
      t.setAttribute("aria-selected", on ? "true" : "false");
      t.tabIndex = on ? 0 : -1;
      closer(t).tabIndex = on ? 0 : -1;
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

  // `focus`: the focus went with a closed chat, so it goes to the tab shown now
  function ensureSelection(focus) {
    var all = tabs();
    document.body.classList.toggle("has-chats", all.length > 0);
    if (all.length && !selected()) select(all[0], false);
    if (focus && selected()) selected().focus();
  }

  document.addEventListener("click", function (e) {
    var tab = e.target.closest && e.target.closest("#tabs [role=tab]");
    if (tab) select(tab, false);
    // a × shows its chat first: the question it may ask belongs to that chat
    var close = e.target.closest && e.target.closest("#tabs [data-close-tab]");
    if (close) select(close.parentElement.querySelector("[role=tab]"), false);
  });

  document.addEventListener("keydown", function (e) {
    var tab = e.target.closest && e.target.closest("#tabs [role=tab]");
    if (!tab) return;
    var all = tabs(), i = all.indexOf(tab), next = null;
    if (e.key === "ArrowRight") next = all[(i + 1) % all.length];
    else if (e.key === "ArrowLeft") next = all[(i - 1 + all.length) % all.length];
    else if (e.key === "Home") next = all[0];
    else if (e.key === "End") next = all[all.length - 1];
    else if (e.key === "Delete") { e.preventDefault(); closer(tab).click(); }  // as the ×
    if (next) { e.preventDefault(); select(next, true); }
  });

  // closing the page while a chatter is connected asks first (the browser's own question); signing
  // out, or being sent to sign in again, does not
  var leaving = false;
  window.addEventListener("beforeunload", function (e) {
    if (leaving || !document.querySelector("#tabs [data-chatter-connected]")) return;
    e.preventDefault();
    e.returnValue = "";  // what older browsers look for
  });
  document.addEventListener("submit", function (e) {
    if (e.target.matches(".signout")) leaving = true;
  });

  function markUnread(tab, on) {
    tab.classList.toggle("unread", on);
    var dot = tab.querySelector(".unread-dot");
    if (dot) dot.hidden = !on;
  }

  function scrollDown(log) { if (log) log.scrollTop = log.scrollHeight; }

  // --- new offers ring (static/ring.js); the browser asks about notifications on a click ---------

  document.addEventListener("click", function (e) {
    if (e.target.closest && e.target.closest("[data-ask-notifications]") && window.Notification &&
        Notification.permission === "default") {
      Notification.requestPermission();
    }
  });

  // --- watch what the socket and responses put in the page -------------------------------------

  var focused = null;  // the element that has (or last had) the focus, even once it left the page
  document.addEventListener("focusin", function (e) { focused = e.target; });

  new MutationObserver(function (records) {
    var tabsChanged = false, focusLost = false;
    records.forEach(function (r) {
      var target = r.target;
      if ((target.id === "tabs" || target.id === "panels") && focused) {
        r.removedNodes.forEach(function (n) { focusLost = focusLost || (n.nodeType === 1 && n.contains(focused)); });
      }
      if (target.id === "tabs") {
        tabsChanged = true;
      }
      if (target.matches && target.matches("[data-log]") && r.addedNodes.length) {
        scrollDown(target);
        var typingLine = document.getElementById("typing-" + target.dataset.log);
        if (typingLine) typingLine.textContent = "";  // the message came: nobody is typing it now
        var panel = target.closest("[role=tabpanel]");
        var tab = panel && document.getElementById(panel.getAttribute("aria-labelledby"));
        if (tab && (panel.hidden || document.hidden)) markUnread(tab, true);
      }
      r.addedNodes.forEach(function (n) {
        if (n.nodeType !== 1) return;
        if (n.dataset.key) delete outbox[n.dataset.key];
        if (n.dataset.refused) refused(n.dataset.refused);
        if (n.matches("[data-typing]") && n.textContent) clearTypingLater(n);
      });
    });
    if (tabsChanged) ensureSelection(focusLost && document.activeElement === document.body);
  }).observe(document.body, { childList: true, subtree: true });

  // a question opens once htmx has made its buttons work: an Enter at once must not go unheard
  document.addEventListener("htmx:load", function (e) {
    var dialog = e.detail.elt;
    if (dialog.matches("dialog[data-modal]") && !dialog.open) dialog.showModal();
  });

  document.addEventListener("visibilitychange", function () {
    var tab = selected();
    if (!document.hidden && tab) markUnread(tab, false);
  });

  // --- private mode and typing (predefined messages and option menus: static/tools.js) ----------

  function composerOf(chatId) { return document.querySelector('form[data-composer="' + chatId + '"]'); }

  document.addEventListener("click", function (e) {
    var toggle = e.target.closest && e.target.closest("[data-private-toggle]");
    if (toggle) {
      var on = toggle.getAttribute("aria-pressed") !== "true";
      toggle.setAttribute("aria-pressed", on ? "true" : "false");
      var form = composerOf(toggle.dataset.privateToggle);
      form.classList.toggle("private", on);
      form.querySelector("[data-private-field]").value = on ? "yes" : "";
      form.querySelector(".private-flag").hidden = !on;
      // the server decides whether a typing notice is private from what it was told last
      if (socket && socketOpen) socket.send(JSON.stringify({ composer: Number(toggle.dataset.privateToggle), private: on }));
      form.querySelector("textarea").focus();
    }
  });

  document.addEventListener("input", function (e) {
    if (e.target.matches("form[data-composer] textarea")) typing(e.target);
  });

  // typing: tell the others at most every 2 s; the server keeps private drafts from the chatter
  var lastTyping = 0;
  function typing(box) {
    var now = Date.now();
    if (!socket || !box.value.trim() || now - lastTyping < 2000) return;
    lastTyping = now;
    var form = box.form, chatId = form.dataset.composer || form.closest("[data-controls]").dataset.controls;
    var isPrivate = Boolean(form.querySelector("[data-private-field]") && form.querySelector("[data-private-field]").value);
    socket.send(JSON.stringify({ typing: Number(chatId), private: isPrivate }));
  }

  function clearTypingLater(el) {
    clearTimeout(el._clear);
    el._clear = setTimeout(function () { el.textContent = ""; }, 4000);
  }

  document.addEventListener("DOMContentLoaded", function () {
    ensureSelection(false);
    document.querySelectorAll("[data-log]").forEach(scrollDown);
  });

  // the server sends <div data-goto="/login"> when this page must go (a supervisor disabled the
  // account): follow it at once, and only ever to a path on this site
  new MutationObserver(function () {
    var go = document.querySelector("[data-goto]");
    var path = go && go.dataset.goto;
    if (path && path.charAt(0) === "/" && path.charAt(1) !== "/") {
      leaving = true;
      window.location.assign(path);
    }
  }).observe(document.body, { childList: true });
})();
