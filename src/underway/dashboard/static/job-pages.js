// underway dashboard, job pages: logs that follow the newest line, the finished state of the
// live dot, and the progress of a bulk action. Loaded from our own origin only (CSP).
"use strict";

(function () {
  var BULK_POLL_MS = 500;
  var AT_BOTTOM_PX = 8;

  // -- logs: follow the newest line unless the reader has scrolled up --------------------------

  function followLogs(list) {
    var following = true;
    var button = document.querySelector("[data-follow-logs]");

    // `addedPx`: at the bottom the list had before lines of that height were added.
    function atBottom(addedPx) {
      return list.scrollHeight - (addedPx || 0) - list.scrollTop - list.clientHeight <= AT_BOTTOM_PX;
    }
    function show() {
      list.dataset.following = following ? "yes" : "no";
      if (button) button.hidden = following;
    }
    function toBottom() {
      list.scrollTop = list.scrollHeight;
    }

    list.addEventListener("scroll", function () {
      following = atBottom();
      show();
    }, { passive: true });
    function addedHeight(records) {
      var added = 0;
      records.forEach(function (record) {
        Array.prototype.forEach.call(record.addedNodes, function (node) {
          added += node.offsetHeight || 0;
        });
      });
      return added;
    }
    // New lines follow where the reader was just before them, even if the browser has not yet
    // sent the event of a scroll there: that event would measure against the longer list.
    new MutationObserver(function (records) {
      following = atBottom(addedHeight(records));
      show();
      if (following) toBottom();
    }).observe(list, { childList: true });
    if (button) {
      button.addEventListener("click", function () {
        following = true;
        toBottom();
        show();
      });
    }
    toBottom();
    show();
  }

  // -- the live dot: a finished job sends nothing more, which is not a lost connection -------

  function markFinished() {
    Array.prototype.forEach.call(document.querySelectorAll("[data-live-status]"), function (dot) {
      dot.classList.remove("on");
      dot.classList.add("finished");
      dot.textContent = "finished";
      dot.title = "This job has finished: nothing about it will change, so no live updates are needed";
    });
  }

  function watchFinished() {
    if (!document.body.dataset.job) return;
    if (document.body.hasAttribute("data-finished")) {
      markFinished();
      return;
    }
    var observer = new MutationObserver(function () {
      if (!document.body.hasAttribute("data-finished")) return;
      observer.disconnect();
      // dashboard.js closes the stream and turns the dot off right after; mark it after that.
      setTimeout(markFinished, 0);
    });
    observer.observe(document.body, { attributes: true, attributeFilter: ["data-finished"] });
  }

  // -- bulk actions: re-read the progress until the run has finished --------------------------

  function followBulk(part) {
    function poll() {
      if (!part.querySelector("[data-running]")) return;
      fetch(part.dataset.bulkLive, { credentials: "same-origin", headers: { Accept: "text/html" } })
        .then(function (response) { return response.ok ? response.text() : null; })
        .then(function (html) {
          if (html !== null) part.innerHTML = html;
          setTimeout(poll, BULK_POLL_MS);
        })
        .catch(function () { setTimeout(poll, BULK_POLL_MS * 4); });
    }
    setTimeout(poll, BULK_POLL_MS);
  }

  // -- bulk confirmation: the count of matching jobs, then the button that names it ------------

  function loadCount(cell) {
    fetch(cell.dataset.bulkCount, { credentials: "same-origin", headers: { Accept: "text/html" } })
      .then(function (response) { return response.ok ? response.text() : null; })
      .then(function (html) {
        if (html === null) throw new Error("no count");
        cell.innerHTML = html;
        var count = cell.querySelector("[data-bulk-matched]");
        var button = document.querySelector("[data-bulk-submit] button");
        var n = Number(count.dataset.count);
        button.textContent = count.dataset.verb + " " + count.textContent + (n === 1 ? " job" : " jobs");
        button.disabled = n === 0;
      })
      .catch(function () { cell.textContent = "could not be counted; reload the page"; });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var count = document.querySelector("[data-bulk-count]");
    if (count) loadCount(count);
    var logs = document.getElementById("logs");
    if (logs) followLogs(logs);
    watchFinished();
    var bulk = document.querySelector("[data-bulk-live]");
    if (bulk) followBulk(bulk);
  });
})();
