// underway dashboard: local times, live updates over server-sent events, small form helpers.
// Loaded from our own origin only (the Content-Security-Policy forbids inline script).
"use strict";

(function () {
  var FINISHED = ["completed", "failed", "cancelled", "skipped"];
  var REFRESH_DELAY_MS = 400;
  var refreshTimer = null;

  // -- times: the viewer's local time plus "3 min ago" ---------------------------------------

  function relative(date) {
    var seconds = Math.round((Date.now() - date.getTime()) / 1000);
    var future = seconds < 0;
    var s = Math.abs(seconds);
    var text;
    if (s < 5) return "just now";
    if (s < 60) text = s + " s";
    else if (s < 3600) text = Math.round(s / 60) + " min";
    else if (s < 86400) text = Math.round(s / 3600) + " h";
    else text = Math.round(s / 86400) + " d";
    return future ? "in " + text : text + " ago";
  }

  function localTimes(root) {
    var nodes = (root || document).querySelectorAll("time[datetime]");
    for (var i = 0; i < nodes.length; i++) {
      var node = nodes[i];
      var date = new Date(node.getAttribute("datetime"));
      if (isNaN(date.getTime())) continue;
      node.title = date.toString();
      if (node.dataset.form === "time") {
        node.textContent = date.toLocaleTimeString(undefined, { hour12: false });
        continue;
      }
      node.textContent = date.toLocaleString(undefined, {
        year: "numeric", month: "short", day: "numeric",
        hour: "2-digit", minute: "2-digit", second: "2-digit"
      }) + " (" + relative(date) + ")";
    }
  }

  // -- live fragments: re-render parts of the page when the server says something changed -----

  function checkedIds(root) {
    var ids = {};
    var boxes = root.querySelectorAll("input[name=ids]:checked");
    for (var i = 0; i < boxes.length; i++) ids[boxes[i].value] = true;
    return ids;
  }

  function refreshLive() {
    var parts = document.querySelectorAll("[data-live]");
    Array.prototype.forEach.call(parts, function (part) {
      fetch(part.dataset.live, { credentials: "same-origin", headers: { Accept: "text/html" } })
        .then(function (response) { return response.ok ? response.text() : null; })
        .then(function (html) {
          if (html === null) return;
          var keep = checkedIds(part);
          part.innerHTML = html;
          var boxes = part.querySelectorAll("input[name=ids]");
          for (var i = 0; i < boxes.length; i++) boxes[i].checked = !!keep[boxes[i].value];
          localTimes(part);
          updateSelection();
          document.dispatchEvent(new CustomEvent("underway:refreshed"));
        })
        .catch(function () { /* the next event tries again */ });
    });
  }

  function scheduleRefresh() {
    if (refreshTimer !== null) return;
    refreshTimer = setTimeout(function () { refreshTimer = null; refreshLive(); }, REFRESH_DELAY_MS);
  }

  // -- server-sent events ----------------------------------------------------------------------

  function each(selector, fn) {
    Array.prototype.forEach.call(document.querySelectorAll(selector), fn);
  }

  function onProgress(data) {
    var pct = Math.max(0, Math.min(100, Number(data.progress) || 0));
    each('[data-progress-for="' + CSS.escape(data.jobId) + '"]', function (bar) { bar.value = pct; });
    each('[data-pct-for="' + CSS.escape(data.jobId) + '"]', function (el) {
      el.textContent = Math.round(pct) + "%";
    });
    each('[data-message-for="' + CSS.escape(data.jobId) + '"]', function (el) {
      el.textContent = data.message || "";
    });
  }

  function onLog(data) {
    var list = document.getElementById("logs");
    if (!list || document.body.dataset.job !== data.jobId) return;
    var last = Number(list.dataset.lastSeq) || 0;
    if (data.seq <= last) return;
    list.dataset.lastSeq = String(data.seq);
    var item = document.createElement("li");
    item.className = "log log-" + String(data.level).replace(/[^a-z]/g, "");
    item.dataset.seq = String(data.seq);
    var at = document.createElement("time");
    at.setAttribute("datetime", data.at);
    at.dataset.form = "time";
    at.textContent = data.at;
    var when = document.createElement("span");
    when.className = "log-at";
    when.appendChild(at);
    var level = document.createElement("span");
    level.className = "log-level";
    level.textContent = data.level;
    var message = document.createElement("span");
    message.className = "log-msg";
    message.textContent = data.message;
    item.appendChild(when);
    item.appendChild(level);
    item.appendChild(message);
    list.appendChild(item);
    localTimes(item);
    list.hidden = false;
    each("[data-logs-empty]", function (el) { el.hidden = true; });
    each("[data-log-count]", function (el) { el.textContent = String(list.children.length); });
  }

  function setLive(on) {
    each("[data-live-status]", function (el) { el.classList.toggle("on", on); });
  }

  function connect() {
    var url = document.body.dataset.stream;
    if (!url || !window.EventSource || document.body.hasAttribute("data-finished")) return;
    var source = new EventSource(url);
    source.onopen = function () { setLive(true); };
    source.onerror = function () { setLive(false); };
    // The stream watches from now on: re-read whatever changed since the page was rendered.
    source.addEventListener("ready", function () { scheduleRefresh(); });
    source.addEventListener("progress", function (e) { onProgress(JSON.parse(e.data)); });
    source.addEventListener("log", function (e) { onLog(JSON.parse(e.data)); });
    source.addEventListener("state", function (e) {
      var data = JSON.parse(e.data);
      scheduleRefresh();
      if (document.body.dataset.job === data.jobId && FINISHED.indexOf(data.state) >= 0) {
        document.body.setAttribute("data-finished", "");
        source.close();
        setLive(false);
      }
    });
    source.addEventListener("deleted", function () {
      source.close();
      setLive(false);
      var note = document.createElement("div");
      note.className = "flash";
      note.textContent = "This job was deleted.";
      document.querySelector("main").prepend(note);
    });
  }

  // -- forms: confirmations, select-all, bulk buttons ----------------------------------------

  function updateSelection() {
    var count = document.querySelectorAll("input[name=ids]:checked").length;
    each("[data-selected-count]", function (el) { el.textContent = count + " selected"; });
    each("[data-bulk]", function (button) { button.disabled = count === 0; });
  }

  document.addEventListener("submit", function (event) {
    var submitter = event.submitter;
    var message = (submitter && submitter.dataset.confirm) || event.target.dataset.confirm;
    if (message && !window.confirm(message)) event.preventDefault();
  });

  document.addEventListener("change", function (event) {
    var target = event.target;
    if (target.matches("[data-select-all]")) {
      each("input[name=ids]", function (box) { box.checked = target.checked; });
    }
    if (target.matches("input[name=ids], [data-select-all]")) updateSelection();
  });

  document.addEventListener("DOMContentLoaded", function () {
    localTimes(document);
    updateSelection();
    connect();
    setInterval(function () { localTimes(document); }, 30000);
  });
})();
