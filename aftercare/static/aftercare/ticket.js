// The request page: composer (reply / note, canned answers, files by drop and paste, the
// status in the same submit), the properties form, the timeline filter and the live
// refresh with its warning before a stale save. The page works without this file.
(function () {
  "use strict";

  function ready(fn) {
    if (document.readyState !== "loading") fn(); else document.addEventListener("DOMContentLoaded", fn);
  }

  ready(function () {
    var root = document.getElementById("ticket-root");
    if (!root) return;
    var loadedVersion = parseInt(root.dataset.version, 10);
    var latestVersion = loadedVersion;
    var composer = document.getElementById("composer");
    var props = document.getElementById("properties-form");

    // -- composer: reply or internal note --------------------------------------------
    function setMode(mode) {
      if (!composer) return;
      composer.classList.toggle("mode-note", mode === "note");
      composer.classList.toggle("mode-reply", mode !== "note");
      var radio = composer.querySelector("input[data-mode][value=" + mode + "]");
      if (radio) radio.checked = true;
    }
    if (composer) {
      composer.querySelectorAll("input[data-mode]").forEach(function (r) {
        r.addEventListener("change", function () { setMode(r.value); });
      });
    }
    // keys.js asks for these ("r" and "n").
    window.aftercareComposer = function (mode) {
      if (!composer) return false;
      if (mode === "note" && !composer.querySelector("input[data-mode][value=note]")) return false;
      setMode(mode);
      var body = composer.querySelector("textarea[name=body]");
      if (body) { body.focus(); body.scrollIntoView({ block: "center" }); }
      return true;
    };

    // -- canned answers: filled by the server for this request, inserted at the cursor --
    var picker = document.getElementById("canned-picker");
    if (picker && composer) {
      picker.addEventListener("change", function () {
        var id = picker.value;
        if (!id) return;
        var url = root.dataset.cannedUrl + "?answer=" + encodeURIComponent(id);
        fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
          .then(function (r) { if (!r.ok) throw new Error(r.status); return r.json(); })
          .then(function (data) {
            insertAtCursor(composer.querySelector("textarea[name=body]"), data.text);
            applyCanned(data);
          })
          .catch(function () {})
          .then(function () { picker.value = ""; });
      });
    }
    // A canned answer may also set the priority (shown, sent as the answer's id; the
    // server reads the priority from the answer) and propose a move, which becomes the
    // main button only if this agent may make it (the menu lists exactly those).
    var cannedNote = composer ? composer.querySelector("[data-canned-note]") : null;
    var cannedInput = composer ? composer.querySelector("[data-canned-answer]") : null;
    var thenNote = composer ? composer.querySelector("[data-then-note]") : null;
    var sendBtn = composer ? composer.querySelector("button.send-btn") : null;
    var sendLabel = sendBtn ? sendBtn.textContent : "";
    function fmt(template, name, value) { return template.replace("%(" + name + ")s", value); }
    function setThen(target) {
      if (!sendBtn) return;
      var option = target ? composer.querySelector(".split-menu button[name=then][value='" + target + "']") : null;
      if (!option) {
        sendBtn.value = ""; sendBtn.textContent = sendLabel; sendBtn.dataset.needsReason = "0";
        if (thenNote) thenNote.hidden = true;
        return false;
      }
      sendBtn.value = target;
      sendBtn.textContent = option.textContent;
      sendBtn.dataset.needsReason = option.dataset.needsReason || "0";
      if (thenNote) {
        thenNote.querySelector("[data-then-text]").textContent =
          fmt(thenNote.dataset.textThen || "%(move)s", "move", option.textContent.trim());
        thenNote.hidden = false;
      }
      return true;
    }
    function applyCanned(data) {
      if (cannedNote && cannedInput) {
        if (data.set_priority) {
          cannedInput.value = data.id;
          cannedNote.querySelector("[data-canned-priority-text]").textContent =
            fmt(cannedNote.dataset.textPriority, "priority", data.set_priority_label);
          cannedNote.hidden = false;
        }
      }
      if (data.set_status) setThen(data.set_status);
    }
    if (cannedNote) {
      var clear = cannedNote.querySelector("[data-canned-clear]");
      if (clear) clear.addEventListener("click", function () {
        cannedInput.value = ""; cannedNote.hidden = true;
      });
      // A form shown again after an error keeps the answer's proposed move.
      if (cannedInput && cannedInput.value && cannedInput.dataset.setStatus) setThen(cannedInput.dataset.setStatus);
    }
    if (thenNote) {
      thenNote.querySelector("[data-then-clear]").addEventListener("click", function () { setThen(""); });
    }

    function insertAtCursor(area, text) {
      if (!area) return;
      var start = area.selectionStart || 0, end = area.selectionEnd || 0;
      area.value = area.value.slice(0, start) + text + area.value.slice(end);
      area.selectionStart = area.selectionEnd = start + text.length;
      area.focus();
      area.dispatchEvent(new Event("input", { bubbles: true }));
    }

    // -- attachments: drop, paste, list with remove buttons ---------------------------
    var input = composer ? composer.querySelector("input[type=file][name=files]") : null;
    var zone = composer ? composer.querySelector("[data-dropzone]") : null;
    var list = document.getElementById("file-list");
    var maxBytes = parseInt(root.dataset.maxBytes, 10) || 0;
    var maxFiles = parseInt(root.dataset.maxFiles, 10) || 0;
    function human(n) {
      if (n < 1024) return n + " B";
      if (n < 1024 * 1024) return Math.round(n / 1024) + " KB";
      return (n / 1024 / 1024).toFixed(1) + " MB";
    }
    function renderFiles() {
      if (!list || !input) return;
      list.textContent = "";
      Array.prototype.forEach.call(input.files, function (f, i) {
        var li = document.createElement("li");
        var name = document.createElement("span");
        name.className = "file-name";
        name.textContent = f.name;
        var size = document.createElement("span");
        size.className = "muted small";
        size.textContent = " (" + human(f.size) + ")";
        li.appendChild(name); li.appendChild(size);
        if (maxBytes && f.size > maxBytes) {
          li.classList.add("too-big");
          var warn = document.createElement("div");
          warn.className = "errorlist";
          warn.textContent = root.dataset.textTooBig + " " + human(maxBytes);
          li.appendChild(warn);
        }
        var rm = document.createElement("button");
        rm.type = "button"; rm.className = "link remove-file";
        rm.textContent = root.dataset.textRemove;
        rm.setAttribute("aria-label", root.dataset.textRemove + " " + f.name);
        rm.addEventListener("click", function () { removeFile(i); });
        li.appendChild(rm);
        list.appendChild(li);
      });
      if (maxFiles && input.files.length > maxFiles) {
        var li = document.createElement("li");
        li.className = "errorlist";
        li.textContent = root.dataset.textTooMany + " (" + input.files.length + "/" + maxFiles + ")";
        list.appendChild(li);
      }
    }
    function addFiles(files) {
      if (!input || typeof DataTransfer === "undefined") return;
      var dt = new DataTransfer();
      Array.prototype.forEach.call(input.files, function (f) { dt.items.add(f); });
      Array.prototype.forEach.call(files, function (f) { dt.items.add(f); });
      input.files = dt.files;
      renderFiles();
    }
    function removeFile(index) {
      var dt = new DataTransfer();
      Array.prototype.forEach.call(input.files, function (f, i) { if (i !== index) dt.items.add(f); });
      input.files = dt.files;
      renderFiles();
    }
    function pad(n) { return (n < 10 ? "0" : "") + n; }
    function screenshotName(type) {
      var d = new Date();
      var ext = (type.split("/")[1] || "png").replace("jpeg", "jpg");
      return "screenshot-" + d.getFullYear() + pad(d.getMonth() + 1) + pad(d.getDate()) + "-" +
        pad(d.getHours()) + pad(d.getMinutes()) + pad(d.getSeconds()) + "." + ext;
    }
    if (input) input.addEventListener("change", renderFiles);
    if (zone) {
      ["dragenter", "dragover"].forEach(function (t) {
        zone.addEventListener(t, function (e) { e.preventDefault(); zone.classList.add("drag-over"); });
      });
      ["dragleave", "drop"].forEach(function (t) {
        zone.addEventListener(t, function () { zone.classList.remove("drag-over"); });
      });
      zone.addEventListener("drop", function (e) {
        e.preventDefault();
        if (e.dataTransfer && e.dataTransfer.files.length) addFiles(e.dataTransfer.files);
      });
    }
    if (composer) {
      composer.addEventListener("paste", function (e) {
        var items = (e.clipboardData && e.clipboardData.items) || [];
        var files = [];
        Array.prototype.forEach.call(items, function (item) {
          if (item.kind !== "file") return;
          var f = item.getAsFile();
          if (!f) return;
          if (/^image\//.test(f.type)) {
            f = new File([f], screenshotName(f.type), { type: f.type });
          }
          files.push(f);
        });
        if (files.length) { e.preventDefault(); addFiles(files); }
      });
    }

    // -- the split button: a move that needs a reason asks for it first ---------------
    var reasonBox = composer ? composer.querySelector("[data-composer-reason]") : null;
    if (composer) {
      composer.querySelectorAll("button[name=then]").forEach(function (btn) {
        btn.addEventListener("click", function (e) {
          if (btn.dataset.needsReason !== "1" || !reasonBox) return;
          var reason = reasonBox.querySelector("textarea");
          if (reasonBox.hidden || !reason.value.trim()) {
            e.preventDefault();
            reasonBox.hidden = false;
            reasonBox.dataset.target = btn.value;
            var menu = btn.closest("details"); if (menu) menu.open = false;
            reason.focus();
          }
        });
      });
      // Close the menu when clicking elsewhere.
      document.addEventListener("click", function (e) {
        composer.querySelectorAll("details.split-menu[open]").forEach(function (d) {
          if (!d.contains(e.target)) d.open = false;
        });
      });
    }

    // -- properties: reason fields only when they apply ------------------------------
    if (props) {
      var status = props.querySelector("select[name=status]");
      var statusReason = props.querySelector("[data-status-reason]");
      var needing = (props.dataset.reasonTargets || "").split(" ");
      var priority = props.querySelector("select[name=priority]");
      var priorityReason = props.querySelector("[data-priority-reason]");
      var level = props.querySelector("select[name=level]");
      var levelNote = props.querySelector("[data-level-note]");
      var sync = function () {
        if (level && levelNote) levelNote.hidden = level.value !== "2";
        if (status && statusReason) {
          statusReason.hidden = needing.indexOf(status.value) < 0 && !statusReason.querySelector(".errorlist");
        }
        if (priority && priorityReason) {
          priorityReason.hidden = priority.value === props.dataset.priority && !priorityReason.querySelector(".errorlist");
        }
      };
      if (status) status.addEventListener("change", sync);
      if (priority) priority.addEventListener("change", sync);
      if (level) level.addEventListener("change", sync);
      sync();
    }

    // -- timeline filter, remembered -------------------------------------------------
    var filterBox = document.getElementById("timeline-filter");
    var timeline = document.getElementById("timeline");
    var KEY = "aftercare.timeline.filter";
    function applyFilter(name) {
      if (!timeline || !filterBox) return;
      timeline.dataset.filter = name;
      filterBox.querySelectorAll("button[data-filter]").forEach(function (b) {
        b.setAttribute("aria-pressed", b.dataset.filter === name ? "true" : "false");
      });
      timeline.querySelectorAll("li[data-group]").forEach(function (li) {
        li.hidden = name !== "all" && li.dataset.group !== name;
      });
    }
    if (filterBox) {
      var saved = "all";
      try { saved = window.localStorage.getItem(KEY) || "all"; } catch (e) { /* private mode */ }
      if (["all", "conversation", "changes"].indexOf(saved) < 0) saved = "all";
      applyFilter(saved);
      filterBox.addEventListener("click", function (e) {
        var b = e.target.closest("button[data-filter]");
        if (!b) return;
        applyFilter(b.dataset.filter);
        try { window.localStorage.setItem(KEY, b.dataset.filter); } catch (err) { /* ignore */ }
      });
    }

    // -- live: poll, append new entries, warn before a stale save ---------------------
    var banner = document.getElementById("live-banner");
    var bannerText = document.getElementById("live-text");
    var saveAnyway = document.getElementById("live-save-anyway");
    var pending = null; // {form, submitter} held back because it is stale
    function showBanner(text) {
      if (!banner) return;
      if (text) bannerText.textContent = text;
      banner.hidden = false;
    }
    function appendEntries(html) {
      if (!timeline) return;
      var tmp = document.createElement("div");
      tmp.innerHTML = html;
      var fresh = tmp.querySelector("#timeline");
      if (!fresh) return;
      Array.prototype.forEach.call(fresh.querySelectorAll("li[data-key]"), function (li) {
        if (!timeline.querySelector("li[data-key='" + li.dataset.key + "']")) {
          li.classList.add("is-new");
          timeline.appendChild(li);
        }
      });
      applyFilter(timeline.dataset.filter || "all");
    }
    function poll() {
      if (document.hidden) return;
      var url = root.dataset.changesUrl + "?since=" + latestVersion;
      fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
        .then(function (r) { if (!r.ok) throw new Error(r.status); return r.json(); })
        .then(function (data) {
          if (!data.changed) return;
          latestVersion = data.version;
          if (data.html) appendEntries(data.html);
          if (latestVersion !== loadedVersion) showBanner(data.news);
        })
        .catch(function () {});
    }
    var interval = parseInt(root.dataset.pollMs, 10) || 15000;
    window.setInterval(poll, interval);
    document.addEventListener("visibilitychange", function () { if (!document.hidden) poll(); });
    window.aftercarePoll = poll; // tests and the help dialog may trigger a check at once

    document.querySelectorAll("form[data-guard]").forEach(function (form) {
      form.addEventListener("submit", function (e) {
        if (form.dataset.forced === "1" || latestVersion === loadedVersion) return;
        e.preventDefault();
        pending = { form: form, submitter: e.submitter || null };
        if (saveAnyway) saveAnyway.hidden = false;
        banner.classList.add("attention");
        showBanner();
        banner.scrollIntoView({ block: "nearest" });
        if (saveAnyway) saveAnyway.focus();
      });
    });
    if (saveAnyway) {
      saveAnyway.addEventListener("click", function () {
        if (!pending) return;
        var form = pending.form;
        // Saving anyway means: over the version now on the server, knowingly.
        var v = form.querySelector("input[name=version]");
        if (v) v.value = latestVersion;
        form.dataset.forced = "1";
        if (pending.submitter && form.requestSubmit) form.requestSubmit(pending.submitter);
        else if (form.requestSubmit) form.requestSubmit();
        else form.submit();
      });
    }
  });
})();
