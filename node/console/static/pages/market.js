// Market: a token's quote, order book ladder, trades and a price and volume chart, from the
// `market` contract's queries (PROTOCOL.md, "market"), plus every order with its media and
// origin from /v1/audit/orders for the regulator and the registrar. Refreshed on block events,
// at most every 5 s. A chain without the market contract gets a clear message, not an error.

import { get, query } from "../api.js";
import { priceVolumeChart } from "../chart.js";
import { num, t, time, won } from "../i18n.js";
import { errorBox, esc, learnNames, table, throttle, who } from "../ui.js";

function missing(error) {
  return error && (error.code === "unknown_contract");
}

function ladder(book) {
  const asks = [...book.asks].reverse().map((l) => ({ ...l, side: "ask" }));
  const bids = book.bids.map((l) => ({ ...l, side: "bid" }));
  return table([
    { label: t("asks"), num: true, html: (l) => (l.side === "ask" ? num(l.qty) : "") },
    { label: t("price"), num: true, html: (l) => `<span class="${l.side}">${num(l.price)}</span>` },
    { label: t("bids"), num: true, html: (l) => (l.side === "bid" ? num(l.qty) : "") },
  ], [...asks, ...bids], { cls: "ladder", testid: "ladder" });
}

function quoteBox(q) {
  return `<dl class="kv">
    <dt>${esc(t("last_price"))}</dt><dd><strong>${won(q.last_price)}</strong></dd>
    <dt>${esc(t("reference_price"))}</dt><dd>${won(q.reference_price)}</dd>
    <dt>${esc(t("band"))}</dt><dd>${won(q.band?.low)} – ${won(q.band?.high)}</dd>
    <dt>${esc(t("day_volume"))}</dt><dd>${num(q.day_volume)}</dd>
    <dt>${esc(t("open"))} / ${esc(t("halted"))}</dt><dd>${q.open ? t("yes") : t("no")} / ${q.halted ? `<span class="bad">${esc(t("yes"))}</span>` : t("no")}</dd>
  </dl>`;
}

async function allTrades(symbol) {
  const rows = [];
  let after = 0;
  for (let page = 0; page < 5; page++) {
    const { result } = await query("market", "trades", { symbol, after, limit: 100 });
    rows.push(...result.trades);
    if (result.next === null || result.next === undefined) break;
    after = result.next;
  }
  return rows;
}

async function orders(symbol) {
  try {
    const value = await get(`/v1/audit/orders?symbol=${encodeURIComponent(symbol)}&limit=100`);
    const rows = value.orders || value.items || [];
    await learnNames(rows.flatMap((o) => [o.account, o.broker]));
    return table([
      { label: "id", num: true, text: (o) => o.order_id },
      { label: t("account"), html: (o) => who(o.account) },
      { label: t("side"), text: (o) => o.side },
      { label: t("price"), num: true, text: (o) => num(o.price) },
      { label: t("qty"), num: true, text: (o) => num(o.qty) },
      { label: t("status"), text: (o) => o.status },
      { label: t("code"), text: (o) => o.code || "" },
      { label: t("media"), text: (o) => o.media },
      { label: t("origin"), html: (o) => `<span class="mono">${esc((o.origin || "").slice(0, 12))}</span>` },
    ], rows, { testid: "orders" });
  } catch (error) {
    return errorBox(error);
  }
}

export default {
  async render(root, ctx) {
    const known = JSON.parse(localStorage.getItem("stoledger.symbols") || "[]");
    let symbol = ctx.params[0] || known[0] || "";
    root.innerHTML = `<section class="card"><div class="row"><label>${esc(t("symbol"))}
      <input type="text" id="symbol" value="${esc(symbol)}" size="10"></label>
      <span class="small muted">${known.map((s) => `<a href="#/market/${encodeURIComponent(s)}">${esc(s)}</a>`).join(" · ")}</span></div></section>
      <div id="body"></div>`;
    const body = root.querySelector("#body");
    const draw = async () => {
      if (!symbol) { body.innerHTML = `<p class="muted">${esc(t("symbol"))}?</p>`; return; }
      try {
        const [q, book, trades] = await Promise.all([
          query("market", "quote", { symbol }),
          query("market", "book", { symbol, depth: 10 }),
          allTrades(symbol),
        ]);
        const recent = trades.slice(-60);
        await learnNames(trades.slice(-100).flatMap((x) => [x.buyer, x.seller]));
        body.innerHTML = `<div class="grid">
          <section class="card"><h2>${esc(symbol)} · ${esc(t("order_book"))}</h2>${quoteBox(q.result)}${ladder(book.result)}</section>
          <section class="card"><h2>${esc(t("price_volume"))}</h2>${priceVolumeChart(recent.map((x) => x.price), recent.map((x) => x.qty), { title: t("price") })}</section></div>
          <section class="card"><h2>${esc(t("trades"))} (${num(trades.length)})</h2>${table([
            { label: "id", num: true, text: (x) => x.trade_id },
            { label: t("time"), text: (x) => time(x.time) },
            { label: t("price"), num: true, text: (x) => num(x.price) },
            { label: t("qty"), num: true, text: (x) => num(x.qty) },
            { label: t("buyer"), html: (x) => who(x.buyer) },
            { label: t("seller"), html: (x) => who(x.seller) },
          ], [...trades].reverse().slice(0, 100), { testid: "trades" })}</section>
          <section class="card"><h2>${esc(t("orders"))}</h2>${await orders(symbol)}</section>`;
      } catch (error) {
        body.innerHTML = missing(error)
          ? `<div class="notice" data-testid="market-missing">${esc(t("market_missing"))}</div>`
          : errorBox(error);
      }
    };
    root.querySelector("#symbol").onchange = (e) => { symbol = e.target.value.trim(); draw(); };
    await draw();
    return ctx.onBlock(throttle(draw, 5000));
  },
};
