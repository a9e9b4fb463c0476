/* Ports drawn on the nodes: each input is a small labelled badge on a node's left border, each
   output one on its right border, and a link leaves from its output's badge and arrives at its
   input's badge. Dragging from an output badge draws a link (no Shift needed); dropping it on an
   input badge links exactly those two ports. Badges are canvas elements of their own (class
   "port", data.portOf = the node): they follow their node, are never selected, and never reach
   the flow document (10_seer_canvas.js keeps only nodes with an operator).
   Text on the canvas stays readable when zoomed out: below 100 % the labels of links and badges
   grow to keep about their size on screen. */
(function () {
  "use strict";
  var S = (window.SEER = window.SEER || {});
  var W = 150; // a node's width (studio/components/canvas.py)
  var H = 46; // its height with up to two ports a side
  var BADGE_H = 15;
  var MAX_GROW = 1.5; // badge text grows at most this much when zoomed out
  var MAX_TALL = 1.25; // and badges this much in height
  var STEP = BADGE_H * MAX_TALL + 3; // distance between two badges on one side
  var grow = { badge: 1, text: 1, node: 1 };

  function spec(n) { return (S.catalog || {})[n.data("op")] || null; }
  function badgeWidth(name) { return Math.round(name.length * 6.4 + 10); }
  function portId(nid, dir, name) { return nid + "::" + dir + "::" + name; }
  function owner(cy, el) {
    if (!el || !el.length) return null;
    if (el.data("portOf")) { var n = cy.getElementById(el.data("portOf")); return n.length ? n : null; }
    return el.data("op") ? el : null;
  }
  function sides(sp) { return { "in": sp.inputs || [], out: sp.outputs || [] }; }
  function nodeHeight(sp) {
    var k = Math.max((sp.inputs || []).length, (sp.outputs || []).length);
    return Math.max(H, Math.ceil(k * STEP + 8));
  }
  // where a port's badge sits, relative to its node's centre
  function offset(sp, dir, name) {
    var list = sides(sp)[dir];
    var i = list.map(function (p) { return p.name; }).indexOf(name);
    if (i < 0) return null;
    return { x: dir === "in" ? -W / 2 : W / 2, y: (i - (list.length - 1) / 2) * STEP };
  }

  function place(cy, n) {
    var sp = spec(n);
    if (!sp) return;
    var p = n.position();
    var hidden = n.hasClass("hidden-member");
    ["in", "out"].forEach(function (dir) {
      sides(sp)[dir].forEach(function (port) {
        var b = cy.getElementById(portId(n.id(), dir, port.name));
        if (!b.length) return;
        var o = offset(sp, dir, port.name);
        b.position({ x: p.x + o.x, y: p.y + o.y });
        b.toggleClass("hidden-member", hidden);
      });
    });
  }
  function sizeBadge(b) {
    var s = grow.badge;
    b.style({ width: b.data("w") * s, height: BADGE_H * Math.min(s, MAX_TALL), "font-size": 10.5 * s });
  }
  function ensure(cy, n) {
    var sp = spec(n);
    if (!sp || !n.data("op")) return;
    var h = nodeHeight(sp);
    if (n.style("height") !== h + "px") n.style("height", h);
    var add = [];
    ["in", "out"].forEach(function (dir) {
      sides(sp)[dir].forEach(function (port) {
        var id = portId(n.id(), dir, port.name);
        if (cy.getElementById(id).length) return;
        add.push({ group: "nodes", classes: "port port-" + dir + (port.optional ? " optional" : ""),
          data: { id: id, portOf: n.id(), port: port.name, dir: dir, label: port.name, type: port.type,
            colour: sp.colour || "#6b7280", w: badgeWidth(port.name) },
          selectable: false, grabbable: false });
      });
    });
    if (add.length) cy.add(add).forEach(sizeBadge);
    place(cy, n);
  }
  function placeEdge(cy, e) {
    if (!e.data("sourcePort")) return;
    var s = e.source(), t = e.target();
    var ss = spec(s), ts = spec(t);
    var so = ss && offset(ss, "out", e.data("sourcePort"));
    var to = ts && offset(ts, "in", e.data("targetPort"));
    var style = { "font-size": 11 * grow.text };
    if (so) style["source-endpoint"] = (so.x + (badgeWidth(e.data("sourcePort")) * grow.badge) / 2) + "px " + so.y + "px";
    if (to) style["target-endpoint"] = (to.x - (badgeWidth(e.data("targetPort")) * grow.badge) / 2) + "px " + to.y + "px";
    e.style(style);
  }
  function ensureAll(cy) {
    if (!S.catalog) return;
    cy.batch(function () {
      cy.nodes(".port").forEach(function (b) { if (!owner(cy, b)) b.remove(); });
      cy.nodes("[op]").forEach(function (n) { ensure(cy, n); });
      cy.edges().forEach(function (e) { placeEdge(cy, e); });
    });
  }
  function rescale(cy) {
    var z = cy.zoom();
    var g = { badge: Math.min(MAX_GROW, Math.max(1, 1 / z)), text: Math.min(2, Math.max(1, 1 / z)),
      node: Math.min(1.25, Math.max(1, 1 / z)) };
    if (g.badge === grow.badge && g.text === grow.text) return;
    grow = g;
    cy.batch(function () {
      cy.nodes("[op]").style("font-size", 12 * grow.node);
      cy.nodes(".port").forEach(sizeBadge);
      cy.edges().forEach(function (e) { placeEdge(cy, e); });
    });
  }

  // the input badge of `node` under a point of the canvas (model coordinates), if any
  function portUnder(cy, node, dir, pos) {
    if (!node || !pos) return null;
    var hit = null;
    cy.nodes(".port-" + dir).forEach(function (b) {
      if (hit || b.data("portOf") !== node.id()) return;
      var bb = b.boundingBox();
      if (pos.x >= bb.x1 - 4 && pos.x <= bb.x2 + 4 && pos.y >= bb.y1 - 4 && pos.y <= bb.y2 + 4) hit = b.data("port");
    });
    return hit;
  }

  S.ports = {
    owner: owner,
    ensureAll: function () { var cy = S.getCy(); if (cy) ensureAll(cy); },
    // which gestures may draw a link: from an output badge or a node, to an input badge or a node
    canConnect: function (cy, s, t) {
      var a = owner(cy, s), b = owner(cy, t);
      if (!a || !b || a.same(b)) return false;
      return s.data("dir") !== "in" && t.data("dir") !== "out";
    },
    // the nodes and, where the gesture named them, the ports of a link just drawn
    ends: function (cy, edge, eh) {
      var s = edge.source(), t = edge.target();
      var dst = owner(cy, t);
      var tp = t.data("portOf") ? t.data("port") : null;
      if (!tp && eh && typeof eh.mx === "number") tp = portUnder(cy, dst, "in", { x: eh.mx, y: eh.my });
      return { src: owner(cy, s), dst: dst, sp: s.data("portOf") ? s.data("port") : null, tp: tp };
    },
    attach: function (cy) {
      cy.on("add", "node[op]", function (e) { ensure(cy, e.target); });
      cy.on("add", "edge", function (e) { placeEdge(cy, e.target); });
      cy.on("remove", "node[op]", function (e) {
        var id = e.target.id();
        cy.nodes(".port").filter(function (b) { return b.data("portOf") === id; }).remove();
      });
      cy.on("position", "node[op]", function (e) { place(cy, e.target); });
      cy.on("zoom", function () { clearTimeout(S._zoomTimer); S._zoomTimer = setTimeout(function () { rescale(cy); }, 60); });
      // a drag from an output badge draws a link, Shift or not; a tap on a badge selects its node
      cy.on("tapstart", "node.port-out", function (e) {
        if (S.eh && !S.eh.drawMode) S.eh.start(e.target);
      });
      // hovering a badge says what the port takes or gives, and how to link it
      cy.on("mouseover", "node.port", function (e) {
        var b = e.target;
        var n = owner(cy, b);
        var sp = n && spec(n);
        var p = sp && sides(sp)[b.data("dir")].filter(function (q) { return q.name === b.data("port"); })[0];
        var how = b.data("dir") === "out" ? "Drag from here to an input to link it." : "Drop a link from an output here.";
        cy.container().title = b.data("port") + " (" + b.data("type") + (p && p.optional ? ", optional" : "") + ")" +
          (p && p.description ? ": " + p.description : "") + " " + how;
      });
      cy.on("mouseout", "node.port", function () { cy.container().title = ""; });
      cy.on("tap", "node.port", function (e) {
        var n = owner(cy, e.target);
        if (n && !n.selected()) { cy.elements().unselect(); n.select(); }
      });
      rescale(cy);
      ensureAll(cy);
    },
  };
  // the catalog arrives after the canvas may have been drawn
  var wait = setInterval(function () {
    var cy = S.getCy && S.getCy();
    if (cy && S.catalog && cy._seerReady) { ensureAll(cy); clearInterval(wait); }
  }, 300);
})();
