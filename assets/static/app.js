// Progressive enhancement of the show page: vote without a reload and follow the live ranking
// over server-sent events. Every page works without this script (plain forms).
(function () {
  "use strict";
  var show = document.querySelector("[data-show-id]");
  var list = document.getElementById("ranking");
  if (!show || !list) return;
  var showId = show.getAttribute("data-show-id");
  var status = document.getElementById("ranking-status");
  var template = document.getElementById("vote-template");

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text) e.textContent = text;
    return e;
  }
  function say(text) { if (status) status.textContent = text; }
  function showError(text) {
    var p = document.getElementById("vote-error");
    if (!p) { p = el("p", "error"); p.id = "vote-error"; p.setAttribute("role", "alert"); list.parentNode.insertBefore(p, list); }
    p.textContent = text;
  }
  function setCount(li, votes, anon) {
    var total = votes + anon, n = li.querySelector(".votes .n"), v = li.querySelector(".votes");
    if (n) n.textContent = String(total);
    if (v) { if (anon > 0) v.title = votes + " signed-in, " + anon + " anonymous"; else v.removeAttribute("title"); }
  }
  // A row for a song someone else added: same markup as the server renders.
  function newRow(r) {
    var li = el("li"), title = el("span", "title", r.title), votes = el("span", "votes");
    li.id = "song-" + r.song_id;
    li.setAttribute("data-song-id", String(r.song_id));
    if (r.album) { title.appendChild(document.createTextNode(" ")); title.appendChild(el("span", "album", r.album)); }
    votes.appendChild(el("span", "n", "0"));
    votes.appendChild(el("span", "sr", " votes"));
    li.appendChild(title);
    li.appendChild(votes);
    if (template && template.content) {
      var form = template.content.firstElementChild.cloneNode(true);
      form.querySelector("[name=song_id]").value = String(r.song_id);
      form.querySelector(".sr").textContent = " for " + r.title;
      li.appendChild(form);
    }
    return li;
  }
  function render(ranking) {
    var rows = {}, total = 0;
    Array.prototype.forEach.call(list.children, function (li) { rows[li.getAttribute("data-song-id")] = li; });
    ranking.forEach(function (r) {
      var li = rows[String(r.song_id)];
      if (!li) { li = newRow(r); say(r.title + " was added to the list."); }
      delete rows[String(r.song_id)];
      setCount(li, r.votes, r.anon_votes);
      total += r.votes + r.anon_votes;
      list.appendChild(li); // appending in ranking order re-orders the list
    });
    Object.keys(rows).forEach(function (k) { list.removeChild(rows[k]); });
    var songs = document.getElementById("song-count"), votes = document.getElementById("vote-count");
    if (songs) songs.textContent = String(ranking.length);
    if (votes) votes.textContent = String(total);
  }

  list.addEventListener("submit", function (ev) {
    var form = ev.target;
    if (!form.classList.contains("vote") || !window.fetch) return;
    ev.preventDefault();
    var songId = form.querySelector("[name=song_id]").value;
    var button = form.querySelector("button");
    var li = form.parentNode;
    button.disabled = true;
    fetch("/api/v1/shows/" + showId + "/songs/" + songId + "/vote", {
      method: "POST", credentials: "same-origin", headers: { "accept": "application/json" }
    }).then(function (res) {
      return res.json().then(function (body) { return { ok: res.ok, body: body }; });
    }).then(function (r) {
      button.disabled = false;
      if (!r.ok) {
        if (r.body && r.body.code === "unauthorized") { location.href = "/login?next=" + encodeURIComponent(location.pathname); return; }
        showError((r.body && r.body.detail) || "Your vote could not be recorded.");
        return;
      }
      var title = li.querySelector(".title").firstChild.textContent;
      button.setAttribute("aria-pressed", r.body.voted ? "true" : "false");
      button.firstChild.textContent = r.body.voted ? "Voted" : "Vote";
      setCount(li, r.body.votes, r.body.anon_votes);
      say((r.body.voted ? "Voted for " : "Vote taken back for ") + title + ": " + (r.body.votes + r.body.anon_votes) + " votes.");
    }).catch(function () { button.disabled = false; form.submit(); });
  });

  var live = show.getAttribute("data-live");
  if (live && window.EventSource) {
    var es = new EventSource(live);
    es.addEventListener("ranking", function (ev) {
      try { render(JSON.parse(ev.data).ranking); } catch (e) { /* a malformed event changes nothing */ }
      show.setAttribute("data-live-state", "connected");
    });
    es.addEventListener("error", function () { show.setAttribute("data-live-state", "reconnecting"); });
    window.addEventListener("pagehide", function () { es.close(); });
  }
})();
