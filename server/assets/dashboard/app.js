/*
 * The township and district dashboard.
 *
 * Signs in with a device token (the server answers with a session cookie),
 * then reads the JSON API with that cookie: headline figures, charts, the
 * village table, backlog lists, possible duplicates and the case page. An
 * EventSource on /v1/events tells the page when a record in scope changed;
 * the page then fetches its figures again, without reloading; and shows an
 * `alert` (a case become high-risk, a visit become urgent) as a banner.
 *
 * Every piece of data reaches the page through textContent or attributes,
 * never as markup.
 */
"use strict";

(function () {
  var I18N = window.FQ_I18N;
  var Charts = window.FQCharts;
  var OFFSET_MS = 8 * 3600 * 1000; /* China Standard Time */

  var state = {
    me: null,
    /* Raised whenever the page returns to the sign-in form: answers to
       requests made before are dropped. */
    session: 0,
    lang: readLang(),
    root: null, /* the scope the official oversees (or typed in, for development) */
    scope: null, /* the scope on screen */
    from: "",
    to: "",
    places: { villages: [], towns: {}, name: null },
    villageNames: {},
    data: null,
    caseFile: null,
    report: null,
    events: null,
    refreshTimer: null,
    lastLoadMs: 0,
    lastLoadEnd: 0,
    loads: 0
  };

  /* ---------- small helpers ---------- */

  function readLang() {
    try {
      return window.localStorage.getItem("fq.lang") === "en" ? "en" : "zh";
    } catch (e) {
      return "zh";
    }
  }

  function t(key, vars) {
    /* English says "1 day", not "1 days": a message may have a singular
       form (key + ".one") for a count of exactly one. */
    var counts = Object.keys(vars || {}).filter(function (name) { return vars[name] === 1; });
    var one = counts.length && I18N[state.lang] && I18N[state.lang][key + ".one"];
    var text = one || (I18N[state.lang] && I18N[state.lang][key]) || I18N.zh[key] || key;
    Object.keys(vars || {}).forEach(function (name) {
      text = text.split("{" + name + "}").join(vars[name]);
    });
    return text;
  }

  /* A vocabulary label: Chinese from the server, English from i18n.js. */
  function label(table, value) {
    if (value === null || value === undefined) return "—";
    if (state.lang === "en") {
      var en = I18N.labelsEn[table];
      if (en && en[value]) return en[value];
    }
    var zh = state.me && state.me.labels && state.me.labels[table];
    return (zh && zh[value]) || String(value);
  }

  function $(id) {
    return document.getElementById(id);
  }

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

  function clear(el) {
    while (el.firstChild) el.removeChild(el.firstChild);
  }

  function show(id, visible) {
    $(id).hidden = !visible;
  }

  function pad(n) {
    return (n < 10 ? "0" : "") + n;
  }

  /* An instant in China Standard Time, to the minute. */
  function minute(ms) {
    if (ms === null || ms === undefined) return "—";
    var d = new Date(ms + OFFSET_MS);
    return d.getUTCFullYear() + "-" + pad(d.getUTCMonth() + 1) + "-" + pad(d.getUTCDate()) +
      " " + pad(d.getUTCHours()) + ":" + pad(d.getUTCMinutes());
  }

  function percent(rate) {
    return rate === null || rate === undefined ? "—" : (rate * 100).toFixed(1) + "%";
  }

  function villageName(code) {
    return state.villageNames[code] || code;
  }

  function scopeName(code) {
    if (!code) return "";
    if (code === (state.places.scope || "")) return state.places.name || code;
    if (state.places.towns[code]) return state.places.towns[code];
    if (code.length === 12) return villageName(code);
    return code;
  }

  function query(extra) {
    var params = new URLSearchParams();
    if (state.scope) params.set("scope", state.scope);
    if (state.from) params.set("from", state.from);
    if (state.to) params.set("to", state.to);
    Object.keys(extra || {}).forEach(function (key) { params.set(key, extra[key]); });
    return params.toString();
  }

  function ApiFailure(status, code, message) {
    this.status = status;
    this.code = code;
    this.message = message;
  }

  function api(path, options) {
    var session = state.session;
    return fetch(path, Object.assign({ credentials: "same-origin", headers: { Accept: "application/json" } }, options || {}))
      .then(function (response) {
        return response.json().catch(function () { return {}; }).then(function (body) {
          // An answer to a request made before the page signed out is
          // dropped, as a refusal: nothing of the scope comes back.
          if (session !== state.session) throw new ApiFailure(401, "unauthorized", "signed out");
          if (response.status === 204) return null;
          if (!response.ok) {
            if (response.status === 401) sessionLost();
            throw new ApiFailure(response.status, body.code, body.message || response.statusText);
          }
          return body;
        });
      });
  }

  /*
   * What went wrong, in the page's language: the server's stable error code
   * read from the catalogue (its own detail, which is English, added only on
   * the English page); a request that never reached the server is a network
   * failure.
   */
  function errorText(error) {
    if (!(error instanceof ApiFailure)) return t("error.code.network");
    var key = "error.code." + (error.code || "unknown");
    var text = I18N.zh[key] ? t(key) : t("error.code.unknown");
    if (state.lang === "en" && error.message && error.message !== error.code) text += " (" + error.message + ")";
    return text;
  }

  /* "text（inner）" in Chinese, "text (inner)" in English. */
  function paren(text, inner) {
    return t("fmt.paren", { text: text, inner: inner });
  }

  /* A list of names: "甲、乙" in Chinese, "A, B" in English. */
  function joinList(items) {
    return items.join(t("fmt.sep"));
  }

  function showError(error) {
    var box = $("error");
    box.textContent = t("error.load") + errorText(error);
    box.hidden = false;
  }

  /* ---------- language ---------- */

  function applyLanguage() {
    document.documentElement.lang = state.lang === "en" ? "en" : "zh-CN";
    document.title = t("app.title");
    Array.prototype.forEach.call(document.querySelectorAll("[data-i18n]"), function (el) {
      el.textContent = t(el.getAttribute("data-i18n"));
    });
    $("lang").textContent = t("lang.switch");
    setLive(state.events && state.events.readyState === 1);
  }

  function switchLanguage() {
    state.lang = state.lang === "en" ? "zh" : "en";
    try {
      window.localStorage.setItem("fq.lang", state.lang);
    } catch (e) { /* private mode: the choice lasts for this page only */ }
    applyLanguage();
    renderAlerts();
    if (state.data) renderOverview();
    if (state.caseFile) renderCase();
    if (state.report) renderReport();
    if (state.list) { renderListTools(); renderList(); }
    renderWho();
  }

  /* ---------- sign in and out ---------- */

  function showLogin() {
    stopEvents();
    state.session += 1;
    state.me = null;
    show("overview-view", false);
    show("case-view", false);
    show("report-view", false);
    show("who", false);
    show("logout", false);
    show("login-view", true);
    $("token").focus();
  }

  /*
   * A request was refused for want of a session while the page was signed
   * in. The server says why on the event stream (revoked, a new token,
   * reassigned), which may arrive a moment after the refusal: wait for it
   * briefly, then sign out with whatever reason is known.
   */
  function sessionLost() {
    if (!state.me) {
      showLogin();
      return;
    }
    if (state.losing) return;
    state.losing = setTimeout(function () {
      state.losing = null;
      if (state.me) signedOut("ended");
    }, 3000);
  }

  /* Signed out by the server: nothing of the scope stays on the page. */
  function signedOut(reason) {
    clearTimeout(state.losing);
    state.losing = null;
    var known = ["revoked", "rotated", "reassigned"];
    var key = "signout." + (known.indexOf(reason) >= 0 ? reason : "ended");
    state.data = null;
    state.caseFile = null;
    state.report = null;
    clearTimeout(state.refreshTimer);
    state.refreshTimer = null;
    showLogin();
    var box = $("login-error");
    box.textContent = t(key);
    box.hidden = false;
  }

  function login(event) {
    event.preventDefault();
    var token = $("token").value.trim();
    $("login-error").hidden = true;
    fetch("/dashboard/login", {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", Accept: "application/json" },
      body: JSON.stringify({ token: token })
    }).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (body) {
        if (!response.ok) throw new ApiFailure(response.status, body.code, body.message);
        $("token").value = "";
        return start();
      });
    }).catch(function (error) {
      var box = $("login-error");
      box.textContent = t("login.failed") + errorText(error);
      box.hidden = false;
    });
  }

  function logout() {
    fetch("/dashboard/logout", { method: "POST", credentials: "same-origin" }).then(showLogin, showLogin);
  }

  function renderWho() {
    if (!state.me) return;
    var who = $("who");
    clear(who);
    who.appendChild(node("span", { className: "who-name", text: state.me.personName || state.me.label }));
    if (state.me.role) who.appendChild(node("span", { className: "who-role", text: label("role", state.me.role) }));
    if (state.me.scopeName || state.me.scope) {
      who.appendChild(node("span", { className: "who-scope", text: state.me.scopeName || state.me.scope }));
    }
    who.hidden = false;
  }

  /* ---------- start and routing ---------- */

  function start() {
    return api("/v1/session").then(function (me) {
      state.me = me;
      state.root = me.scope || state.root;
      state.scope = state.scope || state.root;
      show("login-view", false);
      show("logout", true);
      renderWho();
      applyLanguage();
      startEvents();
      return loadPlaces().then(route);
    }).catch(function (error) {
      if (!(error instanceof ApiFailure) || error.status !== 401) showError(error);
    });
  }

  function route() {
    var hash = window.location.hash || "#/";
    var match = /^#\/case\/([A-Za-z0-9]+)$/.exec(hash);
    if (match) {
      show("overview-view", false);
      show("list-view", false);
      show("case-view", true);
      /* The page's own back link returns to the list the case was opened from. */
      $("case-view").querySelector("a.back").setAttribute("href", state.list ? listHash(state.list.kind, state.list.values) : "#/");
      return loadCase(match[1]);
    }
    state.caseFile = null;
    show("case-view", false);
    var list = /^#\/list\/([a-z-]+)(?:\?(.*))?$/.exec(hash);
    if (list && LIST_KINDS[list[1]] && state.scope) {
      show("overview-view", false);
      show("report-view", false);
      show("list-view", true);
      return loadList(list[1], new URLSearchParams(list[2] || ""));
    }
    state.list = null;
    show("list-view", false);
    var report = /^#\/report(?:\/(\d{4}-\d{2}))?$/.exec(hash);
    if (report && state.scope) {
      show("overview-view", false);
      show("report-view", true);
      return loadReport(report[1] || "");
    }
    state.report = null;
    show("report-view", false);
    show("overview-view", true);
    if (!state.scope) {
      show("scope-code-box", true);
      return Promise.resolve();
    }
    return loadOverview();
  }

  function loadPlaces() {
    if (!state.root) return Promise.resolve();
    return api("/v1/places?scope=" + encodeURIComponent(state.root)).then(function (places) {
      state.places = places;
      state.villageNames = {};
      places.villages.forEach(function (v) { state.villageNames[v.code] = v.name; });
      renderScopeChoices();
    });
  }

  function renderScopeChoices() {
    var select = $("scope");
    clear(select);
    if (!state.root) return;
    select.appendChild(node("option", { value: state.root, text: (state.places.name || state.root) }));
    Object.keys(state.places.towns || {}).sort().forEach(function (code) {
      if (code !== state.root) {
        select.appendChild(node("option", { value: code, text: "· " + state.places.towns[code] }));
      }
    });
    (state.places.villages || []).forEach(function (village) {
      if (village.code !== state.root) {
        select.appendChild(node("option", { value: village.code, text: "·· " + village.name }));
      }
    });
    select.value = state.scope;
  }

  /* ---------- live updates ---------- */

  function setLive(on) {
    var live = $("live");
    live.className = on ? "live on" : "live off";
    live.textContent = on ? t("live.on") : t("live.off");
  }

  function startEvents() {
    if (state.events || !window.EventSource) return;
    var source = new EventSource("/v1/events");
    var first = true;
    state.events = source;
    source.addEventListener("ready", function () {
      setLive(true);
      /* A reconnection may have missed notices: fetch again. */
      if (!first) scheduleRefresh();
      first = false;
    });
    source.addEventListener("change", scheduleRefresh);
    source.addEventListener("resync", scheduleRefresh);
    source.addEventListener("alert", function (event) {
      try {
        addAlert(JSON.parse(event.data));
      } catch (e) { /* a malformed notice is not shown */ }
    });
    /* The device was revoked, given a new token or reassigned: the server
       ended the session;
       take the figures off the screen and say why. */
    source.addEventListener("signout", function (event) {
      var reason = "ended";
      try {
        reason = JSON.parse(event.data).reason || reason;
      } catch (e) { /* keep the general reason */ }
      signedOut(reason);
    });
    source.onerror = function () {
      setLive(false);
    };
  }

  function stopEvents() {
    if (state.events) state.events.close();
    state.events = null;
    state.alerts = [];
    renderAlerts();
  }

  /* ---------- alerts ---------- */

  /*
   * A dispute that became high-risk or a visit that became urgent, in the
   * official's scope, as the server announced it: a banner at the top of
   * every view, newest first, until dismissed. The newest three are shown;
   * the rest are counted, and all can be dismissed at once.
   */
  var ALERTS_SHOWN = 3;

  function addAlert(alert) {
    if (!alert || !alert.id) return;
    state.alerts = (state.alerts || []).filter(function (a) { return a.alertId !== alert.alertId; });
    state.alerts.unshift(alert);
    renderAlerts();
  }

  function dismissAlert(alertId) {
    state.alerts = (state.alerts || []).filter(function (a) { return a.alertId !== alertId; });
    renderAlerts();
  }

  function renderAlerts() {
    var box = $("alerts");
    if (!box) {
      box = node("div", { id: "alerts", className: "alerts", "aria-live": "assertive" });
      var main = document.querySelector("main");
      if (!main) return;
      main.insertBefore(box, main.firstChild);
    }
    clear(box);
    var alerts = state.alerts || [];
    box.hidden = alerts.length === 0;
    alerts.slice(0, ALERTS_SHOWN).forEach(function (alert) {
      var visit = alert.recordType === "visit";
      var level = visit ? label("sentiment", alert.sentiment) : label("risk", alert.risk);
      var place = (alert.village && (alert.village.name || alert.village.code)) || "";
      var when = alert.at ? new Date(alert.at).toLocaleTimeString(state.lang === "en" ? "en-GB" : "zh-CN") : "";
      var close = node("button", { type: "button", className: "ghost alert-close", title: t("alert.dismiss"), "aria-label": t("alert.dismiss"), text: "×" });
      close.addEventListener("click", function () { dismissAlert(alert.alertId); });
      box.appendChild(node("div", { className: "alert-banner " + (visit ? "alert-visit" : "alert-dispute"), role: "alert", "data-record": alert.id }, [
        node("strong", { text: t(visit ? "alert.visit" : "alert.dispute") }),
        " ",
        node("a", { href: "#/case/" + alert.id, className: "alert-link", text: alert.title || alert.id }),
        node("span", { className: "alert-meta", text: " · " + place + " · " + level + (when ? " · " + when : "") }),
        close
      ]));
    });
    if (alerts.length > ALERTS_SHOWN || alerts.length > 1) {
      var all = node("button", { type: "button", className: "ghost small", text: t("alert.dismissAll") });
      all.addEventListener("click", function () { state.alerts = []; renderAlerts(); });
      var more = alerts.length > ALERTS_SHOWN ? t("alert.more", { n: alerts.length - ALERTS_SHOWN }) + " " : "";
      box.appendChild(node("div", { className: "alert-more" }, [more, all]));
    }
  }

  /*
   * Refreshes after a change notice. Notices come in bursts (a phone syncs
   * many records at once), so they are gathered for a moment; and a scope
   * whose figures take long to compute (a large district) is refreshed
   * less often, at most every four times the last refresh took, so open
   * dashboards never keep the server busy recomputing.
   */
  function scheduleRefresh() {
    if (state.refreshTimer) return;
    var wait = Math.max(400, 4 * state.lastLoadMs - (Date.now() - state.lastLoadEnd));
    state.refreshTimer = window.setTimeout(function () {
      state.refreshTimer = null;
      if (!state.me) return;
      if (state.caseFile) loadCase(state.caseFile.summary.id);
      else if (state.report) loadReport(state.report.month);
      else if (state.scope) loadOverview();
    }, wait);
  }

  /* ---------- lists ---------- */

  /* Each list kind: its fixed API parameters and default order. The list's
     whole state (search, filters, order, page) lives in the URL
     (#/list/<kind>?q=…&village=…&category=…&risk=…&sort=…&page=…), so Back
     returns to it and it can be bookmarked. */
  var LIST_KINDS = {
    open: { params: { kind: "dispute", status: "unresolved" }, sort: "reported" },
    overdue: { params: { kind: "dispute", late: "true" }, sort: "deadline" },
    "high-risk": { params: { kind: "dispute", status: "unresolved", risk: "high" }, sort: "deadline" },
    followups: { params: { kind: "dispute", stage: "followup" }, sort: "deadline" },
    pending: { params: { kind: "dispute", stage: "pending" }, sort: "deadline", level: true },
    /* Pairs of possible duplicates, from /v1/duplicates, read and paged here. */
    duplicates: { params: {}, sort: "recent", duplicates: true }
  };
  var LIST_SORTS = ["deadline", "recent", "reported"];
  var DUPLICATE_SORTS = ["recent", "closest"];
  /* The scope and the period travel with a list's address, so a bookmark or a
     link shows the same cases. */
  var LIST_FILTERS = ["q", "village", "category", "risk", "sort", "page", "scope", "from", "to"];
  var DAY_PATTERN = /^\d{4}-\d{2}-\d{2}$/;
  var PER_PAGE = 50;

  /* The hash of a list view; empty and default values are left out. */
  function listHash(kind, values) {
    var params = new URLSearchParams();
    LIST_FILTERS.forEach(function (name) {
      var value = values[name];
      if (!value) return;
      if (name === "page" && String(value) === "1") return;
      if (name === "sort" && value === LIST_KINDS[kind].sort) return;
      if (name === "scope" && value === state.root) return;
      params.set(name, value);
    });
    var text = params.toString();
    return "#/list/" + kind + (text ? "?" + text : "");
  }

  /* The scope and period a list's address names (within the official's own
     scope; anything else is ignored) become the page's. */
  function adoptListPeriod(values) {
    var scope = values.scope;
    if (scope && /^\d{6,12}$/.test(scope) && (!state.root || scope.indexOf(state.root) === 0)) {
      state.scope = scope;
    }
    state.from = DAY_PATTERN.test(values.from) ? values.from : "";
    state.to = DAY_PATTERN.test(values.to) ? values.to : "";
    values.scope = state.scope;
    values.from = state.from;
    values.to = state.to;
    if ($("scope")) $("scope").value = state.scope;
    $("from").value = state.from;
    $("to").value = state.to;
  }

  function loadList(kind, params) {
    var spec = LIST_KINDS[kind];
    var values = {};
    LIST_FILTERS.forEach(function (name) { values[name] = params.get(name) || ""; });
    var sorts = spec.duplicates ? DUPLICATE_SORTS : LIST_SORTS;
    if (sorts.indexOf(values.sort) < 0) values.sort = spec.sort;
    var page = parseInt(values.page, 10);
    values.page = page >= 1 && page <= 100000 ? page : 1;
    if (spec.params.risk || spec.duplicates) values.risk = "";
    adoptListPeriod(values);
    state.list = { kind: kind, values: values, answer: null };
    renderListTools();
    /* Nothing of the list shown before stays on screen while this one loads. */
    clear($("list-table").querySelector("tbody"));
    clear($("list-dup-table").querySelector("tbody"));
    $("list-page").textContent = t("listView.loading");
    if (spec.duplicates) return loadDuplicateList(state.list);
    var extra = Object.assign({}, spec.params);
    if (spec.level) extra.level = myLevel() || "town";
    ["q", "village", "category", "risk"].forEach(function (name) {
      if (values[name]) extra[name] = values[name];
    });
    extra.sort = values.sort;
    extra.page = values.page;
    extra.per_page = PER_PAGE;
    var wanted = state.list;
    return api("/v1/records?" + query(extra)).then(function (answer) {
      if (state.list !== wanted) return;
      wanted.answer = answer;
      $("error").hidden = true;
      renderList();
    }).catch(function (error) {
      if (!(error instanceof ApiFailure) || error.status !== 401) showError(error);
    });
  }

  function option(value, text, selected) {
    var el = node("option", { value: value, text: text });
    if (selected) el.selected = true;
    return el;
  }

  function renderListTools() {
    var list = state.list;
    if (!list) return;
    var values = list.values;
    var tabs = $("list-tabs");
    clear(tabs);
    Object.keys(LIST_KINDS).forEach(function (kind) {
      if (LIST_KINDS[kind].level && !myLevel()) return;
      tabs.appendChild(node("a", {
        href: listHash(kind, { q: values.q, village: values.village, category: values.category,
          scope: values.scope, from: values.from, to: values.to }),
        text: t("listView.kind." + kind),
        className: "list-tab" + (kind === list.kind ? " current" : "")
      }));
    });
    $("list-q").value = values.q;
    $("list-q").placeholder = t("listView.search");
    var village = $("list-village");
    clear(village);
    village.appendChild(option("", t("listView.allVillages"), !values.village));
    (state.places.villages || []).forEach(function (v) {
      if (state.scope && v.code.indexOf(state.scope) !== 0) return;
      village.appendChild(option(v.code, v.name || v.code, v.code === values.village));
    });
    var category = $("list-category");
    clear(category);
    category.appendChild(option("", t("listView.allCategories"), !values.category));
    Object.keys(I18N.labelsEn.category).forEach(function (c) {
      category.appendChild(option(c, label("category", c), c === values.category));
    });
    var risk = $("list-risk");
    clear(risk);
    risk.appendChild(option("", t("listView.allRisks"), !values.risk));
    ["high", "medium", "low"].forEach(function (r) {
      risk.appendChild(option(r, label("risk", r), r === values.risk));
    });
    risk.disabled = !!LIST_KINDS[list.kind].params.risk || !!LIST_KINDS[list.kind].duplicates;
    var sort = $("list-sort");
    clear(sort);
    (LIST_KINDS[list.kind].duplicates ? DUPLICATE_SORTS : LIST_SORTS).forEach(function (s) {
      sort.appendChild(option(s, t("listView.sort." + s), s === values.sort));
    });
  }

  function renderList() {
    var list = state.list;
    if (!list || !list.answer) return;
    var answer = list.answer;
    var duplicates = !!LIST_KINDS[list.kind].duplicates;
    $("list-table-box").hidden = duplicates;
    $("list-dup-box").hidden = !duplicates;
    if (duplicates) {
      renderPairs($("list-dup-table").querySelector("tbody"), answer.all, answer.items);
      $("list-page").textContent = t("listView.pagePairs", { page: answer.page, pages: answer.pages, total: answer.total });
      $("list-prev").disabled = answer.page <= 1;
      $("list-next").disabled = answer.page >= answer.pages;
      return;
    }
    var body = $("list-table").querySelector("tbody");
    clear(body);
    if (!answer.items.length) {
      body.appendChild(node("tr", {}, [node("td", { colspan: "5", className: "empty", text: t("list.empty") })]));
    }
    answer.items.forEach(function (summary) {
      body.appendChild(node("tr", { "data-id": summary.id }, [
        node("td", {}, [caseLink(summary)]),
        cell(villageName(summary.village)),
        cell(stageText(summary), "status stage-" + summary.stage),
        cell(deadlineText(summary.deadline), "deadline" + (summary.deadline && summary.deadline.daysLeft < 0 ? " late" : "")),
        cell(day(summary.createdAt), "time")
      ]));
    });
    $("list-page").textContent = t("listView.page", { page: answer.page, pages: answer.pages, total: answer.total });
    $("list-prev").disabled = answer.page <= 1;
    $("list-next").disabled = answer.page >= answer.pages;
  }

  /* Pairs an official judged not to be duplicates are not shown again. */
  function openPairs(answer) {
    var dismissed = function (a, b) {
      var record = answer.records[a];
      return !!(record && record.notDuplicates && record.notDuplicates.indexOf(b) >= 0);
    };
    return answer.pairs.filter(function (pair) {
      return !dismissed(pair.first, pair.second) && !dismissed(pair.second, pair.first);
    });
  }

  /* The duplicates list: every open pair of the scope and period, searched
     (titles and the shared names), filtered by village and category, sorted
     by the later record's date or by how close the two are, and paged. */
  function loadDuplicateList(wanted) {
    var values = wanted.values;
    return api("/v1/duplicates?" + query({})).then(function (all) {
      if (state.list !== wanted) return;
      var needle = values.q.toLowerCase();
      var record = function (id) { return all.records[id] || { id: id, title: id }; };
      var pairs = openPairs(all).filter(function (pair) {
        var a = record(pair.first);
        var b = record(pair.second);
        if (values.village && a.village !== values.village && b.village !== values.village) return false;
        if (values.category && pair.category !== values.category) return false;
        if (!needle) return true;
        return [a.title, b.title].concat(pair.sharedNames).some(function (text) {
          return String(text || "").toLowerCase().indexOf(needle) >= 0;
        });
      });
      var later = function (pair) {
        return Math.max(record(pair.first).createdAt || 0, record(pair.second).createdAt || 0);
      };
      pairs.sort(values.sort === "closest"
        ? function (x, y) { return x.daysApart - y.daysApart || later(y) - later(x); }
        : function (x, y) { return later(y) - later(x) || x.daysApart - y.daysApart; });
      var pages = Math.max(1, Math.ceil(pairs.length / PER_PAGE));
      var page = Math.min(values.page, pages);
      wanted.answer = {
        all: all,
        items: pairs.slice((page - 1) * PER_PAGE, page * PER_PAGE),
        page: page,
        pages: pages,
        total: pairs.length
      };
      $("error").hidden = true;
      renderList();
    }).catch(function (error) {
      if (!(error instanceof ApiFailure) || error.status !== 401) showError(error);
    });
  }

  /* Moves to another state of the list on screen (a new history entry). */
  function goList(changes) {
    var list = state.list;
    if (!list) return;
    var values = Object.assign({}, list.values, changes);
    window.location.hash = listHash(list.kind, values);
  }

  function submitList(event) {
    event.preventDefault();
    goList({
      q: $("list-q").value.trim(),
      village: $("list-village").value,
      category: $("list-category").value,
      risk: $("list-risk").disabled ? "" : $("list-risk").value,
      sort: $("list-sort").value,
      page: 1
    });
  }

  /* ---------- overview ---------- */

  function loadOverview() {
    var started = Date.now();
    var q = query();
    var sep = q ? "&" : "";
    return Promise.all([
      api("/v1/stats/summary?" + q),
      api("/v1/stats/by-village?" + q),
      api("/v1/stats/by-month?" + q),
      api("/v1/stats/by-category?" + q),
      api("/v1/duplicates?" + q),
      api("/v1/records?" + q + sep + "late=true&kind=dispute&sort=deadline&limit=10"),
      api("/v1/records?" + q + sep + "status=unresolved&risk=high&kind=dispute&limit=10"),
      api("/v1/records?" + q + sep + "sort=recent&limit=10"),
      api("/v1/stats/by-town?" + q),
      api("/v1/stats/compare?" + q),
      api("/v1/stats/workload?" + q)
    ]).then(function (answers) {
      state.data = {
        stats: answers[0],
        villages: answers[1].rows,
        towns: answers[8].rows,
        compare: answers[9],
        workload: answers[10].rows,
        months: answers[2].rows,
        categories: answers[3].rows,
        duplicates: answers[4],
        overdue: answers[5],
        highRisk: answers[6],
        recent: answers[7]
      };
      state.loads += 1;
      state.lastLoadEnd = Date.now();
      state.lastLoadMs = state.lastLoadEnd - started;
      $("error").hidden = true;
      renderOverview();
    }).catch(function (error) {
      if (!(error instanceof ApiFailure) || error.status !== 401) showError(error);
    });
  }

  function renderOverview() {
    var data = state.data;
    var disputes = data.stats.disputes;
    var visits = data.stats.visits;
    var totals = disputes.totals;
    $("scope-title").textContent = scopeName(state.scope);
    $("as-of").textContent = minute(disputes.asOf);
    figure("received", totals.received, String(totals.received));
    figure("resolved", totals.resolved, String(totals.resolved));
    figure("resolution-rate", totals.resolutionRate, percent(totals.resolutionRate));
    figure("village-rate", totals.villageRate, percent(totals.villageRate));
    figure("still-open", totals.stillOpen, String(totals.stillOpen));
    figure("failed", totals.failedInTownship, String(totals.failedInTownship));
    figure("beyond", totals.escalatedBeyondTownship, String(totals.escalatedBeyondTownship));
    figure("overdue", disputes.overdue.count, String(disputes.overdue.count));
    figure("high-risk", disputes.openHighRisk.count, String(disputes.openHighRisk.count));
    figure("visits", visits.total, String(visits.total));
    figure("follow-ups", visits.followUps.pending.count, String(visits.followUps.pending.count));
    var target = state.me.grassrootsTarget;
    figure("grassroots", totals.grassrootsRate, percent(totals.grassrootsRate));
    var note = $("grassroots-note");
    note.textContent = t("figure.target") + " ≥ " + percent(target) + " · " +
      (totals.grassrootsTargetMet ? t("figure.targetMet") : t("figure.targetMissed"));
    var card = document.querySelector('[data-figure="grassroots"]');
    card.classList.toggle("met", !!totals.grassrootsTargetMet);
    card.classList.toggle("missed", totals.grassrootsRate !== null && !totals.grassrootsTargetMet);
    var meter = $("grassroots-meter");
    meter.style.width = Math.round(100 * (totals.grassrootsRate || 0)) + "%";
    $("grassroots-target").style.left = Math.round(100 * target) + "%";
    /* The gap to 100%, explained: every dispute received is in one part. */
    $("gap-figures").textContent = t("figure.gap", {
      received: totals.received,
      grassroots: totals.grassrootsResolved,
      village: totals.villageResolved,
      town: totals.townResolved,
      open: totals.stillOpen,
      failed: totals.failedInTownship,
      beyond: totals.escalatedBeyondTownship
    });
    $("extra-figures").textContent = t("figure.notResolved") + " " + totals.open + " · " +
      t("figure.median") + " " + (totals.medianDaysToResolve === null ? "—" : totals.medianDaysToResolve.toFixed(1)) +
      " · " + t("figure.linked") + " " + disputes.linkedDuplicates;
    renderDefinitions(data.stats.definitions || {});
    renderChanges(data.compare);
    renderCharts();
    renderPlaces("village-table", data.villages, "village");
    var district = !!(state.scope && state.scope.length === 6);
    $("town-card").hidden = !district;
    if (district) renderPlaces("town-table", data.towns, "town");
    renderWorkload();
    renderCaseList("list-overdue", data.overdue);
    loadPending();
    renderCaseList("list-high-risk", data.highRisk);
    renderCaseList("list-recent", data.recent);
    renderDuplicates();
    renderExports();
  }

  function figure(name, raw, shown) {
    var card = document.querySelector('[data-figure="' + name + '"]');
    var value = card.querySelector(".value");
    value.textContent = shown;
    value.setAttribute("data-value", raw === null || raw === undefined ? "" : String(raw));
  }

  var STATUS_ORDER = ["open", "mediating", "escalated", "failed", "resolved"];

  function renderCharts() {
    var data = state.data;
    /* A district shows one bar per town; a town, one per village. */
    var byVillage = data.stats.disputes.byVillageStatus;
    var perTown = state.scope && state.scope.length === 6;
    var groups = {};
    Object.keys(byVillage).sort().forEach(function (code) {
      var key = perTown ? code.slice(0, 9) : code;
      var counts = groups[key] || (groups[key] = STATUS_ORDER.map(function () { return 0; }));
      STATUS_ORDER.forEach(function (s, i) { counts[i] += byVillage[code][s] || 0; });
    });
    var rows = Object.keys(groups).sort().map(function (key) {
      return { label: perTown ? scopeName(key) : villageName(key), values: groups[key] };
    });
    Charts.stackedBars($("chart-status"), rows, STATUS_ORDER.map(function (s) {
      return { name: label("status", s), cls: "s-" + s };
    }), t("chart.empty"));

    var months = fillMonths(data.months);
    Charts.columns($("chart-month"), months.map(function (m) { return m.month; }), [
      { name: t("chart.total"), cls: "s-total", values: months.map(function (m) { return m.total; }) },
      { name: t("chart.resolved"), cls: "s-resolved", values: months.map(function (m) { return m.resolved; }) }
    ], t("chart.empty"));

    Charts.bars($("chart-category"), data.categories.map(function (row) {
      return { label: label("category", row.category), value: row.disputes.total, cls: "s-total" };
    }), t("chart.empty"));

    var sentiments = data.stats.visits.sentiments;
    Charts.donut($("chart-sentiment"), ["positive", "neutral", "concern", "urgent"].map(function (s) {
      return { label: label("sentiment", s), value: sentiments[s] || 0, cls: "m-" + s };
    }), t("figure.visits"), t("chart.empty"));
  }

  /* Months from the first to the last with disputes, gaps as zeros, at most 24. */
  function fillMonths(rows) {
    if (!rows.length) return [];
    var byMonth = {};
    rows.forEach(function (row) { byMonth[row.month] = row.disputes; });
    var parse = function (text) {
      var parts = text.split("-");
      return { y: Number(parts[0]), m: Number(parts[1]) };
    };
    var first = parse(rows[0].month);
    var last = parse(rows[rows.length - 1].month);
    var out = [];
    var y = first.y, m = first.m;
    while (y < last.y || (y === last.y && m <= last.m)) {
      var key = y + "-" + pad(m);
      var figures = byMonth[key];
      out.push({ month: key, total: figures ? figures.total : 0, resolved: figures ? figures.resolved : 0 });
      m += 1;
      if (m > 12) { m = 1; y += 1; }
    }
    return out.slice(-24);
  }

  function cell(text, className) {
    return node("td", { text: text, className: className || "" });
  }

  /* "How is this computed": each card's definition, in the page's language. */
  function renderDefinitions(definitions) {
    Array.prototype.forEach.call(document.querySelectorAll("[data-definition]"), function (card) {
      var d = definitions[card.getAttribute("data-definition")];
      var text = card.querySelector(".how-text");
      if (text) text.textContent = d ? (state.lang === "en" ? d.en : d.zh) : "";
    });
  }

  /* A change: counts by share, rates by percentage points. */
  function changeText(value, rate) {
    if (value === null || value === undefined) return "—";
    var sign = value > 0 ? "+" : (value < 0 ? "−" : "±");
    var size = Math.abs(value * 100).toFixed(1);
    return sign + size + (rate ? t("change.points") : "%");
  }

  var COMPARED = {
    "received": "received", "resolved": "resolved", "resolution-rate": "resolutionRate",
    "grassroots": "grassrootsRate", "village-rate": "villageRate", "still-open": "stillOpen",
    "failed": "failedInTownship", "beyond": "escalatedBeyondTownship"
  };

  /* 环比 and 同比 under the headline figures. With no period chosen, the
     comparison is of the current month, and says so. */
  function renderChanges(compare) {
    var wholePeriod = !state.from && !state.to;
    Array.prototype.forEach.call(document.querySelectorAll("#headline [data-figure]"), function (card) {
      var box = card.querySelector(".change");
      if (!box) return;
      var name = COMPARED[card.getAttribute("data-figure")];
      var change = name && compare && compare.changes[name];
      if (!change) { box.textContent = ""; return; }
      var parts = [];
      if (wholePeriod) {
        parts.push(t("change.thisMonth") + " " + (change.rate ? percent(change.current) :
          (change.current === null ? "—" : String(change.current))));
      }
      parts.push(t("change.mom") + " " + changeText(change.monthOnMonth, change.rate));
      parts.push(t("change.yoy") + " " + changeText(change.yearOnYear, change.rate));
      box.textContent = parts.join(" · ");
      box.setAttribute("data-mom", change.monthOnMonth === null ? "" : String(change.monthOnMonth));
      box.setAttribute("data-yoy", change.yearOnYear === null ? "" : String(change.yearOnYear));
    });
  }

  /* Ranked by 基层化解率 (places with nothing received last), then by code. */
  function ranked(rows, key) {
    var sorted = rows.slice();
    sorted.sort(function (a, b) {
      var x = a.disputes.grassrootsRate, y = b.disputes.grassrootsRate;
      if (x === null && y !== null) return 1;
      if (y === null && x !== null) return -1;
      if (x !== y) return y - x;
      return a[key] < b[key] ? -1 : 1;
    });
    return sorted;
  }

  /* The village table, or the town table of a district, ranked. */
  function renderPlaces(tableId, rows, key) {
    var body = $(tableId).querySelector("tbody");
    clear(body);
    if (!rows.length) {
      body.appendChild(node("tr", {}, [node("td", { colspan: "14", className: "empty", text: t("list.empty") })]));
      return;
    }
    var rank = 0;
    ranked(rows, key).forEach(function (row) {
      var d = row.disputes;
      var code = row[key];
      var name = key === "town" ? scopeName(code) : villageName(code);
      var link = node("a", { href: "#/", text: name });
      link.setAttribute("data-" + key, code);
      link.addEventListener("click", function (event) {
        event.preventDefault();
        setScope(code);
      });
      if (d.grassrootsRate !== null) rank += 1;
      var attrs = {};
      attrs["data-" + key] = code;
      body.appendChild(node("tr", attrs, [
        cell(d.grassrootsRate === null ? "—" : String(rank), "num rank"),
        node("td", {}, [link]),
        cell(String(d.received), "num"),
        cell(String(d.resolved), "num"),
        cell(percent(d.resolutionRate), "num"),
        cell(percent(d.grassrootsRate), "num grassroots" + (d.received ? (d.grassrootsTargetMet ? " ok" : " warn") : "")),
        cell(percent(d.villageRate), "num"),
        cell(String(d.stillOpen), "num"),
        cell(String(d.failedInTownship), "num"),
        cell(String(d.escalatedBeyondTownship), "num"),
        cell(String(row.overdue), "num" + (row.overdue ? " warn" : "")),
        cell(String(row.openHighRisk), "num" + (row.openHighRisk ? " alert" : "")),
        cell(String(row.visits), "num"),
        cell(String(row.pendingFollowUps), "num")
      ]));
    });
  }

  /* Each person's workload, by name (never by id). */
  function renderWorkload() {
    var body = $("workload-table").querySelector("tbody");
    clear(body);
    var rows = state.data.workload || [];
    if (!rows.length) {
      body.appendChild(node("tr", {}, [node("td", { colspan: "7", className: "empty", text: t("list.empty") })]));
      return;
    }
    rows.forEach(function (row) {
      var places = joinList((row.villages || []).map(villageName));
      body.appendChild(node("tr", { "data-person": row.person }, [
        node("td", {}, [
          node("span", { className: "person-name", text: row.name || t("person.unknown") }),
          places ? node("span", { className: "person-places", text: " · " + places }) : null
        ]),
        cell(String(row.visits), "num"),
        cell(row.visitsPerWeek.toFixed(1), "num"),
        cell(String(row.casesHandled), "num"),
        cell(String(row.resolved), "num"),
        cell(String(row.open), "num"),
        cell(String(row.overdue), "num" + (row.overdue ? " warn" : ""))
      ]));
    });
  }

  function caseLink(summary) {
    return node("a", { href: "#/case/" + summary.id, text: summary.title || summary.id, className: "case-link" });
  }

  function statusText(summary) {
    if (summary.kind === "visit") return label("sentiment", summary.sentiment);
    var status = summary.status || "open";
    var text = label("status", status);
    if (status === "escalated" && summary.escalationLevel) text = paren(text, label("level", summary.escalationLevel));
    return text;
  }

  /* The cases escalated to this official's level and awaiting acceptance
     (town and district officials), most urgent first. */
  function loadPending() {
    var level = myLevel();
    show("pending-card", !!level);
    if (!level) return Promise.resolve();
    var q = query();
    return api("/v1/records?" + q + (q ? "&" : "") + "kind=dispute&stage=pending&level=" + level + "&sort=deadline&limit=20")
      .then(function (page) {
        renderCaseList("list-pending", page);
      }, function (error) {
        if (!(error instanceof ApiFailure) || error.status !== 401) showError(error);
      });
  }

  /* The level whose escalations this official accepts. */
  function myLevel() {
    var role = state.me && state.me.role;
    return role === "town" ? "town" : role === "district" ? "district" : null;
  }

  /* "3 days left" / "due today" / "5 days overdue". */
  function deadlineText(deadline) {
    if (!deadline) return "—";
    if (deadline.daysLeft < 0) return t("deadline.overdue", { days: -deadline.daysLeft });
    if (deadline.daysLeft === 0) return t("deadline.today");
    return t("deadline.left", { days: deadline.daysLeft });
  }

  function stageText(summary) {
    if (summary.kind === "visit") return label("sentiment", summary.sentiment);
    if (!summary.stage) return statusText(summary);
    var text = label("stage", summary.stage);
    if (summary.stage === "pending" && summary.handlingLevel) text = paren(text, label("level", summary.handlingLevel));
    return text;
  }

  function personName(id) {
    var file = state.caseFile;
    var person = file && file.people && file.people[id];
    return person ? person.name : t("person.unknown");
  }

  function personWithRole(id) {
    var file = state.caseFile;
    var person = file && file.people && file.people[id];
    if (!person) return t("person.unknown");
    return person.role ? paren(person.name, label("role", person.role)) : person.name;
  }

  function day(ms) {
    if (ms === null || ms === undefined) return "—";
    var d = new Date(ms + OFFSET_MS);
    return d.getUTCFullYear() + "-" + pad(d.getUTCMonth() + 1) + "-" + pad(d.getUTCDate());
  }

  function renderCaseList(id, page) {
    var withDeadline = id === "list-overdue" || id === "list-pending";
    var body = $(id).querySelector("tbody");
    clear(body);
    if (!page.items.length) {
      body.appendChild(node("tr", {}, [node("td", { colspan: "4", className: "empty", text: t("list.empty") })]));
      return;
    }
    page.items.forEach(function (summary) {
      body.appendChild(node("tr", { "data-id": summary.id }, [
        node("td", {}, [caseLink(summary)]),
        cell(villageName(summary.village)),
        withDeadline ? cell(stageText(summary), "status stage-" + summary.stage)
          : cell(statusText(summary), "status s-" + (summary.status || (summary.kind === "visit" ? "visit" : "open"))),
        withDeadline ? cell(deadlineText(summary.deadline), "deadline" + (summary.deadline && summary.deadline.daysLeft < 0 ? " late" : ""))
          : cell(minute(id === "list-recent" ? summary.lastActivity : summary.createdAt), "time")
      ]));
    });
    if (page.next) {
      body.appendChild(node("tr", {}, [node("td", { colspan: "4", className: "more", text: t("list.more") })]));
    }
  }

  function renderDuplicates() {
    var answer = state.data.duplicates;
    var pairs = openPairs(answer);
    renderPairs($("list-duplicates").querySelector("tbody"), answer, pairs.slice(0, 10));
    if (pairs.length > 10) {
      $("list-duplicates").querySelector("tbody").appendChild(node("tr", {}, [
        node("td", { colspan: "5", className: "more" }, [
          node("a", { href: listHash("duplicates", { scope: state.scope, from: state.from, to: state.to }),
            text: t("list.morePairs", { n: pairs.length - 10 }) })
        ])
      ]));
    }
  }

  /* Rows of possible duplicates: both records, why they were suggested, and
     (for officials who may) link or dismiss. */
  function renderPairs(body, answer, pairs) {
    clear(body);
    if (!pairs.length) {
      body.appendChild(node("tr", {}, [node("td", { colspan: "5", className: "empty", text: t("list.empty") })]));
      return;
    }
    pairs.forEach(function (pair) {
      var first = answer.records[pair.first] || { id: pair.first, title: pair.first };
      var second = answer.records[pair.second] || { id: pair.second, title: pair.second };
      var action = null;
      var distinct = null;
      if (state.me.mayLink) {
        action = node("button", { type: "button", className: "link-duplicate", text: t("action.link") });
        action.addEventListener("click", function () { linkDuplicate(second, first, action); });
        distinct = node("button", { type: "button", className: "ghost not-duplicate", text: t("act.notDuplicate") });
        distinct.addEventListener("click", function () { markNotDuplicate(second, first, distinct); });
      }
      body.appendChild(node("tr", { "data-pair": pair.first + "/" + pair.second }, [
        node("td", {}, [caseLink(first)]),
        node("td", {}, [caseLink(second)]),
        cell(t("dup.why", {
          names: pair.sharedNames.join(t("dup.sep")),
          category: label("category", pair.category),
          days: pair.daysApart.toFixed(1)
        }), "why"),
        cell(pair.daysApart.toFixed(1), "num"),
        node("td", {}, [action, distinct])
      ]));
    });
  }

  /* After an action from the overview or a list, the same view, fresh. */
  function reloadView() {
    return state.list ? route() : loadOverview();
  }

  function markNotDuplicate(later, earlier, button) {
    button.disabled = true;
    api("/v1/records/" + encodeURIComponent(later.id) + "/actions", {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "application/json" },
      body: JSON.stringify({ action: "notDuplicate", other: earlier.id })
    }).then(reloadView, function (error) {
      button.disabled = false;
      showError(error);
    });
  }

  function linkDuplicate(duplicate, original, button) {
    if (!window.confirm(t("confirm.link", { first: original.title, second: duplicate.title }))) return;
    button.disabled = true;
    api("/v1/records/" + encodeURIComponent(duplicate.id) + "/duplicate-of", {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "application/json" },
      body: JSON.stringify({ of: original.id })
    }).then(reloadView, function (error) {
      button.disabled = false;
      showError(error);
    });
  }

  function renderExports() {
    var q = query();
    var box = $("exports");
    clear(box);
    box.appendChild(node("span", { className: "export-title", text: t("export.title") }));
    [["disputes", "export.disputes"], ["visits", "export.visits"]].forEach(function (kind) {
      ["csv", "xlsx"].forEach(function (format) {
        box.appendChild(node("a", {
          href: "/v1/export/" + kind[0] + "." + format + (q ? "?" + q : ""),
          download: "",
          className: "export",
          text: t(kind[1]) + " " + format.toUpperCase()
        }));
      });
    });
  }

  function setScope(code) {
    state.scope = code;
    $("scope").value = code;
    window.location.hash = "#/";
    loadOverview();
  }

  function applyFilters(event) {
    event.preventDefault();
    var typed = $("scope-code").value.trim();
    if (!state.me.scope && typed) {
      state.root = typed;
      state.scope = typed;
      show("scope-code-box", false);
      loadPlaces().then(loadOverview);
      return;
    }
    state.scope = $("scope").value || state.scope;
    state.from = $("from").value;
    state.to = $("to").value;
    loadOverview();
  }

  /* ---------- monthly report ---------- */

  function thisMonth() {
    var d = new Date(Date.now() + OFFSET_MS);
    return d.getUTCFullYear() + "-" + pad(d.getUTCMonth() + 1);
  }

  function loadReport(month) {
    month = month || thisMonth();
    var params = new URLSearchParams();
    params.set("scope", state.scope);
    params.set("month", month);
    $("report-month").value = month;
    $("report-xlsx").setAttribute("href", "/v1/report/monthly.xlsx?" + params.toString());
    return api("/v1/report/monthly?" + params.toString()).then(function (report) {
      state.report = report;
      renderReport();
    }).catch(function (error) {
      if (!(error instanceof ApiFailure) || error.status !== 401) showError(error);
    });
  }

  function renderReport() {
    if (!state.report) return;
    window.FQReport.render($("report"), state.report, {
      t: t,
      lang: state.lang,
      label: label,
      percent: percent,
      minute: minute
    });
  }

  /* ---------- case page ---------- */

  function loadCase(id) {
    return api("/v1/records/" + encodeURIComponent(id) + "/case").then(function (file) {
      state.caseFile = file;
      renderCase();
    }).catch(function (error) {
      if (!(error instanceof ApiFailure) || error.status !== 401) showError(error);
    });
  }

  function fact(list, key, value) {
    list.appendChild(node("dt", { text: t(key) }));
    list.appendChild(node("dd", { text: value }));
  }

  function caseRef(id) {
    var file = state.caseFile;
    var title = file && file.linked && file.linked[id];
    return node("a", { href: "#/case/" + id, text: title || id, className: "case-link" });
  }

  function factNodes(list, key, nodes) {
    list.appendChild(node("dt", { text: t(key) }));
    var dd = node("dd", {});
    nodes.forEach(function (n, i) {
      if (i > 0) dd.appendChild(document.createTextNode(t("fmt.sep")));
      dd.appendChild(n);
    });
    if (!nodes.length) dd.textContent = "—";
    list.appendChild(dd);
  }

  function renderCase() {
    var file = state.caseFile;
    var s = file.summary;
    var timeline = file.timeline;
    $("case-title").textContent = s.title || s.id;
    $("case-id").textContent = s.id;
    $("case-description").textContent = (timeline && timeline.description) || "—";
    var facts = $("case-facts");
    clear(facts);
    fact(facts, "case.facts.village", villageName(s.village));
    fact(facts, "case.facts.kind", label("kind", s.kind));
    if (s.kind === "dispute") {
      fact(facts, "case.facts.stage", stageText(s));
      fact(facts, "case.facts.status", statusText(s));
      fact(facts, "case.facts.level", label("level", s.handlingLevel));
      fact(facts, "case.facts.deadline", file.deadline
        ? label("deadlineKind", file.deadline.kind) + " " + day(file.deadline.due) + " · " + deadlineText(file.deadline)
        : "—");
      fact(facts, "case.facts.category", label("category", s.category));
      fact(facts, "case.facts.risk", label("risk", s.risk));
      fact(facts, "case.facts.resolved", minute(s.resolvedAt));
      fact(facts, "case.facts.parties", (timeline ? timeline.parties.map(function (p) {
        return paren(p.name, label("partyRole", p.role));
      }) : s.partyNames).join(t("fmt.sep")) || "—");
      fact(facts, "case.facts.assignees", joinList(s.assignees.map(personWithRole)) || "—");
      if (s.duplicateOf) factNodes(facts, "case.facts.duplicateOf", [caseRef(s.duplicateOf)]);
      if (timeline && timeline.related.length) factNodes(facts, "case.facts.related", timeline.related.map(caseRef));
      if (s.notDuplicates && s.notDuplicates.length) factNodes(facts, "case.facts.notDuplicates", s.notDuplicates.map(caseRef));
      if (file.timeLimits) {
        fact(facts, "case.facts.limits", t("case.limits", {
          conclude: file.timeLimits.concludeDays, accept: file.timeLimits.acceptDays, followup: file.timeLimits.followupDays
        }));
      }
    } else {
      fact(facts, "case.facts.visited", minute(s.visitedAt));
      fact(facts, "case.facts.sentiment", label("sentiment", s.sentiment));
      fact(facts, "case.facts.topics", joinList(s.topics.map(function (x) { return label("topic", x); })) || "—");
    }
    fact(facts, "case.facts.created", minute(s.createdAt));
    fact(facts, "case.facts.createdBy", personWithRole(s.createdBy));

    var events = $("case-timeline").querySelector("tbody");
    clear(events);
    $("case-no-timeline").hidden = !!timeline;
    $("case-timeline").hidden = !timeline;
    (timeline ? timeline.events : []).forEach(function (e) {
      var detail = [
        e.level ? label("level", e.level) : null,
        e.assignee ? t("case.event.assignee", { name: personName(e.assignee) }) : null,
        e.due ? t("case.event.due", { day: day(e.due) }) : null,
        e.outcome ? t("case.event.outcome", { text: e.outcome }) : null,
        e.note,
        e.satisfied === null || e.satisfied === undefined ? null : t(e.satisfied ? "case.event.satisfied" : "case.event.unsatisfied")
      ].filter(function (x) { return x; }).join(" · ");
      events.appendChild(node("tr", { "data-kind": e.kind }, [
        cell(minute(e.at), "time"),
        cell(personWithRole(e.by)),
        cell(label("event", e.kind)),
        cell(detail)
      ]));
    });

    var history = $("case-history").querySelector("tbody");
    clear(history);
    $("case-history-note").textContent = file.historyRefused ? t("case.historyRefused") : "";
    $("case-history").hidden = !file.history;
    (file.history || []).forEach(function (change) {
      history.appendChild(node("tr", {}, [
        cell(change.at ? minute(change.at) : "—", "time"),
        cell(change.personName || t("person.unknown")),
        cell(change.personRole ? label("role", change.personRole) : "—"),
        cell(state.lang === "en" ? change.textEn : change.textZh)
      ]));
    });
    renderActions();
  }

  /* ---------- acting on a case ---------- */

  function renderActions() {
    var file = state.caseFile;
    var s = file.summary;
    var box = $("case-actions");
    box.hidden = !(file.canAct && s.kind === "dispute");
    if (box.hidden) return;
    var stage = s.stage;
    var concluded = stage === "followup" || stage === "resolved" || stage === "failed" || stage === "archived";
    $("act-accept-box").hidden = stage !== "pending";
    $("act-assign-box").hidden = concluded;
    $("act-supervise-box").hidden = concluded;
    $("act-archive").hidden = !(stage === "followup" || stage === "resolved" || stage === "failed");
    $("act-reopen").hidden = !concluded;
    $("act-unlink").hidden = !s.duplicateOf;
    if (!concluded) loadAssignable(s.id);
  }

  function loadAssignable(id) {
    return api("/v1/records/" + encodeURIComponent(id) + "/assignable").then(function (answer) {
      var select = $("act-person");
      clear(select);
      answer.people.forEach(function (p) {
        select.appendChild(node("option", {
          value: p.id, text: p.role ? paren(p.name, label("role", p.role)) : p.name
        }));
      });
    }).catch(function (error) {
      if (!(error instanceof ApiFailure) || error.status !== 401) showError(error);
    });
  }

  function act(body, what) {
    var file = state.caseFile;
    if (!file) return Promise.resolve();
    var id = file.summary.id;
    var message = $("act-message");
    message.textContent = "";
    return api("/v1/records/" + encodeURIComponent(id) + "/actions", {
      method: "POST",
      headers: { Accept: "application/json", "Content-Type": "application/json" },
      body: JSON.stringify(body)
    }).then(function () {
      return loadCase(id);
    }).then(function () {
      $("act-message").textContent = t("act.done", { what: t(what) });
    }, function (error) {
      /* What an action's refusal means here, in the page's language. */
      var known = error && { conflict: "act.conflict", forbidden: "act.readOnly", bad_request: "act.badRequest",
        not_found: "act.notFound", invalid_record: "act.invalid" }[error.code];
      $("act-message").textContent = t("act.failed") + (known ? t(known) : errorText(error));
    });
  }

  function wireActions() {
    $("act-accept").addEventListener("click", function () {
      act({ action: "accept", note: $("act-accept-note").value || null }, "act.accept");
    });
    $("act-return").addEventListener("click", function () {
      var note = $("act-accept-note").value.trim();
      if (!note) { $("act-message").textContent = t("act.needNote"); return; }
      act({ action: "return", note: note }, "act.return");
    });
    $("act-assign").addEventListener("click", function () {
      var person = $("act-person").value;
      if (person) act({ action: "assign", person: person }, "act.assign");
    });
    $("act-supervise").addEventListener("click", function () {
      var note = $("act-supervise-note").value.trim();
      var due = $("act-due").value;
      if (!note) { $("act-message").textContent = t("act.needNote"); return; }
      if (!due) { $("act-message").textContent = t("act.needDue"); return; }
      act({ action: "supervise", note: note, due: due }, "act.supervise");
    });
    $("act-archive").addEventListener("click", function () { act({ action: "archive" }, "act.archive"); });
    $("act-reopen").addEventListener("click", function () { act({ action: "reopen" }, "act.reopen"); });
    $("act-unlink").addEventListener("click", function () { act({ action: "unlink" }, "action.unlink"); });
  }

  document.addEventListener("DOMContentLoaded", wireActions);

  /* ---------- wiring ---------- */

  document.addEventListener("DOMContentLoaded", function () {
    applyLanguage();
    $("login-form").addEventListener("submit", login);
    $("logout").addEventListener("click", logout);
    $("lang").addEventListener("click", switchLanguage);
    $("filters").addEventListener("submit", applyFilters);
    $("list-form").addEventListener("submit", submitList);
    $("list-prev").addEventListener("click", function () { if (state.list) goList({ page: state.list.values.page - 1 }); });
    $("list-next").addEventListener("click", function () { if (state.list) goList({ page: state.list.values.page + 1 }); });
    $("scope").addEventListener("change", function () { setScope($("scope").value); });
    $("back-to-root").addEventListener("click", function (event) {
      event.preventDefault();
      if (state.root) setScope(state.root);
    });
    window.addEventListener("hashchange", function () { if (state.me) route(); });
    $("report-month").addEventListener("change", function () {
      var month = $("report-month").value;
      if (/^\d{4}-\d{2}$/.test(month)) window.location.hash = "#/report/" + month;
    });
    $("report-print").addEventListener("click", function () { window.print(); });
    start();
  });

  /* For people checking the page from the browser console. */
  window.FQDashboard = { state: state, refresh: scheduleRefresh };
})();
