// The studio's browser-side callbacks (registered with ClientsideFunction("seer", name) in
// studio/components and studio/pages). Most act on the canvas (window.SEER, 10_seer_canvas.js)
// or the page and have no Dash output at all.
(function () {
  var clientside = (window.dash_clientside = window.dash_clientside || {});
  var NONE = undefined;

  function triggered() {
    return window.dash_clientside.callback_context.triggered || [];
  }
  function triggeredId(t) {
    var text = t.prop_id.slice(0, t.prop_id.lastIndexOf("."));
    if (text.charAt(0) !== "{") return text;
    try { return JSON.parse(text); } catch (e) { return null; }
  }
  function paramValue(kind, v) {
    if (kind === "bool") return Array.isArray(v) && v.length > 0;
    var empty = v === null || v === undefined || v === "";
    if (kind === "number" || kind === "int") return empty ? undefined : Number(v);
    if (kind === "list") return v && v.length ? v : undefined;
    if (kind === "strings") {  // comma-separated; "(empty)" stands for an empty string
      if (empty || !String(v).trim()) return undefined;
      return String(v).split(",").map(function (x) {
        x = x.trim();
        return x === "(empty)" ? "" : x;
      });
    }
    if (kind === "json") {
      if (empty || (typeof v === "string" && v.trim() === "")) return undefined;
      try { return JSON.parse(v); } catch (e) { return v; }
    }
    return empty ? undefined : v;
  }
  var TOOLS = {
    "btn-fit": function (S) { S.fit(); },
    "btn-zoom-in": function (S) { S.zoomBy(1.25); },
    "btn-zoom-out": function (S) { S.zoomBy(0.8); },
    "btn-layout": function (S) { S.autoLayout(); },
    "btn-note": function (S) { S.addNote(); },
    "btn-group": function (S) { S.groupSelected(); },
    "btn-collapse": function (S) { S.toggleGroup(); },
    "btn-ungroup": function (S) { S.ungroup(); },
    "btn-undo": function (S) { S.undoOnce(); },
    "btn-redo": function (S) { S.redoOnce(); },
    "btn-del": function (S) { S.deleteSelected(); },
  };
  var BOTTOM_TABS = { "bt-problems": "problems-panel", "bt-log": "run-log", "bt-output": "output" };
  var PAGES = ["flow", "runs", "models", "monitoring", "users", "audit"];

  // Closing (or reloading) the tab with unsaved changes asks first. The server says whether
  // the canvas differs from its file (the header's unsaved mark); an edit it has not answered
  // yet counts as unsaved too.
  var unsaved = { text: "", seenAt: 0 };
  function hasUnsavedChanges() {
    if (unsaved.text.indexOf("unsaved") >= 0) return true;
    var S = window.SEER;
    return !!(S && S.pushedAt && S.pushedAt > unsaved.seenAt && Date.now() - S.pushedAt < 3000);
  }
  window.addEventListener("beforeunload", function (e) {
    if (window.SEER_SESSION_ENDED || !hasUnsavedChanges()) return undefined;
    e.preventDefault();
    e.returnValue = "";  // browsers show their own sentence
    return "";
  });

  // The results panel: drag its top edge to resize it; the canvas takes what is left.
  function resizeCanvas() {
    if (window.SEER && window.SEER.getCy()) window.SEER.getCy().resize();
  }
  document.addEventListener("mousedown", function (e) {
    if (!e.target || e.target.id !== "bottom-resizer") return;
    e.preventDefault();
    var bottom = document.getElementById("bottom");
    var center = bottom.parentElement.getBoundingClientRect();
    document.body.classList.add("resizing");
    function move(ev) {
      var h = Math.max(120, Math.min(center.bottom - ev.clientY, center.height - 160));
      bottom.style.height = h + "px";
      bottom.parentElement.classList.remove("results-full");
    }
    function up() {
      document.removeEventListener("mousemove", move);
      document.removeEventListener("mouseup", up);
      document.body.classList.remove("resizing");
      resizeCanvas();
    }
    document.addEventListener("mousemove", move);
    document.addEventListener("mouseup", up);
  });
  // a click in the header's More menu closes it
  document.addEventListener("click", function (e) {
    var item = e.target && e.target.closest && e.target.closest("#file-menu .menu-item");
    if (item) document.getElementById("file-menu").open = false;
  });

  clientside.seer = {
    toggleResultsSize: function () {
      var center = document.getElementById("bottom").parentElement;
      center.classList.toggle("results-full");
      setTimeout(resizeCanvas, 50);
      return NONE;
    },
    unsavedMark: function (text) {
      unsaved.text = text || "";
      unsaved.seenAt = Date.now();
      return NONE;
    },
    paletteSearch: function (q) {
      q = (q || "").toLowerCase().trim();
      document.querySelectorAll("#palette [data-optype]").forEach(function (el) {
        el.style.display = !q || el.getAttribute("data-search").indexOf(q) >= 0 ? "" : "none";
      });
      document.querySelectorAll("#palette .group").forEach(function (g) {
        var any = Array.from(g.querySelectorAll("[data-optype]")).some(function (el) {
          return el.style.display !== "none";
        });
        g.style.display = any ? "" : "none";
      });
      return NONE;
    },
    canvasTool: function () {
      var t = triggered()[0];
      var tool = t && TOOLS[t.prop_id.split(".")[0]];
      if (tool) tool(window.SEER);
      return NONE;
    },
    toggleConnect: function () {
      var S = window.SEER;
      S.setConnectMode(!S.connectMode);
      document.getElementById("btn-connect").classList.toggle("on", S.connectMode);
      return NONE;
    },
    onLoaded: function (loaded) {
      if (loaded && window.SEER) window.SEER.onLoaded();
      return NONE;
    },
    // parameter, label and link-port edits go straight into the canvas document
    paramEdit: function () {
      triggered().forEach(function (t) {
        if (!t.prop_id || t.prop_id === ".") return;
        var id = triggeredId(t);
        if (!id || typeof id !== "object") return;
        var v = t.value;
        if (id.type === "label") { window.SEER.setNodeData(id.node, { label: v || "" }); return; }
        if (id.type === "edgeport") {
          if (id.end === "source") window.SEER.setEdgePorts(id.edge, v, null);
          else window.SEER.setEdgePorts(id.edge, null, v);
          return;
        }
        window.SEER.setParam(id.node, id.name, paramValue(id.kind, v));
      });
      return NONE;
    },
    openFeatureEditor: function (profile) {
      window.SEER.openFeatureEditor(profile);
      return NONE;
    },
    selectProblem: function () {
      var t = triggered()[0];
      if (!t || !t.value) return NONE;
      var id = triggeredId(t);
      if (id && id.node) window.SEER.selectNode(id.node);
      return NONE;
    },
    bottomTab: function () {
      var t = triggered()[0];
      var which = t ? t.prop_id.split(".")[0] : "bt-problems";
      Object.keys(BOTTOM_TABS).forEach(function (k) {
        document.getElementById(k).classList.toggle("active", k === which);
        document.getElementById(BOTTOM_TABS[k]).classList.toggle("hidden", k !== which);
      });
      return NONE;
    },
    pageTab: function () {
      var t = triggered()[0];
      var which = t ? t.prop_id.split(".")[0].replace("page-", "") : "flow";
      PAGES.forEach(function (p) {
        document.getElementById("page-" + p).classList.toggle("active", p === which);
        document.getElementById(p + "-page").classList.toggle("hidden", p !== which);
      });
      // the canvas was not laid out while hidden
      if (which === "flow" && window.SEER && window.SEER.getCy()) window.SEER.getCy().resize();
      return which;
    },
    toast: function (m) {
      if (m && m.msg && window.SEER) window.SEER.toast(m.msg, m.kind);
      return NONE;
    },
    placeUpload: function (u) {
      if (!u) return NONE;
      var ext = window.SEER.getCy().extent();
      var id = window.SEER.addNode(u.op, ext.x1 + 120, ext.y1 + 80);
      if (id) window.SEER.setParam(id, "path", u.path);
      return NONE;
    },
    browsePicked: function (t) {
      if (!t) return NONE;
      window.SEER.setParam(t.node, t.name, t.path);
      var el = document.querySelector("#param-" + t.node + "-" + t.name + " input");
      if (el) {
        var setter = Object.getOwnPropertyDescriptor(window.HTMLInputElement.prototype, "value").set;
        setter.call(el, t.path);
        el.dispatchEvent(new Event("input", { bubbles: true }));
      }
      return NONE;
    },
    showFlowPage: function () {
      var t = triggered()[0];
      if (t && t.value) document.getElementById("page-flow").click();
      return NONE;
    },
  };
})();
