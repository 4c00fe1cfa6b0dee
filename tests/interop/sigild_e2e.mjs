// End-to-end test of sigild, the real process: TLS with client certificates, every signing vector
// of ../shared/vectors/eth2_signing, slashing refusals, hostile requests, the keymanager API, the
// batch endpoint, metrics, and durability across kill -9. Signatures are checked byte for byte
// against the vectors and verified with @chainsafe/blst.
//
// env: SIGIL_BIN (build/bin), SIGIL_VECTORS (../shared/vectors)
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import https from 'node:https';
import path from 'node:path';
import * as blst from '@chainsafe/blst';
import { Sigild, certFingerprint as fingerprint, checker, makePki, mustRun as run, sigilBin, tempDir, tlsAgent } from './lib/harness.mjs';

const BIN = sigilBin();
const VEC = process.env.SIGIL_VECTORS;
const vecFile = VEC && path.join(VEC, 'eth2_signing/mainnet_fixed_key.json');
if (!vecFile || !fs.existsSync(vecFile)) {
  console.log(`skipped: ${vecFile ?? 'SIGIL_VECTORS'} not found`);
  process.exit(77);
}
const vectors = JSON.parse(fs.readFileSync(vecFile, 'utf8'));

const t = checker();
const { check } = t;

const { tmp } = tempDir('sigild-e2e-');

// ---- TLS material: a CA, a server certificate for 127.0.0.1, two client certificates ----
const p = makePki(path.join(tmp, 'pki'), ['validator-client', 'stranger']);
fs.writeFileSync(p('known_clients.txt'), `# name fingerprint\nvalidator-client ${fingerprint(p('validator-client.pem'))}\n`);

// ---- keys: the vector key plus two fresh ones ----
const ksDir = path.join(tmp, 'keystores');
const pwDir = path.join(tmp, 'passwords');
fs.mkdirSync(ksDir);
fs.mkdirSync(pwDir);
fs.writeFileSync(path.join(tmp, 'pw'), 'e2e test password\n');
function addKeystore(name, skHex) {
  const ks = run(path.join(BIN, 'sigil'), ['keystore', 'create', '--password-file', path.join(tmp, 'pw'), '--kdf',
    'pbkdf2', '--cost', '1024'], skHex);
  fs.writeFileSync(path.join(ksDir, `${name}.json`), ks);
  fs.writeFileSync(path.join(pwDir, `${name}.txt`), 'e2e test password\n');
}
addKeystore('vector-key', vectors.secret_key);
const extra = [];
for (let i = 0; i < 2; i++) {
  const sk = blst.SecretKey.fromKeygen(Buffer.from(`sigil e2e test key material ${i} padding...`));
  extra.push(sk);
  addKeystore(`extra-${i}`, `0x${Buffer.from(sk.toBytes()).toString('hex')}`);
}
// a keystore without a password file is reported and skipped
fs.copyFileSync(path.join(ksDir, 'extra-0.json'), path.join(ksDir, 'orphan.json'));
fs.writeFileSync(path.join(tmp, 'cache-pw'), 'cache password for the e2e test\n');

// ---- sigild process control ----
const dbUrl = `sqlite:${path.join(tmp, 'slashing.db')}`;
const clientAgent = tlsAgent({ ca: p('ca.pem'), cert: p('validator-client.pem'), key: p('validator-client.key'), keepAlive: true });
const sigild = new Sigild(BIN, { tls: true, servername: 'localhost', agent: clientAgent });
const startSigild = (extraArgs = []) => sigild.start(['--keystores-path', ksDir, '--keystores-passwords-path', pwDir,
  '--slashing-db', dbUrl, '--network', 'mainnet',
  '--tls-cert', p('server.pem'), '--tls-key', p('server.key'), '--tls-known-clients', p('known_clients.txt'),
  '--keymanager-token-file', path.join(tmp, 'api-token'), '--key-cache', path.join(tmp, 'keys.cache'),
  '--key-cache-password-file', path.join(tmp, 'cache-pw'), ...extraArgs], { timeoutMs: 30000 });
const stopSigild = (signal) => sigild.stop(signal);
const request = (method, urlPath, body, opts) => sigild.request(method, urlPath, body, opts);
const sign = (pk, body, opts) => request('POST', `/api/v1/eth2/sign/${pk}`, body, opts);

try {
  await startSigild();
  const PK = vectors.public_key;

  // ---- read-only endpoints ----
  let r = await request('GET', '/upcheck');
  check(r.status === 200 && r.text === 'OK', 'upcheck');
  r = await request('GET', '/api/v1/eth2/publicKeys');
  check(r.status === 200 && Array.isArray(r.json) && r.json.length === 3 && r.json.includes(PK), 'publicKeys lists 3 keys', r.text);
  r = await request('GET', '/healthcheck');
  check(r.status === 200 && r.json?.outcome === 'UP', 'healthcheck UP', r.text);
  check(/orphan/.test(sigild.logs), 'a keystore without a password file is reported in the log');

  // ---- every vector: same signature, byte for byte ----
  for (const v of vectors.vectors) {
    r = await sign(PK, v.request, { headers: { Accept: 'application/json' } });
    check(r.status === 200 && r.json?.signature === v.signature, `vector ${v.type}/${v.fork}`, `${r.status} ${r.text.slice(0, 200)}`);
  }
  // identical re-signing of a slashable message is allowed; signingRoot cross-check both spellings
  const att = vectors.vectors.find((v) => v.type === 'ATTESTATION' && v.fork === 'fulu');
  const blk = vectors.vectors.find((v) => v.type === 'BLOCK_V2' && v.fork === 'fulu');
  r = await sign(PK, { ...att.request, signingRoot: att.signing_root });
  check(r.status === 200 && r.json?.signature === att.signature, 're-sign identical attestation (signingRoot)', r.text);
  r = await sign(PK, { ...blk.request, signing_root: blk.signing_root });
  check(r.status === 200 && r.json?.signature === blk.signature, 're-sign identical block (signing_root)', r.text);
  r = await sign(PK, att.request, { headers: { Accept: 'text/plain' } });
  check(r.status === 200 && r.text === att.signature && /text\/plain/.test(r.headers['content-type']), 'Accept: text/plain gives bare hex', r.text);
  r = await sign(PK, { ...att.request, type: 'attestation' });
  check(r.status === 200, 'type names are case-insensitive', r.text);

  // ---- slashing protection (variants of the vector requests, without their signingRoot) ----
  const strip = (req) => { const { signingRoot, signing_root, ...rest } = req; return rest; };
  att.request = strip(att.request);
  blk.request = strip(blk.request);
  const a = att.request.attestation;
  const dbl = { ...att.request, attestation: { ...a, beacon_block_root: `0x${'77'.repeat(32)}` } };
  r = await sign(PK, dbl);
  check(r.status === 412, 'double vote refused (412)', r.text);
  const surround = { ...att.request, attestation: { ...a, source: { ...a.source, epoch: String(Number(a.source.epoch) - 2) },
    target: { ...a.target, epoch: String(Number(a.target.epoch) + 1) } } };
  r = await sign(PK, surround);
  check(r.status === 412, 'surrounding vote refused (412)', r.text);
  const hdr = blk.request.beacon_block.block_header;
  r = await sign(PK, { ...blk.request, beacon_block: { ...blk.request.beacon_block, block_header: { ...hdr, state_root: `0x${'55'.repeat(32)}` } } });
  check(r.status === 412, 'double proposal refused (412)', r.text);
  r = await sign(PK, { ...att.request, fork_info: { ...att.request.fork_info, genesis_validators_root: `0x${'01'.repeat(32)}` } });
  check(r.status === 412, 'other chain (GVR) refused (412)', r.text);
  r = await sign(PK, { ...att.request, signingRoot: `0x${'00'.repeat(32)}` });
  check(r.status === 400 && /signing root/i.test(r.text), 'wrong signingRoot refused (400)', r.text);

  // ---- hostile requests ----
  r = await sign(PK, '{"type":');
  check(r.status === 400 && r.json, 'malformed JSON → 400 JSON error', r.text);
  r = await sign(PK, { type: 'ATTESTATION', fork_info: att.request.fork_info });
  check(r.status === 400 && /attestation/.test(r.text), 'missing field named in 400', r.text);
  r = await sign(PK, { ...att.request, attestation: { ...a, slot: 5 } });
  check(r.status === 400, 'integer where a decimal string is required → 400', r.text);
  r = await sign(PK, { type: 'NOT_A_TYPE' });
  check(r.status === 400, 'unknown type → 400', r.text);
  r = await sign(`0x${'aa'.repeat(48)}`, att.request);
  check(r.status === 404, 'unknown key → 404', r.text);
  r = await sign('0x1234', att.request);
  check(r.status === 400, 'malformed identifier → 400', r.text);
  r = await sign(PK, JSON.stringify({ ...att.request, padding: 'x'.repeat(3 << 20) }));
  check(r.status === 413, 'oversized body → 413', `${r.status}`);
  r = await request('GET', '/upcheck');
  check(r.status === 200, 'still up after hostile requests');

  // ---- client authentication ----
  const stranger = tlsAgent({ ca: p('ca.pem'), cert: p('stranger.pem'), key: p('stranger.key') });
  r = await request('GET', '/upcheck', undefined, { agent: stranger }).catch((e) => ({ error: e }));
  check(r.error || r.status >= 400, 'unknown client certificate refused', r.status);
  const anon = new https.Agent({ ca: fs.readFileSync(p('ca.pem')) });
  r = await request('GET', '/upcheck', undefined, { agent: anon }).catch((e) => ({ error: e }));
  check(r.error || r.status >= 400, 'client without certificate refused', r.status);

  // ---- batch endpoint: per-item results, same semantics ----
  const ra = vectors.vectors.find((v) => v.type === 'RANDAO_REVEAL' && v.fork === 'fulu');
  r = await request('POST', '/api/v1/eth2/sign-batch', { requests: [
    { identifier: PK, request: ra.request },
    { identifier: PK, request: dbl },
    { identifier: `0x${'aa'.repeat(48)}`, request: ra.request },
    { identifier: PK, request: { type: 'BOGUS' } },
  ] });
  const res = r.json?.results ?? [];
  check(r.status === 200 && res.length === 4, 'batch returns one result per item', r.text);
  check(res[0]?.status === 200 && res[0]?.signature === ra.signature, 'batch item signed', res[0]);
  check(res[1]?.status === 412, 'batch item slashing refusal', res[1]);
  check(res[2]?.status === 404, 'batch item unknown key', res[2]);
  check(res[3]?.status === 400, 'batch item bad request', res[3]);

  // ---- one signing root, many keys (the message-point cache): every key, concurrently and
  // repeatedly, signs the same RANDAO reveal and the same attestation data; each signature must
  // equal @chainsafe/blst's over the vector's signing root, whichever key hashed the root first ----
  const hex = (b) => `0x${Buffer.from(b).toString('hex')}`;
  const unhex = (s) => Buffer.from(s.slice(2), 'hex');
  const sameRoot = [];
  for (let round = 0; round < 3; round++) {
    for (const sk of extra) {
      sameRoot.push(sign(hex(sk.toPublicKey().toBytes()), ra.request).then((x) => ({ x, want: hex(sk.sign(unhex(ra.signing_root)).toBytes()) })));
    }
    sameRoot.push(sign(PK, ra.request).then((x) => ({ x, want: ra.signature })));
  }
  for (const sk of extra) {
    sameRoot.push(sign(hex(sk.toPublicKey().toBytes()), { ...att.request, signingRoot: att.signing_root })
      .then((x) => ({ x, want: hex(sk.sign(unhex(att.signing_root)).toBytes()) })));
  }
  const sameRes = await Promise.all(sameRoot);
  check(sameRes.every(({ x, want }) => x.status === 200 && x.json?.signature === want),
    `one root signed by 3 keys (${sameRes.length} requests) equals blst for every key`,
    JSON.stringify(sameRes.filter(({ x, want }) => x.json?.signature !== want).map(({ x }) => x.text)));

  // ---- metrics ----
  r = await request('GET', '/metrics');
  const cacheHits = Number((/^sigil_bls_message_cache_hits_total (\d+)/m.exec(r.text) ?? [])[1] ?? 0);
  const cacheMisses = Number((/^sigil_bls_message_cache_misses_total (\d+)/m.exec(r.text) ?? [])[1] ?? 0);
  check(cacheHits >= sameRes.length - 2 && cacheMisses > 0, 'metrics count message-cache hits and misses',
    `hits ${cacheHits} misses ${cacheMisses}`);
  check(r.status === 200 && /sigil_eth2_sign_requests_total\{type="ATTESTATION",status="412"\} [1-9]/.test(r.text), 'metrics count refusals by type/status');
  check(/sigil_keys_loaded 3/.test(r.text), 'metrics keys loaded');

  // ---- keymanager API ----
  const token = fs.readFileSync(path.join(tmp, 'api-token'), 'utf8').trim();
  check((fs.statSync(path.join(tmp, 'api-token')).mode & 0o777) === 0o600, 'token file is 0600');
  const auth = { headers: { Authorization: `Bearer ${token}` } };
  r = await request('GET', '/eth/v1/keystores');
  check(r.status === 401, 'keymanager without token → 401', r.status);
  r = await request('GET', '/eth/v1/keystores', undefined, { headers: { Authorization: 'Bearer wrong' } });
  check(r.status === 403, 'keymanager with a wrong token → 403', r.status);
  r = await request('GET', '/eth/v1/keystores', undefined, auth);
  check(r.status === 200 && r.json?.data?.length === 3, 'keymanager lists keys', r.text);
  const extraPk = `0x${Buffer.from(extra[1].toPublicKey().toBytes()).toString('hex')}`;
  r = await request('DELETE', '/eth/v1/keystores', { pubkeys: [extraPk, `0x${'bb'.repeat(48)}`] }, auth);
  check(r.status === 200 && r.json?.data?.[0]?.status === 'deleted' && r.json?.data?.[1]?.status === 'not_found', 'keymanager delete', r.text);
  const sp = r.json?.slashing_protection ? JSON.parse(r.json.slashing_protection) : null;
  check(sp?.metadata?.interchange_format_version === '5', 'delete returns interchange data', r.text);
  r = await sign(extraPk, ra.request);
  check(r.status === 404, 'deleted key no longer signs', r.status);
  // re-import it with its slashing history
  const ksText = fs.readFileSync(path.join(ksDir, 'extra-0.json'), 'utf8');
  const newSk = blst.SecretKey.fromKeygen(Buffer.from('sigil e2e keymanager import key material...'));
  const newKs = run(path.join(BIN, 'sigil'), ['keystore', 'create', '--password-file', path.join(tmp, 'pw'), '--kdf', 'pbkdf2', '--cost', '1024'],
    `0x${Buffer.from(newSk.toBytes()).toString('hex')}`);
  const newPk = `0x${Buffer.from(newSk.toPublicKey().toBytes()).toString('hex')}`;
  const history = { metadata: { interchange_format_version: '5', genesis_validators_root: vectors.genesis_validators_root },
    data: [{ pubkey: newPk, signed_blocks: [{ slot: '99999999' }], signed_attestations: [{ source_epoch: '500000', target_epoch: '500001' }] }] };
  r = await request('POST', '/eth/v1/keystores', { keystores: [newKs, ksText], passwords: ['e2e test password', 'e2e test password'],
    slashing_protection: JSON.stringify(history) }, auth);
  check(r.status === 200 && r.json?.data?.[0]?.status === 'imported' && r.json?.data?.[1]?.status === 'duplicate', 'keymanager import', r.text);
  r = await sign(newPk, att.request);
  check(r.status === 412, 'imported slashing history is enforced (attestation below watermark)', r.text);
  r = await sign(newPk, ra.request);
  check(r.status === 200 && blst.verify(Buffer.from(ra.signing_root.slice(2), "hex"),
    newSk.toPublicKey(), blst.Signature.fromBytes(Buffer.from(r.json.signature.slice(2), 'hex'))), 'imported key signs (blst verifies)', r.text);

  // ---- durability across kill -9: every released signature stays recorded ----
  const released = [];
  let epoch = 600000;
  const loop = (async () => {
    for (;;) {
      epoch += 1;
      const req = { ...att.request, attestation: { ...a, source: { ...a.source, epoch: String(epoch - 1) }, target: { ...a.target, epoch: String(epoch) } } };
      const rr = await sign(PK, req).catch(() => null);
      if (!rr) return;
      if (rr.status === 200) released.push(epoch);
    }
  })();
  await new Promise((res) => setTimeout(res, 700));
  await stopSigild('SIGKILL');
  await loop;
  check(released.length > 0, 'signatures released before the kill', released.length);
  // the restart also turns the message-point cache off (checked below)
  await startSigild(['--message-cache-entries', '0']);
  let lost = 0;
  for (const e of released) {
    const conflicting = { ...att.request, attestation: { ...a, beacon_block_root: `0x${'99'.repeat(32)}`,
      source: { ...a.source, epoch: String(e - 1) }, target: { ...a.target, epoch: String(e) } } };
    const rr = await sign(PK, conflicting);
    if (rr.status !== 412) lost++;
  }
  check(lost === 0, `no record of ${released.length} released signatures lost after kill -9`, lost);
  // two keys come from the cache; the key imported through the keymanager is new since the cache was written
  check(/"loaded":3,"from_cache":2/.test(sigild.logs), 'restart loads keys from the fast-load cache', sigild.logs.match(/keystores loaded[^\n]*/)?.[0]);
  // no key material in the cache file
  const cache = fs.readFileSync(path.join(tmp, 'keys.cache'));
  check(!cache.includes(Buffer.from(vectors.secret_key.slice(2), 'hex')) && !cache.toString('latin1').includes(vectors.secret_key.slice(2)),
    'cache file holds no plaintext key');
  check(!/\b[0-9a-f]{64}\b/.test(sigild.logs.replace(/"(signing_root|root|gvr)[^,]*/g, '')) || !sigild.logs.includes(vectors.secret_key.slice(2)), 'no secret key in logs');

  // ---- message-point cache off: the same root signed by several keys still equals blst, uncounted
  // (extra[1] was deleted through the keymanager API above) ----
  const offRes = await Promise.all([...[extra[0], extra[0]].map((sk) => sign(hex(sk.toPublicKey().toBytes()), ra.request)
    .then((x) => ({ x, want: hex(sk.sign(unhex(ra.signing_root)).toBytes()) }))),
  sign(PK, ra.request).then((x) => ({ x, want: ra.signature }))]);
  check(offRes.every(({ x, want }) => x.status === 200 && x.json?.signature === want),
    'cache off: one root signed by 2 keys, 3 times, equals blst every time', JSON.stringify(offRes.map(({ x }) => x.text)));
  r = await request('GET', '/metrics');
  check(/^sigil_bls_message_cache_hits_total 0$/m.test(r.text) && /^sigil_bls_message_cache_misses_total 0$/m.test(r.text),
    'cache off: no lookups counted', (r.text.match(/^sigil_bls_message_cache.*$/gm) ?? []).join('; '));
  for (const bad of ['65537', '-1', '12x', '']) {
    const rr = spawnSync(path.join(BIN, 'sigild'), ['--keystores-path', ksDir, '--keystores-passwords-path', pwDir,
      '--slashing-db', dbUrl, '--network', 'mainnet', '--http-listen', '127.0.0.1:0', '--message-cache-entries', bad],
    { encoding: 'utf8' });
    check(rr.status === 2 && /message-cache-entries/.test(rr.stderr), `sigild refuses --message-cache-entries '${bad}'`, rr.stderr);
  }

  const code = await stopSigild('SIGTERM');
  check(code === 0, 'clean shutdown on SIGTERM', code);
} catch (e) {
  t.failed++;
  console.error(`FAIL: ${e.stack}\n--- sigild log ---\n${sigild.logs.slice(-4000)}`);
} finally {
  if (sigild.child && sigild.child.exitCode === null) sigild.child.kill('SIGKILL');
  clientAgent.destroy();
  fs.rmSync(tmp, { recursive: true, force: true });
}
console.log(`sigild_e2e: ${t.passed} passed, ${t.failed} failed`);
process.exit(t.failed === 0 ? 0 : 1);
