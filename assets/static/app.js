// Progressive enhancement. On every page: countdowns to the end of voting and times in the viewer's
// zone. On the show page: voting without a reload, the live ranking over server-sent events (rows
// move only when their rank changes, a moved row is highlighted, keyboard focus stays where it was,
// share bars and the number watching follow along), and the lock at the start (the page's own
// timer, or the server's `locked` event when the viewer's clock is wrong).
// Every page works without this script (plain forms, countdowns printed by the server).
(function () {
  "use strict";
  var each = function (sel, fn) { Array.prototype.forEach.call(document.querySelectorAll(sel), fn); };

  // Same wording as view::countdown on the server.
  function countdown(ms) {
    var s = Math.floor(ms / 1000), d = Math.floor(s / 86400), h = Math.floor(s % 86400 / 3600), m = Math.floor(s % 3600 / 60);
    if (d > 0) return d + " d " + h + " h";
    if (h > 0) return h + " h " + m + " min";
    if (m > 0) return m + " min";
    return "less than a minute";
  }

  // Times in the viewer's zone, where it differs from the venue's at that instant.
  var zone;
  try { zone = Intl.DateTimeFormat().resolvedOptions().timeZone; } catch (e) { zone = null; }
  if (zone) each("time[data-tz]", function (t) {
    var at = new Date(t.getAttribute("datetime")), tz = t.getAttribute("data-tz");
    var fmt = function (z, opts) { return new Intl.DateTimeFormat(undefined, Object.assign({ timeZone: z }, opts)).format(at); };
    var clock = { day: "numeric", hour: "2-digit", minute: "2-digit" };
    try { if (isNaN(at) || fmt(tz, clock) === fmt(zone, clock)) return; } catch (e) { return; }
    var mine = fmt(zone, { weekday: "short", day: "numeric", month: "short", hour: "2-digit", minute: "2-digit", timeZoneName: "short" }) + " your time";
    var slot = t.nextElementSibling;
    if (slot && slot.classList.contains("viewer-time")) slot.textContent = mine; else t.title = mine;
  });

  // Countdowns: redrawn when the shown minute changes; `closed` runs once at the deadline.
  var closing = [];
  function tick() {
    var now = Date.now(), next = 60000;
    closing = closing.filter(function (c) {
      var left = c.at - now;
      if (left <= 0) { c.closed(); return false; }
      c.el.textContent = "Voting closes in " + countdown(left);
      next = Math.min(next, left, left % 60000 || 60000);
      return true;
    });
    if (closing.length) setTimeout(tick, next + 20);
  }

  var show = document.querySelector("[data-show-id]");
  var list = document.getElementById("ranking");
  var lock = function () {};
  if (show && list) lock = showPage(show, list);
  each("[data-closes]", function (el) {
    var at = Date.parse(el.getAttribute("data-closes"));
    if (isNaN(at)) return;
    var onPage = el.parentNode && el.parentNode.id === "voting-status";
    closing.push({ el: el, at: at, closed: onPage ? lock : function () { el.textContent = "Voting closed"; } });
  });
  tick();

  // Share (show page): the Web Share API where the browser has one, else the address copied to the
  // clipboard with a visible "Link copied". Without either, the plain link stays.
  var shareButton = document.getElementById("share"), shareLink = document.getElementById("share-link");
  var canCopy = navigator.clipboard && navigator.clipboard.writeText;
  if (shareButton && shareLink && (navigator.share || canCopy)) {
    var shared = document.getElementById("share-status"), clear = 0;
    var tell = function (text) {
      if (!shared) return;
      shared.textContent = text;
      clearTimeout(clear);
      clear = setTimeout(function () { shared.textContent = ""; }, 4000);
    };
    shareLink.hidden = true;
    shareButton.hidden = false;
    shareButton.addEventListener("click", function () {
      var url = shareLink.href;
      if (navigator.share) {
        navigator.share({ title: document.title, url: url }).catch(function () { /* cancelled */ });
        return;
      }
      navigator.clipboard.writeText(url).then(function () { tell("Link copied"); },
        function () { tell("Could not copy the link: " + url); });
    });
  }

  function showPage(show, list) {
    var showId = show.getAttribute("data-show-id");
    var status = document.getElementById("ranking-status");
    var confirmation = document.getElementById("vote-status");
    var template = document.getElementById("vote-template");
    var es = null, locked = false;

    function el(tag, cls, text) {
      var e = document.createElement(tag);
      if (cls) e.className = cls;
      if (text) e.textContent = text;
      return e;
    }
    function say(text) { if (status) status.textContent = text; }
    function confirm(text) { if (confirmation) confirmation.textContent = text; }
    function showError(text) {
      var p = document.getElementById("vote-error");
      if (!p) { p = el("p", "error"); p.id = "vote-error"; p.setAttribute("role", "alert"); list.parentNode.insertBefore(p, list); }
      p.textContent = text;
    }
    function titleOf(li) { var t = li.querySelector(".title"); return t && t.firstChild ? t.firstChild.textContent.trim() : ""; }
    function setCount(li, votes, anon) {
      var total = votes + anon, n = li.querySelector(".votes .n"), v = li.querySelector(".votes");
      if (n) n.textContent = String(total);
      if (v) { if (anon > 0) v.title = votes + " signed-in, " + anon + " anonymous"; else v.removeAttribute("title"); }
    }
    // Share bars: relative to the song with the most votes.
    function setShares() {
      var top = 1;
      each("#ranking .votes .n", function (n) { top = Math.max(top, Number(n.textContent) || 0); });
      Array.prototype.forEach.call(list.children, function (li) {
        var m = li.querySelector("meter.share"), n = li.querySelector(".votes .n");
        if (m && n) { m.max = top; m.value = Number(n.textContent) || 0; }
      });
    }
    // A row for a song someone else added: same markup as the server renders.
    function newRow(r) {
      var li = el("li"), title = el("span", "title", r.title), votes = el("span", "votes"), share = el("meter", "share");
      li.id = "song-" + r.song_id;
      li.setAttribute("data-song-id", String(r.song_id));
      if (r.album) { title.appendChild(document.createTextNode(" ")); title.appendChild(el("span", "album", r.album)); }
      share.min = 0; share.max = 1; share.value = 0;
      share.setAttribute("aria-hidden", "true");
      title.appendChild(share);
      li.appendChild(title);
      if (template && template.content && !locked) {
        // The count sits in the vote button, as the server renders it.
        var form = template.content.firstElementChild.cloneNode(true);
        form.querySelector("[name=song_id]").value = String(r.song_id);
        form.querySelector(".sr").textContent = " for " + r.title + ",";
        li.appendChild(form);
      } else {
        votes.appendChild(el("span", "n", "0"));
        votes.appendChild(el("span", "sr", " votes"));
        li.appendChild(votes);
      }
      return li;
    }
    // Moves a row, keeping its state (moveBefore, where supported) or at least the focus.
    function place(li, before) {
      if (list.moveBefore) { try { list.moveBefore(li, before); return; } catch (e) { /* fall back */ } }
      list.insertBefore(li, before);
    }
    function render(ranking) {
      var rows = {}, was = {}, total = 0, moved = [];
      Array.prototype.forEach.call(list.children, function (li, i) {
        var id = li.getAttribute("data-song-id");
        rows[id] = li; was[id] = i;
      });
      var active = document.activeElement;
      var focused = active && active !== document.body && list.contains(active) ? active : null;
      var wanted = ranking.map(function (r, i) {
        var id = String(r.song_id), li = rows[id];
        if (!li) { li = newRow(r); say(r.title + " was added to the list."); }
        else if (was[id] !== i) moved.push({ li: li, from: was[id], to: i });
        delete rows[id];
        setCount(li, r.votes, r.anon_votes);
        total += r.votes + r.anon_votes;
        return li;
      });
      Object.keys(rows).forEach(function (k) { list.removeChild(rows[k]); });
      // In ranking order; a row already in its place is not touched.
      wanted.forEach(function (li, i) { if (list.children[i] !== li) place(li, list.children[i] || null); });
      if (focused && document.activeElement !== focused && list.contains(focused)) focused.focus({ preventScroll: true });
      highlight(moved);
      setShares();
      announce(moved, focused);
      var songs = document.getElementById("song-count"), votes = document.getElementById("vote-count");
      if (songs) songs.textContent = String(ranking.length);
      if (votes) votes.textContent = String(total);
    }
    // A row that changed rank flashes once (no animation with prefers-reduced-motion: the CSS
    // keeps a still outline for a moment instead).
    function highlight(moved) {
      moved.forEach(function (m) {
        m.li.classList.remove("moved");
        void m.li.offsetWidth; // restart the animation when it moves again
        m.li.classList.add("moved");
      });
    }
    list.addEventListener("animationend", function (ev) { ev.target.classList.remove("moved"); });
    // Rank changes, politely: the focused row's first, then up to two more.
    function announce(moved, focused) {
      if (!moved.length) return;
      moved.sort(function (a, b) { return (focused && b.li.contains(focused) ? 1 : 0) - (focused && a.li.contains(focused) ? 1 : 0) || a.to - b.to; });
      var parts = moved.slice(0, 3).map(function (m) {
        return titleOf(m.li) + " moved " + (m.to < m.from ? "up" : "down") + " to number " + (m.to + 1);
      });
      say(parts.join("; ") + (moved.length > 3 ? "; and " + (moved.length - 3) + " more moved." : "."));
    }
    function lock() {
      if (locked) return;
      locked = true;
      if (es) es.close();
      var st = document.getElementById("voting-status");
      var active = document.activeElement, lost = false;
      each("form.vote, form.add-song, #vote-template, #live-note", function (f) {
        if (active && f.contains(active)) lost = true;
        // The count in a vote button stays, beside the title.
        var count = f.classList.contains("vote") && f.querySelector(".votes");
        if (count) f.parentNode.insertBefore(count, f);
        f.parentNode.removeChild(f);
      });
      show.removeAttribute("data-live");
      show.setAttribute("data-live-state", "closed");
      show.setAttribute("data-locked", "true");
      if (st) {
        st.className = "status closed";
        st.textContent = "Voting has closed — the setlist will appear here.";
        if (lost) { st.setAttribute("tabindex", "-1"); st.focus(); }
      }
      say("Voting has closed.");
    }

    list.addEventListener("submit", function (ev) {
      var form = ev.target;
      if (!form.classList.contains("vote") || !window.fetch) return;
      ev.preventDefault();
      var songId = form.querySelector("[name=song_id]").value;
      var button = form.querySelector("button");
      var li = form.parentNode;
      // aria-disabled, not disabled: a disabled button drops the keyboard focus to <body>.
      if (button.getAttribute("aria-disabled") === "true") return;
      button.setAttribute("aria-disabled", "true");
      fetch("/api/v1/shows/" + showId + "/songs/" + songId + "/vote", {
        method: "POST", credentials: "same-origin", headers: { "accept": "application/json" }
      }).then(function (res) {
        return res.json().then(function (body) { return { ok: res.ok, body: body }; });
      }).then(function (r) {
        button.removeAttribute("aria-disabled");
        if (!r.ok) {
          if (r.body && r.body.code === "unauthorized") { location.href = "/login?next=" + encodeURIComponent(location.pathname); return; }
          showError((r.body && r.body.detail) || "Your vote could not be recorded.");
          return;
        }
        button.setAttribute("aria-pressed", r.body.voted ? "true" : "false");
        button.querySelector(".label").textContent = r.body.voted ? "Voted" : "Vote";
        setCount(li, r.body.votes, r.body.anon_votes);
        setShares();
        confirm((r.body.voted ? "Voted for " : "Vote taken back for ") + titleOf(li) + ": " + (r.body.votes + r.body.anon_votes) + " votes.");
      }).catch(function () { button.removeAttribute("aria-disabled"); form.submit(); });
    });

    var live = show.getAttribute("data-live");
    if (live && window.EventSource) {
      es = new EventSource(live);
      es.addEventListener("ranking", function (ev) {
        try { render(JSON.parse(ev.data).ranking); } catch (e) { /* a malformed event changes nothing */ }
        if (!locked) show.setAttribute("data-live-state", "connected");
      });
      es.addEventListener("locked", lock);
      es.addEventListener("watchers", function (ev) {
        var note = document.getElementById("live-note"), n;
        try { n = JSON.parse(ev.data).watchers; } catch (e) { return; }
        if (note && typeof n === "number") note.textContent = " · live, " + n + " watching";
      });
      es.addEventListener("error", function () { if (!locked) show.setAttribute("data-live-state", "reconnecting"); });
      window.addEventListener("pagehide", function () { es.close(); });
    }
    return lock;
  }
})();
