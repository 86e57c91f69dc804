// Offerings: a token's public offerings (공모) from the `offering` contract's queries (PROTOCOL.md,
// "offering"): each offering's terms and status, and its book of subscriptions as the issuer,
// the registrar and the regulator see it — the allocation table, in draw order: asked, equal
// share (균등배정), pro-rata share (비례배정), allocated, refunded, and why a subscriber was
// dropped. Then the token's redemptions with each holder's payment and withholding. Anyone
// registered sees the terms; the book and the register are refused (403) to everyone else, and
// the page says so. Refreshed on block events, at most every 5 s.

import { query } from "../api.js";
import { num, t, time, won } from "../i18n.js";
import { errorBox, esc, learnNames, table, throttle, who } from "../ui.js";

const PAGE = 1000; // subscriptions a query answers at most

function terms(o) {
  return `<dl class="kv" data-testid="offering-terms" data-status="${esc(o.status)}">
    <dt>${esc(t("status"))}</dt><dd><strong>${esc(t(`st_${o.status}`))}</strong></dd>
    <dt>${esc(t("offered"))}</dt><dd>${num(o.qty)} × ${won(o.price)}</dd>
    <dt>${esc(t("window"))}</dt><dd>${esc(time(o.start_time))} – ${esc(time(o.end_time))}</dd>
    <dt>${esc(t("per_subscriber"))}</dt><dd>${num(o.min_qty)} – ${num(o.max_qty)}</dd>
    <dt>${esc(t("equal_pool"))}</dt><dd>${(o.equal_bps / 100).toFixed(2)}% (${num(Math.floor(o.qty * o.equal_bps / 10000))})</dd>
    <dt>${esc(t("subscribed"))}</dt><dd>${num(o.subscribed_qty)} (${num(o.subscribers)} ${esc(t("subscribers"))}, ${o.qty ? (o.subscribed_qty / o.qty).toFixed(2) : "–"}×)</dd>
    <dt>${esc(t("allocated"))}</dt><dd>${num(o.allocated_qty)} · ${esc(t("refunded"))} ${won(o.refunded)}</dd>
  </dl>`;
}

async function book(offeringId) {
  const rows = [];
  let after = "";
  for (let page = 0; page < 5; page++) {
    const { result } = await query("offering", "subscriptions", { offering_id: offeringId, after, limit: PAGE });
    rows.push(...result.subscriptions);
    if (result.next === null || result.next === undefined) break;
    after = result.next;
  }
  return rows.sort((a, b) => (a.draw < b.draw ? -1 : 1));
}

function allocationTable(rows) {
  const sum = (f) => rows.reduce((s, r) => s + (f(r) || 0), 0);
  const live = rows.filter((r) => r.status !== "withdrawn");
  const total = {
    account: null, broker: null, qty: sum((r) => (r.status === "withdrawn" ? 0 : r.qty)),
    equal: sum((r) => r.equal), pro_rata: sum((r) => r.pro_rata), allocated: sum((r) => r.allocated),
    refunded: sum((r) => r.refunded), status: `${live.length} ${t("subscribers")}`, code: null,
    __attrs: 'class="total" data-testid="allocation-total"',
  };
  return table([
    { label: t("subscriber"), html: (r) => (r.account ? who(r.account) : `<strong>${esc(t("total"))}</strong>`) },
    { label: t("broker"), html: (r) => (r.broker ? who(r.broker) : "") },
    { label: t("asked"), num: true, text: (r) => num(r.qty) },
    { label: t("equal_share"), num: true, text: (r) => num(r.equal) },
    { label: t("pro_rata_share"), num: true, text: (r) => num(r.pro_rata) },
    { label: t("allocated"), num: true, html: (r) => `<strong>${num(r.allocated)}</strong>` },
    { label: t("refunded"), num: true, text: (r) => won(r.refunded) },
    { label: t("status"), html: (r) => `${esc(r.status)}${r.code ? ` <span class="bad">${esc(r.code)}</span>` : ""}` },
  ], [...rows.map((r) => ({ ...r, __attrs: `data-testid="subscription" data-account="${esc(r.account)}"` })), total],
  { testid: "allocation" });
}

async function offeringCard(o) {
  let inner;
  try {
    const rows = await book(o.offering_id);
    await learnNames(rows.slice(0, 200).map((r) => r.account));
    inner = allocationTable(rows);
  } catch (error) {
    inner = errorBox(error);
  }
  return `<section class="card" data-testid="offering" data-offering="${o.offering_id}">
    <h2>${esc(t("offering"))} ${o.offering_id} · ${esc(o.symbol)}</h2>
    <div class="grid"><div>${terms(o)}</div><div class="small muted">${esc(t("draw_note"))}</div></div>
    <h3>${esc(t("book"))}</h3>${inner}</section>`;
}

async function redemptionCard(r) {
  let detail = "";
  try {
    const full = (await query("offering", "redemption", { redemption_id: r.redemption_id, limit: PAGE })).result;
    if (full.entries) {
      await learnNames(full.entries.slice(0, 200).map((e) => e.account));
      detail = table([
        { label: t("holder"), html: (e) => who(e.account) },
        { label: t("tax_class"), text: (e) => e.class },
        { label: t("units"), num: true, text: (e) => num(e.units) },
        { label: t("gross"), num: true, text: (e) => won(e.gross) },
        { label: t("gain"), num: true, text: (e) => won(e.gain) },
        { label: t("withheld"), num: true, text: (e) => won(e.income_tax + e.local_tax) },
        { label: t("net"), num: true, text: (e) => won(e.net) },
        { label: t("status"), text: (e) => e.status },
      ], full.entries, { testid: "redemption-register" });
    }
  } catch (error) {
    detail = errorBox(error);
  }
  return `<section class="card" data-testid="redemption">
    <h2>${esc(t("redemption"))} ${r.redemption_id} · ${esc(r.symbol)} · ${won(r.price)}</h2>
    <dl class="kv"><dt>${esc(t("status"))}</dt><dd>${esc(r.status)}</dd>
    <dt>${esc(t("record_height"))}</dt><dd>${num(r.record_height)}</dd>
    <dt>${esc(t("holders"))}</dt><dd>${num(r.paid_count)} / ${num(r.holders)}</dd>
    <dt>${esc(t("redeemed"))}</dt><dd>${num(r.burned)}</dd></dl>${detail}</section>`;
}

export default {
  async render(root, ctx) {
    const known = JSON.parse(localStorage.getItem("stoledger.symbols") || "[]");
    let symbol = ctx.params[0] || known[0] || "";
    root.innerHTML = `<section class="card"><div class="row"><label>${esc(t("symbol"))}
      <input type="text" id="symbol" value="${esc(symbol)}" size="10"></label>
      <span class="small muted">${known.map((s) => `<a href="#/offerings/${encodeURIComponent(s)}">${esc(s)}</a>`).join(" · ")}</span></div></section>
      <div id="body"></div>`;
    const body = root.querySelector("#body");
    const draw = async () => {
      if (!symbol) { body.innerHTML = `<p class="muted">${esc(t("symbol"))}?</p>`; return; }
      try {
        const [offerings, redemptions] = await Promise.all([
          query("offering", "offerings", { symbol, limit: 100 }),
          query("offering", "redemptions", { symbol }),
        ]);
        const rows = [...offerings.result.offerings].reverse(); // the latest first
        const cards = await Promise.all(rows.map(offeringCard));
        const redeemed = await Promise.all(redemptions.result.map(redemptionCard));
        body.innerHTML = (cards.join("") || `<p class="muted" data-testid="no-offerings">${esc(t("no_offerings"))}</p>`)
          + redeemed.join("");
      } catch (error) {
        body.innerHTML = errorBox(error);
      }
    };
    root.querySelector("#symbol").onchange = (e) => { symbol = e.target.value.trim(); draw(); };
    await draw();
    return ctx.onBlock(throttle(draw, 5000));
  },
};
