// Proof: download a block proof (/v1/audit/proof, regulator) as a JSON file, and check a proof
// file offline, in this page, against genesis (a genesis.json the user gives, or else the
// node's /console/genesis.json): the same checks as `stoledger audit verify` (node/proof.py).

import { get, open, session } from "../api.js";
import { verifyProof } from "../proof.js";
import { num, t } from "../i18n.js";
import { errorBox, esc, table } from "../ui.js";

let uploadedGenesis = null;

function verdict(result, source) {
  const votes = result.cert?.votes ? table([
    { label: t("operator"), text: (v) => v.operator },
    { label: t("vote"), html: (v) => (v.valid ? `<span class="good">${esc(t("valid"))}</span>` : `<span class="bad">${esc(t("invalid"))}: ${esc(v.why)}</span>`) },
  ], result.cert.votes) : "";
  const head = result.ok
    ? `<span class="verdict good" data-testid="proof-verdict" data-valid="true">✔ ${esc(t("proof_valid"))}: ${esc(t("block"))} ${num(result.height)} · ${esc(t("signed_by"))} ${esc(result.signers.join(", "))} (${result.signers.length} / ${result.cert.n}; 2f+1 = ${result.cert.quorum})</span>`
    : `<span class="verdict bad" data-testid="proof-verdict" data-valid="false">✘ ${esc(t("proof_invalid"))}: ${esc(result.reason)}</span>`;
  return `${head}<p class="muted small">${esc(t("checked_against"))}: ${esc(source)}</p>${votes}`;
}

function genesisFor() {
  if (uploadedGenesis) return [uploadedGenesis, `${t("uploaded")} (${uploadedGenesis.chain_id})`];
  return [session.genesis, `${t("the_node")} (${session.genesis.chain_id})`];
}

export default {
  async render(root) {
    const height = (await open("/v1/status")).height;
    root.innerHTML = `
      <section class="card"><h2>${esc(t("download_proof"))}</h2><div class="row">
        <label>${esc(t("height"))} <input type="number" id="height" min="1" max="${height}" value="${height}" class="height-input"></label>
        <button id="download">${esc(t("download_proof"))}</button></div><div id="downloaded"></div></section>
      <section class="card"><h2>${esc(t("verify_file"))}</h2>
        <div class="row"><label>${esc(t("genesis_file"))} <input type="file" id="genesisfile" accept=".json"></label></div>
        <div class="row"><label>${esc(t("proof"))} <input type="file" id="prooffile" accept=".json"></label></div>
        <div id="result"></div></section>`;
    const $ = (sel) => root.querySelector(sel);
    $("#download").onclick = async () => {
      const h = $("#height").value;
      try {
        const proof = await get(`/v1/audit/proof?height=${encodeURIComponent(h)}`);
        const blob = new Blob([JSON.stringify(proof, null, 2)], { type: "application/json" });
        const link = document.createElement("a");
        link.href = URL.createObjectURL(blob);
        link.download = `proof-${session.chainId}-${h}.json`;
        link.click();
        setTimeout(() => URL.revokeObjectURL(link.href), 10_000);
        const [genesis, source] = genesisFor();
        $("#downloaded").innerHTML = `<p>${esc(link.download)}</p>${verdict(await verifyProof(genesis, proof), source)}`;
      } catch (error) {
        $("#downloaded").innerHTML = errorBox(error);
      }
    };
    $("#genesisfile").onchange = async (e) => {
      const file = e.target.files[0];
      if (!file) return;
      try {
        const g = JSON.parse(await file.text());
        if (!g.chain_id || !Array.isArray(g.operators)) throw new Error("not a genesis file");
        uploadedGenesis = { chain_id: g.chain_id, operators: g.operators.map((o) => ({ name: o.name, public_key: o.public_key })) };
      } catch (error) {
        $("#result").innerHTML = errorBox(error);
      }
    };
    $("#prooffile").onchange = async (e) => {
      const file = e.target.files[0];
      e.target.value = "";
      if (!file) return;
      const [genesis, source] = genesisFor();
      let proof;
      try { proof = JSON.parse(await file.text()); } catch {
        $("#result").innerHTML = verdict({ ok: false, reason: "malformed proof: not JSON" }, source);
        return;
      }
      $("#result").innerHTML = `<p>${esc(file.name)}</p>${verdict(await verifyProof(genesis, proof), source)}`;
    };
    return null;
  },
};
