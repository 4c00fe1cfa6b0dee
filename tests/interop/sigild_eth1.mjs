// End-to-end test of sigild's eth1 wallet API, the real process: TLS with client certificates, v3
// keystores made by ethers, a rules file and an audit log.
//   - differential: thousands of random transactions of every type 0-4 (access lists, blob hashes,
//     EIP-7702 authorization lists), random EIP-712 documents (nested structs, arrays, dynamic
//     types) and personal messages signed through JSON-RPC (single and batch requests) must equal
//     ethers' bytes (RFC 6979 makes them identical); sigil_signAuthorization against ethers too;
//   - Web3Signer's eth1/sign (by address and by every public-key form, text/plain and JSON) and
//     publicKeys, the per-client allow-list;
//   - every policy rule refused over the API with the rule named (403 / JSON-RPC -32000) and no
//     signature in the answer;
//   - M-of-N approvals collected from ethers wallets over the digest given in the error data;
//   - hostile input (malformed JSON-RPC, unknown and node-only methods, huge arrays and batches,
//     deep nesting, bad hex, missing from, unknown account, wrong chain id, an oversized body):
//     a clear error and the process stays up;
//   - `sigil audit verify` on the audit log: clean, and its decision counts equal the signatures
//     and refusals this test saw.
//
// env: SIGIL_BIN (build/bin); SIGIL_ETH1_SEED (1), SIGIL_ETH1_API_TX (per type, 600),
// SIGIL_ETH1_API_TYPED (800), SIGIL_ETH1_API_MSG (600).
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import {
  Wallet, Transaction, TypedDataEncoder, getAddress, hexlify, toQuantity, hashMessage, keccak256, SigningKey,
  encryptKeystoreJsonSync,
} from 'ethers';

const BIN = process.env.SIGIL_BIN;
if (!BIN) {
  console.error('SIGIL_BIN is not set');
  process.exit(2);
}
const N_TX = Number(process.env.SIGIL_ETH1_API_TX || 600);
const N_TYPED = Number(process.env.SIGIL_ETH1_API_TYPED || 800);
const N_MSG = Number(process.env.SIGIL_ETH1_API_MSG || 600);
const t0 = Date.now();

let passed = 0;
let failed = 0;
function check(cond, what, extra) {
  if (cond) {
    passed++;
  } else {
    failed++;
    if (failed <= 40) console.error(`FAIL: ${what}${extra !== undefined ? ` (${typeof extra === 'string' ? extra.slice(0, 600) : JSON.stringify(extra)?.slice(0, 600)})` : ''}`);
  }
}

// sfc32, seeded: failures reproduce from the seed.
let sa = 0x9e3779b9, sb = 0x243f6a88, sc = 0xb7e15162, sd = Number(process.env.SIGIL_ETH1_SEED || 1) >>> 0;
function rnd32() {
  sa >>>= 0; sb >>>= 0; sc >>>= 0; sd >>>= 0;
  const t = (sa + sb) | 0; sa = sb ^ (sb >>> 9); sb = (sc + (sc << 3)) | 0; sc = (sc << 21) | (sc >>> 11);
  sd = (sd + 1) | 0; const r = (t + sd) | 0; sc = (sc + r) | 0; return r >>> 0;
}
for (let i = 0; i < 32; i++) rnd32();
const rint = (n) => rnd32() % n;
const chance = (p) => rnd32() / 2 ** 32 < p;
const bytes = (n) => { const u = new Uint8Array(n); for (let i = 0; i < n; i++) u[i] = rint(256); return u; };
const hexBytes = (n) => hexlify(bytes(n));
const bigOf = (nbytes) => (nbytes === 0 ? 0n : BigInt(hexlify(bytes(nbytes))));
const randQty = (maxBytes) => bigOf(rint(maxBytes + 1));
const randAddr = () => getAddress(hexBytes(20));
const randCase = (addr) => (chance(0.5) ? addr : addr.toLowerCase());
function randKey() { for (;;) { try { return new Wallet(hexBytes(32)); } catch { /* out of range */ } } }
const walletOf = (seed) => new Wallet(keccak256(new TextEncoder().encode(`sigil eth1 api test ${seed}`)));

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sigild-eth1-'));
const run = (cmd, args, input) => {
  const r = spawnSync(cmd, args, { input, encoding: 'utf8', maxBuffer: 64 << 20 });
  return r;
};
const mustRun = (cmd, args, input) => {
  const r = run(cmd, args, input);
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed: ${r.stderr}`);
  return r.stdout;
};

// ---- TLS material: a CA, a server certificate, two client certificates ----
const pki = path.join(tmp, 'pki');
fs.mkdirSync(pki);
const p = (f) => path.join(pki, f);
mustRun('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '2',
  '-subj', '/CN=sigil-test-ca', '-keyout', p('ca.key'), '-out', p('ca.pem')]);
fs.writeFileSync(p('san.cnf'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
function issue(name, extfile) {
  mustRun('openssl', ['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-subj', `/CN=${name}`,
    '-keyout', p(`${name}.key`), '-out', p(`${name}.csr`)]);
  const args = ['x509', '-req', '-in', p(`${name}.csr`), '-CA', p('ca.pem'), '-CAkey', p('ca.key'),
    '-CAcreateserial', '-days', '2', '-out', p(`${name}.pem`)];
  if (extfile) args.push('-extfile', extfile);
  mustRun('openssl', args);
}
issue('server', p('san.cnf'));
issue('wallet-client');
issue('other-client');
const fingerprint = (f) => mustRun('openssl', ['x509', '-in', f, '-noout', '-fingerprint', '-sha256']).split('=')[1].trim();
fs.writeFileSync(p('known_clients.txt'),
  `wallet-client ${fingerprint(p('wallet-client.pem'))}\nother-client ${fingerprint(p('other-client.pem'))}\n`);

// ---- keys: v3 keystores written by ethers (scrypt and pbkdf2 are both exercised) ----
const ksDir = path.join(tmp, 'keystores');
const pwDir = path.join(tmp, 'passwords');
fs.mkdirSync(ksDir);
fs.mkdirSync(pwDir);
const open = Array.from({ length: 6 }, (_, i) => walletOf(`open ${i}`));
const strict = walletOf('strict');
const spend = walletOf('spend');
const approve = walletOf('approve');
const unbound = walletOf('unbound');
const approvers = [walletOf('approver 0'), walletOf('approver 1'), walletOf('approver 2')];
const outsider = walletOf('not an approver');
const all = [...open, strict, spend, approve, unbound];
all.forEach((w, i) => {
  const js = encryptKeystoreJsonSync({ address: w.address, privateKey: w.privateKey }, `password ${i}`,
    { scrypt: { N: 1024 } });
  fs.writeFileSync(path.join(ksDir, `key-${i}.json`), js);
  fs.writeFileSync(path.join(pwDir, `key-${i}.txt`), `password ${i}\n`);
});
// a keystore without its password file is reported and skipped
fs.copyFileSync(path.join(ksDir, 'key-0.json'), path.join(ksDir, 'orphan.json'));
const byAddr = new Map(all.map((w) => [w.address.toLowerCase(), w]));

// ---- the rules file ----
const ALLOWED = randAddr();
const TOKEN = randAddr();
const DENIED = randAddr();
const SPEND_LIMIT = 1000n;
const policy = {
  version: 1,
  policies: [
    { name: 'open', keys: open.map((w) => w.address), contract_creation: true, personal_sign: true, typed_data: true,
      authorizations: true, raw_sign: true },
    { name: 'strict', keys: [strict.address], chain_ids: [1], to: { allow: [ALLOWED, TOKEN, DENIED], deny: [DENIED] },
      contract_creation: false, max_value_wei: '1000000000000000000', selectors: { [TOKEN]: ['0xa9059cbb'] },
      fees: { max_fee_per_gas_wei: '100000000000', max_priority_fee_per_gas_wei: '5000000000', max_gas: 1000000,
        max_fee_wei: '50000000000000000' },
      personal_sign: false, typed_data: true, eip712_domains: [{ name: 'Allowed App', chainId: 1 }],
      authorizations: false, raw_sign: false },
    { name: 'spend', keys: [spend.address], contract_creation: true, personal_sign: true, typed_data: false,
      spend_windows: [{ name: 'daily', window: '24h', max_wei: String(SPEND_LIMIT) }] },
    { name: 'approve', keys: [approve.address], contract_creation: true, personal_sign: true,
      approvals: { above_wei: '100', required: 2, approvers: approvers.map((w) => w.address) } },
  ],
};
const policyFile = path.join(tmp, 'policy.json');
fs.writeFileSync(policyFile, JSON.stringify(policy, null, 2));
const clientKeys = path.join(tmp, 'client-keys.txt');
fs.writeFileSync(clientKeys, `wallet-client *\nother-client ${open[1].address.toLowerCase()}\n`);
const auditLog = path.join(tmp, 'audit.log');

// ---- sigild ----
let child = null;
let port = 0;
let logs = '';
async function startSigild() {
  logs = '';
  port = 0;
  child = spawn(path.join(BIN, 'sigild'), ['--eth1-keystores-path', ksDir, '--eth1-keystores-passwords-path', pwDir,
    '--policy-file', policyFile, '--audit-log', auditLog, '--slashing-db', `sqlite:${path.join(tmp, 'db.sqlite')}`,
    '--http-listen', '127.0.0.1:0', '--tls-cert', p('server.pem'), '--tls-key', p('server.key'),
    '--tls-known-clients', p('known_clients.txt'), '--client-keys', clientKeys], { stdio: ['ignore', 'ignore', 'pipe'] });
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (d) => { logs += d; });
  const deadline = Date.now() + 60000;
  while (Date.now() < deadline) {
    const m = logs.match(/"msg":"listening"[^\n]*"port":(\d+)/);
    if (m) { port = Number(m[1]); break; }
    if (child.exitCode !== null) throw new Error(`sigild exited: ${logs}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  if (!port) throw new Error(`sigild did not start: ${logs}`);
  while (Date.now() < deadline) {
    const r = await request('GET', '/healthcheck').catch(() => null);
    if (r && r.status === 200) return;
    await new Promise((res) => setTimeout(res, 50));
  }
  throw new Error(`sigild never became healthy: ${logs}`);
}
function stopSigild(signal = 'SIGTERM') {
  return new Promise((resolve) => {
    if (!child || child.exitCode !== null) return resolve(child?.exitCode);
    child.on('exit', (code, sig) => resolve(code ?? sig));
    child.kill(signal);
  });
}
const agentFor = (name) => new https.Agent({ ca: fs.readFileSync(p('ca.pem')), cert: fs.readFileSync(p(`${name}.pem`)),
  key: fs.readFileSync(p(`${name}.key`)), keepAlive: true, maxSockets: 24 });
const walletAgent = agentFor('wallet-client');
const otherAgent = agentFor('other-client');
function request(method, urlPath, body, { headers = {}, agent = walletAgent } = {}) {
  return new Promise((resolve, reject) => {
    const data = body === undefined ? undefined : (typeof body === 'string' ? body : JSON.stringify(body));
    const req = https.request({ host: '127.0.0.1', port, method, path: urlPath, agent, servername: 'localhost',
      headers: { 'Content-Type': 'application/json', ...(data !== undefined ? { 'Content-Length': Buffer.byteLength(data) } : {}), ...headers } },
    (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c) => { text += c; });
      res.on('end', () => {
        let json;
        try { json = JSON.parse(text); } catch { json = undefined; }
        resolve({ status: res.statusCode, text, json, headers: res.headers });
      });
    });
    req.on('error', reject);
    if (data !== undefined) req.write(data);
    req.end();
  });
}
let rpcId = 1;
async function rpc(method, params, opts) {
  const r = await request('POST', '/', { jsonrpc: '2.0', id: rpcId++, method, params }, opts);
  return { status: r.status, ...(r.json ?? {}), text: r.text };
}
// Bounded concurrency over a list of async thunks.
async function pool(tasks, width) {
  let next = 0;
  const workers = Array.from({ length: width }, async () => {
    while (next < tasks.length) {
      const i = next++;
      await tasks[i]();
    }
  });
  await Promise.all(workers);
}

// What the audit log must hold at the end.
let expectSigned = 0;
let expectRefused = 0;
const signedNow = (cond) => { if (cond) expectSigned++; return cond; };
function refusedNow(r, rule) {
  const d = r.error?.data;
  const ok = r.status === 200 && r.error?.code === -32000 && d?.rule === rule && r.result === undefined &&
    typeof d?.digest === 'string' && r.error.message.includes(rule);
  if (r.error?.code === -32000 || r.error?.code === -32003) expectRefused++;
  return ok;
}

// ---- random transactions (the generator of eth1_diff.mjs, with loaded keys as senders) ----
function randAccessList() {
  const out = [];
  for (let n = rint(4); n > 0; n--) {
    const keys = [];
    for (let k = rint(4); k > 0; k--) keys.push(hexBytes(32));
    out.push({ address: randAddr(), storageKeys: keys });
  }
  return out;
}
function genTx(type, w) {
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
      const auth = signer.authorizeSync({ address: randAddr(), nonce: randQty(8) % 2n ** 64n, chainId: chance(0.3) ? 0n : chainId });
      fields.authorizationList.push(auth);
      authJson.push({ chainId: toQuantity(auth.chainId), address: randCase(auth.address), nonce: toQuantity(auth.nonce),
        yParity: toQuantity(auth.signature.yParity), r: toQuantity(auth.signature.r), s: toQuantity(auth.signature.s) });
    }
  }
  const tx = Transaction.from(fields);
  tx.signature = w.signingKey.sign(tx.unsignedHash);
  const j = { type: toQuantity(type), nonce: toQuantity(fields.nonce), gas: toQuantity(fields.gasLimit), value: toQuantity(fields.value),
    from: chance(0.5) ? w.address : w.address.toLowerCase() };
  if (chance(0.5)) j.input = fields.data; else j.data = fields.data;
  if (fields.chainId !== undefined) j.chainId = toQuantity(fields.chainId);
  if (fields.to) j.to = randCase(fields.to);
  if (type <= 1) j.gasPrice = toQuantity(fields.gasPrice);
  else { j.maxFeePerGas = toQuantity(fields.maxFeePerGas); j.maxPriorityFeePerGas = toQuantity(fields.maxPriorityFeePerGas); }
  if (type >= 1) j.accessList = fields.accessList;
  if (type === 3) { j.maxFeePerBlobGas = toQuantity(fields.maxFeePerBlobGas); j.blobVersionedHashes = fields.blobVersionedHashes; }
  if (type === 4) j.authorizationList = authJson;
  return { j, want: tx.serialized, label: type === 0 ? (preEip155 ? 'tx0-legacy' : 'tx0-eip155') : `tx${type}`, hash: tx.unsignedHash };
}

// ---- random EIP-712 documents (as in eth1_diff.mjs) ----
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
const UNI = ['a', 'Z', ' ', 'é', '🚀', '中', '"', '\\', 'ß'];
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
  if (type === 'address') return chance(0.5) ? randAddr() : randAddr().toLowerCase();
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
  for (let j = 1; j < ns; j++) {
    const used = Object.values(types).some((fs2) => fs2.some((f) => f.type.replace(/\[.*$/, '') === names[j]));
    if (!used) types[names[rint(j)]].push({ name: `r${j}`, type: names[j] + (chance(0.3) ? '[]' : '') });
  }
  const domain = {};
  if (chance(0.7)) domain.name = 'Dapp ' + rint(100) + (chance(0.3) ? ' 🚀' : '');
  if (chance(0.6)) domain.version = String(rint(10));
  if (chance(0.7)) domain.chainId = chance(0.5) ? 1 + rint(100000) : toQuantity(BigInt(hexBytes(8)));
  if (chance(0.6)) domain.verifyingContract = randAddr();
  if (chance(0.3)) domain.salt = hexBytes(32);
  return { types, primaryType: names[0], domain, message: randValue(names[0], types) };
}
function withDomainType(doc) {
  const order = [['name', 'string'], ['version', 'string'], ['chainId', 'uint256'], ['verifyingContract', 'address'], ['salt', 'bytes32']];
  return { ...doc, types: { EIP712Domain: order.filter(([n]) => n in doc.domain).map(([name, type]) => ({ name, type })), ...doc.types } };
}

const counts = {};
const bump = (k) => { counts[k] = (counts[k] || 0) + 1; };

try {
  await startSigild();
  check(/orphan\.json/.test(logs) && /no password file orphan\.txt/.test(logs), 'a keystore without a password file is reported');
  check(/"msg":"eth1 keystores loaded","loaded":10,"failed":1/.test(logs), 'ten eth1 keys loaded', logs.match(/eth1 keystores loaded[^\n]*/)?.[0]);
  const policyHash = '0x' + mustRun('sha256sum', [policyFile]).split(' ')[0];
  check(logs.includes(`"policy_hash":"${policyHash}"`), 'the rules file hash is logged at start');
  check(/"msg":"audit log open"[^\n]*"audit_signer":"0x[0-9a-fA-F]{40}"/.test(logs), 'the audit signer address is logged at start');

  // ---- status, accounts, publicKeys, allow-list ----
  let r = await request('GET', '/api/v1/eth1/status');
  check(r.status === 200 && r.json?.keys === 10 && r.json?.policy?.hash === policyHash && r.json?.policy?.source === 'file' &&
    /^0x[0-9a-fA-F]{40}$/.test(r.json?.audit?.signer), 'status: keys, policy hash, audit signer', r.text);
  check(logs.includes(`"audit_signer":"${r.json?.audit?.signer}"`), 'status and log name the same audit signer');
  r = await rpc('eth_accounts', []);
  check(r.status === 200 && Array.isArray(r.result) && r.result.length === 10 &&
    all.every((w) => r.result.includes(w.address)), 'eth_accounts lists every key (EIP-55)', r.text);
  r = await rpc('eth_accounts', [], { agent: otherAgent });
  check(r.status === 200 && r.result?.length === 1 && r.result[0] === open[1].address, 'eth_accounts filtered by the client allow-list', r.text);
  r = await request('GET', '/api/v1/eth1/publicKeys');
  const pubs = all.map((w) => '0x' + w.signingKey.publicKey.slice(4));
  check(r.status === 200 && r.json?.length === 10 && pubs.every((k) => r.json.includes(k)), 'publicKeys: 64-byte uncompressed keys', r.text);
  r = await request('GET', '/api/v1/eth1/publicKeys', undefined, { agent: otherAgent });
  check(r.status === 200 && r.json?.length === 1 && r.json[0] === pubs[1], 'publicKeys filtered by the allow-list', r.text);
  r = await rpc('personal_sign', ['0x00', open[0].address], { agent: otherAgent });
  check(r.error?.code === -32003 && r.error?.data?.rule === 'client' && r.result === undefined, 'a key outside the allow-list is refused (-32003)', r.text);
  expectRefused++;
  r = await rpc('personal_sign', ['0x00', open[1].address], { agent: otherAgent });
  check(signedNow(r.result === open[1].signingKey.sign(hashMessage(new Uint8Array([0]))).serialized), 'the allowed key signs for the other client', r.text);

  // ---- differential: JSON-RPC signatures equal ethers' ----
  const tasks = [];
  const batchQueue = [];
  function diff(label, method, params, want) {
    const item = { label, method, params, want };
    if (chance(0.25)) batchQueue.push(item);
    else tasks.push(async () => {
      const res = await rpc(method, params);
      bump(label);
      check(signedNow(res.status === 200 && res.result !== undefined && JSON.stringify(res.result) === JSON.stringify(want)),
        `${label}: sigild equals ethers`, `${res.text?.slice(0, 300)} want ${JSON.stringify(want).slice(0, 300)}`);
    });
  }
  for (let type = 0; type <= 4; type++) {
    for (let i = 0; i < N_TX; i++) {
      const w = open[rint(open.length)];
      const g = genTx(type, w);
      diff(g.label, 'eth_signTransaction', [g.j], g.want);
    }
  }
  let typedSkipped = 0;
  for (let i = 0; i < N_TYPED; i++) {
    const doc = genTyped();
    const w = open[rint(open.length)];
    let digest;
    try { digest = TypedDataEncoder.hash(doc.domain, doc.types, doc.message); } catch { typedSkipped++; continue; }
    const sent = chance(0.5) ? withDomainType(doc) : doc;
    const method = chance(0.5) ? 'eth_signTypedData_v4' : 'eth_signTypedData';
    diff('typed', method, [randCase(w.address), chance(0.3) ? JSON.stringify(sent) : sent], w.signingKey.sign(digest).serialized);
  }
  for (let i = 0; i < N_MSG; i++) {
    const w = open[rint(open.length)];
    const msg = bytes(rint(300));
    const want = w.signingKey.sign(hashMessage(msg)).serialized;
    if (chance(0.5)) diff('personal_sign', 'personal_sign', [hexlify(msg), w.address], want);
    else diff('eth_sign', 'eth_sign', [randCase(w.address), hexlify(msg)], want);
  }
  for (let i = 0; i < 40; i++) { // text messages (no 0x): signed as their UTF-8 bytes, like ethers' signMessage(string)
    const w = open[rint(open.length)];
    let s = ''; for (let k = rint(20); k > 0; k--) s += UNI[rint(UNI.length)];
    diff('personal_text', 'personal_sign', [`msg ${s}`, w.address], w.signingKey.sign(hashMessage(`msg ${s}`)).serialized);
  }
  for (let i = 0; i < 60; i++) { // EIP-7702 authorizations signed on their own
    const w = open[rint(open.length)];
    const req = { address: randAddr(), nonce: randQty(8) % 2n ** 64n, chainId: chance(0.3) ? 0n : BigInt(1 + rint(100000)) };
    const a = w.authorizeSync(req);
    diff('authorization', 'sigil_signAuthorization', [w.address, { chainId: toQuantity(req.chainId), address: req.address, nonce: toQuantity(req.nonce) }],
      { chainId: toQuantity(a.chainId), address: a.address, nonce: toQuantity(a.nonce), yParity: toQuantity(a.signature.yParity),
        r: toQuantity(a.signature.r), s: toQuantity(a.signature.s) });
  }
  // batches of up to 20 calls, each answered in order with its own id
  for (let i = 0; i < batchQueue.length; i += 20) {
    const chunk = batchQueue.slice(i, i + 20);
    tasks.push(async () => {
      const ids = chunk.map(() => rpcId++);
      const res = await request('POST', '/', chunk.map((c, k) => ({ jsonrpc: '2.0', id: ids[k], method: c.method, params: c.params })));
      check(res.status === 200 && Array.isArray(res.json) && res.json.length === chunk.length, 'batch answered in full', res.text?.slice(0, 300));
      chunk.forEach((c, k) => {
        const one = res.json?.[k];
        bump(c.label);
        check(signedNow(one?.id === ids[k] && JSON.stringify(one?.result) === JSON.stringify(c.want)), `${c.label} (batch): sigild equals ethers`,
          JSON.stringify(one)?.slice(0, 300));
      });
    });
  }
  const tDiff = Date.now();
  await pool(tasks, 24);
  const nDiff = Object.values(counts).reduce((x, y) => x + y, 0);
  console.log(`differential: ${nDiff} signatures in ${((Date.now() - tDiff) / 1000).toFixed(1)} s ${JSON.stringify(counts)} (typed skipped by ethers: ${typedSkipped})`);
  check(nDiff >= 2000, 'at least 2000 differential signatures', nDiff);

  // ---- Web3Signer eth1/sign and its identifiers ----
  const w0 = open[0];
  const data = hexBytes(77);
  const wantRaw = w0.signingKey.sign(keccak256(data)).serialized;
  const ids = [w0.address, w0.address.toLowerCase(), '0x' + w0.signingKey.publicKey.slice(4), w0.signingKey.publicKey,
    w0.signingKey.compressedPublicKey];
  for (const id of ids) {
    r = await request('POST', `/api/v1/eth1/sign/${id}`, { data });
    check(signedNow(r.status === 200 && r.text === wantRaw && /text\/plain/.test(r.headers['content-type'])),
      `eth1/sign by ${id.length}-char identifier: text/plain r||s||v equals ethers`, r.text);
  }
  r = await request('POST', `/api/v1/eth1/sign/${w0.address}`, { data }, { headers: { Accept: 'application/json' } });
  check(signedNow(r.status === 200 && r.json?.signature === wantRaw), 'eth1/sign with Accept: application/json', r.text);
  check(wantRaw.endsWith('1b') || wantRaw.endsWith('1c'), 'v is 27 or 28');
  r = await request('POST', `/api/v1/eth1/sign/${randAddr()}`, { data });
  check(r.status === 404 && r.json?.message, 'eth1/sign unknown identifier → 404', r.text);
  r = await request('POST', '/api/v1/eth1/sign/0x1234', { data });
  check(r.status === 400, 'eth1/sign malformed identifier → 400', r.text);
  r = await request('POST', `/api/v1/eth1/sign/${w0.address}`, { data: 'deadbeef' });
  check(r.status === 400 && /data/.test(r.json?.message), 'eth1/sign data without 0x → 400 naming data', r.text);
  r = await request('POST', `/api/v1/eth1/sign/${w0.address}`, '{"data":');
  check(r.status === 400, 'eth1/sign malformed JSON → 400', r.text);
  r = await request('POST', `/api/v1/eth1/sign/${strict.address}`, { data });
  check(r.status === 403 && r.json?.rule === 'raw_sign' && !/signature/.test(r.text), 'eth1/sign refused without raw_sign (403, rule named)', r.text);
  expectRefused++;

  // ---- every policy rule, refused with its name, nothing signed ----
  const sTx = (over = {}) => ({ from: strict.address, to: ALLOWED, nonce: toQuantity(rint(1000)), gas: '0x5208', maxFeePerGas: '0x3b9aca00',
    maxPriorityFeePerGas: '0x1', value: '0x1', chainId: '0x1', ...over });
  r = await rpc('eth_signTransaction', [sTx()]);
  check(signedNow(r.status === 200 && typeof r.result === 'string' && r.result.startsWith('0x02')), 'strict policy signs a conforming transaction', r.text);
  const ruleCases = [
    ['chain_id', sTx({ chainId: '0x5' })],
    ['to.deny', sTx({ to: DENIED })],
    ['to.allow', sTx({ to: randAddr() })],
    ['contract_creation', sTx({ to: undefined })],
    ['value.max', sTx({ value: '0xde0b6b3a7640001' })],
    ['selector', sTx({ to: TOKEN, data: '0x095ea7b3' + '00'.repeat(64) })],
    ['fee.max_fee_per_gas', sTx({ maxFeePerGas: toQuantity(100000000001n) })],
    ['fee.max_priority_fee_per_gas', sTx({ maxFeePerGas: toQuantity(6000000000n), maxPriorityFeePerGas: toQuantity(5000000001n) })],
    ['fee.max_gas', sTx({ gas: toQuantity(1000001) })],
    ['fee.max_fee', sTx({ gas: toQuantity(1000000), maxFeePerGas: toQuantity(60000000000n) })],
  ];
  for (const [rule, tx] of ruleCases) {
    r = await rpc('eth_signTransaction', [tx]);
    check(refusedNow(r, rule), `rule ${rule} refuses over JSON-RPC (-32000, rule named, no result)`, r.text);
  }
  r = await rpc('eth_signTransaction', [sTx({ to: TOKEN, data: '0xa9059cbb' + '00'.repeat(64) })]);
  check(signedNow(typeof r.result === 'string'), 'an allowed selector signs', r.text);
  r = await rpc('personal_sign', ['0x68656c6c6f', strict.address]);
  check(refusedNow(r, 'personal_sign'), 'rule personal_sign', r.text);
  const goodDoc = { types: { Mail: [{ name: 'contents', type: 'string' }] }, primaryType: 'Mail', domain: { name: 'Allowed App', chainId: 1 },
    message: { contents: 'hi' } };
  r = await rpc('eth_signTypedData_v4', [strict.address, goodDoc]);
  check(signedNow(r.result === strict.signingKey.sign(TypedDataEncoder.hash(goodDoc.domain, goodDoc.types, goodDoc.message)).serialized),
    'an allowed EIP-712 domain signs', r.text);
  r = await rpc('eth_signTypedData_v4', [strict.address, { ...goodDoc, domain: { name: 'Other App', chainId: 1 } }]);
  check(refusedNow(r, 'eip712.domain'), 'rule eip712.domain', r.text);
  r = await rpc('eth_signTypedData_v4', [strict.address, { ...goodDoc, domain: { name: 'Allowed App', chainId: 5 } }]);
  check(refusedNow(r, 'chain_id'), 'rule chain_id on a typed-data domain', r.text);
  const auth7702 = randKey().authorizeSync({ address: ALLOWED, nonce: 0n, chainId: 1n });
  r = await rpc('eth_signTransaction', [sTx({ type: '0x4', authorizationList: [{ chainId: '0x1', address: ALLOWED, nonce: '0x0',
    yParity: toQuantity(auth7702.signature.yParity), r: toQuantity(auth7702.signature.r), s: toQuantity(auth7702.signature.s) }] })]);
  check(refusedNow(r, 'authorizations'), 'rule authorizations on a type-4 transaction', r.text);
  r = await rpc('eth_signTypedData_v4', [spend.address, goodDoc]);
  check(refusedNow(r, 'typed_data'), 'rule typed_data', r.text);
  r = await rpc('sigil_signAuthorization', [strict.address, { chainId: '0x1', address: ALLOWED, nonce: '0x0' }]);
  check(refusedNow(r, 'authorizations'), 'rule authorizations', r.text);
  r = await rpc('personal_sign', ['0x00', unbound.address]);
  check(refusedNow(r, 'policy.unbound'), 'rule policy.unbound (a key no policy binds)', r.text);

  // spend window: 600 + 400 fit the limit of 1000, the next wei does not; re-signing the same tx is free
  const spTx = (nonce, value) => ({ from: spend.address, to: ALLOWED, nonce: toQuantity(nonce), gas: '0x5208', gasPrice: '0x1',
    value: toQuantity(value), chainId: '0x1' });
  r = await rpc('eth_signTransaction', [spTx(0, 600)]);
  check(signedNow(typeof r.result === 'string'), 'spend: 600 of 1000 signs', r.text);
  r = await rpc('eth_signTransaction', [spTx(0, 600)]);
  check(signedNow(typeof r.result === 'string'), 'spend: the identical transaction re-signs without a second charge', r.text);
  r = await rpc('eth_signTransaction', [spTx(1, 401)]);
  check(refusedNow(r, 'spend.daily') && /already spent/.test(r.error.data.reason), 'rule spend.daily (600 + 401 > 1000), the reason says what is left', r.text);
  r = await rpc('eth_signTransaction', [spTx(2, 400)]);
  check(signedNow(typeof r.result === 'string'), 'spend: 600 + 400 = 1000 signs', r.text);
  r = await rpc('eth_signTransaction', [spTx(3, 1)]);
  check(refusedNow(r, 'spend.daily'), 'spend: the window is full', r.text);

  // ---- M-of-N approvals over the digest in the error data ----
  const apFields = { type: 2, to: ALLOWED, nonce: 7, gasLimit: 21000n, maxFeePerGas: 10n, maxPriorityFeePerGas: 1n, value: 1000n, chainId: 1n };
  const apTx = Transaction.from(apFields);
  const apJson = { from: approve.address, to: ALLOWED, nonce: '0x7', gas: '0x5208', maxFeePerGas: '0xa', maxPriorityFeePerGas: '0x1',
    value: '0x3e8', chainId: '0x1' };
  r = await rpc('eth_signTransaction', [apJson]);
  const ad = r.error?.data;
  check(refusedNow(r, 'approvals') && ad.approvals_required === 2 && ad.approvals_valid === 0 && ad.digest === apTx.unsignedHash &&
    ad.account === approve.address, 'rule approvals: the error data carries the digest, account and quorum', r.text);
  const apDomain = { name: 'Sigil approval', version: '1' };
  const apTypes = { Approval: [{ name: 'account', type: 'address' }, { name: 'digest', type: 'bytes32' }] };
  const approval = (w, digest = ad?.digest, account = ad?.account) => w.signTypedData(apDomain, apTypes, { account, digest });
  const a0 = await approval(approvers[0]);
  const a1 = await approval(approvers[1]);
  const aOut = await approval(outsider);
  const aOther = await approval(approvers[2], keccak256('0x01'));
  r = await rpc('eth_signTransaction', [apJson, { approvals: [a0] }]);
  check(refusedNow(r, 'approvals') && r.error.data.approvals_valid === 1, 'one approval of two: still refused', r.text);
  r = await rpc('eth_signTransaction', [apJson, { approvals: [a0, a0, aOut, aOther] }]);
  check(refusedNow(r, 'approvals') && r.error.data.approvals_valid === 1,
    'duplicates, outsiders and approvals of another digest do not count', r.text);
  r = await rpc('eth_signTransaction', [apJson, { approvals: [aOut, a1, a0] }]);
  apTx.signature = approve.signingKey.sign(apTx.unsignedHash);
  check(signedNow(r.result === apTx.serialized), 'two valid approvals: signed, equal to ethers', r.text);
  r = await rpc('eth_signTransaction', [{ ...apJson, value: '0x64', nonce: '0x8' }]);
  check(signedNow(typeof r.result === 'string'), 'at the threshold no approval is needed', r.text);

  // ---- hostile input: a clear error, nothing signed, still up ----
  const hostile = async (what, body, wantStatus, wantCode, re) => {
    const res = await request('POST', '/', body);
    const err = Array.isArray(res.json) ? res.json[0]?.error : res.json?.error;
    check(res.status === wantStatus && (wantCode === undefined || err?.code === wantCode) && (re === undefined || re.test(err?.message ?? res.text)) &&
      !/"result"/.test(res.text), `hostile: ${what}`, `${res.status} ${res.text.slice(0, 300)}`);
  };
  const call = (method, params) => ({ jsonrpc: '2.0', id: 1, method, params });
  const okTx = { from: open[0].address, to: ALLOWED, nonce: '0x1', gas: '0x5208', gasPrice: '0x1', chainId: '0x1' };
  await hostile('malformed JSON', '{"jsonrpc":"2.0","id":1,', 400, -32700);
  await hostile('not JSON-RPC at all', '"hello"', 400, -32600);
  await hostile('empty batch', '[]', 400, -32600);
  await hostile('wrong version', { jsonrpc: '1.0', id: 1, method: 'eth_accounts' }, 200, -32600, /2\.0/);
  await hostile('unknown method', call('eth_fooBar', []), 200, -32601);
  await hostile('a method that needs a node', call('eth_sendTransaction', [okTx]), 200, -32601, /needs a chain node; sigild has none/);
  await hostile('eth_getBalance', call('eth_getBalance', [open[0].address, 'latest']), 200, -32601, /chain node/);
  await hostile('batch over the limit', Array.from({ length: 257 }, () => call('eth_accounts', [])), 413, -32600, /at most 256/);
  await hostile('huge access list', call('eth_signTransaction', [{ ...okTx, type: '0x1', accessList: Array(1025).fill({ address: ALLOWED, storageKeys: [] }) }]),
    200, -32602, /accessList/);
  await hostile('huge authorization list', call('eth_signTransaction', [{ ...okTx, type: '0x4', gasPrice: undefined, maxFeePerGas: '0x2', maxPriorityFeePerGas: '0x1',
    authorizationList: Array(300).fill({ chainId: '0x1', address: ALLOWED, nonce: '0x0', yParity: '0x0', r: '0x1', s: '0x1' }) }]), 200, -32602, /authorizationList/);
  await hostile('deep JSON nesting', '['.repeat(100000) + ']'.repeat(100000), 400, -32700);
  let deep = { v: true };
  const deepTypes = { T0: [{ name: 'v', type: 'bool' }] };
  for (let i = 1; i < 40; i++) { deepTypes[`T${i}`] = [{ name: 'n', type: `T${i - 1}` }]; deep = { n: deep }; }
  await hostile('deeply nested typed data', call('eth_signTypedData_v4', [open[0].address, { types: deepTypes, primaryType: 'T39', domain: {}, message: deep }]),
    200, -32602, /params\[1\]/);
  await hostile('huge typed array', call('eth_signTypedData_v4', [open[0].address, { types: { T: [{ name: 'v', type: 'bool[]' }] }, primaryType: 'T', domain: {},
    message: { v: Array(1025).fill(true) } }]), 200, -32602);
  await hostile('bad hex value', call('eth_signTransaction', [{ ...okTx, value: '0xzz' }]), 200, -32602, /value/);
  await hostile('bad hex message', call('personal_sign', ['0xzz', open[0].address]), 200, -32602, /params\[0\]/);
  await hostile('missing from', call('eth_signTransaction', [{ ...okTx, from: undefined }]), 200, -32602, /from/);
  await hostile('unknown account', call('eth_signTransaction', [{ ...okTx, from: randAddr() }]), 200, -32001, /unknown account/);
  await hostile('bad checksum', call('eth_sign', ['0x' + 'aB'.repeat(20), '0x00']), 200, -32602, /params\[0\]/);
  await hostile('params as an object', call('eth_sign', { a: 1 }), 200, -32602, /array/);
  await hostile('id as an object', { jsonrpc: '2.0', id: { x: 1 }, method: 'eth_accounts' }, 200, -32600, /id/);
  await hostile('personal_sign parameters swapped', call('personal_sign', [open[0].address, '0x00']), 200, -32602);
  r = await rpc('eth_signTransaction', [sTx({ chainId: '0x89' })]);
  check(refusedNow(r, 'chain_id'), 'hostile: wrong chain id refused by the policy', r.text);
  // sigild answers 413 from the headers and closes; the client may still be writing (EPIPE / reset)
  r = await request('POST', '/', JSON.stringify(call('personal_sign', ['0x' + '00'.repeat(1.5 * (1 << 20)), open[0].address])))
    .catch((e) => ({ status: ['EPIPE', 'ECONNRESET'].includes(e.code) ? 'closed' : e.code }));
  check(r.status === 413 || r.status === 'closed', 'hostile: body over the limit → 413 (connection closed)', `${r.status}`);
  r = await request('POST', '/', { jsonrpc: '2.0', method: 'personal_sign', params: ['0x00', open[0].address] });
  check(r.status === 204 && r.text === '', 'a notification is not executed and gets no answer (204)', `${r.status} ${r.text}`);
  r = await request('GET', '/healthcheck');
  check(r.status === 200, 'still up after hostile input', r.status);
  r = await request('GET', '/api/v1/eth2/publicKeys');
  check(r.status === 200 && Array.isArray(r.json) && r.json.length === 0, 'eth1-only sigild: the eth2 API answers with no keys', r.text);
  check(!/AddressSanitizer|runtime error:|LeakSanitizer/.test(logs), 'no sanitizer report in the log');

  // ---- metrics ----
  r = await request('GET', '/metrics');
  const m = r.text.match(/sigil_eth1_requests_total\{method="eth_signTransaction",outcome="signed"\} (\d+)/);
  check(m && Number(m[1]) >= 5 * N_TX, 'metrics: eth1 requests by method and outcome', m?.[0]);
  check(/sigil_eth1_policy_refusals_total\{rule="spend.daily"\} 2/.test(r.text) && /sigil_eth1_policy_refusals_total\{rule="approvals"\} 3/.test(r.text),
    'metrics: refusals by rule', r.text.match(/sigil_eth1_policy_refusals_total[^\n]*/g)?.join(' '));
  check(/sigil_eth1_keys_loaded 10/.test(r.text), 'metrics: eth1 keys loaded');

  // ---- the audit log ----
  const code = await stopSigild('SIGTERM');
  check(code === 0, 'clean shutdown on SIGTERM', code);
  const v = run(path.join(BIN, 'sigil'), ['audit', 'verify', auditLog, '--json']);
  let rep = null;
  try { rep = JSON.parse(v.stdout); } catch { /* reported below */ }
  check(v.status === 0 && rep?.clean === true, 'sigil audit verify: the log is clean', v.stdout.slice(0, 500) + v.stderr);
  check(rep?.signed === expectSigned && rep?.refused === expectRefused && rep?.decisions === expectSigned + expectRefused,
    `audit decision counts equal what the API answered (signed ${expectSigned}, refused ${expectRefused})`,
    { signed: rep?.signed, refused: rep?.refused, decisions: rep?.decisions });
  check(rep?.unsigned_tail === 0, 'audit: every record is covered by a checkpoint after a clean stop', rep?.unsigned_tail);
  const text = fs.readFileSync(auditLog, 'utf8');
  check(/"client":"wallet-client"/.test(text) && /"client_fp":"(0x)?[0-9a-f]{64}"/.test(text), 'audit records name the client certificate');
  // no key material anywhere in the log or sigild's output
  const secrets = all.map((w) => w.privateKey.slice(2));
  check(!secrets.some((s) => text.includes(s) || logs.includes(s)), 'no private key in the audit log or the logs');
  // tampering is detected
  const lines = text.split('\n');
  const iDec = lines.findIndex((l) => l.includes('"type":"decision"') && l.includes('"result":"refused"'));
  fs.writeFileSync(auditLog + '.tampered', lines.map((l, i) => (i === iDec ? l.replace('"refused"', '"signed"') : l)).join('\n'));
  const tv = run(path.join(BIN, 'sigil'), ['audit', 'verify', auditLog + '.tampered']);
  check(tv.status === 3, 'sigil audit verify detects a changed record', `${tv.status} ${tv.stdout.slice(-300)}`);

  // ---- start without --audit-log is refused when eth1 keys are configured ----
  const noAudit = run(path.join(BIN, 'sigild'), ['--eth1-keystores-path', ksDir, '--eth1-keystores-passwords-path', pwDir,
    '--slashing-db', `sqlite:${path.join(tmp, 'db2.sqlite')}`, '--http-listen', '127.0.0.1:0']);
  check(noAudit.status === 2 && /--audit-log/.test(noAudit.stderr), 'eth1 keys without --audit-log: a clear error', noAudit.stderr);
  const badPolicyFile = path.join(tmp, 'bad-policy.json');
  fs.writeFileSync(badPolicyFile, JSON.stringify({ version: 1, policies: [{ name: 'x', keys: ['*'], max_value_wei: 'lots' }] }));
  const badPolicy = run(path.join(BIN, 'sigild'), ['--eth1-keystores-path', ksDir, '--eth1-keystores-passwords-path', pwDir,
    '--slashing-db', `sqlite:${path.join(tmp, 'db2.sqlite')}`, '--http-listen', '127.0.0.1:0', '--audit-log', path.join(tmp, 'a2.log'),
    '--policy-file', badPolicyFile]);
  check(badPolicy.status === 2 && /max_value_wei/.test(badPolicy.stderr), 'a bad rules file: a clear error naming the field', badPolicy.stderr);
} catch (e) {
  failed++;
  console.error(`FAIL: ${e.stack}\n--- sigild log ---\n${logs.slice(-4000)}`);
} finally {
  if (child && child.exitCode === null) child.kill('SIGKILL');
  walletAgent.destroy();
  otherAgent.destroy();
  fs.rmSync(tmp, { recursive: true, force: true });
}
console.log(`sigild_eth1: ${passed} passed, ${failed} failed in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
process.exit(failed === 0 ? 0 : 1);
