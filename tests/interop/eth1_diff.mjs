// Differential test: Sigil's eth1 signing core (eth1_driver, JSON lines) against ethers v6.
// Random transactions of every type 0-4 (legacy with and without EIP-155, access lists, EIP-1559,
// EIP-4844 without sidecar, EIP-7702 with authorizations signed by both sides), random EIP-712
// documents (nested structs, arrays of structs, fixed and multi-dimensional arrays, every
// int/uint/bytesN width with edge values, optional EIP712Domain) and personal_sign messages are
// signed by both; every byte must match. Hostile variants must be refused with an error.
// Seed: SIGIL_ETH1_SEED (default 1); counts: SIGIL_ETH1_TX (1000 per type), SIGIL_ETH1_TYPED (400).
import { spawnSync } from 'node:child_process';
import { Wallet, Transaction, TypedDataEncoder, getAddress, hexlify, toQuantity, hashMessage } from 'ethers';

const driver = process.env.SIGIL_ETH1_DRIVER;
if (!driver) {
  console.error('SIGIL_ETH1_DRIVER not set');
  process.exit(2);
}
const N_TX = Number(process.env.SIGIL_ETH1_TX || 1000);
const N_TYPED = Number(process.env.SIGIL_ETH1_TYPED || 400);

// sfc32, seeded: failures reproduce from the seed.
let a = 0x9e3779b9, b = 0x243f6a88, c = 0xb7e15162, d = Number(process.env.SIGIL_ETH1_SEED || 1) >>> 0;
function rnd32() {
  a >>>= 0; b >>>= 0; c >>>= 0; d >>>= 0;
  const t = (a + b) | 0; a = b ^ (b >>> 9); b = (c + (c << 3)) | 0; c = (c << 21) | (c >>> 11);
  d = (d + 1) | 0; const r = (t + d) | 0; c = (c + r) | 0; return r >>> 0;
}
for (let i = 0; i < 32; i++) rnd32();
const rint = (n) => rnd32() % n;
const chance = (p) => rnd32() / 2 ** 32 < p;
const bytes = (n) => { const u = new Uint8Array(n); for (let i = 0; i < n; i++) u[i] = rint(256); return u; };
const hexBytes = (n) => hexlify(bytes(n));
const bigOf = (nbytes) => (nbytes === 0 ? 0n : BigInt(hexlify(bytes(nbytes))));
const randQty = (maxBytes) => bigOf(rint(maxBytes + 1));
const randAddr = () => getAddress(hexBytes(20));
const randAddrCase = () => { const x = randAddr(); const k = rint(3); return k === 0 ? x : k === 1 ? x.toLowerCase() : x; };
function randKey() { for (;;) { const k = hexBytes(32); try { return new Wallet(k); } catch { /* out of range */ } } }

const requests = [];
const checks = [];
function ask(req, check) { requests.push(JSON.stringify(req)); checks.push(check); }

const counts = {};
const bump = (k) => { counts[k] = (counts[k] || 0) + 1; };
const failures = [];
const fail = (what, detail) => { if (failures.length < 20) failures.push(`${what}: ${detail}`); else failures.length++; };

// ---- transactions ----
function randAccessList() {
  const n = rint(4);
  const out = [];
  for (let i = 0; i < n; i++) {
    const keys = [];
    for (let k = rint(4); k > 0; k--) keys.push(hexBytes(32));
    out.push({ address: randAddr(), storageKeys: keys });
  }
  return out;
}

function genTx(type) {
  const w = randKey();
  const chainId = chance(0.2) ? 1n : BigInt(1 + rint(0xffffffff));
  const fields = {
    type, nonce: Number(randQty(6) % 2n ** 53n), gasLimit: randQty(8), value: randQty(32),
    data: hexBytes(chance(0.3) ? 0 : rint(chance(0.1) ? 2000 : 80)),
  };
  const preEip155 = type === 0 && chance(0.3);
  if (!preEip155) fields.chainId = chainId;
  if (type >= 3 || !chance(0.15)) fields.to = randAddr();
  if (type <= 1) fields.gasPrice = randQty(32);
  else {
    const maxFee = randQty(32);
    fields.maxFeePerGas = maxFee;
    fields.maxPriorityFeePerGas = maxFee === 0n ? 0n : BigInt(hexlify(bytes(32))) % (maxFee + 1n);
  }
  if (type >= 1) fields.accessList = randAccessList();
  if (type === 3) {
    fields.maxFeePerBlobGas = randQty(32);
    fields.blobVersionedHashes = Array.from({ length: 1 + rint(6) }, () => '0x01' + hexBytes(31).slice(2));
  }
  const authJson = [];
  if (type === 4) {
    fields.authorizationList = [];
    for (let i = 1 + rint(3); i > 0; i--) {
      const signer = randKey();
      const req = { address: randAddr(), nonce: randQty(8) % 2n ** 64n, chainId: chance(0.3) ? 0n : chainId };
      const auth = signer.authorizeSync(req);
      fields.authorizationList.push(auth);
      authJson.push({
        chainId: toQuantity(auth.chainId), address: randCase(auth.address), nonce: toQuantity(auth.nonce),
        yParity: toQuantity(auth.signature.yParity), r: toQuantity(auth.signature.r), s: toQuantity(auth.signature.s),
      });
      // Sigil signs the same tuple with the same key: RFC 6979 makes the signatures equal.
      ask({ op: 'auth', key: signer.privateKey, chainId: toQuantity(req.chainId), address: req.address, nonce: toQuantity(req.nonce) },
        (res) => {
          bump('auth');
          if (res.error) return fail('auth', res.detail);
          if (BigInt(res.r) !== BigInt(auth.signature.r) || BigInt(res.s) !== BigInt(auth.signature.s) || res.yParity !== auth.signature.yParity)
            fail('auth', `signature differs for ${JSON.stringify(req, (k, v) => (typeof v === 'bigint' ? v.toString() : v))}`);
        });
    }
  }
  const tx = Transaction.from(fields);
  tx.signature = w.signingKey.sign(tx.unsignedHash);
  const want = tx.serialized;
  // eth_signTransaction JSON for Sigil
  const j = { type: toQuantity(type), nonce: toQuantity(fields.nonce), gas: toQuantity(fields.gasLimit), value: toQuantity(fields.value) };
  if (chance(0.5)) j.input = fields.data; else j.data = fields.data;
  if (chance(0.5)) j.from = chance(0.5) ? w.address : w.address.toLowerCase();
  if (fields.chainId !== undefined) j.chainId = toQuantity(fields.chainId);
  if (fields.to) j.to = randCase(fields.to);
  if (type <= 1) j.gasPrice = toQuantity(fields.gasPrice);
  else { j.maxFeePerGas = toQuantity(fields.maxFeePerGas); j.maxPriorityFeePerGas = toQuantity(fields.maxPriorityFeePerGas); }
  if (type >= 1) j.accessList = fields.accessList;
  if (type === 3) { j.maxFeePerBlobGas = toQuantity(fields.maxFeePerBlobGas); j.blobVersionedHashes = fields.blobVersionedHashes; }
  if (type === 4) j.authorizationList = authJson;
  const label = type === 0 ? (preEip155 ? 'tx0-legacy' : 'tx0-eip155') : `tx${type}`;
  ask({ op: 'tx', key: w.privateKey, tx: j }, (res) => {
    bump(label);
    if (res.error) return fail(label, `${res.error}: ${res.detail}`);
    if (res.raw !== want) fail(label, `raw differs\n  sigil  ${res.raw.slice(0, 200)}\n  ethers ${want.slice(0, 200)}`);
  });
  ask({ op: 'decode', raw: want }, (res) => {
    bump('decode');
    if (res.error) return fail('decode', `${label}: ${res.detail}`);
    if (getAddress(res.sender) !== w.address) fail('decode', `${label}: sender differs`);
  });
  return { j, w };
}
function randCase(addr) { return chance(0.5) ? addr : addr.toLowerCase(); }

const hostileBase = [];
for (let type = 0; type <= 4; type++) {
  for (let i = 0; i < N_TX; i++) {
    const t = genTx(type);
    if (i < 3) hostileBase.push(t);
  }
}

// ---- hostile transactions: each must be refused ----
function hostile(name, j, w) {
  ask({ op: 'tx', key: w.privateKey, tx: j }, (res) => {
    bump('hostile');
    if (!res.error) fail('hostile', `${name} was signed`);
  });
}
for (const { j, w } of hostileBase) {
  const t = Number(j.type);
  hostile('leading zero nonce', { ...j, nonce: '0x0' + j.nonce.slice(2) }, w);
  hostile('bad hex value', { ...j, value: '0xzz' }, w);
  hostile('no 0x', { ...j, gas: j.gas.slice(2) || '0' }, w);
  hostile('nonce over 64 bits', { ...j, nonce: '0x10000000000000000' }, w);
  hostile('value over 256 bits', { ...j, value: '0x1' + '0'.repeat(64) }, w);
  hostile('bad checksum', { ...j, to: '0x' + 'aB'.repeat(20) }, w);
  hostile('short address', { ...j, to: '0x1234' }, w);
  hostile('odd data', { ...j, data: '0x123', input: undefined }, w);
  hostile('unknown field', { ...j, foo: '0x1' }, w);
  hostile('wrong from', { ...j, from: randAddr() }, w);
  hostile('type 5', { ...j, type: '0x5' }, w);
  if (t >= 2) hostile('gasPrice on 1559', { ...j, gasPrice: '0x1' }, w);
  if (t <= 1) hostile('maxFeePerGas on legacy', { ...j, maxFeePerGas: '0x1' }, w);
  if (t === 3) {
    hostile('blob tx without to', { ...j, to: undefined }, w);
    hostile('too many blobs', { ...j, blobVersionedHashes: Array(17).fill(j.blobVersionedHashes[0]) }, w);
    hostile('blob version 0', { ...j, blobVersionedHashes: ['0x00' + '11'.repeat(31)] }, w);
  }
  if (t === 4) hostile('empty authorizationList', { ...j, authorizationList: [] }, w);
  if (t >= 1) {
    hostile('huge access list', { ...j, accessList: Array(1025).fill({ address: randAddr(), storageKeys: [] }) }, w);
    hostile('missing chainId', { ...j, chainId: undefined }, w);
  }
  hostile('huge data', { ...j, data: '0x' + '00'.repeat(128 * 1024 + 1), input: undefined }, w);
}

// ---- EIP-712 ----
const BASES = ['address', 'bool', 'string', 'bytes', 'bytesN', 'uintN', 'intN'];
function randAtomic() {
  const b = BASES[rint(BASES.length)];
  if (b === 'bytesN') return `bytes${1 + rint(32)}`;
  if (b === 'uintN') return `uint${8 * (1 + rint(32))}`;
  if (b === 'intN') return `int${8 * (1 + rint(32))}`;
  return b;
}
function randSuffix() {
  let s = '';
  const dims = chance(0.3) ? 1 + rint(2) : 0;
  for (let i = 0; i < dims; i++) s += chance(0.5) ? '[]' : `[${1 + rint(3)}]`;
  return s;
}
const UNI = ['a', 'Z', ' ', 'é', '🚀', '中', '\u0000'.slice(1), '"', '\\', 'ß'];
function randIntValue(bits, signed) {
  const max = signed ? 2n ** BigInt(bits - 1) - 1n : 2n ** BigInt(bits) - 1n;
  const min = signed ? -(2n ** BigInt(bits - 1)) : 0n;
  const k = rint(6);
  let v = k === 0 ? max : k === 1 ? min : k === 2 ? 0n : BigInt(hexlify(bytes(bits / 8))) % (max + 1n);
  if (k >= 3 && signed && chance(0.5)) v = -v;
  if (v > max) v = max;
  if (v < min) v = min;
  const f = rint(3);
  if (f === 0 && v <= 2n ** 53n - 1n && v >= -(2n ** 53n - 1n)) return Number(v);
  if (f === 1) return (v < 0n ? '-0x' + (-v).toString(16) : '0x' + v.toString(16));
  return v.toString();
}
function randValue(type, types) {
  const m = type.match(/^(.*)\[(\d*)\]$/);
  if (m) {
    const n = m[2] === '' ? rint(4) : Number(m[2]);
    return Array.from({ length: n }, () => randValue(m[1], types));
  }
  if (types[type]) {
    const o = {};
    for (const f of types[type]) o[f.name] = randValue(f.type, types);
    return o;
  }
  if (type === 'address') return randAddrCase();
  if (type === 'bool') return chance(0.5);
  if (type === 'string') { let s = ''; for (let i = rint(12); i > 0; i--) s += UNI[rint(UNI.length)]; return s; }
  if (type === 'bytes') return hexBytes(rint(70));
  let mm = type.match(/^bytes(\d+)$/);
  if (mm) return hexBytes(Number(mm[1]));
  mm = type.match(/^(u?)int(\d+)$/);
  return randIntValue(Number(mm[2]), mm[1] === '');
}
function genTyped() {
  const ns = 1 + rint(4);
  const names = Array.from({ length: ns }, (_, i) => `S${rint(1000)}x${i}`);
  const types = {};
  for (let i = 0; i < ns; i++) {
    const fields = [];
    for (let k = 1 + rint(5); k > 0; k--) {
      const ref = i + 1 < ns && chance(0.3) ? names[i + 1 + rint(ns - i - 1)] : randAtomic();
      fields.push({ name: `f${fields.length}_${rint(100)}`, type: ref + randSuffix() });
    }
    types[names[i]] = fields;
  }
  // every struct must be reachable from the primary type (ethers refuses unused types)
  for (let j = 1; j < ns; j++) {
    const used = Object.values(types).some((fs) => fs.some((f) => f.type.replace(/\[.*$/, '') === names[j]));
    if (!used) types[names[rint(j)]].push({ name: `r${j}`, type: names[j] + (chance(0.3) ? '[]' : '') });
  }
  const domain = {};
  if (chance(0.7)) domain.name = 'Dapp ' + rint(100) + (chance(0.3) ? ' 🚀' : '');
  if (chance(0.6)) domain.version = String(rint(10));
  if (chance(0.7)) domain.chainId = chance(0.5) ? 1 + rint(100000) : toQuantity(BigInt(hexBytes(8)));
  if (chance(0.6)) domain.verifyingContract = randAddrCase();
  if (chance(0.3)) domain.salt = hexBytes(32);
  const message = randValue(names[0], types);
  return { types, primaryType: names[0], domain, message };
}
function withDomainType(doc) {
  const order = [['name', 'string'], ['version', 'string'], ['chainId', 'uint256'], ['verifyingContract', 'address'], ['salt', 'bytes32']];
  return { ...doc, types: { EIP712Domain: order.filter(([n]) => n in doc.domain).map(([name, type]) => ({ name, type })), ...doc.types } };
}
for (let i = 0; i < N_TYPED; i++) {
  const doc = genTyped();
  const w = randKey();
  let digest;
  try {
    digest = TypedDataEncoder.hash(doc.domain, doc.types, doc.message);
  } catch (e) {
    bump('typed-skipped-by-ethers');
    continue;
  }
  const sig = w.signingKey.sign(digest).serialized;
  const sent = chance(0.5) ? withDomainType(doc) : doc;
  ask({ op: 'typed', key: w.privateKey, doc: sent }, (res) => {
    bump('typed');
    if (res.error) return fail('typed', `${res.detail} in ${JSON.stringify(sent).slice(0, 300)}`);
    if (res.digest !== digest) fail('typed', `digest differs for ${JSON.stringify(sent).slice(0, 400)}`);
    else if (res.sig !== sig) fail('typed', 'signature differs');
  });
}
// hostile typed data
const mail = {
  types: { Person: [{ name: 'name', type: 'string' }, { name: 'wallet', type: 'address' }],
    Mail: [{ name: 'from', type: 'Person' }, { name: 'to', type: 'Person' }, { name: 'contents', type: 'string' }] },
  primaryType: 'Mail', domain: { name: 'Ether Mail', version: '1', chainId: 1 },
  message: { from: { name: 'Cow', wallet: randAddr() }, to: { name: 'Bob', wallet: randAddr() }, contents: 'Hello' },
};
const k0 = randKey().privateKey;
const typedHostile = (name, doc) => ask({ op: 'typed', key: k0, doc }, (res) => { bump('hostile'); if (!res.error) fail('hostile', `${name} was signed`); });
typedHostile('missing field', { ...mail, message: { ...mail.message, contents: undefined } });
typedHostile('extra field', { ...mail, message: { ...mail.message, extra: 1 } });
typedHostile('unknown type', { ...mail, types: { ...mail.types, Mail: [{ name: 'x', type: 'Nope' }] }, message: { x: 1 } });
typedHostile('uint8 overflow', { types: { T: [{ name: 'v', type: 'uint8' }] }, primaryType: 'T', domain: {}, message: { v: 256 } });
typedHostile('int8 underflow', { types: { T: [{ name: 'v', type: 'int8' }] }, primaryType: 'T', domain: {}, message: { v: '-129' } });
typedHostile('negative uint', { types: { T: [{ name: 'v', type: 'uint256' }] }, primaryType: 'T', domain: {}, message: { v: '-1' } });
typedHostile('uint256 overflow', { types: { T: [{ name: 'v', type: 'uint256' }] }, primaryType: 'T', domain: {}, message: { v: '0x1' + '0'.repeat(64) } });
typedHostile('bytes4 length', { types: { T: [{ name: 'v', type: 'bytes4' }] }, primaryType: 'T', domain: {}, message: { v: '0x001122' } });
typedHostile('fixed array length', { types: { T: [{ name: 'v', type: 'bool[2]' }] }, primaryType: 'T', domain: {}, message: { v: [true] } });
typedHostile('huge array', { types: { T: [{ name: 'v', type: 'bool[]' }] }, primaryType: 'T', domain: {}, message: { v: Array(1025).fill(true) } });
typedHostile('bad address', { types: { T: [{ name: 'v', type: 'address' }] }, primaryType: 'T', domain: {}, message: { v: '0x' + 'aB'.repeat(20) } });
typedHostile('unknown domain field', { types: { T: [{ name: 'v', type: 'bool' }] }, primaryType: 'T', domain: { evil: 1 }, message: { v: true } });
let deep = { v: true };
const deepTypes = { T0: [{ name: 'v', type: 'bool' }] };
for (let i = 1; i < 40; i++) { deepTypes[`T${i}`] = [{ name: 'n', type: `T${i - 1}` }]; deep = { n: deep }; }
typedHostile('deep nesting', { types: deepTypes, primaryType: 'T39', domain: {}, message: deep });
const rec = { types: { N: [{ name: 'next', type: 'N[]' }] }, primaryType: 'N', domain: {}, message: { next: [] } };
let cur = rec.message; for (let i = 0; i < 40; i++) { const n = { next: [] }; cur.next.push(n); cur = n; }
typedHostile('recursive depth', rec);

// ---- personal_sign ----
for (let i = 0; i < 100; i++) {
  const w = randKey();
  const msg = bytes(rint(300));
  const want = w.signingKey.sign(hashMessage(msg)).serialized;
  ask({ op: 'personal', key: w.privateKey, msg: hexlify(msg) }, (res) => {
    bump('personal');
    if (res.error || res.sig !== want) fail('personal', res.error ? res.detail : 'signature differs');
  });
}

// ---- run ----
const run = spawnSync(driver, [], { input: requests.join('\n') + '\n', encoding: 'utf8', maxBuffer: 1 << 30 });
if (run.status !== 0) {
  console.error('driver failed', run.status, run.stderr);
  process.exit(1);
}
const lines = run.stdout.trim().split('\n');
if (lines.length !== checks.length) {
  console.error(`driver answered ${lines.length} lines for ${checks.length} requests`);
  process.exit(1);
}
lines.forEach((l, i) => checks[i](JSON.parse(l)));
console.log(JSON.stringify(counts));
if (failures.length) {
  console.error(`${failures.length} FAILURES`);
  for (const f of failures.slice(0, 20)) console.error(' -', f);
  process.exit(1);
}
console.log('eth1_diff: all outputs identical to ethers');
