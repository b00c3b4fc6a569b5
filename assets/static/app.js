// Progressive enhancement: vote without reload and follow the live ranking over SSE.
// The page works without this script (plain forms).
(function () {
  "use strict";
  var show = document.querySelector("[data-show-id]");
  if (!show) return;
  var showId = show.getAttribute("data-show-id");
  var list = document.getElementById("ranking");

  function render(ranking) {
    if (!list) return;
    var rows = {};
    Array.prototype.forEach.call(list.children, function (li) { rows[li.getAttribute("data-song-id")] = li; });
    ranking.forEach(function (r) {
      var li = rows[String(r.song_id)];
      if (!li) return; // a song added elsewhere appears on the next page load
      var total = r.votes + r.anon_votes;
      var v = li.querySelector(".votes");
      if (v) { v.textContent = String(total); v.setAttribute("aria-label", total + " votes"); }
      list.appendChild(li); // re-append in ranking order
    });
  }

  document.addEventListener("submit", function (ev) {
    var form = ev.target;
    if (!form.classList || !form.classList.contains("vote")) return;
    ev.preventDefault();
    var songId = form.querySelector("[name=song_id]").value;
    var button = form.querySelector("button");
    button.disabled = true;
    fetch("/api/v1/shows/" + showId + "/songs/" + songId + "/vote", {
      method: "POST", credentials: "same-origin", headers: { "accept": "application/json" }
    }).then(function (res) {
      return res.json().then(function (body) { return { ok: res.ok, body: body }; });
    }).then(function (r) {
      button.disabled = false;
      if (!r.ok) { if (r.body && r.body.code === "unauthorized") { location.href = "/login?next=" + encodeURIComponent(location.pathname); } return; }
      button.setAttribute("aria-pressed", r.body.voted ? "true" : "false");
      button.firstChild.textContent = r.body.voted ? "Voted" : "Vote";
      var v = form.parentNode.querySelector(".votes");
      if (v) v.textContent = String(r.body.votes + r.body.anon_votes);
    }).catch(function () { button.disabled = false; form.submit(); });
  });

  var live = show.getAttribute("data-live");
  if (live && window.EventSource) {
    var es = new EventSource(live);
    es.addEventListener("ranking", function (ev) {
      try { render(JSON.parse(ev.data).ranking); } catch (e) { /* ignore malformed */ }
    });
  }
})();
