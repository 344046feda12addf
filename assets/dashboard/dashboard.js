// The sipthor web dashboard: renders the state the server pushes on
// /api/events (server-sent events) without a page reload. Plain DOM and SVG;
// every value from the network is set as text, never as markup.
"use strict";

const SVG = "http://www.w3.org/2000/svg";
const $ = (id) => document.getElementById(id);

function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") e.className = v;
    else if (k === "text") e.textContent = v;
    else e.setAttribute(k, v);
  }
  for (const c of children) e.append(c);
  return e;
}

function svg(tag, attrs = {}) {
  const e = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  return e;
}

/** Distinct colours, given to members in id order (the same member has the same colour on every ring). */
const PALETTE = ["#4263eb", "#2f9e44", "#e8590c", "#ae3ec9", "#1098ad", "#f08c00", "#c2255c", "#5c940d", "#1864ab", "#862e9c"];
let colours = new Map();
function colour(id) {
  const i = colours.get(id) ?? 0;
  // Past the palette: golden-angle hues, far apart from their neighbours.
  return i < PALETTE.length ? PALETTE[i] : `hsl(${Math.round((i * 137.508) % 360)} 60% 45%)`;
}

/** An annulus sector from `start` to `end` (fractions of a turn, clockwise from 12 o'clock). */
function sectorPath(c, outer, inner, start, end) {
  const span = Math.min(end - start, 0.99999);
  const point = (r, t) => {
    const a = 2 * Math.PI * t - Math.PI / 2;
    return `${(c + r * Math.cos(a)).toFixed(3)} ${(c + r * Math.sin(a)).toFixed(3)}`;
  };
  const large = span > 0.5 ? 1 : 0;
  const e = start + span;
  return `M ${point(outer, start)} A ${outer} ${outer} 0 ${large} 1 ${point(outer, e)} L ${point(inner, e)} A ${inner} ${inner} 0 ${large} 0 ${point(inner, start)} Z`;
}

const pct = (x) => `${(x * 100).toFixed(1)}%`;
const num = (x) => (x === undefined || x === null ? "-" : String(x));
const clock = (ms) => new Date(ms).toISOString().slice(11, 19);

function renderRing(ring) {
  const size = 220, outer = 96, inner = 66, c = size / 2;
  const fig = el("figure", { class: "ring", "data-role": ring.role });
  fig.append(el("figcaption", { text: ring.role }));
  const s = svg("svg", { viewBox: `0 0 ${size} ${size}`, role: "img", "aria-label": `${ring.role} ring` });
  s.append(svg("circle", { class: "track", cx: c, cy: c, r: (outer + inner) / 2, "stroke-width": outer - inner }));
  for (const a of ring.arcs) {
    if (a.end - a.start <= 0) continue;
    const arc = svg("path", { class: "arc", "data-node": a.id, "data-share": a.share, d: sectorPath(c, outer, inner, a.start, a.end), fill: colour(a.id) });
    const title = svg("title");
    title.textContent = `${a.id} (${a.ip}): ${pct(a.share)}`;
    arc.append(title);
    s.append(arc);
  }
  const label = svg("text", { x: c, y: c + 4, "text-anchor": "middle" });
  label.textContent = `${ring.arcs.length} node${ring.arcs.length === 1 ? "" : "s"}`;
  s.append(label);
  fig.append(s);
  const legend = el("ul");
  for (const a of ring.arcs) {
    // Through CSSOM: the page's CSP allows no inline style attribute.
    const swatch = el("span", { class: "swatch" });
    swatch.style.background = colour(a.id);
    legend.append(el("li", { "data-node": a.id }, swatch, `${a.id} ${pct(a.share)}`));
  }
  fig.append(legend);
  return fig;
}

function render(st) {
  colours = new Map(st.members.map((m, i) => [m.id, i]));
  $("active-manager").textContent = st.activeManager ? `${st.activeManager.id} (term ${st.activeManager.term})` : "none";
  $("snapshot").textContent = st.snapshot ? `epoch ${st.snapshot.epoch} seq ${st.snapshot.seq}` : "waiting";
  $("member-count").textContent = String(st.members.length);

  $("rings").replaceChildren(...st.rings.map(renderRing));

  const rows = st.members.map((m) => {
    const f = m.figures || {};
    return el("tr", { "data-node": m.id },
      el("td", { text: m.id }), el("td", { text: m.ip }), el("td", { text: m.version }),
      el("td", { text: m.roles.map((r) => `${r} ${pct(m.shares[r] || 0)}`).join(", ") || "-" }),
      el("td", { class: m.draining ? "state-draining" : "state-up", text: m.draining ? "draining" : "up" }),
      el("td", { class: "num", text: num(f.registrations) }), el("td", { class: "num", text: num(f.bindings) }),
      el("td", { class: "num", text: num(f.calls) }), el("td", { class: "num", text: num(f.transactions) }),
      el("td", { class: "num", text: num(f.relaySessions) }));
  });
  $("members").tBodies[0].replaceChildren(...rows);
  $("others").tBodies[0].replaceChildren(...st.others.map((o) => el("tr", { "data-member": o.id },
    el("td", { text: o.id }), el("td", { text: o.ip }), el("td", { class: "num", text: num(o.figures.dnsQueries) }), el("td", { text: clock(o.figures.at) }))));
  $("others").hidden = st.others.length === 0;

  $("managers").replaceChildren(...st.managers.map((m) => el("li", { class: m.active ? "active" : "" , text: `${m.id} (${m.ip}) ${m.active ? "active" : "standby"}, term ${m.term}, priority ${m.priority}` })));
  $("databases").replaceChildren(...st.databases.map((d) => el("li", { text: `${d.uri} (priority ${d.priority}, ${d.id})` })));
  $("events").replaceChildren(...[...st.events].reverse().map((e) => el("li", { class: `kind-${e.kind}` }, el("time", { text: clock(e.at) }), e.text)));
  document.body.dataset.updated = String(st.at);
}

function connect() {
  const live = $("live");
  const source = new EventSource("/api/events");
  source.addEventListener("state", (ev) => {
    live.className = "status live";
    live.textContent = "live";
    render(JSON.parse(ev.data));
  });
  source.addEventListener("error", () => {
    live.className = "status reconnecting";
    live.textContent = "reconnecting";
    // A closed stream (401 after the session ended) is not retried by the browser: go sign in again.
    if (source.readyState === EventSource.CLOSED) setTimeout(() => location.assign("/login"), 2000);
  });
}

connect();
