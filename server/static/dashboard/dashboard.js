// Sibyl dashboard: the copy button, the site switcher, confirmations, a template's live preview, and the live events
// table. Tracked values are only ever set with textContent, never as HTML.
(function () {
  "use strict";
  document.documentElement.classList.add("js");

  document.querySelectorAll("select[data-autosubmit]").forEach(function (select) {
    select.addEventListener("change", function () { select.form.requestSubmit(); });
  });

  document.querySelectorAll("form[data-confirm]").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      if (!window.confirm(form.dataset.confirm)) event.preventDefault();
    });
  });

  document.querySelectorAll("[data-copy]").forEach(function (button) {
    button.addEventListener("click", function () {
      var source = document.getElementById(button.dataset.copy);
      var feedback = document.getElementById(button.dataset.copyFeedback || "copy-feedback");
      var say = function (text) { if (feedback) feedback.textContent = text; };
      var selectSource = function () {
        var range = document.createRange();
        range.selectNodeContents(source);
        var selection = window.getSelection();
        selection.removeAllRanges();
        selection.addRange(range);
        return document.execCommand("copy");
      };
      var copied = navigator.clipboard
        ? navigator.clipboard.writeText(source.textContent)
        : Promise.reject(new Error("no clipboard"));
      copied.then(function () { say("Copied."); }, function () {
        say(selectSource() ? "Copied." : "Selected: press Ctrl+C (⌘C) to copy.");
      });
    });
  });

  // A template's editor previews what it holds a moment after typing stops (its Preview button, into the frame).
  document.querySelectorAll("form[data-live-preview]").forEach(function (form) {
    var button = document.getElementById(form.dataset.livePreview);
    var timer;
    form.addEventListener("input", function () {
      window.clearTimeout(timer);
      timer = window.setTimeout(function () { form.requestSubmit(button); }, 800);
    });
  });

  var rows = document.getElementById("live-rows");
  if (!rows) return;
  var empty = document.getElementById("live-empty");
  var statusText = document.getElementById("live-status-text");
  var lastId = Number(rows.dataset.lastId) || 0;
  var shown = Number(rows.dataset.shown) || 50;
  var labels = { page: "Page view", track: "Event", identify: "Identified", link: "Link click" };

  function cell(row, text, className) {
    var td = row.insertCell();
    if (className) td.className = className;
    if (text !== undefined) td.textContent = text;
    return td;
  }

  function add(event) {
    var row = document.createElement("tr");
    row.dataset.id = event.id;
    row.className = "is-new";
    var time = document.createElement("time");
    time.dateTime = event.iso;
    time.textContent = event.time;
    cell(row, undefined, "cell-time").appendChild(time);
    var kind = document.createElement("span");
    kind.className = "kind kind--" + event.kind.replace(/[^a-z]/g, "");
    kind.textContent = labels[event.kind] || event.kind;
    cell(row).appendChild(kind);
    cell(row, event.name, "cell-name");
    var who = cell(row);
    var link = document.createElement(event.contact_url ? "a" : "span");
    if (event.contact_url) link.href = event.contact_url; else link.className = "muted";
    link.textContent = event.contact || "anonymous";
    who.appendChild(link);
    cell(row, event.url, "cell-url");
    rows.insertBefore(row, rows.firstChild);
  }

  function poll() {
    var url = rows.dataset.feed + "&after=" + lastId;
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) {
        if (response.status === 401) { window.location.reload(); throw new Error("signed out"); }
        if (!response.ok) throw new Error("HTTP " + response.status);
        return response.json();
      })
      .then(function (body) {
        body.events.slice().reverse().forEach(function (event) {
          add(event);
          lastId = Math.max(lastId, event.id);
        });
        while (rows.rows.length > shown) rows.deleteRow(-1);
        if (empty) empty.hidden = rows.rows.length > 0;
        statusText.textContent = "Refreshing every 2 seconds";
        statusText.parentNode.classList.remove("status--paused");
      })
      .catch(function () {
        statusText.textContent = "Connection lost, retrying…";
        statusText.parentNode.classList.add("status--paused");
      })
      .then(function () { window.setTimeout(poll, 2000); });
  }
  window.setTimeout(poll, 2000);
})();
