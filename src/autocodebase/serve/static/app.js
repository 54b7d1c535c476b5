// acb serve: charts (uPlot, from JSON blocks the server wrote) and live run pages.
// No inline script anywhere: the Content-Security-Policy allows only files from this server.
"use strict";

function chartData(name) {
  const block = document.getElementById("chart-" + name);
  return block ? JSON.parse(block.textContent) : null;
}

function width(el) {
  return Math.max(320, el.clientWidth - 16);
}

function usageChart(el, data) {
  const opts = {
    width: width(el), height: 240,
    scales: { x: { time: false } },
    axes: [{ label: "step" }, { label: "tokens" }, { side: 1, scale: "usd", label: "USD", grid: { show: false } }],
    series: [
      { label: "step" },
      { label: "input tokens", stroke: "#2563eb", width: 2 },
      { label: "output tokens", stroke: "#7c3aed", width: 2 },
      { label: "cost (USD)", stroke: "#059669", width: 2, scale: "usd" },
    ],
  };
  return new uPlot(opts, [data.step, data.input_tokens, data.output_tokens, data.cost_usd], el);
}

function releaseMarkers(markers) {
  return {
    hooks: {
      draw: [u => {
        const ctx = u.ctx;
        ctx.save();
        markers.forEach((m, i) => {
          const x = u.valToPos(m.at, "x", true);
          ctx.strokeStyle = m.outcome === "live" ? "#15803d" : "#b91c1c";
          ctx.setLineDash([4, 4]);
          ctx.beginPath();
          ctx.moveTo(x, u.bbox.top);
          ctx.lineTo(x, u.bbox.top + u.bbox.height);
          ctx.stroke();
          ctx.fillStyle = ctx.strokeStyle;
          ctx.font = "12px sans-serif";
          ctx.fillText(m.sha.slice(0, 7) + " " + m.outcome, x + 4, u.bbox.top + 14 + 14 * i);
        });
        ctx.restore();
      }],
    },
  };
}

function trafficChart(el, data) {
  const s = data.series;
  const opts = {
    width: width(el), height: 260,
    plugins: [releaseMarkers(data.markers || [])],
    scales: data.span && data.span.length ? { x: { time: true, range: () => data.span } } : {},
    axes: [{}, { label: "per minute" }, { side: 1, scale: "ms", label: "p95 ms", grid: { show: false } }],
    series: [
      {},
      { label: "requests", stroke: "#2563eb", width: 2, points: { size: 6 } },
      { label: "errors", stroke: "#b91c1c", width: 2 },
      { label: "p95 (ms)", stroke: "#b45309", width: 2, scale: "ms" },
    ],
  };
  return new uPlot(opts, [s.x, s.requests, s.errors, s.p95_ms], el);
}

function drawCharts() {
  for (const el of document.querySelectorAll("[data-chart]")) {
    const name = el.dataset.chart;
    const data = chartData(name);
    if (!data) continue;
    el.uplot = name === "usage" ? usageChart(el, data) : trafficChart(el, data);
    el.dataset.drawn = "1";
  }
}

function followLiveRun() {
  const timeline = document.getElementById("timeline");
  if (!timeline || !timeline.dataset.live) return;
  const every = parseInt(timeline.dataset.poll, 10) || 1500;
  async function poll() {
    try {
      const url = timeline.dataset.live + "?after=" + encodeURIComponent(timeline.dataset.after);
      const answer = await fetch(url, { credentials: "same-origin" });
      if (answer.ok) {
        const html = await answer.text();
        if (html.trim()) timeline.insertAdjacentHTML("beforeend", html);
        timeline.dataset.after = answer.headers.get("x-acb-last-seq") || timeline.dataset.after;
        if (answer.headers.get("x-acb-finished") === "1") {
          window.location.reload();  // the final diff, verdicts and chart
          return;
        }
      }
    } catch (err) {
      // the server restarted or the network blinked: try again next time
    }
    setTimeout(poll, every);
  }
  setTimeout(poll, every);
}

drawCharts();
followLiveRun();
