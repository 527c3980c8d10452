// netclear dashboard: a client of the public Hyperliquid-format API only (POST /info, /ws).
// Plain JavaScript, no build step. docs/dashboard.md describes the panels and the info types used.
"use strict";

// ------------------------------------------------------------------ helpers
const $ = (sel) => document.querySelector(sel);

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k === "class") node.className = v;
    else if (k === "onclick") node.addEventListener("click", v);
    else if (k === "style") node.setAttribute("style", v);
    else node.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined) continue;
    node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return node;
}

function table(target, headers, rows) {
  const t = typeof target === "string" ? $(target) : target;
  t.replaceChildren(
    el("thead", {}, el("tr", {}, headers.map((h) => el("th", {}, h)))),
    el("tbody", {}, rows)
  );
  return t;
}

function num(x) {
  const n = Number(x);
  return Number.isFinite(n) ? n : null;
}

function fmt(x, dp = 2) {
  const n = num(x);
  if (n === null) return x === null || x === undefined ? "—" : String(x);
  return n.toLocaleString("en-US", { minimumFractionDigits: dp, maximumFractionDigits: dp });
}

function fmtPx(x) {
  const n = num(x);
  if (n === null || n === 0) return x === null || x === undefined ? "—" : String(x);
  const dp = Math.abs(n) >= 1000 ? 1 : Math.abs(n) >= 1 ? 3 : 6;
  return n.toLocaleString("en-US", { maximumFractionDigits: dp });
}

function pct(x, dp = 2) {
  const n = num(x);
  return n === null ? "—" : (n * 100).toFixed(dp) + "%";
}

function short(addr) {
  return addr ? addr.slice(0, 6) + "…" + addr.slice(-4) : "";
}

function time(ms) {
  return ms ? new Date(ms).toISOString().replace("T", " ").slice(0, 19) : "—";
}

function bar(ratio) {
  const r = Math.max(0, Math.min(1, num(ratio) || 0));
  return el("div", { class: "bar-outer", title: pct(ratio) },
    el("div", { class: "bar-inner", style: `width:${(r * 100).toFixed(1)}%` }));
}

async function info(body) {
  const r = await fetch("/info", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  if (!r.ok) throw new Error(`/info ${body.type}: ${r.status} ${await r.text()}`);
  return r.json();
}

function debounce(fn, ms) {
  let timer = null;
  let running = false;
  let again = false;
  const run = async () => {
    timer = null;
    if (running) { again = true; return; }
    running = true;
    try { await fn(); } catch (e) { report(e); }
    running = false;
    if (again) { again = false; timer = setTimeout(run, ms); }
  };
  return () => { if (!timer) timer = setTimeout(run, ms); };
}

function report(err) {
  // Errors of a refresh are shown in the status line and the console, not thrown: a later refresh may
  // succeed. (The browser tests fail on any console error.)
  const text = String(err && err.message ? err.message : err);
  $("#clock").textContent = text.slice(0, 120);
  console.error(text);
}

const hasPlotly = () => typeof window.Plotly !== "undefined" && window.Plotly.react;
const plotLayout = (extra) => Object.assign({
  paper_bgcolor: "rgba(0,0,0,0)", plot_bgcolor: "rgba(0,0,0,0)",
  font: { color: "#d7dde4", size: 11 }, margin: { l: 48, r: 16, t: 24, b: 36 },
  xaxis: { gridcolor: "#27303a" }, yaxis: { gridcolor: "#27303a" },
}, extra || {});
function plot(id, data, layout) {
  if (!hasPlotly()) return;
  window.Plotly.react(id, data, plotLayout(layout), { displayModeBar: false, responsive: true });
}

// ------------------------------------------------------------------ websocket
const ws = {
  socket: null, subs: new Map(), handlers: new Map(), backoff: 500,
  connect() {
    const url = (location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/ws";
    const s = new WebSocket(url);
    this.socket = s;
    s.onopen = () => {
      this.backoff = 500;
      $("#ws-status").className = "dot on";
      for (const sub of this.subs.values()) s.send(JSON.stringify({ method: "subscribe", subscription: sub }));
    };
    s.onclose = () => {
      $("#ws-status").className = "dot off";
      setTimeout(() => this.connect(), this.backoff);
      this.backoff = Math.min(this.backoff * 2, 10000);
    };
    s.onmessage = (ev) => {
      const msg = JSON.parse(ev.data);
      const fn = this.handlers.get(msg.channel);
      if (fn) fn(msg.data);
      onAnyMessage(msg.channel);
    };
  },
  key: (sub) => JSON.stringify(sub, Object.keys(sub).sort()),
  subscribe(sub) {
    const k = this.key(sub);
    if (this.subs.has(k)) return;
    this.subs.set(k, sub);
    if (this.socket && this.socket.readyState === 1) {
      this.socket.send(JSON.stringify({ method: "subscribe", subscription: sub }));
    }
  },
  unsubscribe(sub) {
    const k = this.key(sub);
    if (!this.subs.delete(k)) return;
    if (this.socket && this.socket.readyState === 1) {
      this.socket.send(JSON.stringify({ method: "unsubscribe", subscription: sub }));
    }
  },
  on(channel, fn) { this.handlers.set(channel, fn); },
};
setInterval(() => {
  if (ws.socket && ws.socket.readyState === 1) ws.socket.send(JSON.stringify({ method: "ping" }));
}, 30000);

// ------------------------------------------------------------------ state shared by the panels
const state = {
  panel: "markets",
  dexes: [""],
  tokens: new Map(), // token index -> name
  spotNames: new Map(), // "@107" -> "HYPE/USDC"
  coin: null,
  bookSub: null,
  tradesSub: null,
  trades: [],
  exchangeTime: 0,
  user: null,
  userSubs: [],
  recent: new Set(JSON.parse(localStorage.getItem("netclear.recentUsers") || "[]")),
};

function remember(user) {
  if (!user || state.recent.has(user)) return;
  state.recent.add(user);
  const list = [...state.recent].slice(-50);
  state.recent = new Set(list);
  localStorage.setItem("netclear.recentUsers", JSON.stringify(list));
  $("#recent-users").replaceChildren(...list.map((u) => el("option", { value: u })));
}

async function loadStatic() {
  const dexes = await info({ type: "perpDexs" });
  state.dexes = dexes.map((d) => (d ? d.name : ""));
  const spot = await info({ type: "spotMeta" });
  for (const t of spot.tokens) state.tokens.set(t.index, t.name);
  for (const u of spot.universe) {
    state.spotNames.set(u.name, u.tokens.map((i) => state.tokens.get(i) || i).join("/"));
  }
}

// ------------------------------------------------------------------ markets
async function refreshMarkets() {
  const perCtx = await Promise.all(state.dexes.map((dex) => info({ type: "metaAndAssetCtxs", dex })));
  const filter = $("#market-filter").value.trim().toLowerCase();
  const rows = [];
  perCtx.forEach(([meta, ctxs], i) => {
    meta.universe.forEach((m, j) => {
      const c = ctxs[j];
      if (!c || (filter && !m.name.toLowerCase().includes(filter))) return;
      if (m.isDelisted) return;
      const oiUsd = (num(c.openInterest) || 0) * (num(c.markPx) || 0);
      rows.push(el("tr", {
        class: "clickable" + (m.name === state.coin ? " selected" : ""), "data-coin": m.name,
        onclick: () => selectCoin(m.name),
      },
      el("td", {}, m.name), el("td", {}, state.dexes[i] || "—"),
      el("td", {}, fmtPx(c.midPx)), el("td", {}, fmtPx(c.markPx)), el("td", {}, fmtPx(c.oraclePx)),
      el("td", { class: num(c.funding) < 0 ? "sell" : "buy" }, pct(c.funding, 4)),
      el("td", {}, fmt(c.openInterest, 2)), el("td", {}, fmt(oiUsd, 0)), el("td", {}, fmt(c.dayNtlVlm, 0)),
      el("td", {}, m.maxLeverage + "x")));
    });
  });
  table("#perps", ["coin", "dex", "mid", "mark", "oracle", "funding/h", "open interest", "OI (USD)", "24h volume", "max lev"], rows);
  const [spotMeta, spotCtxs] = await info({ type: "spotMetaAndAssetCtxs" });
  const byCoin = new Map(spotCtxs.map((c) => [c.coin, c]));
  const spotRows = [];
  for (const u of spotMeta.universe) {
    const c = byCoin.get(u.name);
    const name = state.spotNames.get(u.name) || u.name;
    if (!c || (filter && !name.toLowerCase().includes(filter) && !u.name.includes(filter))) continue;
    spotRows.push(el("tr", {
      class: "clickable" + (u.name === state.coin ? " selected" : ""), "data-coin": u.name,
      onclick: () => selectCoin(u.name),
    }, el("td", {}, name), el("td", {}, u.name), el("td", {}, fmtPx(c.midPx)), el("td", {}, fmtPx(c.markPx)),
    el("td", {}, fmtPx(c.prevDayPx)), el("td", {}, fmt(c.dayNtlVlm, 0))));
  }
  table("#spots", ["pair", "coin", "mid", "mark", "prev day", "24h volume"], spotRows);
  if (!state.coin) {
    const first = document.querySelector("#perps tr[data-coin]");
    if (first) selectCoin(first.getAttribute("data-coin"));
  }
  if (state.panel === "markets") await drawCandles();
}

function selectCoin(coin) {
  if (state.bookSub) ws.unsubscribe(state.bookSub);
  if (state.tradesSub) ws.unsubscribe(state.tradesSub);
  state.coin = coin;
  state.trades = [];
  state.bookSub = { type: "l2Book", coin };
  state.tradesSub = { type: "trades", coin };
  ws.subscribe(state.bookSub);
  ws.subscribe(state.tradesSub);
  $("#book-coin").textContent = state.spotNames.get(coin) || coin;
  document.querySelectorAll("#perps tr[data-coin], #spots tr[data-coin]").forEach((tr) =>
    tr.classList.toggle("selected", tr.getAttribute("data-coin") === coin));
  renderTrades();
  $("#ladder").replaceChildren();
  if (state.panel === "markets") drawCandles().catch(report);
}

ws.on("l2Book", (book) => {
  state.exchangeTime = Math.max(state.exchangeTime || 0, book.time || 0);
  $("#clock").textContent = "exchange time " + time(state.exchangeTime);
  if (book.coin !== state.coin) return;
  const [bids, asks] = book.levels;
  const depth = 10;
  const a = asks.slice(0, depth).reverse();
  const b = bids.slice(0, depth);
  const max = Math.max(1e-12, ...a.concat(b).map((l) => num(l.sz) || 0));
  const row = (l, side) => el("tr", { "data-side": side },
    el("td", { class: side }, fmtPx(l.px)),
    el("td", { class: "bar" }, fmt(l.sz, 4),
      el("span", { style: `width:${((num(l.sz) / max) * 100).toFixed(1)}%;background:var(--${side})` })),
    el("td", { class: "muted" }, l.n));
  const spread = a.length && b.length ? num(a[a.length - 1].px) - num(b[0].px) : null;
  table("#ladder", ["price", "size", "orders"], [
    ...a.map((l) => row(l, "ask")),
    el("tr", {}, el("td", { class: "muted", colspan: 3 }, spread === null ? "no two-sided book" : "spread " + fmtPx(spread))),
    ...b.map((l) => row(l, "bid")),
  ]);
});

ws.on("trades", (trades) => {
  for (const t of trades) {
    if (t.coin !== state.coin) continue;
    state.trades.unshift(t);
    for (const u of t.users || []) remember(u);
  }
  state.trades = state.trades.slice(0, 60);
  renderTrades();
});

function renderTrades() {
  table("#trades", ["time", "side", "price", "size"], state.trades.map((t) =>
    el("tr", { "data-testid": "trade-row", "data-tid": t.tid },
      el("td", {}, time(t.time).slice(11)),
      el("td", { class: t.side === "B" ? "buy" : "sell" }, t.side === "B" ? "buy" : "sell"),
      el("td", {}, fmtPx(t.px)), el("td", {}, t.sz))));
}

async function drawCandles() {
  // 1-minute candles of the selected market over the last 6 hours of exchange time (candleSnapshot)
  const coin = state.coin;
  if (!coin || !hasPlotly()) return;
  const end = state.exchangeTime || Date.now();
  const candles = await info({ type: "candleSnapshot", req: { coin, interval: "1m", startTime: end - 6 * 3600 * 1000, endTime: end } });
  if (coin !== state.coin) return;
  const name = state.spotNames.get(coin) || coin;
  plot("mid-chart", [{
    type: "candlestick", x: candles.map((c) => new Date(c.t)), open: candles.map((c) => num(c.o)),
    high: candles.map((c) => num(c.h)), low: candles.map((c) => num(c.l)), close: candles.map((c) => num(c.c)),
    increasing: { line: { color: "#3fb68b" } }, decreasing: { line: { color: "#ff5b5b" } }, name,
  }], {
    title: { text: `${name} 1m candles`, font: { size: 12 } },
    xaxis: { gridcolor: "#27303a", rangeslider: { visible: false }, type: "date", visible: candles.length > 0 },
    yaxis: { gridcolor: "#27303a", visible: candles.length > 0 },
    annotations: candles.length ? [] : [{ text: "no trades yet", showarrow: false, xref: "paper", yref: "paper", x: 0.5, y: 0.5 }],
  });
}

// ------------------------------------------------------------------ account
function setUser(user) {
  user = (user || "").trim().toLowerCase();
  if (!/^0x[0-9a-f]{40}$/.test(user)) {
    report(`not an address: ${user}`);
    return;
  }
  for (const sub of state.userSubs) ws.unsubscribe(sub);
  state.user = user;
  remember(user);
  $("#account-input").value = user;
  state.userSubs = [
    { type: "spotState", user }, { type: "userFills", user }, { type: "orderUpdates", user },
  ];
  state.userSubs.forEach((s) => ws.subscribe(s));
  const url = new URL(location.href);
  url.searchParams.set("user", user);
  history.replaceState(null, "", url.pathname + url.search + "#account");
  show("account");
}

async function refreshAccount() {
  const user = state.user;
  if (!user) return;
  const [mode, spot, lend, modes, interest, ...rest] = await Promise.all([
    info({ type: "userAbstraction", user }),
    info({ type: "spotClearinghouseState", user }),
    info({ type: "borrowLendUserState", user }),
    info({ type: "marginModes", user }),
    info({ type: "userBorrowLendInterest", user, startTime: 0 }),
    ...state.dexes.map((dex) => info({ type: "clearinghouseState", user, dex })),
    ...state.dexes.map((dex) => info({ type: "frontendOpenOrders", user, dex })),
  ]);
  if (user !== state.user) return;
  const chs = rest.slice(0, state.dexes.length);
  const orders = rest.slice(state.dexes.length).flat();
  $("#account-empty").hidden = true;
  $("#account-body").hidden = false;
  $("#account-mode").textContent = mode;
  renderHealth(mode, spot, chs, modes, lend);
  renderBreakdown(modes);
  renderModes(modes);
  renderBalances(mode, spot, chs);
  renderPositions(chs);
  table("#orders", ["coin", "side", "price", "size", "type", "oid", "placed"], orders.map((o) =>
    el("tr", {}, el("td", {}, state.spotNames.get(o.coin) || o.coin),
      el("td", { class: o.side === "B" ? "buy" : "sell" }, o.side === "B" ? "buy" : "sell"),
      el("td", {}, o.limitPx), el("td", {}, o.sz), el("td", {}, o.orderType || "Limit"), el("td", {}, o.oid),
      el("td", {}, time(o.timestamp)))));
  renderLendState(lend, interest);
}

function renderHealth(mode, spot, chs, modes, lend) {
  const kv = [];
  let value = null;
  let label = "";
  let line = 1;
  let ratioText = "—";
  if (mode === "portfolioMargin") {
    label = "portfolio margin ratio";
    ratioText = spot.portfolioMarginRatio;
    value = num(spot.portfolioMarginRatio);
    line = num(modes.portfolioMargin.liquidationRatio) || 0.95;
    kv.push(["health", lend.health], ["health factor", lend.healthFactor === null ? "—" : pct(lend.healthFactor)]);
  } else if (mode === "unifiedAccount") {
    label = "unified account ratio";
    ratioText = modes.unifiedAccount.unifiedAccountRatio;
    value = ratioText === "Infinity" ? 10 : num(ratioText);
  } else {
    label = "cross margin ratio (maintenance / account value)";
    const main = chs[0];
    const av = num(main.marginSummary.accountValue);
    const mm = num(main.crossMaintenanceMarginUsed);
    value = mm > 0 ? (av > 0 ? mm / av : 10) : 0;
    ratioText = value.toFixed(6);
    kv.push(["account value", main.marginSummary.accountValue], ["maintenance", main.crossMaintenanceMarginUsed],
      ["withdrawable", main.withdrawable]);
  }
  const liq = value !== null && (mode === "portfolioMargin" ? value > line : value >= line);
  kv.unshift([label, el("span", { "data-testid": "ratio", class: liq ? "bad" : value > 0.8 * line ? "warn" : "good" }, ratioText)]);
  kv.push(["liquidation at", (mode === "portfolioMargin" ? "> " : "≥ ") + line]);
  $("#health-kv").replaceChildren(...kv.flatMap(([k, v]) => [el("span", { class: "k" }, k), el("span", { class: "v" }, v)]));
  plot("gauge", [{
    type: "indicator", mode: "gauge+number", value: Math.min(value || 0, 2),
    number: { valueformat: ".4f" },
    gauge: {
      axis: { range: [0, Math.max(1.2, line * 1.25)] },
      bar: { color: liq ? "#ff5b5b" : "#50d2c2" },
      steps: [{ range: [0, line * 0.8], color: "#1d2a2a" }, { range: [line * 0.8, line], color: "#3a3320" }],
      threshold: { line: { color: "#ff5b5b", width: 3 }, thickness: 0.9, value: line },
    },
  }], { margin: { l: 24, r: 24, t: 16, b: 8 } });
}

function renderBreakdown(modes) {
  const pm = modes.portfolioMargin;
  const box = $("#breakdown");
  if (!pm || !pm.legs) {
    box.replaceChildren(el("p", { class: "note" }, "This preset has no portfolio margin."));
    $("#worst-leg").textContent = "";
    return;
  }
  const own = modes.mode === "portfolioMargin";
  $("#worst-leg").textContent = (own ? "" : "(as if in portfolio margin) ") +
    (pm.worstLeg ? `worst leg: ${pm.worstLeg}` : "no requirement");
  const legs = pm.legs.slice().sort((a, b) => (num(b.ratio) || 0) - (num(a.ratio) || 0));
  const rows = legs.map((l) => el("tr", { "data-leg": l.token, class: l.token === pm.worstLeg ? "selected" : "" },
    el("td", {}, l.token), el("td", {}, l.ratio === null ? "—" : fmt(l.ratio, 6)),
    el("td", {}, fmt(l.requirement)), el("td", {}, fmt(l.crossMaintenance)), el("td", {}, fmt(l.borrowed)),
    el("td", {}, fmt(l.offset)), el("td", {}, fmt(l.liquidationValue)), el("td", {}, fmt(l.balance)),
    el("td", {}, fmt(l.supplied)), el("td", {}, fmt(l.collateralTerm))));
  const worst = legs.find((l) => l.token === pm.worstLeg);
  const coll = worst ? worst.collateral.map((c) => el("tr", {},
    el("td", {}, c.token), el("td", {}, c.counted), el("td", {}, fmtPx(c.price)), el("td", {}, c.liquidationThreshold),
    el("td", {}, fmt(c.term)))) : [];
  box.replaceChildren(
    table(el("table", { class: "grid" }), ["token leg", "ratio", "requirement", "= cross maint.", "+ borrowed", "+ offset",
      "liquidation value", "= balance", "+ supplied", "+ collateral"], rows),
    worst ? el("h2", {}, "Collateral terms of the worst leg ", el("span", { class: "sub" }, "min(borrow cap, counted × price × threshold)")) : null,
    worst ? table(el("table", { class: "grid" }), ["collateral", "counted", "price", "threshold", "term (USDC)"], coll) : null);
}

const MODE_NAMES = { standard: "standard (cross)", unifiedAccount: "unified account", portfolioMargin: "portfolio margin" };
const MODE_KEYS = { disabled: "standard", unifiedAccount: "unifiedAccount", portfolioMargin: "portfolioMargin" };

function renderModes(modes) {
  const keys = ["standard", "unifiedAccount", "portfolioMargin"].filter((k) => modes[k] && "excessMargin" in modes[k]);
  const own = MODE_KEYS[modes.mode];
  table("#modes", ["mode", "maintenance", "available", "excess", "ratio", "liquidatable"], keys.map((k) => {
    const s = modes[k];
    const ratio = s.portfolioMarginRatio || s.unifiedAccountRatio || "—";
    return el("tr", { "data-mode": k, class: k === own ? "selected" : "" },
      el("td", {}, MODE_NAMES[k] + (k === own ? " (current)" : "")), el("td", {}, fmt(s.maintenanceRequirement)),
      el("td", {}, fmt(s.marginAvailable)), el("td", { class: num(s.excessMargin) < 0 ? "bad" : "good" }, fmt(s.excessMargin)),
      el("td", {}, ratio === "Infinity" ? "∞" : ratio === "—" ? ratio : fmt(ratio, 6)),
      el("td", { class: s.liquidatable ? "bad" : "good" }, s.liquidatable ? "yes" : "no"));
  }));
  const c = modes.comparison || {};
  const nothing = keys.every((k) => num(modes[k].maintenanceRequirement) === 0);
  $("#freed").textContent = nothing ? "No positions or borrows: no mode requires margin, so none frees any." :
    c.capitalFreedByPortfolioMargin === undefined ? "" :
    `Capital freed against standard: portfolio margin ${fmt(c.capitalFreedByPortfolioMargin)} USDC, ` +
    `unified account ${fmt(c.capitalFreedByUnifiedAccount)} USDC.`;
  plot("modes-chart", [{
    type: "bar", x: keys.map((k) => MODE_NAMES[k]), y: keys.map((k) => num(modes[k].excessMargin)),
    marker: { color: keys.map((k) => (num(modes[k].excessMargin) < 0 ? "#ff5b5b" : "#50d2c2")) },
  }], { title: { text: "excess margin (USDC)", font: { size: 12 } } });
}

function renderBalances(mode, spot, chs) {
  const pm = "portfolioMarginRatio" in spot;
  const avail = new Map((spot.tokenToAvailableAfterMaintenance || []).map(([t, a]) => [t, a]));
  const headers = ["coin", "total", "hold"].concat(pm ? ["supplied", "borrowed", "ltv"] : [], avail.size ? ["available after maint."] : []);
  const rows = spot.balances.map((b) => el("tr", { "data-coin": b.coin },
    el("td", {}, b.coin + (mode === "disabled" ? " (spot)" : "")), el("td", { "data-testid": `total-${b.coin}` }, b.total),
    el("td", { "data-testid": `hold-${b.coin}` }, b.hold),
    pm ? [el("td", {}, b.supplied), el("td", {}, b.borrowed), el("td", {}, b.ltv)] : [],
    avail.size ? el("td", {}, avail.get(b.token) ?? "—") : null));
  if (mode === "disabled") {
    // standard accounts keep a perp balance per dex apart from spot: its account value and margin in use
    chs.forEach((ch, i) => {
      const dex = state.dexes[i] || "main";
      const s = ch.marginSummary;
      if (i > 0 && num(s.accountValue) === 0 && !ch.assetPositions.length) return;
      rows.push(el("tr", { "data-perp": dex }, el("td", {}, `perp (${dex} dex)`),
        el("td", { "data-testid": `perp-${dex}` }, s.accountValue), el("td", {}, s.totalMarginUsed)));
    });
  }
  table("#balances", headers, rows);
}

function renderPositions(chs) {
  const box = $("#positions");
  const parts = [];
  chs.forEach((ch, i) => {
    const dex = state.dexes[i];
    if (!ch.assetPositions.length && i > 0) return;
    const s = ch.marginSummary;
    parts.push(el("h2", {}, dex ? `dex ${dex}` : "main dex",
      el("span", { class: "sub" }, ` account value ${fmt(s.accountValue)} · margin used ${fmt(s.totalMarginUsed)} · maintenance ${fmt(ch.crossMaintenanceMarginUsed)} · withdrawable ${fmt(ch.withdrawable)}`)));
    if (!ch.assetPositions.length) { parts.push(el("p", { class: "note" }, "no positions")); return; }
    parts.push(table(el("table", { class: "grid" }), ["coin", "size", "entry", "value", "unrealized pnl", "liq. price", "margin", "leverage", "funding"],
      ch.assetPositions.map(({ position: p }) => el("tr", { "data-coin": p.coin },
        el("td", {}, p.coin), el("td", { class: num(p.szi) < 0 ? "sell" : "buy" }, p.szi), el("td", {}, fmtPx(p.entryPx)),
        el("td", {}, fmt(p.positionValue)), el("td", { class: num(p.unrealizedPnl) < 0 ? "sell" : "buy" }, fmt(p.unrealizedPnl)),
        el("td", {}, p.liquidationPx === null ? "account-level" : fmtPx(p.liquidationPx)), el("td", {}, fmt(p.marginUsed)),
        el("td", {}, `${p.leverage.value}x ${p.leverage.type}`), el("td", {}, fmt(p.cumFunding.sinceOpen, 4))))));
  });
  box.replaceChildren(...parts);
}

function renderLendState(lend, interest) {
  const accrued = new Map();
  for (const r of interest) {
    const a = accrued.get(r.token) || { borrow: 0, supply: 0 };
    a.borrow += num(r.borrow) || 0;
    a.supply += num(r.supply) || 0;
    accrued.set(r.token, a);
  }
  const rows = lend.tokenToState.map(([token, s]) => {
    const name = state.tokens.get(token) || token;
    const a = accrued.get(name) || accrued.get(token) || { borrow: 0, supply: 0 };
    return el("tr", {}, el("td", {}, name), el("td", {}, s.supply.value), el("td", {}, s.borrow.value),
      el("td", { "data-testid": `interest-earned-${name}` }, fmt(a.supply, 6)),
      el("td", { "data-testid": `interest-paid-${name}` }, fmt(a.borrow, 6)));
  });
  $("#lendstate").replaceChildren(
    el("p", {}, `health: ${lend.health}` + (lend.healthFactor ? ` · health factor ${pct(lend.healthFactor)}` : "")),
    table(el("table", { class: "grid" }), ["token", "supplied", "borrowed", "interest earned", "interest paid"], rows));
}

// ------------------------------------------------------------------ lending
async function refreshLending() {
  const [params, states] = await Promise.all([info({ type: "borrowLendReserveParams" }), info({ type: "allBorrowLendReserveStates" })]);
  const byToken = new Map(states.map(([t, s]) => [t, s]));
  table("#reserves", ["token", "supplied", "borrowed", "utilization", "borrow APY", "supply APY", "oracle", "LTV",
    "supply cap used", "borrow cap used", "user caps (supply / borrow)"], params.map((p) => {
    const s = byToken.get(p.token) || {};
    const b = p.borrowable;
    const c = p.collateral;
    const supplyUsed = b ? b.globalSupplyCapUsed : c ? c.globalSupplyCapUsed : null;
    return el("tr", { "data-token": p.name },
      el("td", {}, p.name), el("td", {}, fmt(p.totalSupplied)), el("td", {}, fmt(p.totalBorrowed)),
      el("td", { "data-testid": `util-${p.name}` }, pct(p.utilization)), el("td", {}, pct(p.borrowYearlyRate)),
      el("td", {}, pct(p.supplyYearlyRate)), el("td", {}, fmtPx(s.oraclePx)), el("td", {}, c ? c.ltv : "—"),
      el("td", {}, supplyUsed === null ? "no cap" : el("span", { class: "capcell" }, bar(supplyUsed), pct(supplyUsed))),
      el("td", {}, b && b.globalBorrowCapUsed !== null ? el("span", { class: "capcell" }, bar(b.globalBorrowCapUsed), pct(b.globalBorrowCapUsed)) : "—"),
      el("td", {}, `${fmt((b || c).userSupplyCap, 0)} / ${b ? fmt(b.userBorrowCap, 0) : "—"}`));
  }));
  const box = $("#curves");
  const wanted = params.filter((p) => p.borrowable);
  if (box.children.length !== wanted.length) box.replaceChildren(...wanted.map((p) => el("div", { id: `curve-${p.name}`, "data-token": p.name })));
  for (const p of wanted) {
    const pts = p.borrowable.curvePoints;
    plot(`curve-${p.name}`, [
      { x: pts.map((q) => num(q[0]) * 100), y: pts.map((q) => num(q[1]) * 100), mode: "lines", name: "borrow APY", line: { color: "#ff5b5b" } },
      { x: pts.map((q) => num(q[0]) * 100), y: pts.map((q) => num(q[2]) * 100), mode: "lines", name: "supply APY", line: { color: "#3fb68b" } },
      { x: [num(p.utilization) * 100, num(p.utilization) * 100], y: [num(p.borrowYearlyRate) * 100, num(p.supplyYearlyRate) * 100],
        mode: "markers", name: "today", marker: { size: 10, color: "#f0b90b" } },
    ], {
      title: { text: `${p.name}: rate vs utilization`, font: { size: 12 } },
      xaxis: { title: { text: "utilization %" }, gridcolor: "#27303a", range: [0, 100] },
      yaxis: { title: { text: "APY %" }, gridcolor: "#27303a" },
      legend: { orientation: "h", y: -0.3 },
    });
  }
}

// ------------------------------------------------------------------ liquidations
async function refreshLiquidations() {
  const data = await info({ type: "liquidations", limit: 200 });
  const by = data.totals.byMethod;
  $("#liq-totals").replaceChildren(el("div", { class: "cards" },
    el("div", { class: "card" }, el("div", { class: "muted" }, "events"), el("div", { class: "big", "data-testid": "liq-count" }, data.totals.count)),
    ...Object.entries(by).map(([m, t]) => el("div", { class: "card", "data-method": m },
      el("div", { class: "muted" }, m), el("div", { class: "big" }, t.count), el("div", { class: "muted" }, fmt(t.notional) + " USDC")))));
  table("#backstops", ["role", "address", "equity (USDC)", "open positions"], data.backstops.map((b) =>
    el("tr", {}, el("td", {}, b.role), el("td", {}, el("a", { href: `?user=${b.address}#account`, onclick: (e) => { e.preventDefault(); setUser(b.address); } }, short(b.address))),
      el("td", { "data-testid": `backstop-${b.role}`, class: num(b.accountValue) < 0 ? "bad" : "" }, fmt(b.accountValue)), el("td", {}, b.openPositions))));
  table("#liq-feed", ["time", "account", "method", "type", "coins", "notional", "mark", "account value"], data.events.map((e) => {
    remember(e.user);
    return el("tr", { "data-testid": "liq-row", "data-user": e.user, "data-method": e.method },
      el("td", {}, time(e.time)),
      el("td", {}, el("a", { href: `?user=${e.user}#account`, onclick: (ev) => { ev.preventDefault(); setUser(e.user); } }, short(e.user))),
      el("td", { class: e.method === "market" ? "warn" : "bad" }, e.method), el("td", {}, e.leverageType || "—"),
      el("td", {}, e.coins.join(", ") || "—"), el("td", {}, fmt(e.notional)), el("td", {}, fmtPx(e.markPx)),
      el("td", {}, e.accountValue === null ? "—" : fmt(e.accountValue)));
  }));
  $("#clock").textContent = "exchange time " + time(data.time);
  const methods = [...new Set(data.events.map((e) => e.method))];
  plot("liq-chart", methods.map((m) => {
    const es = data.events.filter((e) => e.method === m);
    return { type: "scatter", mode: "markers", name: m, x: es.map((e) => new Date(e.time)), y: es.map((e) => num(e.notional)),
      text: es.map((e) => short(e.user)), marker: { size: 8 } };
  }), {
    title: { text: "notional per event (USDC), newest 200", font: { size: 12 } },
    xaxis: { gridcolor: "#27303a", type: "date", visible: data.events.length > 0 },
    yaxis: { gridcolor: "#27303a", rangemode: "tozero", visible: data.events.length > 0 },
    legend: { orientation: "h", y: -0.25 },
    annotations: data.events.length ? [] : [{ text: "no liquidations yet", showarrow: false, xref: "paper", yref: "paper", x: 0.5, y: 0.5 }],
  });
}

// ------------------------------------------------------------------ risk lab
async function refreshRuns() {
  const r = await fetch("/dashboard/runs");
  const data = await r.json();
  $("#runs-dir").textContent = data.dir ? data.dir : "";
  const box = $("#runs");
  if (!data.runs.length) {
    box.replaceChildren(el("div", { class: "note", "data-testid": "runs-empty" },
      el("p", {}, data.dir ? `No runs in ${data.dir} yet.` : "No runs directory was given to the server."),
      el("p", {}, "Make one with ", el("code", {}, "netclear simulate oct-10-2025 --out runs/oct10"),
        " and start the server with ", el("code", {}, "netclear serve --runs runs"), ".")));
    return;
  }
  const fields = [...new Set(data.runs.flatMap((run) => Object.keys(run.summary)))].slice(0, 8);
  box.replaceChildren(table(el("table", { class: "grid" }), ["run", "modified", ...fields, "report"], data.runs.map((run) =>
    el("tr", { "data-run": run.name }, el("td", {}, run.label), el("td", {}, time(run.modified)),
      fields.map((f) => el("td", {}, run.summary[f] === undefined ? "" : typeof run.summary[f] === "number" ? fmt(run.summary[f], 4) : String(run.summary[f]))),
      el("td", {}, run.report ? el("a", { href: `/dashboard/runs/${encodeURIComponent(run.name)}/report.html`, target: "_blank",
        onclick: (e) => { e.preventDefault(); const f = $("#report"); f.hidden = false; f.src = e.currentTarget.getAttribute("href"); } }, "open") : run.error || "—")))));
}

// ------------------------------------------------------------------ panels, refresh and routing
const REFRESH = { markets: refreshMarkets, account: refreshAccount, lending: refreshLending, liquidations: refreshLiquidations, risk: refreshRuns };
const refreshSoon = debounce(() => REFRESH[state.panel](), 400);

function onAnyMessage(channel) {
  // Every committed change reaches some channel; the open panel re-reads /info at most every 400 ms.
  if (channel === "pong" || channel === "subscriptionResponse") return;
  if (state.panel !== "risk") refreshSoon();
}

function show(panel) {
  if (!REFRESH[panel]) panel = "markets";
  state.panel = panel;
  document.querySelectorAll(".panel").forEach((p) => p.classList.toggle("active", p.id === `panel-${panel}`));
  document.querySelectorAll("#tabs a").forEach((a) => a.classList.toggle("active", a.dataset.panel === panel));
  if (location.hash !== `#${panel}`) history.replaceState(null, "", location.pathname + location.search + `#${panel}`);
  REFRESH[panel]().catch(report);
  // plotly sizes charts when they are drawn; redraw those of a panel that was hidden
  if (hasPlotly()) document.querySelectorAll(`#panel-${panel} .js-plotly-plot`).forEach((g) => window.Plotly.Plots.resize(g));
}

async function main() {
  $("#recent-users").replaceChildren(...[...state.recent].map((u) => el("option", { value: u })));
  $("#account-form").addEventListener("submit", (e) => { e.preventDefault(); setUser($("#account-input").value); });
  $("#market-filter").addEventListener("input", debounce(refreshMarkets, 150));
  window.addEventListener("hashchange", () => show(location.hash.slice(1)));
  ws.connect();
  ws.subscribe({ type: "allMids" });
  await loadStatic();
  const user = new URLSearchParams(location.search).get("user");
  if (user) setUser(user);
  else show(location.hash.slice(1) || "markets");
  // a slow fallback for changes no subscribed channel reports (an oracle-only move, time passing)
  setInterval(() => { if (state.panel !== "risk") refreshSoon(); }, 5000);
  if (state.panel !== "markets") refreshMarkets().catch(report); // picks the market for the trades feed
  document.body.dataset.ready = "1";
}

main().catch(report);
