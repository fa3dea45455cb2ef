// The console's only script: draws the charts from their JSON, and refreshes the page's
// content in place every few seconds (never while someone is typing in one of its forms).
"use strict";
(function () {
  const PALETTE = ["#0b5cad", "#b3261e", "#17663a", "#8a5300", "#6a3d9a", "#545c66"];

  function draw(element) {
    if (!window.echarts) return;
    const source = document.getElementById(element.dataset.chart);
    if (!source) return;
    const data = JSON.parse(source.textContent);
    const old = window.echarts.getInstanceByDom(element);
    if (old) old.dispose();
    const chart = window.echarts.init(element, null, { renderer: "svg" });
    const base = { animation: false, color: PALETTE, tooltip: { trigger: "axis" },
      grid: { left: 8, right: 24, top: 16, bottom: 8, containLabel: true } };
    if (data.kind === "bars") {
      chart.setOption({ ...base,
        xAxis: { type: "value" },
        yAxis: { type: "category", data: data.labels.slice().reverse(), axisLabel: { fontSize: 11 } },
        series: [{ type: "bar", data: data.values.slice().reverse(), itemStyle: { color: "#0b5cad" } }] });
    } else {
      const series = data.lines.map((line) => ({ name: line.name, type: "line", data: line.values,
        connectNulls: true, showSymbol: data.labels.length < 40 }));
      if (series.length && data.thresholds.length) {
        // ECharts rounds a mark line's value to 2 decimals unless told: the label must show
        // the threshold the alert names (0.924, not 0.92).
        series[0].markLine = { symbol: "none", precision: 6,
          lineStyle: { type: "dashed", color: "#b3261e" },
          // Thresholds can lie close together (an alert line and an estimate's): their
          // labels alternate between the two ends so one never covers the other.
          data: data.thresholds.map((t, i) => ({ yAxis: t.value, name: t.name,
            label: { position: i % 2 ? "insideStartTop" : "insideEndTop" } })),
          label: { position: "insideEndTop", fontSize: 11,
            formatter: (p) => p.name + " " + Number(p.value).toFixed(3) } };
      }
      chart.setOption({ ...base, legend: { top: 0, textStyle: { fontSize: 11 } },
        grid: { ...base.grid, top: 36 },
        xAxis: { type: "category", data: data.labels }, yAxis: { type: "value", scale: true },
        series: series });
      if (!series.length) {
        chart.setOption({ graphic: { type: "text", left: "center", top: "middle",
          style: { text: "no window measured this yet", fill: "#545c66" } } });
      }
    }
  }

  function drawAll(root) { root.querySelectorAll("[data-chart]").forEach(draw); }

  function busy(main) {
    const active = document.activeElement;
    if (active && main.contains(active) && active.matches("input, textarea, select")) return true;
    return Array.from(main.querySelectorAll("textarea, input:not([type=hidden])")).some((f) => f.value);
  }

  function refresh(main, seconds) {
    setTimeout(async function tick() {
      if (!document.hidden && !busy(main)) {
        try {
          const response = await fetch(location.href, { headers: { "X-Console-Fragment": "1" },
            credentials: "same-origin" });
          if (response.status === 401) { location.assign("/signin"); return; }
          if (response.ok) { main.innerHTML = await response.text(); drawAll(main); }
        } catch (e) { /* the next tick tries again */ }
      }
      setTimeout(tick, seconds * 1000);
    }, seconds * 1000);
  }

  document.addEventListener("DOMContentLoaded", function () {
    const main = document.getElementById("content");
    drawAll(document);
    const seconds = Number(main && main.dataset.refresh);
    if (main && seconds > 0) refresh(main, seconds);
    window.addEventListener("resize", () => document.querySelectorAll("[data-chart]").forEach((e) => {
      const c = window.echarts && window.echarts.getInstanceByDom(e); if (c) c.resize(); }));
  });
})();
