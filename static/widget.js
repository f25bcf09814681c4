// Parley's chat widget for host sites:
//   <script src="https://parley.example/widget.js" data-queue="support" data-identity="TOKEN" async></script>
// A "Chat with us" button opens the queue's chat page in a panel (an iframe on Parley's origin); it
// says "· leave a message" after its label (or data-offline-label) while nobody can take a chat there.
// Styles are set through the DOM, never as markup, so a host page's strict CSP does not block them.
(function () {
  "use strict";
  if (window.parleyWidget) return;  // the snippet pasted twice still makes one button

  var script = document.currentScript ||
    document.querySelector('script[src*="/widget.js"][data-queue]');
  if (!script) return;
  var origin = new URL(script.src, location.href).origin;
  var queue = script.getAttribute("data-queue") || "support";
  var identity = script.getAttribute("data-identity") || "";
  var label = script.getAttribute("data-label") || "Chat with us";

  function style(el, rules) { Object.keys(rules).forEach(function (k) { el.style[k] = rules[k]; }); return el; }

  function chatUrl() {
    var params = new URLSearchParams();
    if (identity) params.set("identity", identity);
    params.set("from", location.href.slice(0, 2000));  // the page the chat starts from, for the agent
    return origin + "/chat/" + encodeURIComponent(queue) + "?" + params.toString();
  }

  var button = style(document.createElement("button"), {
    position: "fixed", right: "1.25rem", bottom: "1.25rem", zIndex: "2147483646",
    padding: ".8em 1.2em", borderRadius: "999px", border: "none", cursor: "pointer",
    background: "#2456c7", color: "#fff", font: "600 15px/1.2 system-ui, sans-serif",
    boxShadow: "0 4px 14px rgba(0,0,0,.25)"
  });
  button.type = "button";
  button.textContent = label;

  // a queue that is closed, or that nobody can take a chat from now, offers to leave a message instead
  var offlineLabel = script.getAttribute("data-offline-label") || label + " · leave a message";
  if (window.fetch) {
    fetch(origin + "/chat/" + encodeURIComponent(queue) + "/availability", { credentials: "omit" })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (state) { if (state && !state.takes_chats) button.textContent = offlineLabel; })
      .catch(function () { /* unknown: the chat page itself says so */ });
  }
  button.setAttribute("aria-expanded", "false");
  button.setAttribute("aria-controls", "parley-widget-panel");

  var panel = style(document.createElement("div"), {
    position: "fixed", right: "1.25rem", bottom: "5rem", zIndex: "2147483647",
    width: "min(24rem, calc(100vw - 2.5rem))", height: "min(38rem, calc(100vh - 7rem))",
    background: "#fff", borderRadius: "12px", overflow: "hidden", display: "none",
    flexDirection: "column", boxShadow: "0 8px 30px rgba(0,0,0,.3)", border: "1px solid #d9dde5"
  });
  panel.id = "parley-widget-panel";
  panel.setAttribute("role", "region");
  panel.setAttribute("aria-label", label);

  var bar = style(document.createElement("div"), {
    display: "flex", justifyContent: "flex-end", padding: ".25rem", background: "#f4f5f7",
    borderBottom: "1px solid #d9dde5"
  });
  var close = style(document.createElement("button"), {
    border: "none", background: "none", cursor: "pointer", font: "20px/1 system-ui, sans-serif",
    padding: ".2em .5em", color: "#1d2330"
  });
  close.type = "button";
  close.textContent = "×";
  close.setAttribute("aria-label", "Close chat");
  bar.appendChild(close);
  panel.appendChild(bar);

  var frame = null;
  function fitPhone() {
    var phone = window.innerWidth < 480;
    style(panel, phone ? { right: "0", bottom: "0", width: "100vw", height: "100%", borderRadius: "0" }
                       : { right: "1.25rem", bottom: "5rem", width: "min(24rem, calc(100vw - 2.5rem))",
                           height: "min(38rem, calc(100vh - 7rem))", borderRadius: "12px" });
  }

  function open() {
    if (!frame) {  // made on first open: a visitor who never clicks never loads the chat page
      frame = style(document.createElement("iframe"), { flex: "1", width: "100%", border: "none" });
      frame.title = "Chat";
      frame.src = chatUrl();
      panel.appendChild(frame);
    }
    fitPhone();
    panel.style.display = "flex";
    button.setAttribute("aria-expanded", "true");
    frame.focus();
  }

  function hide() {
    panel.style.display = "none";  // the chat goes on in the hidden frame
    button.setAttribute("aria-expanded", "false");
    button.focus();
  }

  button.addEventListener("click", function () { if (panel.style.display === "none") open(); else hide(); });
  close.addEventListener("click", hide);
  panel.addEventListener("keydown", function (e) { if (e.key === "Escape") hide(); });
  window.addEventListener("resize", function () { if (panel.style.display !== "none") fitPhone(); });

  function mount() {
    document.body.appendChild(panel);
    document.body.appendChild(button);
  }
  if (document.body) mount(); else document.addEventListener("DOMContentLoaded", mount);
  window.parleyWidget = { open: open, close: hide };
})();
