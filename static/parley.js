// Parley's small client: CSRF header, socket hello, composer keys, tabs and their ×, unread marks, offer alerts.
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
    e.preventDefault();
    if (slashChoice(box)) return;
    if (box.value.trim() || pendingFiles(box.form).length) box.form.requestSubmit();
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

  // only the text and files go: private mode stays as the agent set it
  function sent(form) {
    delete form.dataset.key;
    var box = form.querySelector("textarea");
    box.value = "";
    setFiles(form, []);
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
    if (!form.matches("form[data-composer]") || !socketOpen || pendingFiles(form).length || !box.value.trim()) return;
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

  // --- attachments: chosen, dropped or pasted files go with the next message ---------------------

  var MAX_FILES = 5, MAX_SIZE = 20 * 1024 * 1024;

  // the composer of the chat `el` is in; outside any chat, that of the chat shown (never a hidden tab's)
  function composerNear(el) {
    var scope = el.closest("[data-controls]") || el.closest("[role=tabpanel], .chat") ||
      document.querySelector("[role=tabpanel]:not([hidden]), .chat");
    return scope && scope.querySelector("form[data-composer]");
  }

  function pendingFiles(form) { return form._files || []; }

  function setFiles(form, list) {
    form._files = list;
    var input = form.querySelector("[data-files]"), transfer = new DataTransfer();
    list.forEach(function (f) { transfer.items.add(f); });
    input.files = transfer.files;
    var ul = form.querySelector(".pending-files");
    ul.textContent = "";
    ul.hidden = !list.length;
    list.forEach(function (f, i) {
      var li = document.createElement("li"), remove = document.createElement("button");
      li.textContent = f.name + " (" + Math.ceil(f.size / 1024) + " KB) ";
      remove.type = "button";
      remove.textContent = "×";
      remove.setAttribute("aria-label", "Remove " + f.name);
      remove.dataset.removeFile = String(i);
      li.appendChild(remove);
      ul.appendChild(li);
    });
  }

  function addFiles(form, files) {
    if (!form || !files.length) return;
    setFiles(form, pendingFiles(form).concat(Array.from(files)));
    form.querySelector("textarea").focus();
  }

  document.addEventListener("click", function (e) {
    var t = e.target.closest ? e.target : null;
    if (!t) return;
    if (t.closest("[data-attach]")) { composerNear(t).querySelector("[data-files]").click(); return; }
    var remove = t.closest("[data-remove-file]");
    if (remove) {
      var form = remove.closest("form"), list = pendingFiles(form).slice();
      list.splice(Number(remove.dataset.removeFile), 1);
      setFiles(form, list);
      form.querySelector("textarea").focus();
      return;
    }
    if (t.closest("[data-cancel-upload]")) htmx.trigger(t.closest("form"), "htmx:abort");
  });

  document.addEventListener("change", function (e) {
    if (!e.target.matches("[data-files]")) return;
    var form = e.target.form, chosen = Array.from(e.target.files);
    setFiles(form, pendingFiles(form).concat(chosen));
  });

  document.addEventListener("dragover", function (e) {
    if (e.target.closest && composerNear(e.target) && e.dataTransfer.types.indexOf("Files") >= 0) e.preventDefault();
  });
  document.addEventListener("drop", function (e) {
    var form = e.target.closest && composerNear(e.target);
    if (!form || !e.dataTransfer.files.length) return;
    e.preventDefault();
    addFiles(form, e.dataTransfer.files);
  });
  document.addEventListener("paste", function (e) {
    if (!e.target.matches || !e.target.matches("form[data-composer] textarea") || !e.clipboardData.files.length) return;
    e.preventDefault();
    addFiles(e.target.form, e.clipboardData.files);
  });

  // the server judges every file; this only spares a long upload that would be refused
  document.addEventListener("htmx:beforeRequest", function (e) {
    var form = e.detail.elt;
    if (!form.matches || !form.matches("form[data-composer]")) return;
    var files = pendingFiles(form), alert = document.querySelector(form.getAttribute("hx-target"));
    var big = files.filter(function (f) { return f.size > MAX_SIZE; })[0];
    var problem = files.length > MAX_FILES ? "You can send at most 5 files at once; you chose " + files.length + "." :
      big ? big.name + ": the file is larger than 20 MB." : "";
    if (problem) { e.preventDefault(); alert.textContent = "Nothing was sent. " + problem; return; }
    form.querySelector(".upload").hidden = !files.length;
  });
  document.addEventListener("htmx:xhr:progress", function (e) {
    var form = e.detail.elt, bar = form.querySelector && form.querySelector(".upload progress");
    if (bar && e.detail.lengthComputable) bar.value = Math.round(100 * e.detail.loaded / e.detail.total);
  });
  ["htmx:afterRequest", "htmx:xhr:abort"].forEach(function (name) {
    document.addEventListener(name, function (e) {
      var upload = e.detail.elt.querySelector && e.detail.elt.querySelector(".upload");
      if (upload) { upload.hidden = true; upload.querySelector("progress").value = 0; }
      if (name === "htmx:xhr:abort" && upload) {
        document.querySelector(e.detail.elt.getAttribute("hx-target")).textContent = "Upload cancelled; nothing was sent.";
      }
    });
  });

  // --- chat actions: private mode, predefined messages, option menus, typing --------------------

  function composerOf(chatId) { return document.querySelector('form[data-composer="' + chatId + '"]'); }
  function toolOf(el) { var c = el.closest("[data-controls]"); return c && c.querySelector(".tool"); }
  function closeTool(tool) { if (tool) tool.innerHTML = ""; }

  document.addEventListener("click", function (e) {
    var t = e.target.closest ? e.target : null;
    if (!t) return;
    var toggle = t.closest("[data-private-toggle]");
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
      return;
    }
    var item = t.closest("[data-predefined]");
    if (item) { usePredefined(item); return; }
    if (t.closest("[data-close-tool]")) { var tool = toolOf(t); closeTool(tool); focusComposer(tool); return; }
    if (t.closest("[data-add-option]")) { addOption(t.closest("form")); }
  });

  function focusComposer(tool) {
    var box = tool && tool.closest("[data-controls]").querySelector("form[data-composer] textarea");
    if (box) box.focus();
  }

  function usePredefined(item) {
    var tool = toolOf(item);
    var box = tool.closest("[data-controls]").querySelector("form[data-composer] textarea");
    box.value = item.dataset.text;
    closeTool(tool);
    box.focus();
    box.setSelectionRange(box.value.length, box.value.length);
  }

  // the filter box matches anywhere in a title; "/" in the composer only the start of a title
  function filterPredefined(list, text, fromStart) {
    var needle = text.trim().toLowerCase(), shown = 0;
    list.querySelectorAll("[data-predefined]").forEach(function (b) {
      var at = b.textContent.trim().toLowerCase().indexOf(needle);
      var match = fromStart ? at === 0 : at >= 0;
      b.parentElement.hidden = !match;
      if (match) shown++;
    });
    var none = list.querySelector(".none");
    if (none && list.querySelector("[data-predefined]")) none.hidden = shown > 0;
  }

  function visibleChoices(list) {
    return Array.from(list.querySelectorAll("[data-predefined]")).filter(function (b) { return !b.parentElement.hidden; });
  }

  document.addEventListener("input", function (e) {
    var t = e.target;
    if (t.matches("[data-filter]")) filterPredefined(t.closest("[data-predefined-list]"), t.value);
    if (t.matches("form[data-composer] textarea")) { slashSearch(t); typing(t); }
  });

  document.addEventListener("change", function (e) {
    var select = e.target;
    if (!select.matches("[data-option-sets]")) return;
    var choice = select.selectedOptions[0], form = select.closest("form");
    if (!choice.value) return;
    form.querySelector("input[name=question]").value = choice.dataset.question;
    var options = JSON.parse(choice.dataset.options);
    while (form.querySelectorAll("[data-option]").length < options.length) addOption(form);
    form.querySelectorAll("[data-option]").forEach(function (input, i) { input.value = options[i] || ""; });
  });

  function addOption(form) {
    var inputs = form.querySelectorAll("[data-option]");
    if (inputs.length >= 10) return;
    var last = inputs[inputs.length - 1], n = inputs.length + 1;
    var label = form.querySelector('label[for="' + last.id + '"]').cloneNode(false);
    var input = last.cloneNode(false);
    input.id = last.id.replace(/-\d+$/, "-" + n);
    input.value = "";
    label.htmlFor = input.id;
    label.textContent = "Option " + n;
    last.after(label, input);
    input.focus();
  }

  // "/" and the start of a title in the composer offers the matching predefined messages
  function slashSearch(box) {
    var tool = toolOf(box), m = /^\/(\S*)$/.exec(box.value);
    if (!tool) return;
    var list = tool.querySelector("[data-predefined-list]");
    if (!m) { if (list && list.dataset.bySlash) closeTool(tool); return; }
    if (list) { filterPredefined(list, m[1], true); return; }
    // one load at a time: htmx queues a second request on the same target and resolves its promise
    // at once, so its list would land later, unfiltered; the first load filters by the latest text
    if (tool.dataset.slashLoading) return;
    tool.dataset.slashLoading = "1";
    function loaded() { delete tool.dataset.slashLoading; }
    htmx.ajax("GET", box.form.dataset.predefinedUrl, { target: tool, swap: "innerHTML" }).then(function () {
      loaded();
      var fresh = tool.querySelector("[data-predefined-list]");
      if (!fresh) return;
      fresh.dataset.bySlash = "1";
      var now = /^\/(\S*)$/.exec(box.value);
      filterPredefined(fresh, now ? now[1] : "", true);
      box.focus();
    }, loaded);
  }

  function slashChoice(box) {
    var tool = toolOf(box);
    var list = tool && /^\/\S*$/.test(box.value) && tool.querySelector("[data-predefined-list]");
    var first = list && visibleChoices(list)[0];
    if (first) usePredefined(first);
    return Boolean(first);
  }

  // keyboard in the predefined list: arrows move, Escape goes back to the composer
  document.addEventListener("keydown", function (e) {
    var list = e.target.closest && e.target.closest("[data-predefined-list]");
    var box = e.target.matches && e.target.matches("form[data-composer] textarea") ? e.target : null;
    if (box && toolOf(box) && e.key === "ArrowDown" && /^\/\S*$/.test(box.value)) {
      list = toolOf(box).querySelector("[data-predefined-list]");
      var first = list && visibleChoices(list)[0];
      if (first) { e.preventDefault(); first.focus(); }
      return;
    }
    if (!list) return;
    var choices = visibleChoices(list), i = choices.indexOf(e.target);
    if (e.key === "Escape") { e.preventDefault(); var tool = toolOf(list); closeTool(tool); focusComposer(tool); }
    else if (e.key === "ArrowDown" && choices.length) { e.preventDefault(); choices[Math.min(i + 1, choices.length - 1)].focus(); }
    else if (e.key === "ArrowUp" && i > 0) { e.preventDefault(); choices[i - 1].focus(); }
    else if (e.key === "ArrowUp" && i === 0) { e.preventDefault(); list.querySelector("[data-filter]").focus(); }
    else if (e.key === "Enter" && e.target.matches("[data-filter]") && choices.length) { e.preventDefault(); usePredefined(choices[0]); }
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

  document.addEventListener("htmx:afterSettle", function (e) {
    var tool = e.detail.target;
    if (!tool.classList || !tool.classList.contains("tool")) return;
    var first = tool.querySelector("[data-filter], input, select");
    if (first && !tool.querySelector("[data-predefined-list][data-by-slash]")) first.focus();
  });

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
