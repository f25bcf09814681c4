// The files chosen, dropped or pasted into a composer go with its next message (form._files, which
// static/parley.js reads); a message sent ("parley:sent") lets them go.
(function () {
  "use strict";

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

  document.addEventListener("parley:sent", function (e) { setFiles(e.target, []); });
})();
