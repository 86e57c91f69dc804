// Blocks: the latest blocks (refreshed on block events, at most every 5 s), and one block's
// header, transactions with decoded bodies and receipts, and its commit certificate checked
// here in the browser against the genesis keys (proof.js), with who signed.

import { get, open, session } from "../api.js";
import { checkCertificate, checkTransactions } from "../proof.js";
import { num, t, time } from "../i18n.js";
import { errorBox, esc, json, learnNames, short, table, throttle, who } from "../ui.js";

const PAGE = 20;

async function list(root, ctx) {
  let top = null; // null: follow the latest
  const draw = async () => {
    try {
      const latest = top ?? (await open("/v1/status")).height;
      if (latest < 1) { root.innerHTML = `<p class="muted">${esc(t("none"))}</p>`; return; }
      const from = Math.max(1, latest - PAGE + 1);
      const { blocks } = await get(`/v1/blocks?from=${from}&to=${latest}`);
      blocks.reverse();
      root.innerHTML = `<section class="card"><h2>${esc(t("blocks"))}</h2>
        <div class="row"><button id="newer" ${top === null ? "disabled" : ""}>${esc(t("newer"))}</button>
        <button id="older" ${from <= 1 ? "disabled" : ""}>${esc(t("older"))}</button></div>
        ${table([
          { label: t("height"), num: true, html: (b) => `<a href="#/blocks/${b.header.height}">${num(b.header.height)}</a>` },
          { label: t("time"), text: (b) => time(b.header.time) },
          { label: t("proposer"), text: (b) => b.header.proposer },
          { label: t("view"), num: true, text: (b) => b.header.view },
          { label: t("txs"), num: true, text: (b) => num(b.transactions.length) },
          { label: t("signed_by"), text: (b) => b.certificate.votes.map((v) => v.operator).join(", ") },
          { label: t("hash"), html: (b) => `<span class="mono">${esc(short(b.block_hash, 20))}</span>` },
        ], blocks.map((b) => ({ ...b, __attrs: `class="clickable" data-height="${b.header.height}"` })), { testid: "block-list" })}</section>`;
      root.querySelector("#newer").onclick = () => { top = top + PAGE >= latestSeen ? null : top + PAGE; draw(); };
      root.querySelector("#older").onclick = () => { top = from - 1; draw(); };
      root.querySelectorAll("tr.clickable").forEach((tr) => {
        tr.onclick = () => { location.hash = `#/blocks/${tr.dataset.height}`; };
      });
      latestSeen = Math.max(latestSeen, latest);
    } catch (error) {
      root.innerHTML = errorBox(error);
    }
  };
  let latestSeen = 0;
  await draw();
  const refresh = throttle(() => { if (top === null) draw(); }, 5000);
  return ctx.onBlock(refresh);
}

function receiptCell(receipt) {
  if (!receipt) return `<span class="muted">–</span>`;
  const status = receipt.ok ? `<span class="good">${esc(t("ok"))}</span>`
    : `<span class="bad">${esc(t("rejected"))} ${esc(receipt.error?.code)}</span>`;
  const events = receipt.events.map((e) => `<div class="small">${esc(e.contract)}.${esc(e.name)} ${json(e.data)}</div>`).join("");
  return `${status}${receipt.result !== null && receipt.ok ? `<div class="small">${json(receipt.result)}</div>` : ""}${events}`;
}

export async function certificateHtml(block) {
  const check = await checkCertificate(block.certificate, session.genesis, block.block_hash,
    block.header.height);
  const verdict = check.ok
    ? `<span class="verdict good" data-testid="cert-verdict" data-valid="true">✔ ${esc(t("cert_valid"))}: ${check.signers.length} / ${check.n} (${esc(t("signed_by"))} ${esc(check.signers.join(", "))}; 2f+1 = ${check.quorum})</span>`
    : `<span class="verdict bad" data-testid="cert-verdict" data-valid="false">✘ ${esc(t("cert_invalid"))}: ${esc(check.reason)}</span>`;
  const votes = table([
    { label: t("operator"), text: (v) => v.operator },
    { label: t("vote"), html: (v) => (v.valid ? `<span class="good">${esc(t("valid"))}</span>` : `<span class="bad">${esc(t("invalid"))}: ${esc(v.why)}</span>`) },
  ], check.votes, { testid: "cert-votes" });
  const txs = await checkTransactions(block);
  const txVerdict = txs.ok
    ? `<span class="verdict good" data-testid="txs-verdict" data-valid="true">✔ ${esc(t("txs_match"))}</span>`
    : `<span class="verdict bad" data-testid="txs-verdict" data-valid="false">✘ ${esc(t("txs_mismatch"))}: ${esc(txs.reason)}</span>`;
  return `${verdict}<p>${txVerdict}</p><p class="muted small">view ${esc(block.certificate.view)} · ${esc(t("checked_against"))}: ${esc(t("the_node"))} (/console/genesis.json)</p>${votes}`;
}

async function detail(root, height) {
  let block;
  try {
    block = await get(`/v1/blocks/${encodeURIComponent(height)}`);
  } catch (error) {
    root.innerHTML = errorBox(error);
    return;
  }
  const h = block.header;
  const receipts = new Map(block.receipts.map((r) => [r.tx_id, r]));
  const txs = block.transactions.map((tx, i) => ({ ...tx, i, receipt: receipts.get(tx.tx_id) }));
  await learnNames(txs.map((x) => x.decoded?.sender));
  root.innerHTML = `
    <p><a href="#/blocks">← ${esc(t("back"))}</a></p>
    <section class="card"><h2>${esc(t("block"))} ${num(h.height)}</h2>
      <dl class="kv">
        <dt>${esc(t("hash"))}</dt><dd class="mono">${esc(block.block_hash)}</dd>
        <dt>${esc(t("time"))}</dt><dd>${esc(time(h.time))}</dd>
        <dt>${esc(t("proposer"))}</dt><dd>${esc(h.proposer)}</dd>
        <dt>${esc(t("view"))}</dt><dd>${esc(h.view)}</dd>
        <dt>prev_hash</dt><dd class="mono">${esc(h.prev_hash)}</dd>
        <dt>tx_root</dt><dd class="mono">${esc(h.tx_root)}</dd>
        <dt>chain</dt><dd>${esc(h.chain)}</dd>
      </dl></section>
    <section class="card"><h2>${esc(t("certificate"))}</h2><div id="cert">${esc(t("loading"))}</div></section>
    <section class="card"><h2>${esc(t("transactions"))} (${txs.length})</h2>
      ${table([
        { label: "#", num: true, text: (x) => x.i },
        { label: t("tx_id"), html: (x) => `<span class="mono">${esc(short(x.tx_id, 16))}</span>` },
        { label: t("sender"), html: (x) => who(x.decoded?.sender) },
        { label: t("call"), text: (x) => (x.decoded ? `${x.decoded.contract}.${x.decoded.method}` : x.error) },
        { label: t("args"), html: (x) => json(x.decoded?.args) },
        { label: t("result"), html: (x) => receiptCell(x.receipt) },
      ], txs, { testid: "block-txs" })}</section>`;
  root.querySelector("#cert").innerHTML = await certificateHtml(block);
}

export default {
  async render(root, ctx) {
    if (ctx.params[0]) {
      await detail(root, ctx.params[0]);
      return null;
    }
    return list(root, ctx);
  },
};
