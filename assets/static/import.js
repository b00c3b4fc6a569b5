// The import progress page: poll the job's JSON progress once a second and update the page; reload
// once the job has finished so the server renders the full report. Without this script the page has
// a refresh link.
(function () {
  "use strict";
  var job = document.getElementById("import-job");
  if (!job || job.getAttribute("data-state") !== "running") return;
  var url = job.getAttribute("data-progress");
  var bar = document.getElementById("job-progress");
  var count = document.getElementById("job-count");
  var phase = document.getElementById("job-phase");
  var notes = document.getElementById("job-notes");
  var failures = 0;

  function show(p) {
    if (phase) phase.textContent = p.phase;
    if (bar) {
      if (p.total) { bar.max = p.total; bar.value = p.done; } else { bar.removeAttribute("value"); }
    }
    if (count) count.textContent = p.total ? p.done + " of " + p.total : "";
    if (notes) {
      while (notes.firstChild) notes.removeChild(notes.firstChild);
      p.notes.forEach(function (n) { var li = document.createElement("li"); li.textContent = n; notes.appendChild(li); });
    }
  }

  function poll() {
    fetch(url, { credentials: "same-origin", headers: { "accept": "application/json" } })
      .then(function (res) { if (!res.ok) throw new Error(String(res.status)); return res.json(); })
      .then(function (p) {
        failures = 0;
        show(p);
        if (p.state !== "running") { location.reload(); return; }
        setTimeout(poll, 1000);
      })
      .catch(function () { failures += 1; if (failures < 30) setTimeout(poll, 2000); });
  }
  setTimeout(poll, 1000);
})();
