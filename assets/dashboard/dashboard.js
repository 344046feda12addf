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

/** A stable colour per member id. */
function colour(id) {
  let h = 2166136261;
  for (let i = 0; i < id.length; i++) h = Math.imul(h ^ id.charCodeAt(i), 16777619);
  return `hsl(${(h >>> 0) % 360} 62% 48%)`;
}

const pct = (x) => `${(x * 100).toFixed(1)}%`;
const num = (x) => (x === undefined || x === null ? "-" : String(x));
const clock = (ms) => new Date(ms).toISOString().slice(11, 19);

function renderRing(ring) {
  const size = 220, r = 80, width = 28, c = size / 2;
  const fig = el("figure", { class: "ring", "data-role": ring.role });
  fig.append(el("figcaption", { text: ring.role }));
  const s = svg("svg", { viewBox: `0 0 ${size} ${size}`, role: "img", "aria-label": `${ring.role} ring` });
  s.append(svg("circle", { class: "track", cx: c, cy: c, r, "stroke-width": width }));
  for (const a of ring.arcs) {
    // An arc is a stroked circle showing one dash: pathLength 100 makes the dash its share in percent.
    const len = Math.max(0, (a.end - a.start) * 100);
    const arc = svg("circle", {
      class: "arc", "data-node": a.id, cx: c, cy: c, r, stroke: colour(a.id), "stroke-width": width,
      pathLength: 100, "stroke-dasharray": `${len} ${100 - len}`, "stroke-dashoffset": -a.start * 100,
      transform: `rotate(-90 ${c} ${c})`,
    });
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
