// Offline check of a block proof or of a block's commit certificate, in the browser: the same
// checks, in the same order, as node/ledger/proof.py (`verify_proof`) and consensus/block.py
// (`check_certificate`, `tx_root_of`). Operator names and keys come from genesis, never from
// the proof. tx_root is the Merkle root of one leaf per transaction, sha256(tx_id || sig):
// the header commits to every transaction's signature as well as its body.

import { decode, encode } from "./msgpack.js";
import { concat, DOMAINS, equalBytes, fromHex, sha256, toHex, verify } from "./crypto.js";

const HEADER_FIELDS = ["chain", "height", "prev_hash", "proposer", "time", "tx_root", "view"];

// genesis: {chain_id, operators: [{name, public_key (hex)}]} (a genesis.json or the node's
// /console/genesis.json). -> {ok, reason, signers, votes: [{operator, valid, why}]}
export async function checkCertificate(cert, genesis, blockHashHex, height) {
  const operators = new Map(genesis.operators.map((o) => [o.name, o.public_key]));
  const n = operators.size;
  const quorum = 2 * Math.floor((n - 1) / 3) + 1;
  const votes = [];
  if (!cert || typeof cert !== "object" || !Array.isArray(cert.votes)) {
    return { ok: false, reason: "malformed certificate", votes, quorum, n };
  }
  if (cert.block_hash !== blockHashHex) {
    return { ok: false, reason: "certificate is for another block hash", votes, quorum, n };
  }
  if (cert.height !== height) {
    return { ok: false, reason: "certificate is for another height", votes, quorum, n };
  }
  let message;
  try {
    message = encode({ chain: genesis.chain_id, view: cert.view, height: cert.height,
      block_hash: fromHex(cert.block_hash) });
  } catch {
    return { ok: false, reason: "malformed certificate", votes, quorum, n };
  }
  const seen = new Set();
  let reason = null;
  for (const vote of cert.votes) {
    const entry = { operator: String(vote.operator), valid: false, why: "" };
    votes.push(entry);
    if (!operators.has(vote.operator)) {
      entry.why = "not an operator in genesis";
      reason = reason || `vote from '${vote.operator}', which is not an operator in genesis`;
      continue;
    }
    if (operators.get(vote.operator) !== vote.public_key) {
      entry.why = "key is not its genesis key";
      reason = reason || `vote for '${vote.operator}' carries a key that is not its genesis key`;
      continue;
    }
    if (seen.has(vote.operator)) {
      entry.why = "second vote";
      reason = reason || `two votes from '${vote.operator}'`;
      continue;
    }
    let good = false;
    try {
      good = await verify(fromHex(vote.public_key), DOMAINS.commit, message, fromHex(vote.sig));
    } catch { good = false; }
    if (!good) {
      entry.why = "bad signature";
      reason = reason || `bad signature in the vote of '${vote.operator}'`;
      continue;
    }
    entry.valid = true;
    seen.add(vote.operator);
  }
  if (!reason && seen.size < quorum) {
    reason = `${seen.size} valid votes; a certificate needs ${quorum} (2f+1 of n=${n})`;
  }
  return { ok: reason === null, reason, votes, quorum, n, signers: [...seen] };
}

async function merkleRoot(leaves) {
  if (leaves.length === 0) return new Uint8Array(32);
  let level = leaves;
  while (level.length > 1) {
    const next = [];
    for (let i = 0; i < level.length; i += 2) {
      const right = i + 1 < level.length ? level[i + 1] : level[i];
      const joined = new Uint8Array(64);
      joined.set(level[i], 0);
      joined.set(right, 32);
      next.push(await sha256(joined));
    }
    level = next;
  }
  return level[0];
}

// tx_root of transactions given as ids and signatures (Uint8Arrays), in block order.
async function txRoot(ids, sigs) {
  const leaves = [];
  for (let i = 0; i < ids.length; i++) leaves.push(await sha256(concat(ids[i], sigs[i])));
  return merkleRoot(leaves);
}

// Whether a block's transactions (from GET /v1/blocks: body and sig, hex) are the ones its
// header commits to. -> {ok, reason}
export async function checkTransactions(block) {
  let ids;
  let sigs;
  try {
    ids = [];
    for (const tx of block.transactions) ids.push(await sha256(fromHex(tx.body)));
    sigs = block.transactions.map((tx) => fromHex(tx.sig));
  } catch {
    return { ok: false, reason: "malformed transactions" };
  }
  if (sigs.some((s) => s.length !== 64)) return { ok: false, reason: "a signature is not 64 bytes" };
  const ok = equalBytes(await txRoot(ids, sigs), fromHex(block.header.tx_root));
  return { ok, reason: ok ? null : "the transactions do not hash to the header's tx_root" };
}

function headerJson(header) {
  const out = {};
  for (const [k, v] of Object.entries(header)) out[k] = v instanceof Uint8Array ? toHex(v) : v;
  return out;
}

function sameJson(a, b) {
  if (!a || !b || typeof a !== "object" || typeof b !== "object") return false;
  const ka = Object.keys(a).sort();
  const kb = Object.keys(b).sort();
  return ka.length === kb.length && ka.every((k, i) => k === kb[i] && a[k] === b[k]);
}

// The whole proof check (node/proof.py). -> {ok, reason, height, signers, cert}
export async function verifyProof(genesis, proof) {
  const fail = (reason, extra = {}) => ({ ok: false, reason, ...extra });
  if (!proof || typeof proof !== "object" || Array.isArray(proof)) {
    return fail("malformed proof: a proof is a JSON object");
  }
  for (const name of ["header", "header_bytes", "block_hash", "certificate"]) {
    if (!(name in proof)) return fail(`malformed proof: missing ${name}`);
  }
  let headerBytes;
  let blockHash;
  try {
    headerBytes = fromHex(proof.header_bytes);
    blockHash = fromHex(proof.block_hash);
  } catch {
    return fail("malformed proof: header_bytes and block_hash are hex");
  }
  if (blockHash.length !== 32) return fail("malformed proof: block_hash is 32 bytes");
  let header;
  try {
    header = decode(headerBytes);
    const keys = Object.keys(header).sort();
    if (keys.join() !== HEADER_FIELDS.join()) throw new Error("fields");
    for (const k of ["height", "time", "view"]) {
      if (typeof header[k] !== "number" || header[k] < 0) throw new Error(k);
    }
    if (header.height < 1) throw new Error("height");
    for (const k of ["prev_hash", "tx_root"]) {
      if (!(header[k] instanceof Uint8Array) || header[k].length !== 32) throw new Error(k);
    }
    if (typeof header.chain !== "string" || typeof header.proposer !== "string") {
      throw new Error("strings");
    }
  } catch (error) {
    return fail(`header_bytes do not decode to a block header: ${error.message}`);
  }
  if (!equalBytes(encode(header), headerBytes)) {
    return fail("header_bytes are not the canonical encoding of a header");
  }
  if (!sameJson(headerJson(header), proof.header)) {
    return fail("header does not match header_bytes");
  }
  if (!equalBytes(await sha256(headerBytes), blockHash)) {
    return fail("sha256(header_bytes) is not block_hash");
  }
  if (header.chain !== genesis.chain_id) {
    return fail(`the block is on chain '${header.chain}', not genesis' chain '${genesis.chain_id}'`);
  }
  const cert = await checkCertificate(proof.certificate, genesis, proof.block_hash, header.height);
  if (!cert.ok) return fail(`certificate: ${cert.reason}`, { height: header.height, cert });
  if (proof.tx_ids !== undefined && proof.tx_ids !== null) {
    let ids;
    let sigs;
    try {
      ids = proof.tx_ids.map(fromHex);
      sigs = proof.tx_sigs.map(fromHex);
    } catch {
      return fail("malformed proof: tx_ids and tx_sigs are lists of hex strings");
    }
    if (ids.length !== sigs.length || ids.some((i) => i.length !== 32)
        || sigs.some((s) => s.length !== 64)) {
      return fail("malformed proof: one 32-byte tx_id and one 64-byte sig per transaction");
    }
    if (!equalBytes(await txRoot(ids, sigs), header.tx_root)) {
      return fail("tx_ids and tx_sigs do not hash to the header's tx_root",
        { height: header.height, cert });
    }
  }
  return { ok: true, reason: null, height: header.height, signers: cert.signers, cert,
    view: proof.certificate.view, blockHash: proof.block_hash };
}
