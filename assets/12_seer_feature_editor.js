/* The feature editor: a wide dialog over the studio (its frame: studio/components/featureeditor.py;
   what is known about the input's columns comes from the server as a "profile"). One row per
   input column with its type, missing share and distinct count, a kind pre-filled from them, the
   kind's settings and a preview of its buckets or values; crosses are made by ticking columns;
   the configuration stays editable as text. Every edit goes straight into the node's parameters
   on the canvas (SEER.setParam), synchronously: quick successive edits cannot overtake each other.
   Controls are the browser's own (select, input), so no list opens clipped inside a container. */
(function () {
  "use strict";
  var S = (window.SEER = window.SEER || {});
  var KINDS = ["continuous", "discrete", "bucket", "datetime", "ignore"];
  var AUTO_KINDS = ["automatic", "ignore"];
  var TRANSFORMS = ["clip", "log1p", "standardize"];
  var PARTS = ["year", "month", "day", "weekday", "hour"];
  var FE = (S.FE = { profile: null, node: null, param: null, picked: {} });

  // -- small helpers ---------------------------------------------------------------------------
  function el(tag, attrs, children) {
    var e = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) {
      if (k === "text") e.textContent = attrs[k];
      else if (k === "on") Object.keys(attrs.on).forEach(function (ev) { e.addEventListener(ev, attrs.on[ev]); });
      else if (attrs[k] !== undefined && attrs[k] !== null && attrs[k] !== false) e.setAttribute(k, attrs[k] === true ? "" : attrs[k]);
    });
    (children || []).forEach(function (c) {
      if (c === null || c === undefined) return;
      e.appendChild(typeof c === "string" ? document.createTextNode(c) : c);
    });
    return e;
  }
  function num(v) {
    if (v === null || v === undefined || v === "") return "—";
    if (typeof v !== "number") return String(v);
    if (Number.isInteger(v)) return Math.abs(v) >= 10000 ? v.toLocaleString("en-US") : String(v);
    var a = Math.abs(v);
    return v.toLocaleString("en-US", { maximumFractionDigits: a >= 100 ? 0 : a >= 1 ? 2 : 4 });
  }
  function pct(v) {
    if (v === null || v === undefined) return "—";
    return (v * 100).toFixed(v > 0 && v < 0.001 ? 2 : 1) + " %";
  }
  function copy(x) { return JSON.parse(JSON.stringify(x)); }
  function isAuto() { return FE.profile && FE.profile.op === "features.auto"; }

  // -- the node's parameters are the one source of truth ------------------------------------------
  function node() {
    var cy = S.getCy && S.getCy();
    var n = cy && FE.node ? cy.getElementById(FE.node) : null;
    return n && n.length ? n : null;
  }
  function params() { var n = node(); return n ? n.data("params") || {} : {}; }
  function label() { return params().label || null; }
  function features() { var f = params()[FE.param]; return Array.isArray(f) ? copy(f) : []; }
  function write(list) {
    S.setParam(FE.node, FE.param, list.length ? list : undefined);
    showSummary();
    showText();
  }
  function primaryIndex(list, col) {
    for (var i = 0; i < list.length; i++) {
      var f = list[i];
      if (isAuto() ? f === col : f && f.kind !== "combine" && f.column === col) return i;
    }
    return -1;
  }
  function kindOf(col) {
    var list = features();
    var i = primaryIndex(list, col);
    if (isAuto()) return i >= 0 ? "ignore" : "automatic";
    return i >= 0 ? list[i].kind : "ignore";
  }
  function profileColumn(col) {
    return ((FE.profile && FE.profile.columns) || []).filter(function (c) { return c.name === col; })[0] || { name: col };
  }
  function definition(col, kind, old) {
    var sug = profileColumn(col).suggested || {};
    var d = { kind: kind, column: col };
    if (kind === "bucket") d.buckets = (old && old.buckets) || sug.buckets || 10;
    if (kind === "continuous") d.transform = (old && old.transform) || ["standardize"];
    if (kind === "datetime") d.parts = (old && old.parts) || sug.parts || ["year", "month", "weekday"];
    if (old && old.name) d.name = old.name;
    return d;
  }

  // -- edits -----------------------------------------------------------------------------------
  function setKind(col, kind) {
    var list = features();
    var i = primaryIndex(list, col);
    if (isAuto()) {
      if (kind === "ignore" && i < 0) list.push(col);
      if (kind !== "ignore" && i >= 0) list.splice(i, 1);
    } else if (kind === "ignore") {
      if (i >= 0) list.splice(i, 1);
    } else {
      var old = i >= 0 && list[i].kind === kind ? list[i] : (i >= 0 ? { name: list[i].name } : null);
      var d = definition(col, kind, old);
      if (i >= 0) list[i] = d; else list.splice(insertAt(list, col), 0, d);
    }
    write(list);
    redrawRow(col);
  }
  // a new feature goes where its column stands among the columns (crosses stay last)
  function insertAt(list, col) {
    var order = ((FE.profile && FE.profile.columns) || []).map(function (c) { return c.name; });
    var mine = order.indexOf(col);
    for (var i = 0; i < list.length; i++) {
      var f = list[i];
      if (f.kind === "combine" || order.indexOf(f.column) > mine) return i;
    }
    return list.length;
  }
  function setOption(col, key, value) {
    var list = features();
    var i = primaryIndex(list, col);
    if (i < 0) return;
    if (value === undefined) delete list[i][key]; else list[i][key] = value;
    write(list);
    redrawPreview(col);
  }
  function suggestAll(onlyEmpty) {
    var cols = (FE.profile && FE.profile.columns) || [];
    var lab = label();
    if (isAuto()) {
      var ex = cols.filter(function (c) { return c.name !== lab && (c.suggested || {}).kind === "ignore"; })
        .map(function (c) { return c.name; });
      if (!onlyEmpty || !features().length) write(ex);
    } else {
      if (onlyEmpty && features().length) return;
      var crosses = features().filter(function (f) { return f.kind === "combine"; });
      var list = [];
      cols.forEach(function (c) {
        var sug = c.suggested || {};
        if (c.name === lab || !sug.kind || sug.kind === "ignore") return;
        list.push(definition(c.name, sug.kind, null));
      });
      write(list.concat(crosses));
    }
    drawRows();
  }
  function setLabel(col) {
    S.setParam(FE.node, "label", col || undefined);
    if (col && !isAuto()) {
      var list = features();
      var i = primaryIndex(list, col);
      if (i >= 0) { list.splice(i, 1); write(list); }
    }
    if (col && !features().length) suggestAll(true);
    drawFrame();  // the prompt to choose a label goes
    drawRows();
    showSummary();
    showText();
  }
  // a cross of the ticked columns: numbers enter it bucketed (a cross takes no continuous value)
  function member(col) {
    var list = features();
    var i = primaryIndex(list, col);
    var f = i >= 0 ? list[i] : null;
    if (f && f.kind === "bucket") return f.boundaries ? { kind: "bucket", column: col, boundaries: f.boundaries } : { kind: "bucket", column: col, buckets: f.buckets || 10 };
    if (f && f.kind === "discrete") return { kind: "discrete", column: col };
    var sug = profileColumn(col).suggested || {};
    var numeric = sug.kind === "bucket" || (f && f.kind === "continuous");
    return numeric ? { kind: "bucket", column: col, buckets: 5 } : { kind: "discrete", column: col };
  }
  function crossPicked() {
    var cols = Object.keys(FE.picked).filter(function (c) { return FE.picked[c]; });
    if (cols.length < 2) { S.toast("Tick two or more columns to cross them.", "error"); return; }
    var list = features();
    list.push({ kind: "combine", of: cols.map(member) });
    FE.picked = {};
    write(list);
    drawRows();
  }
  function removeCross(index) {
    var list = features();
    if (list[index] && list[index].kind === "combine") list.splice(index, 1);
    write(list);
  }

  // -- previews ----------------------------------------------------------------------------------
  function boundaries(q, k) {
    var out = [];
    for (var i = 1; i < k; i++) {
      var v = q[Math.round((i * (q.length - 1)) / k)];
      if (out.indexOf(v) < 0) out.push(v);
    }
    return out;
  }
  function valuesPreview(c) {
    var top = c.top || [];
    if (!top.length) return c.distinct ? num(c.distinct) + " values, none frequent" : "";
    var total = top.reduce(function (a, t) { return a + t.count; }, 0);
    var seen = (c.sampled || total) * (1 - (c.missing_share || 0));
    var shown = top.slice(0, 5).map(function (t) { return String(t.value) + " " + pct(t.count / (seen || total)); });
    var more = (c.distinct || top.length) - shown.length;
    return "Vocabulary: " + shown.join(" · ") + (more > 0 ? " · … " + more + " more" : "");
  }
  function preview(col, f) {
    var c = profileColumn(col);
    var kind = f ? f.kind : (isAuto() ? "automatic" : "ignore");
    if (kind === "ignore" || (isAuto() && f)) return (c.suggested || {}).why || "";
    if (!FE.profile || FE.profile.source !== "data") return "Run the input to preview it.";
    if (kind === "bucket") {
      if (f.boundaries) return "Boundaries: " + f.boundaries.map(num).join(" · ");
      if (!c.quantiles) return "";
      var b = boundaries(c.quantiles, f.buckets || 10);
      return "≈ boundaries: " + b.map(num).join(" · ") + " (" + (b.length + 1) + " buckets)";
    }
    if (kind === "discrete" || kind === "automatic") return valuesPreview(c);
    if (kind === "continuous") return "from " + num(c.min) + " to " + num(c.max) + ", mean " + num(c.mean);
    if (kind === "datetime") return "from " + (c.min || "?") + " to " + (c.max || "?");
    return "";
  }

  // -- settings of a kind --------------------------------------------------------------------------
  function checks(col, key, names, chosen) {
    return el("span", { "class": "fe-checks" }, names.map(function (t) {
      var box = el("input", { type: "checkbox", "data-col": col, "data-opt": t, checked: chosen.indexOf(t) >= 0,
        on: { change: function () {
          var f = features()[primaryIndex(features(), col)] || {};
          var now = (f[key] || []).filter(function (x) { return x !== t; });
          if (box.checked) now = names.filter(function (x) { return x === t || now.indexOf(x) >= 0; });
          setOption(col, key, now.length || key === "parts" ? now : undefined);
        } } });
      return el("label", {}, [box, " " + t]);
    }));
  }
  function numberField(col, key, value, min, title) {
    var input = el("input", { type: "number", "class": "fe-num", "data-col": col, "data-opt": key, min: min, step: 1,
      value: value === undefined || value === null ? "" : value, title: title, placeholder: key === "min_count" ? "—" : "",
      on: { input: function () {
        var v = input.value === "" ? undefined : parseInt(input.value, 10);
        var bad = v !== undefined && (isNaN(v) || v < min);
        input.classList.toggle("bad", bad);
        if (!bad) setOption(col, key, v);
      } } });
    return input;
  }
  function settings(col, f) {
    if (!f || isAuto()) return el("span", {});
    if (f.kind === "bucket") {
      if (f.boundaries) return el("span", { "class": "muted small", text: "explicit boundaries (text form)" });
      return el("label", { "class": "fe-inline" }, [numberField(col, "buckets", f.buckets, 2, "Number of quantile buckets (at least 2)"), " buckets"]);
    }
    if (f.kind === "continuous") return checks(col, "transform", TRANSFORMS, f.transform || []);
    if (f.kind === "datetime") return checks(col, "parts", PARTS, f.parts || []);
    if (f.kind === "discrete") {
      return el("label", { "class": "fe-inline", title: "Values seen fewer times in train become one 'other' value" },
        ["min count ", numberField(col, "min_count", f.min_count, 1, "Rarer values become 'other'")]);
    }
    return el("span", {});
  }

  // -- drawing -------------------------------------------------------------------------------------
  function kindSelect(col, kind) {
    var opts = isAuto() ? AUTO_KINDS : KINDS;
    var sel = el("select", { "class": "fe-kind", "data-col": col, "aria-label": "Kind of " + col,
      on: { change: function () { setKind(col, sel.value); } } },
      opts.map(function (k) { return el("option", { value: k, selected: k === kind, text: k }); }));
    return sel;
  }
  function rowOf(col) { return document.querySelector('#fe-body tr[data-col="' + CSS.escape(col) + '"]'); }
  function redrawPreview(col) {
    var row = rowOf(col);
    if (!row) return;
    var list = features();
    row.querySelector(".fe-preview").textContent = preview(col, list[primaryIndex(list, col)]);
  }
  function redrawRow(col) {
    var row = rowOf(col);
    if (!row) return;
    var list = features();
    var f = list[primaryIndex(list, col)];
    var cell = row.querySelector(".fe-settings");
    cell.innerHTML = "";
    cell.appendChild(settings(col, f));
    var sug = (profileColumn(col).suggested || {}).kind;
    var hint = row.querySelector(".fe-hint");
    var kind = kindOf(col);
    hint.textContent = sug && !isAuto() && sug !== kind ? "suggested: " + sug : "";
    row.classList.toggle("off", kind === "ignore");
    redrawPreview(col);
  }
  // a small bar chart of the column's histogram (numbers) or frequent values (text)
  function shape(c) {
    var counts = c.shape || [];
    var top = Math.max.apply(null, counts.concat([1]));
    return el("div", { "class": "spark", title: c.shape ? "distribution in the data" : "" }, counts.slice(0, 20).map(function (k) {
      return el("div", { "class": "bar", style: "height:" + Math.max(1, Math.round((20 * k) / top)) + "px" });
    }));
  }
  function columnRow(c, lab) {
    var isLabel = c.name === lab;
    var pick = el("input", { type: "checkbox", "class": "fe-pick", "data-col": c.name, disabled: isLabel || isAuto(),
      title: "Tick columns, then Cross the ticked columns", checked: !!FE.picked[c.name],
      on: { change: function () { FE.picked[c.name] = pick.checked; showSummary(); } } });
    var kindCell = isLabel ? el("span", { "class": "fe-label-tag", text: "label (what to predict)" }) : kindSelect(c.name, kindOf(c.name));
    var row = el("tr", { "data-col": c.name, "class": isLabel ? "label-row" : "" }, [
      el("td", {}, [pick]),
      el("td", { "class": "fe-name" }, [el("div", { text: c.name }), el("div", { "class": "fe-hint" })]),
      el("td", { "class": "mono small", text: c.type || "?" }),
      el("td", { "class": "fe-figure", text: pct(c.missing_share) }),
      el("td", { "class": "fe-figure", text: num(c.distinct) }),
      el("td", {}, [shape(c)]),
      el("td", {}, [kindCell]),
      el("td", { "class": "fe-settings" }),
      el("td", { "class": "fe-preview" }),
    ]);
    return row;
  }
  function drawRows() {
    var body = document.getElementById("fe-body");
    if (!body || !FE.profile) return;
    body.innerHTML = "";
    var p = FE.profile;
    if (p.error) { body.appendChild(el("div", { "class": "inline-error", text: p.error })); return; }
    var lab = label();
    var cols = (p.columns || []).slice();
    // definitions naming columns the input does not have stay visible (the text form may hold them)
    features().forEach(function (f) {
      var name = isAuto() ? f : f && f.kind !== "combine" && f.column;
      if (name && !cols.some(function (c) { return c.name === name; })) cols.push({ name: name, type: "not in the input" });
    });
    var head = el("tr", {}, ["cross", "column", "type", "missing", "distinct", "distribution", "kind", "settings", "preview"].map(function (h) {
      return el("th", { text: h });
    }));
    var rows = cols.map(function (c) { return columnRow(c, lab); });
    body.appendChild(el("table", { "class": "fe-table" + (isAuto() ? " auto" : "") }, [el("thead", {}, [head]), el("tbody", {}, rows)]));
    cols.forEach(function (c) { if (c.name !== lab) redrawRow(c.name); });
  }
  function crossList() {
    if (isAuto()) return null;
    var items = [];
    features().forEach(function (f, i) {
      if (f.kind !== "combine") return;
      var text = (f.of || []).map(function (m) {
        return m.column + (m.kind === "bucket" ? " (" + (m.buckets || (m.boundaries || []).length + 1) + " buckets)" : "");
      }).join(" × ");
      items.push(el("span", { "class": "fe-cross" }, [text, el("button", { "class": "fe-x", title: "Remove this cross", "aria-label": "Remove the cross " + text,
        on: { click: function () { removeCross(i); } }, text: "×" })]));
    });
    return el("div", { "class": "fe-crosses" }, [el("span", { "class": "muted", text: items.length ? "Crosses: " : "No crosses yet." })].concat(items));
  }
  function showSummary() {
    var box = document.getElementById("fe-summary");
    if (!box) return;
    var list = features();
    var text;
    if (isAuto()) {
      text = list.length ? "Left out of the search: " + list.join(", ") : "Every column takes part in the search.";
    } else {
      var crosses = list.filter(function (f) { return f.kind === "combine"; }).length;
      text = list.length + " feature" + (list.length === 1 ? "" : "s") + " (" + (list.length - crosses) + " columns, " + crosses + " cross" + (crosses === 1 ? "" : "es") + ")";
    }
    box.textContent = text;
    var picked = Object.keys(FE.picked).filter(function (c) { return FE.picked[c]; }).length;
    var btn = document.getElementById("fe-cross-btn");
    if (btn) { btn.disabled = picked < 2; btn.textContent = "Cross the ticked columns (" + picked + ")"; }
    var cl = document.getElementById("fe-cross-list");
    if (cl) { cl.innerHTML = ""; var c = crossList(); if (c) cl.appendChild(c); }
  }
  function showText() {
    var ta = document.getElementById("fe-json");
    if (!ta || document.activeElement === ta) return;
    ta.value = JSON.stringify(features(), null, 1);
    document.getElementById("fe-json-error").textContent = "";
  }
  function textEdited(ta) {
    var err = document.getElementById("fe-json-error");
    var v;
    try { v = JSON.parse(ta.value); } catch (e) { err.textContent = "Not valid JSON yet: " + e.message; return; }
    if (!Array.isArray(v)) { err.textContent = "The configuration is a list: [ … ]."; return; }
    err.textContent = "";
    S.setParam(FE.node, FE.param, v.length ? v : undefined);
    drawRows();
    showSummary();
  }
  function labelPicker() {
    var lab = label();
    var cols = ((FE.profile && FE.profile.columns) || []).map(function (c) { return c.name; });
    var sel = el("select", { id: "fe-label", "aria-label": "Label column", on: { change: function () { setLabel(sel.value); } } },
      [el("option", { value: "", text: "choose…", selected: !lab })].concat(cols.map(function (c) {
        return el("option", { value: c, text: c, selected: c === lab });
      })));
    return el("label", { "class": "fe-inline" }, ["Label column (what to predict) ", sel]);
  }
  function drawFrame() {
    var p = FE.profile || {};
    var head = document.getElementById("fe-head");
    var foot = document.getElementById("fe-foot");
    head.innerHTML = ""; foot.innerHTML = "";
    var n = node();
    var title = (isAuto() ? "Columns of the automatic search — " : "Features — ") + (n ? n.data("label") || FE.node : FE.node);
    head.appendChild(el("div", { "class": "fe-title-row" }, [
      el("h3", { text: title }),
      el("span", { id: "fe-summary", "class": "fe-summary" }),
      el("button", { "class": "btn small", id: "fe-suggest", text: "Use the suggested kinds", title: "Every column gets the kind suggested by its type and statistics",
        on: { click: function () { suggestAll(false); } } }),
      el("button", { "class": "btn primary", id: "fe-done", text: "Done", on: { click: close } }),
    ]));
    head.appendChild(el("div", { "class": "fe-note " + (p.source === "data" ? "" : "warn"), id: "fe-note", text: p.note || "" }));
    if (!p.error) head.appendChild(el("div", { "class": "fe-tools" }, [labelPicker(), label() ? null : el("span", { "class": "fe-ask", text: "Choose the label first: the other columns then get suggested kinds." })]));
    if (!isAuto()) {
      foot.appendChild(el("div", { "class": "fe-tools" }, [
        el("button", { "class": "btn small", id: "fe-cross-btn", disabled: true, text: "Cross the ticked columns (0)", on: { click: crossPicked } }),
        el("div", { id: "fe-cross-list" }),
      ]));
    }
    var ta = el("textarea", { id: "fe-json", "class": "code fe-json", spellcheck: "false", "aria-label": "The configuration as text",
      on: { input: function () { textEdited(ta); }, blur: showText } });
    foot.appendChild(el("details", { "class": "fe-text" }, [
      el("summary", { text: "Text form (JSON) — for power users; edits apply as you type" }), ta,
      el("div", { id: "fe-json-error", "class": "error small" }),
    ]));
  }

  // -- opening and closing ----------------------------------------------------------------------
  function open(nodeId, param) {
    FE.node = nodeId; FE.param = param; FE.profile = null; FE.picked = {};
    var box = document.getElementById("feature-editor");
    if (!box) return;
    box.classList.remove("hidden");
    document.body.classList.add("fe-open");
    document.getElementById("fe-head").innerHTML = "";
    document.getElementById("fe-foot").innerHTML = "";
    var body = document.getElementById("fe-body");
    body.innerHTML = "";
    body.appendChild(el("div", { "class": "muted", text: "Reading the input's columns…" }));
  }
  function close() {
    var box = document.getElementById("feature-editor");
    if (!box || box.classList.contains("hidden")) return;
    box.classList.add("hidden");
    document.body.classList.remove("fe-open");
    if (S.push) S.push();
    // the inspector shows the configuration as it is now
    if (window.dash_clientside && window.dash_clientside.set_props && FE.node) {
      window.dash_clientside.set_props("selection", { data: { ids: [FE.node], id: FE.node, kind: "node", ts: Date.now() } });
    }
    FE.profile = null;
  }
  S.openFeatureEditor = function (profile) {
    var box = document.getElementById("feature-editor");
    if (!profile || !profile.node || !box || box.classList.contains("hidden")) return;
    if (FE.node !== profile.node) return;  // an answer for a node the editor no longer shows
    FE.profile = profile;
    FE.param = profile.param;
    drawFrame();
    if (label() || isAuto()) suggestAll(true);
    drawRows();
    showSummary();
    showText();
  };
  S.closeFeatureEditor = close;

  document.addEventListener("click", function (e) {
    var b = e.target.closest && e.target.closest(".fedit-open");
    if (!b) return;
    var id;
    try { id = JSON.parse(b.id); } catch (err) { return; }
    open(id.node, id.name);
  }, true);
  document.addEventListener("keydown", function (e) {
    if (e.key === "Escape" && document.body.classList.contains("fe-open")) close();
  });
})();
