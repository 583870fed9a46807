// Live progress of a recorded lesson's analysis: polls the job's small JSON status once a second until it ends.
(function () {
  "use strict";
  const gettext = window.gettext || ((s) => s);
  const root = document.getElementById("recording-job");
  if (!root) return;
  const $ = (id) => document.getElementById(id);
  const active = new Set(["queued", "running"]);

  function show(data) {
    $("recording-status").textContent = data.label;
    $("recording-progress").value = data.percent;
    $("recording-percent").textContent = data.percent;
    $("recording-frames").textContent = `${data.frames_done}/${data.frames_total}`;
    $("recording-faces").textContent = data.faces;
    $("recording-left").textContent = data.seconds_left === null ? "–" : `${data.seconds_left} s`;
    $("recording-error").hidden = !data.error;
    $("recording-error").textContent = data.error || "";
    $("recording-cancel").hidden = !active.has(data.status);
    if (data.report_url) {
      $("recording-report").href = data.report_url;
      $("recording-done").hidden = false;
    }
  }

  async function poll() {
    try {
      const response = await fetch(root.dataset.statusUrl, { headers: { Accept: "application/json" } });
      if (response.ok) {
        const data = await response.json();
        show(data);
        if (!active.has(data.status)) return;
      }
    } catch (error) {
      $("recording-status").textContent = gettext("Reconnecting…");
    }
    setTimeout(poll, 1000);
  }
  poll();
})();
