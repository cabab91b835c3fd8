/* Lendgate regulator console: what the browser checks by itself, with WebCrypto only.
 *
 * - Signed tree heads: the gateway's compact JWS (EdDSA) over {tree_size, root_hash,
 *   timestamp}, checked against a JWKS (Ed25519 in SubtleCrypto).
 * - Leaves: RFC 6962 leaf hash SHA-256(0x00 || canonical JSON), recomputed from the content.
 * - Inclusion proofs (RFC 9162 §2.1.3.2) and consistency proofs (§2.1.4.2), nodes hashed
 *   SHA-256(0x01 || left || right).
 *
 * Nothing here trusts a hash the gateway computed: roots are compared with the ones the
 * gateway signed. Every check answers {state: "verified" | "failed" | "unavailable", reason},
 * and "verified" only when every step held.
 */
const LEAF_PREFIX = 0x00;
const NODE_PREFIX = 0x01;
const TREE_HEAD_TYPE = "sth+jwt";
const HEX = /^[0-9a-f]{64}$/;

class Unavailable extends Error {
  constructor(reason) {
    super(reason);
    this.reason = reason;
  }
}

class Failure extends Error {
  constructor(reason, vars) {
    super(reason);
    this.reason = reason;
    this.vars = vars || {};
  }
}

const verified = (details) => Object.assign({ state: "verified", reason: null }, details);
const failed = (reason, vars) => ({ state: "failed", reason, vars: vars || {} });
const unavailable = (reason) => ({ state: "unavailable", reason, vars: {} });

function outcome(error) {
  if (error instanceof Unavailable) return unavailable(error.reason);
  if (error instanceof Failure) return failed(error.reason, error.vars);
  throw error;
}

// SubtleCrypto exists only in secure contexts (HTTPS, or http://127.0.0.1 / localhost).
function subtle() {
  const api = globalThis.crypto && globalThis.crypto.subtle;
  if (!api || globalThis.isSecureContext === false) throw new Unavailable("insecure");
  return api;
}

// ---- bytes -----------------------------------------------------------------------------

function hexToBytes(hex) {
  if (typeof hex !== "string" || !HEX.test(hex)) throw new Failure("proof_shape");
  const bytes = new Uint8Array(hex.length / 2);
  for (let i = 0; i < bytes.length; i += 1) bytes[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return bytes;
}

export function bytesToHex(bytes) {
  return Array.from(bytes, (byte) => byte.toString(16).padStart(2, "0")).join("");
}

function concat(...parts) {
  const out = new Uint8Array(parts.reduce((length, part) => length + part.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

function base64urlToBytes(text) {
  if (typeof text !== "string" || !/^[A-Za-z0-9_-]*$/.test(text)) {
    throw new Failure("malformed");
  }
  const padded = text.replace(/-/g, "+").replace(/_/g, "/") + "===".slice((text.length + 3) % 4);
  let binary;
  try {
    binary = atob(padded);
  } catch (error) {
    throw new Failure("malformed");
  }
  return Uint8Array.from(binary, (char) => char.charCodeAt(0));
}

function base64urlJson(text) {
  try {
    return JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(base64urlToBytes(text)));
  } catch (error) {
    if (error instanceof Failure) throw error;
    throw new Failure("malformed");
  }
}

async function sha256(bytes) {
  return new Uint8Array(await subtle().digest("SHA-256", bytes));
}

async function leafHash(bytes) {
  return sha256(concat(Uint8Array.of(LEAF_PREFIX), bytes));
}

async function nodeHash(left, right) {
  return sha256(concat(Uint8Array.of(NODE_PREFIX), left, right));
}

// ---- canonical JSON (the exact bytes a leaf is hashed over) ------------------------------

// Code point order, as the gateway's json.dumps(sort_keys=True) sorts keys.
function byCodePoint(a, b) {
  const left = Array.from(a);
  const right = Array.from(b);
  for (let i = 0; i < Math.min(left.length, right.length); i += 1) {
    const diff = left[i].codePointAt(0) - right[i].codePointAt(0);
    if (diff) return diff;
  }
  return left.length - right.length;
}

// Sorted keys, no whitespace, non-ASCII kept as UTF-8: what json.dumps(sort_keys=True,
// separators=(",", ":"), ensure_ascii=False) writes. Leaves hold strings, whole numbers,
// lists and nulls; a number JSON.stringify might write differently is refused, not guessed.
export function canonicalJson(value) {
  if (value === null || typeof value === "string" || typeof value === "boolean") {
    return JSON.stringify(value);
  }
  if (typeof value === "number") {
    if (!Number.isSafeInteger(value)) throw new Failure("not_canonical");
    return JSON.stringify(value);
  }
  if (Array.isArray(value)) return "[" + value.map(canonicalJson).join(",") + "]";
  if (typeof value === "object") {
    const keys = Object.keys(value).sort(byCodePoint);
    return (
      "{" +
      keys.map((key) => JSON.stringify(key) + ":" + canonicalJson(value[key])).join(",") +
      "}"
    );
  }
  throw new Failure("not_canonical");
}

export async function leafHashOf(leaf) {
  return bytesToHex(await leafHash(new TextEncoder().encode(canonicalJson(leaf))));
}

// ---- proofs ----------------------------------------------------------------------------

const isOdd = (n) => n % 2 === 1;
const half = (n) => Math.floor(n / 2);

// Arithmetic, not bit operators: those work on 32 bits, tree sizes may not fit.
function isPowerOfTwo(n) {
  let m = n;
  while (m > 1 && !isOdd(m)) m = half(m);
  return m === 1;
}

// RFC 9162 §2.1.3.2: the root `proof` leads to from leaf hash `leafHex` at `index`.
export async function rootFromInclusionProof(index, size, leafHex, proof) {
  if (!Number.isSafeInteger(index) || !Number.isSafeInteger(size) || index < 0 || index >= size) {
    throw new Failure("proof_shape");
  }
  if (!Array.isArray(proof)) throw new Failure("proof_shape");
  let fn = index;
  let sn = size - 1;
  let digest = hexToBytes(leafHex);
  for (const sibling of proof) {
    if (sn === 0) throw new Failure("proof_shape");
    const hash = hexToBytes(sibling);
    if (isOdd(fn) || fn === sn) {
      digest = await nodeHash(hash, digest);
      while (fn !== 0 && !isOdd(fn)) {
        fn = half(fn);
        sn = half(sn);
      }
    } else {
      digest = await nodeHash(digest, hash);
    }
    fn = half(fn);
    sn = half(sn);
  }
  if (sn !== 0) throw new Failure("proof_shape");
  return bytesToHex(digest);
}

export async function verifyInclusion(index, size, leafHex, proof, rootHex) {
  try {
    const computed = await rootFromInclusionProof(index, size, leafHex, proof);
    return computed === rootHex ? verified({ root: computed }) : failed("proof_mismatch");
  } catch (error) {
    return outcome(error);
  }
}

// RFC 9162 §2.1.4.2: the tree of `first` leaves (root firstHex) is a prefix of the tree
// of `second` leaves (root secondHex).
export async function verifyConsistency(first, second, firstHex, secondHex, proof) {
  try {
    if (!Number.isSafeInteger(first) || !Number.isSafeInteger(second) || !Array.isArray(proof)) {
      throw new Failure("proof_shape");
    }
    if (first < 1 || first > second) throw new Failure("proof_shape");
    hexToBytes(firstHex);
    hexToBytes(secondHex);
    if (first === second) {
      if (proof.length) throw new Failure("proof_shape");
      return firstHex === secondHex ? verified({}) : failed("consistency_mismatch");
    }
    const path = proof.map(hexToBytes);
    if (!path.length) throw new Failure("proof_shape");
    // A first tree whose size is a power of two is itself a node of the second tree.
    if (isPowerOfTwo(first)) path.unshift(hexToBytes(firstHex));
    let fn = first - 1;
    let sn = second - 1;
    while (isOdd(fn)) {
      fn = half(fn);
      sn = half(sn);
    }
    let fr = path[0];
    let sr = path[0];
    for (const step of path.slice(1)) {
      if (sn === 0) throw new Failure("consistency_mismatch");
      if (isOdd(fn) || fn === sn) {
        fr = await nodeHash(step, fr);
        sr = await nodeHash(step, sr);
        while (fn !== 0 && !isOdd(fn)) {
          fn = half(fn);
          sn = half(sn);
        }
      } else {
        sr = await nodeHash(sr, step);
      }
      fn = half(fn);
      sn = half(sn);
    }
    const holds = sn === 0 && bytesToHex(fr) === firstHex && bytesToHex(sr) === secondHex;
    return holds ? verified({}) : failed("consistency_mismatch");
  } catch (error) {
    return outcome(error);
  }
}

// ---- signed tree heads -----------------------------------------------------------------

async function importEd25519(jwk) {
  const api = subtle();
  try {
    return await api.importKey(
      "jwk",
      { kty: "OKP", crv: "Ed25519", x: jwk.x },
      { name: "Ed25519" },
      false,
      ["verify"],
    );
  } catch (error) {
    // Browsers without Ed25519 in SubtleCrypto refuse the algorithm by name.
    if (error && error.name === "NotSupportedError") throw new Unavailable("no_ed25519");
    throw new Failure("malformed");
  }
}

// The head's gateway signature, and that its fields are exactly the signed claims.
// Answers the signed claims and the key id, so callers compare against what was signed.
export async function verifyTreeHead(head, jwks) {
  try {
    subtle();
    const parts = typeof head.sth === "string" ? head.sth.split(".") : [];
    if (parts.length !== 3) throw new Failure("malformed");
    const header = base64urlJson(parts[0]);
    const claims = base64urlJson(parts[1]);
    if (!header || typeof header !== "object" || !claims || typeof claims !== "object") {
      throw new Failure("malformed");
    }
    if (header.alg !== "EdDSA") throw new Failure("bad_alg", { alg: String(header.alg) });
    if (header.typ !== TREE_HEAD_TYPE) throw new Failure("bad_type", { typ: String(header.typ) });
    const keys = jwks && Array.isArray(jwks.keys) ? jwks.keys : [];
    const jwk = keys.find(
      (key) => key && key.kid === header.kid && key.kty === "OKP" && key.crv === "Ed25519",
    );
    if (!jwk) throw new Failure("unknown_key", { kid: String(header.kid) });
    const key = await importEd25519(jwk);
    const signed = new TextEncoder().encode(parts[0] + "." + parts[1]);
    const ok = await subtle().verify(
      { name: "Ed25519" },
      key,
      base64urlToBytes(parts[2]),
      signed,
    );
    if (!ok) throw new Failure("bad_signature");
    const fields = ["tree_size", "root_hash", "timestamp"];
    if (fields.some((name) => claims[name] !== head[name])) throw new Failure("claims_mismatch");
    return verified({ claims, kid: header.kid });
  } catch (error) {
    return outcome(error);
  }
}

// ---- one entry, end to end -------------------------------------------------------------

// The entry's content hashes to the leaf hash the log lists; the proof leads from the hash
// computed here (never one the gateway sent) to the root the gateway signed for `head`;
// that signature holds. Each step is reported on its own.
export async function verifyEntry(entry, proof, head, headVerdict) {
  const steps = { leaf: null, proof: null, signature: headVerdict };
  try {
    const computed = await leafHashOf(entry.leaf);
    steps.leaf =
      computed === entry.leaf_hash ? verified({ leafHash: computed }) : failed("leaf_mismatch");
  } catch (error) {
    steps.leaf = outcome(error);
  }
  if (steps.leaf.state !== "verified") {
    steps.proof = { state: "skipped", reason: null, vars: {} };
  } else if (proof.leaf_index !== entry.index || proof.tree_size !== head.tree_size) {
    steps.proof = failed("proof_shape");
  } else {
    // Against the signed root when the signature held; otherwise nothing can be verified.
    const root = headVerdict.state === "verified" ? headVerdict.claims.root_hash : head.root_hash;
    steps.proof = await verifyInclusion(
      entry.index,
      head.tree_size,
      steps.leaf.leafHash,
      proof.inclusion_path,
      root,
    );
  }
  return { overall: combined([steps.leaf, steps.proof, steps.signature]), steps };
}

// Verified only if every check is; otherwise the first failure, else the first gap.
export function combined(checks) {
  const failure = checks.find((check) => check.state === "failed");
  if (failure) return failed(failure.reason, failure.vars);
  const gap = checks.find((check) => check.state !== "verified");
  return gap ? unavailable(gap.reason) : verified({});
}
