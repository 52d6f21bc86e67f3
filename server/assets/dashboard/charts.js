/*
 * Small SVG charts drawn by hand: stacked horizontal bars, grouped columns,
 * horizontal bars and a donut. No library, no network: every chart is built
 * with DOM calls (text through textContent, never markup), so data cannot
 * inject anything into the page.
 */
"use strict";

window.FQCharts = (function () {
  var SVG = "http://www.w3.org/2000/svg";

  function el(name, attrs, parent) {
    var node = document.createElementNS(SVG, name);
    Object.keys(attrs || {}).forEach(function (key) {
      node.setAttribute(key, String(attrs[key]));
    });
    if (parent) parent.appendChild(node);
    return node;
  }

  function text(parent, x, y, content, attrs) {
    var node = el("text", Object.assign({ x: x, y: y }, attrs || {}), parent);
    node.textContent = content;
    return node;
  }

  function tip(node, content) {
    var title = el("title", {}, node);
    title.textContent = content;
  }

  function clear(host) {
    while (host.firstChild) host.removeChild(host.firstChild);
  }

  function empty(host, message) {
    clear(host);
    var p = document.createElement("p");
    p.className = "chart-empty";
    p.textContent = message;
    host.appendChild(p);
  }

  function legend(host, series) {
    var list = document.createElement("ul");
    list.className = "legend";
    series.forEach(function (s) {
      var item = document.createElement("li");
      var swatch = document.createElement("span");
      swatch.className = "swatch " + s.cls;
      item.appendChild(swatch);
      item.appendChild(document.createTextNode(s.name));
      list.appendChild(item);
    });
    host.appendChild(list);
  }

  /* A round upper bound for an axis. */
  function niceMax(value) {
    if (value <= 5) return 5;
    var power = Math.pow(10, Math.floor(Math.log10(value)));
    var steps = [1, 2, 2.5, 5, 10];
    for (var i = 0; i < steps.length; i++) {
      if (steps[i] * power >= value) return steps[i] * power;
    }
    return 10 * power;
  }

  /*
   * One horizontal bar per row, split into series.
   * rows: [{label, values: [n per series]}]; series: [{name, cls}]
   */
  function stackedBars(host, rows, series, emptyText) {
    var total = rows.reduce(function (sum, r) {
      return sum + r.values.reduce(function (a, b) { return a + b; }, 0);
    }, 0);
    if (!rows.length || total === 0) return empty(host, emptyText);
    clear(host);
    var labelWidth = 120, width = 560, barHeight = 16, gap = 6, top = 4;
    var height = top + rows.length * (barHeight + gap) + 18;
    var max = niceMax(Math.max.apply(null, rows.map(function (r) {
      return r.values.reduce(function (a, b) { return a + b; }, 0);
    })));
    var svg = el("svg", { viewBox: "0 0 " + width + " " + height, class: "chart-svg", role: "img" }, host);
    var plot = width - labelWidth - 40;
    for (var t = 0; t <= 4; t++) {
      var gx = labelWidth + (plot * t) / 4;
      el("line", { x1: gx, x2: gx, y1: top, y2: height - 16, class: "grid" }, svg);
      text(svg, gx, height - 4, String(Math.round((max * t) / 4)), { class: "axis", "text-anchor": "middle" });
    }
    rows.forEach(function (row, i) {
      var y = top + i * (barHeight + gap);
      text(svg, labelWidth - 6, y + barHeight - 4, row.label, { class: "label", "text-anchor": "end" });
      var x = labelWidth;
      var sum = 0;
      row.values.forEach(function (value, s) {
        if (!value) return;
        var w = (plot * value) / max;
        var rect = el("rect", { x: x, y: y, width: Math.max(w, 1), height: barHeight, class: series[s].cls }, svg);
        tip(rect, row.label + " · " + series[s].name + ": " + value);
        x += w;
        sum += value;
      });
      text(svg, x + 4, y + barHeight - 4, String(sum), { class: "value" });
    });
    legend(host, series);
  }

  /*
   * Grouped columns over time. labels: ["2026-01", …];
   * series: [{name, cls, values: [n per label]}]
   */
  function columns(host, labels, series, emptyText) {
    var all = [];
    series.forEach(function (s) { all = all.concat(s.values); });
    if (!labels.length || Math.max.apply(null, all) === 0) return empty(host, emptyText);
    clear(host);
    var width = 560, height = 220, left = 34, bottom = 30, top = 8;
    var max = niceMax(Math.max.apply(null, all));
    var svg = el("svg", { viewBox: "0 0 " + width + " " + height, class: "chart-svg", role: "img" }, host);
    var plotW = width - left - 8, plotH = height - top - bottom;
    for (var t = 0; t <= 4; t++) {
      var gy = top + plotH - (plotH * t) / 4;
      el("line", { x1: left, x2: width - 8, y1: gy, y2: gy, class: "grid" }, svg);
      text(svg, left - 4, gy + 4, String(Math.round((max * t) / 4)), { class: "axis", "text-anchor": "end" });
    }
    var slot = plotW / labels.length;
    var barW = Math.max(2, Math.min(22, (slot - 6) / series.length));
    var every = Math.ceil(labels.length / 12);
    labels.forEach(function (label, i) {
      var x0 = left + i * slot + (slot - barW * series.length) / 2;
      series.forEach(function (s, k) {
        var value = s.values[i] || 0;
        var h = (plotH * value) / max;
        var rect = el("rect", { x: x0 + k * barW, y: top + plotH - h, width: barW - 1, height: Math.max(h, 0), class: s.cls }, svg);
        tip(rect, label + " · " + s.name + ": " + value);
      });
      if (i % every === 0) {
        text(svg, left + i * slot + slot / 2, height - 12, label, { class: "axis", "text-anchor": "middle" });
      }
    });
    legend(host, series);
  }

  /* Horizontal bars. items: [{label, value, cls}] */
  function bars(host, items, emptyText) {
    if (!items.length || Math.max.apply(null, items.map(function (i) { return i.value; })) === 0) {
      return empty(host, emptyText);
    }
    clear(host);
    var labelWidth = 150, width = 560, barHeight = 16, gap = 6;
    var height = items.length * (barHeight + gap) + 4;
    var max = niceMax(Math.max.apply(null, items.map(function (i) { return i.value; })));
    var svg = el("svg", { viewBox: "0 0 " + width + " " + height, class: "chart-svg", role: "img" }, host);
    var plot = width - labelWidth - 40;
    items.forEach(function (item, i) {
      var y = 2 + i * (barHeight + gap);
      text(svg, labelWidth - 6, y + barHeight - 4, item.label, { class: "label", "text-anchor": "end" });
      var w = (plot * item.value) / max;
      var rect = el("rect", { x: labelWidth, y: y, width: Math.max(w, item.value ? 1 : 0), height: barHeight, class: item.cls || "s-total" }, svg);
      tip(rect, item.label + ": " + item.value);
      text(svg, labelWidth + w + 4, y + barHeight - 4, String(item.value), { class: "value" });
    });
  }

  /* A donut with a legend. items: [{label, value, cls}] */
  function donut(host, items, centre, emptyText) {
    var total = items.reduce(function (sum, i) { return sum + i.value; }, 0);
    if (!total) return empty(host, emptyText);
    clear(host);
    var size = 200, r = 80, inner = 50, cx = 100, cy = 100;
    var svg = el("svg", { viewBox: "0 0 " + size + " " + size, class: "chart-svg donut", role: "img" }, host);
    var angle = -Math.PI / 2;
    items.forEach(function (item) {
      if (!item.value) return;
      var sweep = (2 * Math.PI * item.value) / total;
      if (sweep >= 2 * Math.PI - 1e-9) sweep = 2 * Math.PI - 1e-4;
      var end = angle + sweep;
      var large = sweep > Math.PI ? 1 : 0;
      var p = function (radius, a) { return (cx + radius * Math.cos(a)).toFixed(2) + " " + (cy + radius * Math.sin(a)).toFixed(2); };
      var d = "M " + p(r, angle) + " A " + r + " " + r + " 0 " + large + " 1 " + p(r, end) +
        " L " + p(inner, end) + " A " + inner + " " + inner + " 0 " + large + " 0 " + p(inner, angle) + " Z";
      var path = el("path", { d: d, class: item.cls }, svg);
      tip(path, item.label + ": " + item.value + " (" + Math.round((100 * item.value) / total) + "%)");
      angle = end;
    });
    text(svg, cx, cy + 2, String(total), { class: "donut-total", "text-anchor": "middle" });
    text(svg, cx, cy + 20, centre, { class: "axis", "text-anchor": "middle" });
    legend(host, items.map(function (i) { return { name: i.label + " " + i.value, cls: i.cls }; }));
  }

  return { stackedBars: stackedBars, columns: columns, bars: bars, donut: donut, empty: empty };
})();
