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
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import {
  Wallet, Transaction, TypedDataEncoder, getAddress, hexlify, toQuantity, hashMessage, keccak256, SigningKey, encryptKeystoreJsonSync,
} from 'ethers';
import { Sigild, certFingerprint as fingerprint, checker, makePki, mustRun, sigilBin, tempDir, tlsAgent } from './lib/harness.mjs';
import { UNI, eth1Random, withDomainType } from './lib/eth1_random.mjs';

const BIN = sigilBin();
const N_TX = Number(process.env.SIGIL_ETH1_API_TX || 600);
const N_TYPED = Number(process.env.SIGIL_ETH1_API_TYPED || 800);
const N_MSG = Number(process.env.SIGIL_ETH1_API_MSG || 600);
const t0 = Date.now();

const t = checker({ clip: 600, maxShown: 40 });
const { check } = t;

// seeded: failures reproduce from the seed (the generator of eth1_diff.mjs)
const { rint, chance, bytes, hexBytes, randQty, randAddr, randCase, randKey, randTxFields, txJsonRest, genTyped } = eth1Random(process.env.SIGIL_ETH1_SEED || 1, {
  typedAddress: (r) => (r.chance(0.5) ? r.randAddr() : r.randAddr().toLowerCase()),
  contractAddress: (r) => r.randAddr(),
});
const walletOf = (seed) => new Wallet(keccak256(new TextEncoder().encode(`sigil eth1 api test ${seed}`)));

const { tmp } = tempDir('sigild-eth1-');
const run = (cmd, args, input) => spawnSync(cmd, args, { input, encoding: 'utf8', maxBuffer: 64 << 20 });

// ---- TLS material: a CA, a server certificate, two client certificates ----
const p = makePki(path.join(tmp, 'pki'), ['wallet-client', 'other-client']);
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
const agentFor = (name) => tlsAgent({ ca: p('ca.pem'), cert: p(`${name}.pem`), key: p(`${name}.key`), keepAlive: true, maxSockets: 24 });
const walletAgent = agentFor('wallet-client');
const otherAgent = agentFor('other-client');
const sigild = new Sigild(BIN, { tls: true, servername: 'localhost', agent: walletAgent });
const startSigild = () => sigild.start(['--eth1-keystores-path', ksDir, '--eth1-keystores-passwords-path', pwDir,
  '--policy-file', policyFile, '--audit-log', auditLog, '--slashing-db', `sqlite:${path.join(tmp, 'db.sqlite')}`,
  '--tls-cert', p('server.pem'), '--tls-key', p('server.key'),
  '--tls-known-clients', p('known_clients.txt'), '--client-keys', clientKeys]);
const stopSigild = (signal) => sigild.stop(signal);
const request = (method, urlPath, body, opts) => sigild.request(method, urlPath, body, opts);
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
function genTx(type, w) {
  const { fields, authJson, label } = randTxFields(type);
  const tx = Transaction.from(fields);
  tx.signature = w.signingKey.sign(tx.unsignedHash);
  const j = { type: toQuantity(type), nonce: toQuantity(fields.nonce), gas: toQuantity(fields.gasLimit), value: toQuantity(fields.value),
    from: chance(0.5) ? w.address : w.address.toLowerCase() };
  if (chance(0.5)) j.input = fields.data; else j.data = fields.data;
  txJsonRest(j, fields, authJson);
  return { j, want: tx.serialized, label, hash: tx.unsignedHash };
}

const counts = {};
const bump = (k) => { counts[k] = (counts[k] || 0) + 1; };

try {
  await startSigild();
  check(/orphan\.json/.test(sigild.logs) && /no password file orphan\.txt/.test(sigild.logs), 'a keystore without a password file is reported');
  check(/"msg":"eth1 keystores loaded","loaded":10,"failed":1/.test(sigild.logs), 'ten eth1 keys loaded', sigild.logs.match(/eth1 keystores loaded[^\n]*/)?.[0]);
  const policyHash = '0x' + mustRun('sha256sum', [policyFile]).split(' ')[0];
  check(sigild.logs.includes(`"policy_hash":"${policyHash}"`), 'the rules file hash is logged at start');
  check(/"msg":"audit log open"[^\n]*"audit_signer":"0x[0-9a-fA-F]{40}"/.test(sigild.logs), 'the audit signer address is logged at start');

  // ---- status, accounts, publicKeys, allow-list ----
  let r = await request('GET', '/api/v1/eth1/status');
  check(r.status === 200 && r.json?.keys === 10 && r.json?.policy?.hash === policyHash && r.json?.policy?.source === 'file' &&
    /^0x[0-9a-fA-F]{40}$/.test(r.json?.audit?.signer), 'status: keys, policy hash, audit signer', r.text);
  check(sigild.logs.includes(`"audit_signer":"${r.json?.audit?.signer}"`), 'status and log name the same audit signer');
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
  check(!/AddressSanitizer|runtime error:|LeakSanitizer/.test(sigild.logs), 'no sanitizer report in the log');

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
  check(!secrets.some((s) => text.includes(s) || sigild.logs.includes(s)), 'no private key in the audit log or the logs');
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
  t.failed++;
  console.error(`FAIL: ${e.stack}\n--- sigild log ---\n${sigild.logs.slice(-4000)}`);
} finally {
  if (sigild.child && sigild.child.exitCode === null) sigild.child.kill('SIGKILL');
  walletAgent.destroy();
  otherAgent.destroy();
  fs.rmSync(tmp, { recursive: true, force: true });
}
console.log(`sigild_eth1: ${t.passed} passed, ${t.failed} failed in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
process.exit(t.failed === 0 ? 0 : 1);
