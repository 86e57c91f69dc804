// Canonical msgpack (PROTOCOL.md, "Encoding"): enough to decode a block header and to encode
// the bytes a commit vote signs. Maps have str keys written in UTF-8 byte order; integers only;
// bytes as bin (Uint8Array), text as str. Integers beyond 2^53 decode to BigInt.

const utf8 = new TextEncoder();
const fromUtf8 = new TextDecoder("utf-8", { fatal: true });

export class MsgpackError extends Error {}

function compareBytes(a, b) {
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    if (a[i] !== b[i]) return a[i] - b[i];
  }
  return a.length - b.length;
}

export function encode(value) {
  const out = [];
  const push = (...bytes) => { for (const b of bytes) out.push(b); };
  const pushBytes = (bytes) => { for (const b of bytes) out.push(b); };
  const uint = (n, width) => {
    let big = BigInt(n);
    const bytes = [];
    for (let i = 0; i < width; i++) { bytes.unshift(Number(big & 0xffn)); big >>= 8n; }
    pushBytes(bytes);
  };
  const write = (v) => {
    if (v === null || v === undefined) return push(0xc0);
    if (v === true) return push(0xc3);
    if (v === false) return push(0xc2);
    if (typeof v === "number" || typeof v === "bigint") {
      if (typeof v === "number" && !Number.isInteger(v)) throw new MsgpackError("no floats");
      const n = BigInt(v);
      if (n >= 0n) {
        if (n < 128n) return push(Number(n));
        if (n < 256n) { push(0xcc); return uint(n, 1); }
        if (n < 65536n) { push(0xcd); return uint(n, 2); }
        if (n < 4294967296n) { push(0xce); return uint(n, 4); }
        push(0xcf); return uint(n, 8);
      }
      if (n >= -32n) return push(Number(n + 256n));
      if (n >= -128n) { push(0xd0); return uint(n + 256n, 1); }
      if (n >= -32768n) { push(0xd1); return uint(n + 65536n, 2); }
      if (n >= -2147483648n) { push(0xd2); return uint(n + 4294967296n, 4); }
      push(0xd3); return uint(n + 18446744073709551616n, 8);
    }
    if (typeof v === "string") {
      const b = utf8.encode(v);
      if (b.length < 32) push(0xa0 | b.length);
      else if (b.length < 256) { push(0xd9); uint(b.length, 1); }
      else if (b.length < 65536) { push(0xda); uint(b.length, 2); }
      else { push(0xdb); uint(b.length, 4); }
      return pushBytes(b);
    }
    if (v instanceof Uint8Array) {
      if (v.length < 256) { push(0xc4); uint(v.length, 1); }
      else if (v.length < 65536) { push(0xc5); uint(v.length, 2); }
      else { push(0xc6); uint(v.length, 4); }
      return pushBytes(v);
    }
    if (Array.isArray(v)) {
      if (v.length < 16) push(0x90 | v.length);
      else if (v.length < 65536) { push(0xdc); uint(v.length, 2); }
      else { push(0xdd); uint(v.length, 4); }
      return v.forEach(write);
    }
    if (typeof v === "object") {
      const keys = Object.keys(v).map((k) => [utf8.encode(k), k]);
      keys.sort((a, b) => compareBytes(a[0], b[0]));
      if (keys.length < 16) push(0x80 | keys.length);
      else if (keys.length < 65536) { push(0xde); uint(keys.length, 2); }
      else { push(0xdf); uint(keys.length, 4); }
      for (const [, k] of keys) { write(k); write(v[k]); }
      return;
    }
    throw new MsgpackError(`cannot encode ${typeof v}`);
  };
  write(value);
  return new Uint8Array(out);
}

export function decode(bytes) {
  let pos = 0;
  const need = (n) => {
    if (pos + n > bytes.length) throw new MsgpackError("truncated");
  };
  const uint = (width) => {
    need(width);
    let n = 0n;
    for (let i = 0; i < width; i++) n = (n << 8n) | BigInt(bytes[pos++]);
    return n;
  };
  const int = (n) => (n >= BigInt(Number.MIN_SAFE_INTEGER) && n <= BigInt(Number.MAX_SAFE_INTEGER)
    ? Number(n) : n);
  const take = (n) => { need(n); const b = bytes.slice(pos, pos + n); pos += n; return b; };
  const str = (n) => {
    try { return fromUtf8.decode(take(n)); } catch (e) {
      if (e instanceof MsgpackError) throw e;
      throw new MsgpackError("bad UTF-8");
    }
  };
  const array = (n) => { const a = []; for (let i = 0; i < n; i++) a.push(read()); return a; };
  const map = (n) => {
    const m = {};
    for (let i = 0; i < n; i++) {
      const k = read();
      if (typeof k !== "string") throw new MsgpackError("map keys are strings");
      if (Object.prototype.hasOwnProperty.call(m, k)) throw new MsgpackError("duplicate key");
      m[k] = read();
    }
    return m;
  };
  const read = () => {
    need(1);
    const b = bytes[pos++];
    if (b < 0x80) return b;
    if (b >= 0xe0) return b - 256;
    if ((b & 0xf0) === 0x80) return map(b & 0x0f);
    if ((b & 0xf0) === 0x90) return array(b & 0x0f);
    if ((b & 0xe0) === 0xa0) return str(b & 0x1f);
    switch (b) {
      case 0xc0: return null;
      case 0xc2: return false;
      case 0xc3: return true;
      case 0xc4: return take(Number(uint(1)));
      case 0xc5: return take(Number(uint(2)));
      case 0xc6: return take(Number(uint(4)));
      case 0xcc: return int(uint(1));
      case 0xcd: return int(uint(2));
      case 0xce: return int(uint(4));
      case 0xcf: return int(uint(8));
      case 0xd0: { const n = uint(1); return int(n >= 128n ? n - 256n : n); }
      case 0xd1: { const n = uint(2); return int(n >= 1n << 15n ? n - (1n << 16n) : n); }
      case 0xd2: { const n = uint(4); return int(n >= 1n << 31n ? n - (1n << 32n) : n); }
      case 0xd3: { const n = uint(8); return int(n >= 1n << 63n ? n - (1n << 64n) : n); }
      case 0xd9: return str(Number(uint(1)));
      case 0xda: return str(Number(uint(2)));
      case 0xdb: return str(Number(uint(4)));
      case 0xdc: return array(Number(uint(2)));
      case 0xdd: return array(Number(uint(4)));
      case 0xde: return map(Number(uint(2)));
      case 0xdf: return map(Number(uint(4)));
      default: throw new MsgpackError(`type byte 0x${b.toString(16)} is not allowed`);
    }
  };
  const value = read();
  if (pos !== bytes.length) throw new MsgpackError("trailing bytes");
  return value;
}
