/* Seer studio canvas: the graph is owned by the browser. Drag from the palette, Shift+drag or
   Connect mode to link, Delete, undo/redo, copy/paste, auto-layout. The canvas document is
   pushed to the server (the `doc` store) after each change; the server writes `elements` only
   when a flow is loaded. */
(function () {
  "use strict";
  var CY_ID = "canvas";
  var S = (window.SEER = window.SEER || {});
  S.catalog = null;
  S.undo = [];
  S.redo = [];
  S.last = null;
  S.restoring = false;
  S.connectMode = false;

  function loadCatalog() {
    fetch("/studio/api/catalog").then(function (r) { return r.json(); }).then(function (c) { S.catalog = c; });
  }
  loadCatalog();

  function getCy() {
    var el = document.getElementById(CY_ID);
    return el && el._cyreg && el._cyreg.cy ? el._cyreg.cy : null;
  }
  S.getCy = getCy;

  function setProps(id, props) {
    if (window.dash_clientside && window.dash_clientside.set_props) {
      window.dash_clientside.set_props(id, props);
    }
  }

  function toast(msg, kind) {
    var t = document.getElementById("toast");
    if (!t) return;
    t.textContent = msg;
    t.className = "toast show " + (kind || "error");
    clearTimeout(S._toastTimer);
    S._toastTimer = setTimeout(function () { t.className = "toast"; }, 5000);
  }
  S.toast = toast;

  function isNode(el) { return el.isNode() && (el.data("op") || el.data("note") !== undefined); }
  function realEdges(cy) {
    return cy.edges().filter(function (e) {
      return e.data("sourcePort") && isNode(e.source()) && isNode(e.target());
    });
  }

  // -- the document --------------------------------------------------------------------------
  function snapshot(cy) {
    var nodes = [], notes = [], links = [], groups = [];
    cy.nodes().forEach(function (n) {
      if (n.data("group") !== undefined) {
        groups.push({ id: n.id(), name: n.data("group"), collapsed: !!n.data("collapsed"),
          nodes: n.children().filter(function (c) { return !!c.data("op"); }).map(function (c) { return c.id(); }) });
        return;
      }
      var p = n.position();
      if (n.data("op")) {
        nodes.push({ id: n.id(), op: n.data("op"), label: n.data("label") || "", params: n.data("params") || {},
          x: Math.round(p.x * 10) / 10, y: Math.round(p.y * 10) / 10 });
      } else if (n.data("note") !== undefined) {
        notes.push({ id: n.id(), text: n.data("note"), x: Math.round(p.x * 10) / 10, y: Math.round(p.y * 10) / 10 });
      }
    });
    realEdges(cy).forEach(function (e) {
      links.push({ source: e.data("source"), target: e.data("target"),
        sourcePort: e.data("sourcePort"), targetPort: e.data("targetPort") });
    });
    return { nodes: nodes, links: links, notes: notes, groups: groups };
  }
  S.snapshot = function () { var cy = getCy(); return cy ? snapshot(cy) : null; };

  function push(record) {
    var cy = getCy();
    if (!cy) return;
    var snap = snapshot(cy);
    var text = JSON.stringify(snap);
    if (text === S.lastText) return;
    if (record !== false && S.last && !S.restoring) {
      S.undo.push(S.last);
      if (S.undo.length > 200) S.undo.shift();
      S.redo = [];
    }
    S.last = snap;
    S.lastText = text;
    S.pushedAt = Date.now();  // not yet checked against the saved file (15_seer_callbacks.js)
    setProps("doc", { data: Object.assign({ ts: Date.now() }, snap) });
  }
  function schedulePush() {
    clearTimeout(S._pushTimer);
    S._pushTimer = setTimeout(push, 120);
  }
  S.push = push;

  function elementsOf(snap) {
    var cat = S.catalog || {};
    var els = [], parentOf = {};
    (snap.groups || []).forEach(function (g) {
      els.push({ group: "nodes", data: { id: g.id, group: g.name, label: g.name, collapsed: !!g.collapsed, colour: "#94a3b8" }, classes: "group" });
      g.nodes.forEach(function (nid) { parentOf[nid] = g.id; });
    });
    snap.nodes.forEach(function (n) {
      var spec = cat[n.op] || {};
      var d = { id: n.id, op: n.op, label: n.label, params: n.params, colour: spec.colour || "#6b7280", category: spec.category || "" };
      if (parentOf[n.id]) d.parent = parentOf[n.id];
      els.push({ group: "nodes", data: d, position: { x: n.x, y: n.y } });
    });
    (snap.notes || []).forEach(function (n) {
      els.push({ group: "nodes", data: { id: n.id, note: n.text, label: n.text }, position: { x: n.x, y: n.y }, classes: "note" });
    });
    snap.links.forEach(function (l) {
      els.push({ group: "edges", data: edgeData(l.source, l.sourcePort, l.target, l.targetPort) });
    });
    return els;
  }
  function edgeData(s, sp, t, tp) {
    return { id: s + "." + sp + "->" + t + "." + tp, source: s, target: t, sourcePort: sp, targetPort: tp, label: sp + " → " + tp };
  }

  function restore(snap) {
    var cy = getCy();
    if (!cy) return;
    S.restoring = true;
    cy.batch(function () {
      cy.elements().remove();
      cy.add(elementsOf(snap));
    });
    S.applyCollapsed();
    S.restoring = false;
    S.last = snap;
    S.lastText = JSON.stringify(snap);
    setProps("doc", { data: Object.assign({ ts: Date.now() }, snap) });
    cy.elements().unselect();
  }
  function flush() { clearTimeout(S._pushTimer); push(); }
  S.undoOnce = function () {
    var cy = getCy();
    if (!cy) return;
    flush(); // an edit still inside its debounce is the newest step
    if (!S.undo.length) return;
    S.redo.push(snapshot(cy));
    restore(S.undo.pop());
  };
  S.redoOnce = function () {
    var cy = getCy();
    if (!cy) return;
    flush();
    if (!S.redo.length) return;
    S.undo.push(snapshot(cy));
    restore(S.redo.pop());
  };
  // a flow was loaded by the server: its elements are the new starting point
  S.onLoaded = function () {
    setTimeout(function () {
      var cy = getCy();
      if (!cy) return;
      // nothing of the previous flow stays selected (a node of the same id would keep it)
      cy.elements(":selected").unselect();
      S.undo = []; S.redo = [];
      S.applyCollapsed();
      if (S.ports) S.ports.ensureAll();
      S.last = snapshot(cy);
      S.lastText = JSON.stringify(S.last);
      setProps("doc", { data: Object.assign({ ts: Date.now(), loaded: true }, S.last) });
      // the inspector starts from the loaded flow's summary, never the previous flow's node
      setProps("selection", { data: null });
      if (cy.nodes().length) cy.fit(undefined, 30);
      if (cy.zoom() > 1.2) { cy.zoom(1.2); cy.center(); }
    }, 80);
  };

  // -- ids ---------------------------------------------------------------------------------
  function newId(cy, op) {
    var base = op.split(".").pop().replace(/[^A-Za-z0-9_]/g, "_");
    if (!cy.getElementById(base).length) return base;
    var i = 2;
    while (cy.getElementById(base + "_" + i).length) i++;
    return base + "_" + i;
  }

  S.addNode = function (op, x, y) {
    var cy = getCy();
    if (!cy || !S.catalog || !S.catalog[op]) return null;
    var spec = S.catalog[op];
    var id = newId(cy, op);
    cy.add({ group: "nodes", data: { id: id, op: op, label: spec.title || op, params: {},
      colour: spec.colour, category: spec.category }, position: { x: x, y: y } });
    cy.elements().unselect();
    cy.getElementById(id).select();
    return id;
  };
  S.addNote = function () {
    var cy = getCy();
    if (!cy) return;
    var ext = cy.extent();
    var id = newId(cy, "note");
    cy.add({ group: "nodes", data: { id: id, note: "Double-click to edit this note", label: "Double-click to edit this note" },
      position: { x: ext.x1 + 140, y: ext.y1 + 60 }, classes: "note" });
  };

  // -- linking -------------------------------------------------------------------------------
  function reaches(from, to) {
    if (from.id() === to.id()) return true;
    return from.successors("node").some(function (n) { return n.id() === to.id(); });
  }

  // The ports of a link drawn from src to dst. A gesture names two nodes, not their ports: the
  // studio links without asking only when one pair of ports is the clear reading (the only
  // pair that fits, or the only same-named pair, or the only one into a required input, or the
  // only one from an output not yet used). Otherwise it asks (`choices`), never guessing: a
  // model scored on its own training rows is the price of a silent guess.
  // `sp` and `tp` are the ports the gesture named (dragged from an output badge, dropped on an
  // input badge): the link takes them, or is refused saying why.
  function portChoices(cy, src, dst, ignoreEdge, sp, tp) {
    var cat = S.catalog || {};
    var so = cat[src.data("op")], dop = cat[dst.data("op")];
    if (!so || !dop) return { error: "Notes cannot be linked." };
    var edges = realEdges(cy).filter(function (e) { return !ignoreEdge || e.id() !== ignoreEdge.id(); });
    function usedIn(name) {
      return edges.filter(function (e) { return e.data("target") === dst.id() && e.data("targetPort") === name; }).length;
    }
    function usedOut(name) {
      return edges.filter(function (e) { return e.data("source") === src.id() && e.data("sourcePort") === name; }).length;
    }
    var all = [];
    dop.inputs.forEach(function (ip) {
      if (!ip.multiple && usedIn(ip.name) > 0) return;
      so.outputs.forEach(function (op) {
        if (op.type !== ip.type) return;
        all.push({ sourcePort: op.name, targetPort: ip.name, same: op.name === ip.name,
          required: !ip.optional, fresh: usedOut(op.name) === 0 });
      });
    });
    if (sp || tp) {
      var named = all.filter(function (c) { return (!sp || c.sourcePort === sp) && (!tp || c.targetPort === tp); });
      if (!named.length) return { error: namedPortError(so, dop, src, dst, sp, tp, usedIn) };
      all = named;
    }
    if (!all.length) return { error: linkError(so, dop, src, dst, usedIn) };
    var narrowed = all;
    var rules = [function (c) { return c.same; }, function (c) { return c.required; }, function (c) { return c.fresh; }];
    for (var i = 0; i < rules.length && narrowed.length > 1; i++) {
      var kept = narrowed.filter(rules[i]);
      if (kept.length) narrowed = kept;
    }
    if (narrowed.length === 1) return narrowed[0];
    return { choices: all };
  }
  function linkError(so, dop, src, dst, usedIn) {
    var outs = so.outputs.map(function (p) { return p.name + " (" + p.type + ")"; }).join(", ") || "none";
    var free = dop.inputs.filter(function (ip) { return ip.multiple || usedIn(ip.name) === 0; });
    var ins = free.map(function (p) { return p.name + " (" + p.type + ")"; }).join(", ");
    var title = function (n) { return '"' + (n.data("label") || n.id()) + '"'; };
    if (!so.outputs.length) return title(src) + " has no outputs to link from.";
    if (!dop.inputs.length) return title(dst) + " takes no inputs.";
    if (!free.length) return "Every input of " + title(dst) + " is already linked; delete a link first.";
    return "Cannot link " + title(src) + " to " + title(dst) + ": its outputs are " + outs +
      ", but the free inputs of " + title(dst) + " take " + ins + ".";
  }
  function namedPortError(so, dop, src, dst, sp, tp, usedIn) {
    var title = function (n) { return '"' + (n.data("label") || n.id()) + '"'; };
    var typeOf = function (list, name) { return (list.filter(function (p) { return p.name === name; })[0] || {}).type; };
    var inp = tp && dop.inputs.filter(function (p) { return p.name === tp; })[0];
    if (inp && !inp.multiple && usedIn(tp) > 0) return "The input " + tp + " of " + title(dst) + " is already linked; delete that link first.";
    if (sp && tp) {
      return "The output " + sp + " (" + typeOf(so.outputs, sp) + ") of " + title(src) + " cannot feed the input " + tp +
        " (" + typeOf(dop.inputs, tp) + ") of " + title(dst) + ".";
    }
    if (sp) return "No free input of " + title(dst) + " takes the " + sp + " output (" + typeOf(so.outputs, sp) + ") of " + title(src) + ".";
    return "No output of " + title(src) + " fits the input " + tp + " (" + typeOf(dop.inputs, tp) + ") of " + title(dst) + ".";
  }
  function pickPorts(cy, src, dst, ignoreEdge) {
    var res = portChoices(cy, src, dst, ignoreEdge);
    return res.choices ? res.choices[0] : res;
  }
  S.pickPorts = pickPorts;

  // the small chooser shown when a link could join several pairs of ports
  function closeChooser() {
    var old = document.getElementById("port-chooser");
    if (old) old.remove();
  }
  function askPorts(cy, src, dst, choices) {
    closeChooser();
    var name = function (n) { return n.data("label") || n.id(); };
    var box = document.createElement("div");
    box.id = "port-chooser";
    box.className = "port-chooser";
    box.setAttribute("role", "dialog");
    box.setAttribute("aria-label", "Choose the ports of the link");
    var head = document.createElement("div");
    head.className = "port-chooser-title";
    head.textContent = "Link " + name(src) + " → " + name(dst) + " from which output to which input?";
    box.appendChild(head);
    choices.forEach(function (c) {
      var b = document.createElement("button");
      b.className = "btn small port-choice";
      b.textContent = c.sourcePort + " → " + c.targetPort;
      b.setAttribute("data-ports", c.sourcePort + "->" + c.targetPort);
      b.onclick = function () {
        closeChooser();
        var d = edgeData(src.id(), c.sourcePort, dst.id(), c.targetPort);
        if (!cy.getElementById(d.id).length) cy.add({ group: "edges", data: d });
      };
      box.appendChild(b);
    });
    var cancel = document.createElement("button");
    cancel.className = "btn small";
    cancel.textContent = "Cancel";
    cancel.onclick = closeChooser;
    box.appendChild(cancel);
    var p = dst.renderedPosition();
    box.style.left = Math.max(8, p.x - 120) + "px";
    box.style.top = (p.y + 30) + "px";
    cy.container().appendChild(box);
  }
  S.closeChooser = closeChooser;

  function onEdgeAdded(cy, edge) {
    var ends = S.ports ? S.ports.ends(cy, edge, S.eh) : { src: edge.source(), dst: edge.target() };
    var src = ends.src, dst = ends.dst;
    var res;
    if (!src || !dst) { edge.remove(); return; }
    if (reaches(dst, src) && src.id() !== dst.id()) {
      res = { error: "That link would make a cycle: " + (dst.data("label") || dst.id()) + " already feeds " + (src.data("label") || src.id()) + "." };
    } else if (src.id() === dst.id()) {
      res = { error: "A node cannot be linked to itself." };
    } else {
      res = portChoices(cy, src, dst, edge, ends.sp, ends.tp);
    }
    if (res.error) {
      edge.remove();
      toast(res.error, "error");
      return;
    }
    if (res.choices) {  // several pairs of ports fit: the user says which
      edge.remove();
      askPorts(cy, src, dst, res.choices);
      return;
    }
    var d = edgeData(src.id(), res.sourcePort, dst.id(), res.targetPort);
    var existing = cy.getElementById(d.id);
    if (existing.length && existing.id() !== edge.id()) { edge.remove(); return; }
    // replace the gesture's edge (random id) by one with a stable id and its ports
    edge.remove();
    cy.add({ group: "edges", data: d });
  }
  S.linkNodes = function (s, t) {
    var cy = getCy();
    var e = cy.add({ group: "edges", data: { source: s, target: t } });
    onEdgeAdded(cy, e);
  };

  // -- setting up a cytoscape instance --------------------------------------------------------
  function setup(cy) {
    if (cy._seerReady) return;
    cy._seerReady = true;
    var impl = null;
    if (window.cytoscapeEdgehandles) {
      window.cytoscapeEdgehandles(function (type, name, fn) { impl = fn; });
    }
    if (impl) {
      S.eh = impl.call(cy, {
        snap: true, snapThreshold: 30, snapFrequency: 15, noEdgeEventsInDraw: true, disableBrowserGestures: true,
        canConnect: function (s, t) {
          if (S.ports) return S.ports.canConnect(cy, s, t);
          return !s.same(t) && !!s.data("op") && !!t.data("op");
        },
        edgeParams: function () { return { data: {} }; },
      });
    }
    if (S.ports) S.ports.attach(cy);
    cy.on("ehcomplete", function (evt, src, dst, edge) {
      onEdgeAdded(cy, edge);
      schedulePush();
    });
    cy.on("add remove dragfree data", function (evt) {
      if (S.restoring) return;
      var t = evt.target;
      if (t && t.isEdge && t.isEdge() && !t.data("sourcePort")) return; // a gesture in progress
      schedulePush();
    });
    cy.on("select unselect", function () {
      clearTimeout(S._selTimer);
      S._selTimer = setTimeout(function () {
        clearTimeout(S._pushTimer);
        push(); // the server renders the inspector from the document: send it first
        var sel = cy.$(":selected").filter(function (e) { return e.isEdge() ? !!e.data("sourcePort") : true; });
        var ids = sel.map(function (e) { return e.id(); });
        var first = sel.length ? sel[0] : null;
        setProps("selection", { data: { ids: ids, id: first ? first.id() : null,
          kind: first ? (first.isEdge() ? "edge" : (first.data("op") ? "node" : (first.data("group") !== undefined ? "group" : "note"))) : null, ts: Date.now() } });
      }, 60);
    });
    cy.on("dbltap", "node.group", function (evt) { S.toggleGroup(evt.target.id()); });
    cy.on("dbltap", "node.note", function (evt) {
      var n = evt.target;
      var text = window.prompt("Note", n.data("note"));
      if (text !== null) n.data({ note: text, label: text });
    });
    if (S.connectMode && S.eh) S.eh.enableDrawMode();
  }

  function ensure() {
    var cy = getCy();
    if (cy) setup(cy);
    return cy;
  }
  setInterval(ensure, 400);

  // -- drag from the palette --------------------------------------------------------------------
  document.addEventListener("dragstart", function (e) {
    var item = e.target.closest && e.target.closest("[data-optype]");
    if (!item) return;
    e.dataTransfer.setData("text/plain", item.getAttribute("data-optype"));
    e.dataTransfer.effectAllowed = "copy";
  });
  document.addEventListener("dragover", function (e) {
    if (e.target.closest && e.target.closest("#" + CY_ID)) { e.preventDefault(); e.dataTransfer.dropEffect = "copy"; }
  });
  document.addEventListener("drop", function (e) {
    var host = e.target.closest && e.target.closest("#" + CY_ID);
    if (!host) return;
    e.preventDefault();
    var op = e.dataTransfer.getData("text/plain");
    var cy = ensure();
    if (!cy || !op) return;
    var rect = host.getBoundingClientRect();
    var pan = cy.pan(), zoom = cy.zoom();
    S.addNode(op, (e.clientX - rect.left - pan.x) / zoom, (e.clientY - rect.top - pan.y) / zoom);
  });
  // a click on a palette item adds the operator in view too (keyboard and touch users)
  document.addEventListener("dblclick", function (e) {
    var item = e.target.closest && e.target.closest("[data-optype]");
    if (!item) return;
    var cy = ensure();
    if (!cy) return;
    var ext = cy.extent();
    S.addNode(item.getAttribute("data-optype"), (ext.x1 + ext.x2) / 2, (ext.y1 + ext.y2) / 2);
  });

  // -- keyboard ------------------------------------------------------------------------------
  function typing(e) {
    if (document.body.classList.contains("fe-open")) return true;  // the feature editor has the keys
    var t = e.target;
    return t && (t.tagName === "INPUT" || t.tagName === "TEXTAREA" || t.tagName === "SELECT" || t.isContentEditable);
  }
  S.deleteSelected = function () {
    var cy = getCy();
    if (!cy) return;
    var sel = cy.$(":selected");
    if (sel.length) { sel.remove(); }
  };
  S.copy = function () {
    var cy = getCy();
    if (!cy) return;
    var nodes = cy.$("node:selected");
    if (!nodes.length) return;
    var ids = {};
    nodes.forEach(function (n) { ids[n.id()] = true; });
    var snap = snapshot(cy);
    S.clipboard = {
      nodes: snap.nodes.filter(function (n) { return ids[n.id]; }),
      notes: snap.notes.filter(function (n) { return ids[n.id]; }),
      links: snap.links.filter(function (l) { return ids[l.source] && ids[l.target]; }),
    };
    try { localStorage.setItem("seer-clipboard", JSON.stringify(S.clipboard)); } catch (err) { /* private mode */ }
    toast("Copied " + S.clipboard.nodes.length + " node(s).", "info");
  };
  S.paste = function () {
    var cy = getCy();
    if (!cy) return;
    var clip = S.clipboard;
    if (!clip) { try { clip = JSON.parse(localStorage.getItem("seer-clipboard") || "null"); } catch (err) { clip = null; } }
    if (!clip || !clip.nodes.length) return;
    var map = {}, els = [], cat = S.catalog || {};
    clip.nodes.forEach(function (n) {
      var id = newId(cy, n.id.replace(/_\d+$/, ""));
      while (map[id] || Object.keys(map).some(function (k) { return map[k] === id; })) id = id + "_c";
      map[n.id] = id;
      var spec = cat[n.op] || {};
      els.push({ group: "nodes", data: { id: id, op: n.op, label: n.label, params: JSON.parse(JSON.stringify(n.params || {})),
        colour: spec.colour, category: spec.category }, position: { x: n.x + 40, y: n.y + 40 } });
    });
    clip.links.forEach(function (l) {
      els.push({ group: "edges", data: edgeData(map[l.source], l.sourcePort, map[l.target], l.targetPort) });
    });
    cy.elements().unselect();
    var added = cy.add(els);
    added.nodes().select();
    clip.nodes.forEach(function (n) { n.x += 40; n.y += 40; });
  };
  document.addEventListener("keydown", function (e) {
    if (e.key === "Escape") closeChooser();
    if (e.key === "Shift" && S.eh && !typing(e)) { S.eh.enableDrawMode(); return; }
    if (typing(e)) return;
    var cy = getCy();
    if (!cy) return;
    var mod = e.ctrlKey || e.metaKey;
    if (e.key === "Delete" || e.key === "Backspace") { e.preventDefault(); S.deleteSelected(); }
    else if (mod && (e.key === "z" || e.key === "Z") && e.shiftKey) { e.preventDefault(); S.redoOnce(); }
    else if (mod && (e.key === "z" || e.key === "Z")) { e.preventDefault(); S.undoOnce(); }
    else if (mod && (e.key === "y" || e.key === "Y")) { e.preventDefault(); S.redoOnce(); }
    else if (mod && (e.key === "c" || e.key === "C")) { S.copy(); }
    else if (mod && (e.key === "v" || e.key === "V")) { e.preventDefault(); S.paste(); }
    else if (mod && (e.key === "a" || e.key === "A")) { e.preventDefault(); cy.elements().select(); }
  });
  document.addEventListener("keyup", function (e) {
    if (e.key === "Shift" && S.eh && !S.connectMode) S.eh.disableDrawMode();
  });

  // a button that acts on the flow (Run, Save, Export...) must see the latest edit: send any
  // edit still inside its debounce before the click reaches the server
  document.addEventListener("mousedown", function (e) {
    if (e.target.closest && e.target.closest("button")) flush();
  }, true);

  S.setConnectMode = function (on) {
    S.connectMode = !!on;
    var cy = ensure();
    if (!S.eh) return;
    if (on) S.eh.enableDrawMode(); else S.eh.disableDrawMode();
    if (cy) cy.container().classList.toggle("connect-mode", !!on);
  };

  // a layered left-to-right layout: rank = longest path from a source
  S.autoLayout = function () {
    var cy = getCy();
    if (!cy) return;
    var nodes = cy.nodes().filter(function (n) { return !!n.data("op"); });
    var rank = {};
    var order = [];
    var indeg = {};
    nodes.forEach(function (n) { indeg[n.id()] = n.incomers("edge").length; rank[n.id()] = 0; });
    var queue = nodes.filter(function (n) { return indeg[n.id()] === 0; }).map(function (n) { return n; });
    queue.sort(function (a, b) { return a.position("y") - b.position("y"); });
    while (queue.length) {
      var n = queue.shift();
      order.push(n);
      n.outgoers("node").forEach(function (m) {
        rank[m.id()] = Math.max(rank[m.id()], rank[n.id()] + 1);
        indeg[m.id()] -= 1;
        if (indeg[m.id()] === 0) queue.push(m);
      });
    }
    var rows = {};
    cy.batch(function () {
      order.forEach(function (n) {
        var r = rank[n.id()];
        rows[r] = (rows[r] || 0) + 1;
        n.position({ x: 80 + r * 250, y: 60 + (rows[r] - 1) * 120 });
      });
    });
    cy.fit(undefined, 60);
    if (cy.zoom() > 1.2) { cy.zoom(1.2); cy.center(); }
    push();
  };
  S.fit = function () { var cy = getCy(); if (cy) { cy.fit(undefined, 30); if (cy.zoom() > 1.5) { cy.zoom(1.5); cy.center(); } } };
  S.zoomBy = function (f) {
    var cy = getCy();
    if (!cy) return;
    var c = { x: cy.width() / 2, y: cy.height() / 2 };
    cy.zoom({ level: cy.zoom() * f, renderedPosition: c });
  };

  // edits from the inspector (clientside callbacks call these)
  S.setNodeData = function (id, patch) {
    var cy = getCy();
    if (!cy) return;
    var n = cy.getElementById(id);
    if (!n.length) return;
    var isGroup = n.data("group") !== undefined;
    if (isGroup && patch.label !== undefined) patch = Object.assign({ group: patch.label }, patch);
    n.data(patch);
    if (isGroup) S.applyCollapsed(); // a collapsed group's box shows its new name and size
  };
  S.setParam = function (id, name, value) {
    var cy = getCy();
    if (!cy) return;
    var n = cy.getElementById(id);
    if (!n.length || !n.data("op")) return;
    var params = Object.assign({}, n.data("params") || {});
    // a value equal to the operator's default is not written (the form shows defaults; only
    // what the user changes goes into the flow file)
    var spec = (S.catalog || {})[n.data("op")] || { params: [] };
    var p = spec.params.filter(function (q) { return q.name === name; })[0];
    var isDefault = p && ("default" in p) && JSON.stringify(p["default"]) === JSON.stringify(value);
    if (!(name in params) && (isDefault || value === undefined)) return;
    if (value === undefined || isDefault) delete params[name]; else params[name] = value;
    if (JSON.stringify(params) === JSON.stringify(n.data("params") || {})) return;
    n.data("params", params);
  };
  S.setEdgePorts = function (id, sourcePort, targetPort) {
    var cy = getCy();
    if (!cy) return;
    var e = cy.getElementById(id);
    if (!e.length) return;
    var d = edgeData(e.data("source"), sourcePort || e.data("sourcePort"), e.data("target"), targetPort || e.data("targetPort"));
    if (d.id === e.id()) return;
    e.remove();
    cy.add({ group: "edges", data: d }).select();
  };
  S.selectNode = function (id) {
    var cy = getCy();
    if (!cy) return;
    cy.elements().unselect();
    var n = cy.getElementById(id);
    if (n.length) { n.select(); cy.animate({ center: { eles: n } }, { duration: 200 }); }
  };
})();

/* named, collapsible groups of nodes (kept in the flow file's ui.groups) */
(function () {
  "use strict";
  var S = window.SEER;
  function cyOf() { return S.getCy(); }
  // while a group is collapsed its members are hidden and stand-in edges connect the group box
  S.applyCollapsed = function () {
    var cy = cyOf();
    if (!cy) return;
    cy.batch(function () {
      cy.edges(".meta").remove();
      cy.nodes(".group").forEach(function (g) {
        var members = g.children();
        var on = !!g.data("collapsed");
        g.toggleClass("collapsed", on);
        members.toggleClass("hidden-member", on);
        g.data("label", on ? "▸ " + g.data("group") + " (" + members.length + ")" : g.data("group"));
        if (!on) return;
        var seen = {};
        members.connectedEdges().forEach(function (e) {
          if (!e.data("sourcePort")) return;
          var s = e.source(), t = e.target();
          var sIn = s.parent().same(g), tIn = t.parent().same(g);
          if (sIn && tIn) return;
          var a = sIn ? g.id() : s.id(), b = tIn ? g.id() : t.id();
          var id = "meta:" + a + "->" + b;
          if (seen[id]) return;
          seen[id] = true;
          cy.add({ group: "edges", data: { id: id, source: a, target: b }, classes: "meta" });
        });
      });
    });
    if (S.ports) S.ports.ensureAll(); // the badges of folded nodes fold with them
  };
  S.groupSelected = function () {
    var cy = cyOf();
    if (!cy) return null;
    var sel = cy.$("node:selected").filter(function (n) { return !!n.data("op") && !n.isChild(); });
    if (sel.length < 1) { S.toast("Select the nodes to group first (drag on the canvas to box-select).", "error"); return null; }
    var i = 1;
    while (cy.getElementById("group" + i).length) i++;
    var id = "group" + i;
    cy.add({ group: "nodes", data: { id: id, group: "Group " + i, label: "Group " + i, collapsed: false, colour: "#94a3b8" }, classes: "group" });
    sel.move({ parent: id });
    cy.elements().unselect();
    cy.getElementById(id).select();
    return id;
  };
  S.ungroup = function (id) {
    var cy = cyOf();
    if (!cy) return;
    var g = id ? cy.getElementById(id) : cy.$("node.group:selected").first();
    if (!g || !g.length) { S.toast("Select a group to ungroup.", "error"); return; }
    if (g.data("collapsed")) { g.data("collapsed", false); S.applyCollapsed(); }
    g.children().move({ parent: null });
    g.remove();
  };
  S.toggleGroup = function (id) {
    var cy = cyOf();
    if (!cy) return;
    var g = id ? cy.getElementById(id) : cy.$("node.group:selected").first();
    if (!g || !g.length) { S.toast("Select a group to collapse or expand.", "error"); return; }
    g.data("collapsed", !g.data("collapsed"));
    S.applyCollapsed();
  };
})();

/* SQL and expression params (the "code" widget) get a code editor: CodeMirror with Spark SQL
   highlighting, line numbers and wrapping; every change goes straight into the node's params. */
(function () {
  "use strict";
  var S = window.SEER;
  function enhance() {
    if (!window.CodeMirror) return;
    document.querySelectorAll("textarea.code:not([data-cm])").forEach(function (ta) {
      var pid;
      try { pid = JSON.parse(ta.id); } catch (e) { return; }
      if (pid.type !== "param" || pid.kind !== "text") return;
      ta.setAttribute("data-cm", "1");
      var cm = window.CodeMirror.fromTextArea(ta, {
        mode: "text/x-sparksql", lineNumbers: true, lineWrapping: true, viewportMargin: Infinity, indentUnit: 2,
      });
      cm.on("change", function () {
        var v = cm.getValue();
        S.setParam(pid.node, pid.name, v.trim() ? v : undefined);
      });
      ta._cm = cm;
    });
  }
  new MutationObserver(enhance).observe(document.documentElement, { childList: true, subtree: true });
})();
