// Network: every node of genesis (status and readiness, public routes, every 6 s), the live
// block stream of this node, and commit rate and latency from this node's /metrics.
// Idle cost: (2 x nodes + 1) requests per 6 s, about 1.5 requests/s for four nodes.

import { open, session } from "../api.js";
import { lineChart } from "../chart.js";
import { num, t, time } from "../i18n.js";
import { esc, short, table } from "../ui.js";

const POLL_MS = 6000;
const SAMPLES = 40;
const samples = []; // [{at, committed, latencySum, latencyCount}] kept across visits

function metricValue(text, name) {
  const match = new RegExp(`^${name} ([0-9.eE+-]+)$`, "m").exec(text);
  return match ? Number(match[1]) : null;
}

async function nodeStatus(node) {
  const base = node.rpc.replace(/\/$/, "");
  // this node by path (same origin), the others by URL (CORS on the public routes)
  const url = base === location.origin ? "" : base;
  try {
    const [status, ready] = await Promise.all([
      open(`${url}/v1/status`),
      open(`${url}/readyz`, { allowError: true }),
    ]);
    return { ...node, status, ready: ready.value.ready === true };
  } catch (error) {
    return { ...node, error: error.message };
  }
}

function statusTable(rows) {
  return table([
    { label: t("node"), html: (r) => `<strong>${esc(r.name)}</strong> <span class="muted small">${esc(r.kind)}</span>` },
    { label: t("height"), num: true, html: (r) => (r.status ? `<span data-testid="node-height">${num(r.status.height)}</span>` : `<span class="bad">${esc(t("down"))}</span>`) },
    { label: t("view"), num: true, text: (r) => r.status?.view ?? "–" },
    { label: t("primary"), text: (r) => r.status?.primary ?? "–" },
    { label: t("peers"), text: (r) => (r.status ? `${r.status.peers.length}: ${r.status.peers.join(", ")}` : "–") },
    { label: t("ready"), html: (r) => (r.status ? (r.ready ? `<span class="good">${esc(t("yes"))}</span>` : `<span class="bad">${esc(t("no"))}</span>`) : "–") },
    { label: t("mempool"), num: true, text: (r) => (r.status ? num(r.status.mempool_size) : "–") },
    { label: t("last_hash"), html: (r) => `<span class="mono">${esc(short(r.status?.last_block_hash, 16))}</span>` },
  ], rows.map((r) => ({ ...r, __attrs: `data-node="${esc(r.name)}"` })), { testid: "nodes" });
}

function summary(rows) {
  const heights = rows.filter((r) => r.status).map((r) => r.status.height);
  if (heights.length === rows.length && new Set(heights).size === 1) {
    return `<p class="good" data-testid="height-summary" data-height="${heights[0]}">${esc(t("all_at_height"))} ${num(heights[0])} (${rows.length})</p>`;
  }
  return `<p class="warn" data-testid="height-summary">${esc(t("heights_differ"))}: ${heights.map(num).join(" / ")}</p>`;
}

function charts() {
  const rates = [];
  const latencies = [];
  for (let i = 1; i < samples.length; i++) {
    const a = samples[i - 1];
    const b = samples[i];
    const seconds = (b.at - a.at) / 1000;
    if (seconds <= 0 || b.committed === null || a.committed === null) continue;
    rates.push(Math.max(0, (b.committed - a.committed) / seconds));
    const count = b.latencyCount - a.latencyCount;
    latencies.push(count > 0 ? ((b.latencySum - a.latencySum) / count) * 1000 : 0);
  }
  return `<div class="grid"><div>${lineChart(rates, { title: t("commit_rate") })}</div><div>${lineChart(latencies, { title: t("latency") })}</div></div>`;
}

export default {
  async render(root, ctx) {
    const nodes = [
      ...session.genesis.operators.map((o) => ({ ...o, kind: "operator" })),
      ...session.genesis.observers.map((o) => ({ ...o, kind: "observer" })),
    ];
    const live = [];
    root.innerHTML = `
      <section class="card"><h2>${esc(t("network"))} · ${esc(session.chainId)} · n=${session.genesis.n}, f=${session.genesis.f}</h2>
        <div id="summary"></div><div id="nodes"></div></section>
      <div class="grid">
        <section class="card"><h2>${esc(t("commit_rate"))} · ${esc(t("latency"))}</h2><div id="charts"></div></section>
        <section class="card"><h2>${esc(t("live_blocks"))}</h2><div id="live"></div></section>
      </div>`;
    const drawLive = () => {
      const el = root.querySelector("#live");
      if (!el) return;
      if (!session.key) { el.innerHTML = `<p class="muted">${esc(t("stream_needs_key"))}</p>`; return; }
      el.innerHTML = table([
        { label: t("height"), num: true, html: (b) => `<a href="#/blocks/${b.height}">${num(b.height)}</a>` },
        { label: t("txs"), num: true, text: (b) => num(b.txs) },
        { label: t("hash"), html: (b) => `<span class="mono">${esc(short(b.hash, 16))}</span>` },
        { label: t("time"), text: (b) => time(b.seen) },
      ], live, { testid: "live-blocks" });
    };
    const poll = async () => {
      const [rows, metrics] = await Promise.all([
        Promise.all(nodes.map(nodeStatus)),
        open("/metrics", { text: true }).catch(() => null),
      ]);
      if (metrics) {
        samples.push({ at: Date.now(), committed: metricValue(metrics, "stoledger_txs_committed_total"),
          latencySum: metricValue(metrics, "stoledger_commit_latency_seconds_sum") || 0,
          latencyCount: metricValue(metrics, "stoledger_commit_latency_seconds_count") || 0 });
        while (samples.length > SAMPLES) samples.shift();
      }
      if (!root.isConnected) return;
      root.querySelector("#summary").innerHTML = summary(rows);
      root.querySelector("#nodes").innerHTML = statusTable(rows);
      root.querySelector("#charts").innerHTML = charts();
    };
    await poll();
    drawLive();
    const timer = setInterval(poll, POLL_MS);
    const off = ctx.onBlock((block) => {
      live.unshift({ ...block, seen: Date.now() });
      live.length = Math.min(live.length, 10);
      drawLive();
    });
    return () => { clearInterval(timer); off(); };
  },
};
