// The console's chat tools: predefined messages (the list, its filter, and "/" with the start of a
// title in the composer) and option menus (saved sets, Add option).
(function () {
  "use strict";

  function toolOf(el) { var c = el.closest("[data-controls]"); return c && c.querySelector(".tool"); }
  function closeTool(tool) { if (tool) tool.innerHTML = ""; }

  document.addEventListener("click", function (e) {
    var t = e.target.closest ? e.target : null;
    if (!t) return;
    var item = t.closest("[data-predefined]");
    if (item) { usePredefined(item); return; }
    if (t.closest("[data-close-tool]")) { var tool = toolOf(t); closeTool(tool); focusComposer(tool); return; }
    if (t.closest("[data-add-option]")) { addOption(t.closest("form")); }
  });

  // Enter in a composer that shows "/" and a matching title picks it, before static/parley.js sends
  document.addEventListener("keydown", function (e) {
    var box = e.target;
    if (e.key !== "Enter" || e.shiftKey || e.isComposing || !box.matches("form[data-composer] textarea")) return;
    if (slashChoice(box)) e.preventDefault();
  }, true);

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
    if (t.matches("form[data-composer] textarea")) slashSearch(t);
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


  document.addEventListener("htmx:afterSettle", function (e) {
    var tool = e.detail.target;
    if (!tool.classList || !tool.classList.contains("tool")) return;
    var first = tool.querySelector("[data-filter], input, select");
    if (first && !tool.querySelector("[data-predefined-list][data-by-slash]")) first.focus();
  });
})();
