// Differential test: Sigil's eth1 signing core (eth1_driver, JSON lines) against ethers v6.
// Random transactions of every type 0-4 (legacy with and without EIP-155, access lists, EIP-1559,
// EIP-4844 without sidecar, EIP-7702 with authorizations signed by both sides), random EIP-712
// documents (nested structs, arrays of structs, fixed and multi-dimensional arrays, every
// int/uint/bytesN width with edge values, optional EIP712Domain) and personal_sign messages are
// signed by both; every byte must match. Hostile variants must be refused with an error.
// Seed: SIGIL_ETH1_SEED (default 1); counts: SIGIL_ETH1_TX (1000 per type), SIGIL_ETH1_TYPED (400).
import { spawnSync } from 'node:child_process';
import { Transaction, TypedDataEncoder, getAddress, hexlify, toQuantity, hashMessage } from 'ethers';
import { eth1Random, withDomainType } from './lib/eth1_random.mjs';

const driver = process.env.SIGIL_ETH1_DRIVER;
if (!driver) {
  console.error('SIGIL_ETH1_DRIVER not set');
  process.exit(2);
}
const N_TX = Number(process.env.SIGIL_ETH1_TX || 1000);
const N_TYPED = Number(process.env.SIGIL_ETH1_TYPED || 400);

// seeded: failures reproduce from the seed
const {
  rint, chance, bytes, randAddr, randCase, randKey, randTxFields, txJsonRest, genTyped,
} = eth1Random(process.env.SIGIL_ETH1_SEED || 1, { unicode: ['a', 'Z', ' ', 'é', '🚀', '中', '\u0000'.slice(1), '"', '\\', 'ß'] });

const requests = [];
const checks = [];
function ask(req, check) { requests.push(JSON.stringify(req)); checks.push(check); }

const counts = {};
const bump = (k) => { counts[k] = (counts[k] || 0) + 1; };
const failures = [];
const fail = (what, detail) => { if (failures.length < 20) failures.push(`${what}: ${detail}`); else failures.length++; };

// ---- transactions ----
function genTx(type) {
  const w = randKey();
  const { fields, authJson, label } = randTxFields(type, (signer, req, auth) => {
    // Sigil signs the same tuple with the same key: RFC 6979 makes the signatures equal.
    ask({ op: 'auth', key: signer.privateKey, chainId: toQuantity(req.chainId), address: req.address, nonce: toQuantity(req.nonce) },
      (res) => {
        bump('auth');
        if (res.error) return fail('auth', res.detail);
        if (BigInt(res.r) !== BigInt(auth.signature.r) || BigInt(res.s) !== BigInt(auth.signature.s) || res.yParity !== auth.signature.yParity)
          fail('auth', `signature differs for ${JSON.stringify(req, (k, v) => (typeof v === 'bigint' ? v.toString() : v))}`);
      });
  });
  const tx = Transaction.from(fields);
  tx.signature = w.signingKey.sign(tx.unsignedHash);
  const want = tx.serialized;
  // eth_signTransaction JSON for Sigil
  const j = { type: toQuantity(type), nonce: toQuantity(fields.nonce), gas: toQuantity(fields.gasLimit), value: toQuantity(fields.value) };
  if (chance(0.5)) j.input = fields.data; else j.data = fields.data;
  if (chance(0.5)) j.from = chance(0.5) ? w.address : w.address.toLowerCase();
  txJsonRest(j, fields, authJson);
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
