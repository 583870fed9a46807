/* Report charts (Chart.js, fed by each report's JSON endpoint). The page's <article data-report> names the
   report and carries data-url; the numbers are also in tables on the page. */
(function () {
  "use strict";

  // Django's JavaScript catalogue (loaded by base.html) words the charts in the page's language.
  const gettext = window.gettext || ((text) => text);
  const LANGUAGE = document.documentElement.lang || "en";
  const EMOTIONS = ["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"];
  const EMOTION_LABELS = {
    angry: gettext("angry"),
    disgust: gettext("disgust"),
    fear: gettext("fear"),
    happy: gettext("happy"),
    sad: gettext("sad"),
    surprise: gettext("surprise"),
    neutral: gettext("neutral"),
  };
  const percentFormat = new Intl.NumberFormat(LANGUAGE, { style: "percent", maximumFractionDigits: 0 });
  const timeFormat = new Intl.DateTimeFormat(LANGUAGE, { hour: "2-digit", minute: "2-digit" });
  const dayFormat = new Intl.DateTimeFormat(LANGUAGE, { day: "numeric", month: "short" });
  const NEGATIVE = ["angry", "disgust", "fear", "sad"];
  const css = getComputedStyle(document.documentElement);
  const colour = (name) => css.getPropertyValue("--emotion-" + name).trim() || "#888";
  const label = (name) => {
    const text = EMOTION_LABELS[name] || name;
    return text.charAt(0).toUpperCase() + text.slice(1);
  };
  const pct = (v) => (v === null || v === undefined ? "–" : percentFormat.format(v));
  const day = (iso) => (iso ? dayFormat.format(new Date(iso)) : "");
  const signed = (v) => (v === null || v === undefined ? "–" : (v >= 0 ? "+" : "") + v.toFixed(2));
  const PRESENT = "#1b5e20";
  const STREAMING = "#5c6bc0";
  const MOOD = "#222222";
  const charts = [];

  Chart.defaults.locale = LANGUAGE; // tick numbers in the page's language
  Chart.defaults.animation = false; // charts must be complete at once for print and screenshots
  Chart.defaults.font.family = css.getPropertyValue("--pico-font-family").trim() || undefined;
  Chart.defaults.maintainAspectRatio = false;
  Chart.defaults.plugins.legend.labels.usePointStyle = true;

  function make(canvas, config) {
    if (!canvas) return null;
    const chart = new Chart(canvas, config);
    charts.push(chart);
    return chart;
  }

  const timeAxis = {
    type: "time",
    time: { unit: "minute", displayFormats: { minute: "HH:mm" }, tooltipFormat: "HH:mm" },
    ticks: { maxTicksLimit: 12, callback: (value) => timeFormat.format(new Date(value)) },
  };
  const shareAxis = (title, stacked) => ({
    stacked: stacked,
    min: 0,
    max: 1,
    title: { display: true, text: title },
    ticks: { callback: (v) => percentFormat.format(v) },
  });
  const moodAxis = {
    position: "right",
    min: -1,
    max: 1,
    grid: { drawOnChartArea: false },
    title: { display: true, text: gettext("Mood index") },
  };

  function emotionAreas(points, x, shares) {
    return EMOTIONS.map((e) => ({
      label: label(e),
      data: points.map((p) => ({ x: x(p), y: shares(p) ? shares(p)[e] : null })),
      backgroundColor: colour(e) + "cc",
      borderColor: colour(e),
      borderWidth: 1,
      pointRadius: 0,
      fill: true,
      yAxisID: "y",
      stack: "emotions",
      order: 2,
    }));
  }

  function moodLine(points, x, key, text, dash) {
    return {
      type: "line",
      label: text,
      data: points.map((p) => ({ x: x(p), y: p[key] })),
      borderColor: MOOD,
      backgroundColor: MOOD,
      borderWidth: 2,
      borderDash: dash || [],
      pointRadius: 0,
      fill: false,
      yAxisID: "mood",
      order: 0,
      spanGaps: false,
    };
  }

  const shareTooltip = {
    mode: "index",
    intersect: false,
    callbacks: {
      label: (ctx) => {
        const axis = ctx.dataset.yAxisID;
        const v = ctx.parsed.y;
        if (axis === "mood") return ctx.dataset.label + ": " + signed(v);
        if (axis === "y") return ctx.dataset.label + ": " + pct(v);
        return ctx.dataset.label + ": " + v;
      },
    },
  };

  // --- session report ------------------------------------------------------------------------------------
  function sessionReport(data, root) {
    const presenceOnly = data.presence_only;
    const t = data.timeline;
    const x = (p) => p.minute;
    if (!presenceOnly) {
      const drops = data.moments.filter((m) => m.kind === "mood_drop");
      const datasets = emotionAreas(t, x, (p) => p.shares);
      datasets.push(moodLine(t, x, "mood", gettext("Mood index")));
      datasets.push({
        type: "scatter",
        label: gettext("Mood drop"),
        data: drops.map((m) => ({ x: m.minute, y: t[m.index].mood, note: m.label })),
        yAxisID: "mood",
        pointStyle: "triangle",
        rotation: 180,
        radius: 9,
        backgroundColor: "#b71c1c",
        borderColor: "#fff",
        order: -1,
      });
      make(document.getElementById("mood-chart"), {
        type: "line",
        data: { datasets: datasets },
        options: {
          interaction: { mode: "index", intersect: false },
          scales: { x: timeAxis, y: shareAxis(gettext("Share of frames"), true), mood: moodAxis },
          plugins: {
            tooltip: {
              ...shareTooltip,
              callbacks: {
                label: (ctx) =>
                  ctx.raw && ctx.raw.note ? "⚠ " + ctx.raw.note : shareTooltip.callbacks.label(ctx),
              },
            },
          },
        },
      });
    }
    const dips = data.moments.filter((m) => m.kind === "presence_dip");
    // Everyone the class figures count: students' own cameras and the video call's anonymous participants.
    const streaming = (p) => p.students_streaming + (p.participants_streaming ?? 0);
    const present = (p) => p.students_present + (p.participants_present ?? 0);
    make(document.getElementById("presence-chart"), {
      type: "line",
      data: {
        datasets: [
          {
            label: gettext("Students streaming"),
            data: t.map((p) => ({ x: p.minute, y: streaming(p) })),
            borderColor: STREAMING,
            backgroundColor: STREAMING,
            borderDash: [6, 3],
            pointRadius: 0,
            stepped: true,
          },
          {
            label: gettext("Face visible"),
            data: t.map((p) => ({ x: p.minute, y: present(p) })),
            borderColor: PRESENT,
            backgroundColor: PRESENT + "33",
            fill: true,
            pointRadius: 0,
            stepped: true,
          },
          {
            type: "scatter",
            label: gettext("Presence dip"),
            data: dips.map((m) => ({ x: m.minute, y: present(t[m.index]), note: m.label })),
            pointStyle: "triangle",
            rotation: 180,
            radius: 9,
            backgroundColor: "#b71c1c",
            borderColor: "#fff",
          },
        ],
      },
      options: {
        interaction: { mode: "index", intersect: false },
        scales: {
          x: timeAxis,
          y: { min: 0, suggestedMax: data.overall.students_enrolled, title: { display: true, text: gettext("Students") } },
        },
        plugins: {
          tooltip: {
            callbacks: {
              label: (ctx) => (ctx.raw && ctx.raw.note ? "⚠ " + ctx.raw.note : ctx.dataset.label + ": " + ctx.parsed.y),
            },
          },
        },
      },
    });
    const byStudent = Object.fromEntries(data.students.map((s) => [s.uuid, s]));
    root.querySelectorAll("canvas.sparkline").forEach((canvas) => {
      const student = byStudent[canvas.dataset.student];
      if (!student || !student.sparkline) return;
      make(canvas, {
        type: "line",
        data: {
          labels: t.map((p) => p.minute),
          datasets: [
            {
              data: student.sparkline,
              borderColor: presenceOnly ? PRESENT : colour("sad"),
              backgroundColor: (presenceOnly ? PRESENT : colour("sad")) + "33",
              fill: true,
              borderWidth: 1.5,
              pointRadius: 0,
              spanGaps: false,
            },
          ],
        },
        options: {
          responsive: false,
          events: ["mousemove", "mouseout"],
          scales: { x: { display: false }, y: { display: false, min: 0, max: 1 } },
          plugins: {
            legend: { display: false },
            tooltip: {
              intersect: false,
              mode: "index",
              displayColors: false,
              callbacks: {
                title: (items) => timeFormat.format(new Date(items[0].label)),
                label: (ctx) => (presenceOnly ? gettext("Presence") : gettext("Negative")) + " " + pct(ctx.parsed.y),
              },
            },
          },
        },
      });
    });
  }

  // --- student history ---------------------------------------------------------------------------------
  function studentHistory(data) {
    const s = data.sessions;
    const labels = s.map((item) => day(item.started_at) + " " + item.title);
    if (!data.presence_only) {
      const datasets = EMOTIONS.map((e) => ({
        type: "bar",
        label: label(e),
        data: s.map((item) => (item.distribution ? item.distribution[e] : null)),
        backgroundColor: colour(e),
        stack: "emotions",
        yAxisID: "y",
        order: 2,
      }));
      datasets.push({
        type: "line",
        label: gettext("Negative share"),
        data: s.map((item) => item.negative_share),
        borderColor: MOOD,
        backgroundColor: MOOD,
        yAxisID: "y",
        order: 0,
        tension: 0.2,
      });
      make(document.getElementById("history-chart"), {
        type: "bar",
        data: { labels: labels, datasets: datasets },
        options: {
          interaction: { mode: "index", intersect: false },
          scales: { x: { stacked: true }, y: shareAxis(gettext("Share of frames"), true) },
          plugins: { tooltip: shareTooltip },
        },
      });
    }
    make(document.getElementById("presence-history-chart"), {
      type: "bar",
      data: {
        labels: labels,
        datasets: [
          {
            label: gettext("Minutes with face visible"),
            data: s.map((item) => item.presence_share),
            backgroundColor: PRESENT,
            yAxisID: "y",
          },
        ],
      },
      options: {
        scales: { y: shareAxis(gettext("Presence"), false) },
        plugins: { tooltip: shareTooltip },
      },
    });
  }

  // --- one student's session -----------------------------------------------------------------------------
  function studentSession(data) {
    const m = data.minutes;
    const x = (p) => p.minute;
    if (!data.presence_only) {
      const datasets = emotionAreas(m, x, (p) => p.shares);
      datasets.push(moodLine(m, x, "mood", gettext("Student's mood")));
      datasets.push(moodLine(m, x, "class_mood", gettext("Class mood"), [5, 4]));
      make(document.getElementById("student-mood-chart"), {
        type: "line",
        data: { datasets: datasets },
        options: {
          interaction: { mode: "index", intersect: false },
          scales: { x: timeAxis, y: shareAxis(gettext("Share of frames"), true), mood: moodAxis },
          plugins: { tooltip: shareTooltip },
        },
      });
    }
    make(document.getElementById("student-presence-chart"), {
      type: "bar",
      data: {
        datasets: [
          {
            label: gettext("Share of frames with a face"),
            data: m.map((p) => ({ x: p.minute, y: p.presence_share })),
            backgroundColor: PRESENT,
            yAxisID: "y",
          },
        ],
      },
      options: { scales: { x: timeAxis, y: shareAxis(gettext("Presence"), false) }, plugins: { tooltip: shareTooltip } },
    });
  }

  // --- school report -------------------------------------------------------------------------------------
  function schoolReport(data) {
    const w = data.weeks;
    const weekLabels = w.map((item) => gettext("Week of %(day)s").replace("%(day)s", day(item.week_start)));
    const trend = [
      {
        type: "line",
        label: gettext("Presence"),
        data: w.map((item) => item.presence_share),
        borderColor: PRESENT,
        backgroundColor: PRESENT,
        yAxisID: "y",
        tension: 0.2,
      },
      {
        type: "line",
        label: gettext("Attendance"),
        data: w.map((item) => item.attendance_rate),
        borderColor: STREAMING,
        backgroundColor: STREAMING,
        borderDash: [6, 3],
        yAxisID: "y",
        tension: 0.2,
      },
    ];
    if (!data.presence_only) {
      trend.push({
        type: "line",
        label: gettext("Negative share"),
        data: w.map((item) => item.negative_share),
        borderColor: colour("sad"),
        backgroundColor: colour("sad"),
        yAxisID: "y",
        tension: 0.2,
      });
    }
    make(document.getElementById("weeks-chart"), {
      type: "line",
      data: { labels: weekLabels, datasets: trend },
      options: {
        interaction: { mode: "index", intersect: false },
        scales: { y: shareAxis(gettext("Share"), false) },
        plugins: { tooltip: shareTooltip },
      },
    });
    if (!data.presence_only) {
      const classes = data.by_class;
      make(document.getElementById("classes-chart"), {
        type: "bar",
        data: {
          labels: classes.map((c) => c.name),
          datasets: EMOTIONS.map((e) => ({
            label: label(e),
            data: classes.map((c) => (c.distribution ? c.distribution[e] : null)),
            backgroundColor: colour(e),
            yAxisID: "y",
          })),
        },
        options: {
          indexAxis: "y",
          interaction: { mode: "index", intersect: false },
          scales: {
            x: { stacked: true, min: 0, max: 1, ticks: { callback: (v) => Math.round(v * 100) + "%" } },
            y: { stacked: true },
          },
          plugins: {
            tooltip: { callbacks: { label: (ctx) => ctx.dataset.label + ": " + pct(ctx.parsed.x) } },
          },
        },
      });
    }
  }

  const handlers = {
    session: sessionReport,
    student: studentHistory,
    "student-session": studentSession,
    school: schoolReport,
  };

  document.addEventListener("DOMContentLoaded", () => {
    const root = document.querySelector("[data-report]");
    if (!root) return;
    document.querySelectorAll("[data-print]").forEach((b) => b.addEventListener("click", () => window.print()));
    fetch(root.dataset.url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then((r) => {
        if (!r.ok) throw new Error("HTTP " + r.status);
        return r.json();
      })
      .then((data) => {
        handlers[root.dataset.report](data, root);
        root.dataset.chartsReady = "1";
      })
      .catch((error) => {
        root.dataset.chartsReady = "error";
        const note = document.createElement("p");
        note.className = "notice error";
        note.textContent = gettext("The charts could not be loaded (%(error)s); the tables below still hold every number.").replace("%(error)s", error.message);
        root.prepend(note);
      });
  });

  // Open folded tables and fit charts to the paper when printing.
  window.addEventListener("beforeprint", () => {
    document.querySelectorAll("details.numbers").forEach((d) => (d.open = true));
    charts.forEach((c) => c.resize());
  });
  window.addEventListener("afterprint", () => charts.forEach((c) => c.resize()));
})();
