/*
 * The dashboard's charts, drawn by Apache ECharts (echarts.js, built from
 * apps/dashboard and embedded in the binary): stacked horizontal bars,
 * grouped columns, horizontal bars and a donut.
 *
 * Every count axis has integer ticks only (minInterval 1), every chart
 * follows its box's width (phones included) and is redrawn in the page's
 * language. Colours are the stylesheet's (--open, --resolved, …), so the
 * charts and the tables use one palette. Tooltips are drawn on the canvas
 * (richText), never as markup, so data cannot inject anything into the page.
 */
"use strict";

window.FQCharts = (function () {
  var echarts = window.echarts;
  /*
   * Charts follow their boxes: the window turning, a phone rotating, and a
   * view shown again (a chart drawn while its view was hidden, after a
   * change of language for instance, had no width to draw in).
   */
  var observer = new ResizeObserver(function (entries) {
    entries.forEach(function (entry) {
      var chart = echarts.getInstanceByDom(entry.target);
      if (chart && !chart.isDisposed() && entry.contentRect.width > 0) chart.resize();
    });
  });

  function watch(host) {
    observer.observe(host);
  }

  function locale() {
    return (document.documentElement.lang || "").indexOf("zh") === 0 ? "ZH" : "EN";
  }

  /* The stylesheet's colour --name (ink, muted, line, open, …). */
  function ink(name) {
    var value = window.getComputedStyle(document.documentElement).getPropertyValue("--" + name);
    return (value || "").trim() || "#5b7a99";
  }

  /* A class name such as "s-open" or "m-urgent" → the stylesheet's --open. */
  function colour(cls) {
    return ink(String(cls || "").replace(/^[a-z]-/, ""));
  }

  function clear(host) {
    var existing = echarts.getInstanceByDom(host);
    observer.unobserve(host);
    /* One chart per box; disposed when its box shows a message instead. */
    if (existing) existing.dispose();
    while (host.firstChild) host.removeChild(host.firstChild);
  }

  function empty(host, message) {
    clear(host);
    host.classList.remove("has-chart");
    host.style.height = "";
    var p = document.createElement("p");
    p.className = "chart-empty";
    p.textContent = message;
    host.appendChild(p);
  }

  /* Draws (or redraws) a chart in a box `height` pixels tall. */
  function draw(host, height, option) {
    var chart = echarts.getInstanceByDom(host);
    if (chart && chart.__fqLocale !== locale()) {
      clear(host);
      chart = null;
    }
    if (!chart) {
      while (host.firstChild) host.removeChild(host.firstChild);
      host.classList.add("has-chart");
      host.style.height = height + "px";
      chart = echarts.init(host, null, { renderer: "canvas", locale: locale() });
      chart.__fqLocale = locale();
      watch(host);
    } else if (host.style.height !== height + "px") {
      host.style.height = height + "px";
      chart.resize();
    }
    option.animation = false;
    option.aria = { enabled: true };
    option.textStyle = { fontFamily: window.getComputedStyle(document.body).fontFamily };
    chart.setOption(option, true);
    return chart;
  }

  function tooltip(trigger) {
    return { trigger: trigger, renderMode: "richText", confine: true };
  }

  function legend(names) {
    return { data: names, bottom: 0, icon: "roundRect", itemWidth: 12, itemHeight: 12,
      textStyle: { color: ink("ink") } };
  }

  function countAxis() {
    return {
      type: "value",
      minInterval: 1,
      axisLabel: { color: ink("muted") },
      splitLine: { lineStyle: { color: ink("line") } }
    };
  }

  function categoryAxis(labels, inverse) {
    return {
      type: "category",
      data: labels,
      inverse: !!inverse,
      axisTick: { show: false },
      axisLabel: { color: ink("ink"), width: 96, overflow: "truncate" },
      axisLine: { lineStyle: { color: ink("line") } }
    };
  }

  function sum(values) {
    return values.reduce(function (a, b) { return a + b; }, 0);
  }

  /*
   * rows: [{label, values: [n per series]}]; series: [{name, cls}].
   * One horizontal bar per row, its parts stacked, the total at its end.
   */
  function stackedBars(host, rows, series, emptyText) {
    var total = sum(rows.map(function (r) { return sum(r.values); }));
    if (!rows.length || total === 0) return empty(host, emptyText);
    var labels = rows.map(function (r) { return r.label; });
    var drawn = series.map(function (s, k) {
      return {
        name: s.name,
        type: "bar",
        stack: "all",
        barMaxWidth: 18,
        itemStyle: { color: colour(s.cls) },
        data: rows.map(function (r) { return r.values[k] || 0; })
      };
    });
    /* The row totals, written after each bar by an invisible last part. */
    drawn.push({
      name: "",
      type: "bar",
      stack: "all",
      silent: true,
      itemStyle: { color: "transparent" },
      label: {
        show: true,
        position: "right",
        color: ink("muted"),
        formatter: function (p) { return String(sum(rows[p.dataIndex].values)); }
      },
      data: rows.map(function () { return 0; }),
      tooltip: { show: false }
    });
    return draw(host, 56 + rows.length * 28, {
      tooltip: tooltip("axis"),
      legend: legend(series.map(function (s) { return s.name; })),
      grid: { left: 8, right: 24, top: 8, bottom: 40, containLabel: true },
      xAxis: countAxis(),
      yAxis: categoryAxis(labels, true),
      series: drawn
    });
  }

  /* labels: the x axis; series: [{name, cls, values}], side by side. */
  function columns(host, labels, series, emptyText) {
    var all = [];
    series.forEach(function (s) { all = all.concat(s.values); });
    if (!labels.length || Math.max.apply(null, all) === 0) return empty(host, emptyText);
    return draw(host, 260, {
      tooltip: tooltip("axis"),
      legend: legend(series.map(function (s) { return s.name; })),
      grid: { left: 8, right: 12, top: 16, bottom: 40, containLabel: true },
      xAxis: {
        type: "category",
        data: labels,
        axisTick: { alignWithLabel: true },
        axisLabel: { color: ink("muted"), hideOverlap: true },
        axisLine: { lineStyle: { color: ink("line") } }
      },
      yAxis: countAxis(),
      series: series.map(function (s) {
        return {
          name: s.name,
          type: "bar",
          barMaxWidth: 22,
          itemStyle: { color: colour(s.cls) },
          data: s.values
        };
      })
    });
  }

  /* items: [{label, value, cls}], one horizontal bar each, value at its end. */
  function bars(host, items, emptyText) {
    if (!items.length || Math.max.apply(null, items.map(function (i) { return i.value; })) === 0) {
      return empty(host, emptyText);
    }
    return draw(host, 24 + items.length * 26, {
      tooltip: tooltip("axis"),
      grid: { left: 8, right: 36, top: 8, bottom: 8, containLabel: true },
      xAxis: countAxis(),
      yAxis: categoryAxis(items.map(function (i) { return i.label; }), true),
      series: [{
        type: "bar",
        barMaxWidth: 16,
        label: { show: true, position: "right", color: ink("muted") },
        data: items.map(function (i) {
          return { value: i.value, itemStyle: { color: colour(i.cls) } };
        })
      }]
    });
  }

  /* items: [{label, value, cls}]; the total and `centre` in the hole. */
  function donut(host, items, centre, emptyText) {
    var total = sum(items.map(function (i) { return i.value; }));
    if (total === 0) return empty(host, emptyText);
    /* The total in the hole, written once (by the first part's label). */
    var inHole = {
      show: true,
      position: "center",
      formatter: function () { return "{total|" + total + "}\n{caption|" + centre + "}"; },
      rich: {
        total: { fontSize: 28, fontWeight: 700, color: ink("ink"), lineHeight: 36 },
        caption: { fontSize: 12, color: ink("muted") }
      }
    };
    return draw(host, 280, {
      tooltip: tooltip("item"),
      legend: legend(items.map(function (i) { return i.label; })),
      series: [{
        type: "pie",
        radius: ["48%", "72%"],
        center: ["50%", "44%"],
        label: { show: false },
        labelLine: { show: false },
        emphasis: { scale: false, label: { show: false } },
        data: items.map(function (i, k) {
          var part = { name: i.label, value: i.value, itemStyle: { color: colour(i.cls) } };
          if (k === 0) part.label = inHole;
          return part;
        })
      }]
    });
  }

  return { stackedBars: stackedBars, columns: columns, bars: bars, donut: donut, empty: empty };
})();
