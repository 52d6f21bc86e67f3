/*
 * The monthly report (月报) page: the headline figures of a town or a
 * district for one month with their definitions and their change against
 * the month before (环比) and the same month a year earlier (同比), the
 * table of its villages (or towns), and the overdue and high-risk cases.
 * Laid out for printing on A4 (see app.css, @media print).
 *
 * Everything comes from GET /v1/report/monthly and reaches the page through
 * textContent, never as markup.
 */
"use strict";

(function () {
  /* The headline rows: the field name and whether it is a rate. */
  var HEADLINE = [
    ["received", false], ["resolved", false], ["resolutionRate", true],
    ["grassrootsRate", true], ["villageRate", true], ["grassrootsResolved", false],
    ["stillOpen", false], ["failedInTownship", false], ["escalatedBeyondTownship", false]
  ];

  function node(tag, attrs, children) {
    var el = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (key) {
      if (key === "text") el.textContent = attrs[key];
      else if (key === "className") el.className = attrs[key];
      else el.setAttribute(key, attrs[key]);
    });
    (children || []).forEach(function (child) {
      if (child !== null && child !== undefined) {
        el.appendChild(typeof child === "string" ? document.createTextNode(child) : child);
      }
    });
    return el;
  }

  function cell(text, className, attrs) {
    var td = node("td", Object.assign({ text: text, className: className || "" }, attrs || {}));
    return td;
  }

  function day(ms) {
    var d = new Date(ms + 8 * 3600 * 1000);
    var pad = function (n) { return (n < 10 ? "0" : "") + n; };
    return d.getUTCFullYear() + "-" + pad(d.getUTCMonth() + 1) + "-" + pad(d.getUTCDate());
  }

  /**
   * Renders a monthly report into `box`.
   * @param {HTMLElement} box
   * @param {object} report the answer of GET /v1/report/monthly
   * @param {{t: function(string, object=): string, lang: string, label: function(string, string): string,
   *          percent: function(?number): string, minute: function(number): string}} ui
   */
  function render(box, report, ui) {
    var t = ui.t;
    while (box.firstChild) box.removeChild(box.firstChild);
    var parts = report.month.split("-");
    box.appendChild(node("h1", { text: t("report.title", {
      place: report.placeName, year: parts[0], month: String(Number(parts[1]))
    }) }));
    var lastDay = day(report.period.to - 1);
    box.appendChild(node("p", { className: "report-meta", text: t("report.meta", {
      from: day(report.period.from), to: lastDay, asOf: ui.minute(report.asOf), days: report.overdueDays
    }) }));

    /* Headline figures with 环比 / 同比. */
    var value = function (figures, name, rate) {
      var v = figures[name];
      if (rate) return ui.percent(v);
      return v === null || v === undefined ? "—" : String(v);
    };
    var change = function (v, rate) {
      if (v === null || v === undefined) return "—";
      var sign = v > 0 ? "+" : (v < 0 ? "−" : "±");
      return sign + Math.abs(v * 100).toFixed(1) + (rate ? t("change.points") : "%");
    };
    var definitions = report.definitions || {};
    var name = function (key) {
      var d = definitions[key];
      return d ? (ui.lang === "en" ? d.labelEn : d.labelZh) : key;
    };
    var head = node("tr", {}, ["report.figure", "report.thisMonth", "report.lastMonth", "change.mom",
      "report.lastYear", "change.yoy"].map(function (key, i) {
      return node("th", { text: t(key), className: i ? "num" : "" });
    }));
    var body = node("tbody");
    HEADLINE.forEach(function (entry, i) {
      var key = entry[0], rate = entry[1];
      var c = report.comparison.changes[key] || {};
      body.appendChild(node("tr", { "data-figure": key }, [
        cell(name(key) + " ⁽" + (i + 1) + "⁾"),
        cell(value(report.totals, key, rate), "num value", { "data-value": String(report.totals[key]) }),
        cell(value(report.comparison.previous, key, rate), "num"),
        cell(change(c.monthOnMonth, rate), "num"),
        cell(value(report.comparison.yearBefore, key, rate), "num"),
        cell(change(c.yearOnYear, rate), "num")
      ]));
    });
    box.appendChild(node("h2", { text: t("report.headline") }));
    box.appendChild(node("div", { className: "scroll" }, [node("table", { className: "table report-headline" }, [node("thead", {}, [head]), body])]));
    var target = report.totals.grassrootsTargetMet ? t("figure.targetMet") : t("figure.targetMissed");
    box.appendChild(node("p", { className: "report-gap", text: t("figure.gap", {
      received: report.totals.received, grassroots: report.totals.grassrootsResolved,
      village: report.totals.villageResolved, town: report.totals.townResolved,
      open: report.totals.stillOpen, failed: report.totals.failedInTownship,
      beyond: report.totals.escalatedBeyondTownship
    }) + " " + t("figure.target") + " ≥ 90% · " + target }));
    box.appendChild(node("p", { className: "report-backlog", text: t("report.backlog", {
      overdue: report.overdue.count, highRisk: report.highRisk.count,
      visits: report.visits, followUps: report.pendingFollowUps
    }) }));

    /* The places. */
    var placeKey = report.rowKind === "town" ? "table.town" : "table.village";
    box.appendChild(node("h2", { text: t(report.rowKind === "town" ? "table.towns" : "table.villages") }));
    var placeHead = node("tr", {}, [placeKey, "table.received", "table.resolved", "table.resolutionRate",
      "table.grassroots", "table.villageRate", "table.stillOpen", "table.failed", "table.beyond",
      "table.overdue", "table.highRisk", "table.visits", "table.followUps"].map(function (key, i) {
      return node("th", { text: t(key), className: i ? "num" : "" });
    }));
    var placeBody = node("tbody");
    report.rows.forEach(function (row) {
      var d = row.disputes;
      placeBody.appendChild(node("tr", { "data-place": row.code }, [
        cell(row.name),
        cell(String(d.received), "num"), cell(String(d.resolved), "num"),
        cell(ui.percent(d.resolutionRate), "num"), cell(ui.percent(d.grassrootsRate), "num"),
        cell(ui.percent(d.villageRate), "num"), cell(String(d.stillOpen), "num"),
        cell(String(d.failedInTownship), "num"), cell(String(d.escalatedBeyondTownship), "num"),
        cell(String(row.overdue), "num"), cell(String(row.openHighRisk), "num"),
        cell(String(row.visits), "num"), cell(String(row.pendingFollowUps), "num")
      ]));
    });
    if (!report.rows.length) {
      placeBody.appendChild(node("tr", {}, [node("td", { colspan: "13", className: "empty", text: t("list.empty") })]));
    }
    box.appendChild(node("div", { className: "scroll" }, [node("table", { className: "table places" }, [node("thead", {}, [placeHead]), placeBody])]));

    /* The overdue and high-risk cases. */
    [["report.overdue", report.overdue, "report-overdue"], ["report.highRisk", report.highRisk, "report-high-risk"]]
      .forEach(function (entry) {
        var list = entry[1];
        box.appendChild(node("h2", { text: t(entry[0], { count: list.count }) }));
        var listHead = node("tr", {}, ["col.title", "table.town", "col.village", "col.status", "col.risk",
          "col.created", "report.daysOpen", "report.daysOverdue", "report.assignees"].map(function (key, i) {
          return node("th", { text: t(key), className: i >= 6 && i <= 7 ? "num" : "" });
        }));
        var listBody = node("tbody");
        list.items.forEach(function (c) {
          var status = ui.label("status", c.status);
          if (c.status === "escalated" && c.escalationLevel) status = ui.t("fmt.paren", { text: status, inner: ui.label("level", c.escalationLevel) });
          listBody.appendChild(node("tr", { "data-id": c.id }, [
            cell(c.title), cell(c.townName), cell(c.villageName), cell(status),
            cell(ui.label("risk", c.risk)), cell(day(c.createdAt), "time"),
            cell(String(c.daysOpen), "num"), cell(String(c.daysOverdue), "num"),
            cell(c.assignees.join(ui.t("fmt.sep")) || "—")
          ]));
        });
        if (!list.items.length) {
          listBody.appendChild(node("tr", {}, [node("td", { colspan: "9", className: "empty", text: t("list.empty") })]));
        }
        box.appendChild(node("div", { className: "scroll" }, [node("table", { className: "table", id: entry[2] }, [node("thead", {}, [listHead]), listBody])]));
        if (list.count > list.items.length) {
          box.appendChild(node("p", { className: "hint", text: t("report.more", { shown: list.items.length }) }));
        }
      });

    /* What each figure means. */
    box.appendChild(node("h2", { text: t("report.definitions") }));
    var notes = node("ol", { className: "report-definitions" });
    HEADLINE.forEach(function (entry) {
      var d = definitions[entry[0]];
      if (d) notes.appendChild(node("li", { text: name(entry[0]) + ui.t("fmt.colon") + (ui.lang === "en" ? d.en : d.zh) }));
    });
    box.appendChild(notes);
  }

  window.FQReport = { render: render };
})();
