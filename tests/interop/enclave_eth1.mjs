// The wallet in enclave mode, end to end with the real processes (docs/enclave.md): sigil-kms, a KMS
// key bound to sigild's PCR0, the simulated NSM, sigil-host running sigild in the local sandbox.
//   1. `sigil keys import --chain eth1` of Web3 v3 keystores made by ethers (NAME.json + NAME.txt):
//      only envelopes reach the store; `sigil policy set` stores the rules file
//   2. boot → READY; `sigil status` reports the policy hash (= SHA-256 of the file) and the eth1 keys
//   3. JSON-RPC through the host's inbound proxy (mutual TLS ends in sigild): eth_accounts, signed
//      transactions of types 0 and 2 byte-for-byte equal to ethers', a personal_sign ethers verifies,
//      and policy refusals naming the rule (value.max, to.deny, chain_id) with nothing signed
//   4. `sigil keys generate --chain eth1`: a key made inside sigild, live at once, signs (ethers
//      recovers its address); its envelope is in the store, its secret nowhere on the host
//   5. kill -9 sigild → the supervisor restarts it from the store (the generated key is back) and the
//      audit chain continues from the host's file; a clean stop closes it with a checkpoint
//   6. `sigil audit verify DATA_DIR/audit.jsonl --attestation-root <dev root>` is clean, with two or
//      more start records whose attestation binds the audit key; a changed record is caught
//   7. hostile: a bad policy file is refused by `sigil policy set`; keygen requests out of range
//
// env: SIGIL_BIN (build/bin). Needs the sandbox (x86_64, user namespaces); skips (77) otherwise.
import { spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import https from 'node:https';
import path from 'node:path';
import { Wallet, Transaction, verifyMessage, encryptKeystoreJsonSync, getAddress, toQuantity } from 'ethers';
import { Procs, checker, freePort, jsonRequest, mustRun as run, requireSandbox, sigilBin, sigilStatus, startKms, tempDir, waitFor } from './lib/harness.mjs';

const BIN = sigilBin(['sigil', 'sigil-host', 'sigil-kms', 'sigild']);
requireSandbox(BIN);

const t = checker({ verbose: true, clip: 1500 });
const { check } = t;
const { tmp, T } = tempDir('sigil-enclave-eth1-', { mode: 0o700 });
const SIGIL = path.join(BIN, 'sigil');
const procs = new Procs(tmp, 20000);
const start = (name, cmd, args) => procs.start(name, cmd, args);
const stop = (child) => procs.stop(child);
const status = (statusPort) => sigilStatus(BIN, statusPort);

let agent;
let PORT = 0;
const request = (method, urlPath, body) => jsonRequest({ tls: true, port: PORT, method, path: urlPath, body, agent, timeout: 15000 });
let rpcId = 1;
async function rpc(method, params) {
  const r = await request('POST', '/', { jsonrpc: '2.0', id: rpcId++, method, params });
  return { status: r.status, ...(r.json ?? {}), text: r.text };
}
const refused = (r, rule) => r.status === 200 && r.error?.code === -32000 && r.error?.data?.rule === rule &&
  r.result === undefined && r.error.message.includes(rule);

const report = {};
try {
  // ---- 0. the stack ----
  const { kms, KMS, kmsArgs, keyId, up } = await startKms(BIN, procs, tmp, 'enclave eth1');
  check(up, 'sigil-kms up');
  const STORE = `sqlite:${T('store.db')}`;
  run(SIGIL, ['tls', 'new', '--kms', KMS, '--key-id', keyId, '--store', STORE, ...kmsArgs, '--cn', 'signer.local', '--ip', '127.0.0.1',
    '--days', '30', '--client-ca-out', T('tls')]);
  run(path.join(BIN, 'sigil-kms'), ['issue-enclave-cert', '--data-dir', T('kms'), '--out-dir', T('attestation')]);

  // ---- 1. wallet keystores (ethers) imported as KMS envelopes; the policy into the store ----
  fs.mkdirSync(T('wallets'));
  const treasury = Wallet.createRandom();
  const ops = Wallet.createRandom();
  const wallets = { treasury, ops };
  for (const [name, w] of Object.entries(wallets)) {
    const js = encryptKeystoreJsonSync({ address: w.address, privateKey: w.privateKey }, `pw ${name}`, { scrypt: { N: 1024 } });
    fs.writeFileSync(T('wallets', `${name}.json`), js);
    fs.writeFileSync(T('wallets', `${name}.txt`), `pw ${name}\n`, { mode: 0o600 });
  }
  const imp = spawnSync(SIGIL, ['keys', 'import', '--chain', 'eth1', '--kms', KMS, '--key-id', keyId, '--store', STORE, ...kmsArgs,
    T('wallets', 'treasury.json'), T('wallets', 'ops.json')], { encoding: 'utf8' });
  check(imp.status === 0 && imp.stdout.toLowerCase().includes(treasury.address.toLowerCase()) && imp.stdout.toLowerCase().includes(ops.address.toLowerCase()),
    'sigil keys import --chain eth1 (v3 keystores, NAME.txt passwords) names both addresses', imp.stdout + imp.stderr);
  const again = spawnSync(SIGIL, ['keys', 'import', '--chain', 'eth1', '--kms', KMS, '--key-id', keyId, '--store', STORE, ...kmsArgs,
    T('wallets', 'ops.json')], { encoding: 'utf8' });
  check(again.status === 0 && /already in the store/.test(again.stderr), 'importing the same wallet again is skipped', again.stderr);
  fs.writeFileSync(T('wallets', 'wrongpw.json'), fs.readFileSync(T('wallets', 'ops.json')));
  fs.writeFileSync(T('wallets', 'wrongpw.txt'), 'not the password\n');
  const bad = spawnSync(SIGIL, ['keys', 'import', '--chain', 'eth1', '--kms', KMS, '--key-id', keyId, '--store', STORE, ...kmsArgs,
    T('wallets', 'wrongpw.json')], { encoding: 'utf8' });
  check(bad.status === 2 && /wrongpw\.json/.test(bad.stderr) && /nothing was imported/.test(bad.stderr),
    'a keystore with the wrong password: exit 2, named, nothing imported', bad.stderr);

  const DENIED = '0x000000000000000000000000000000000000dEaD';
  const policy = {
    version: 1,
    policies: [
      { name: 'treasury', keys: [treasury.address], chain_ids: [11155111], max_value_wei: '1000000000000000000', to: { deny: [DENIED] } },
      { name: 'everyone', keys: ['*'], chain_ids: [1, 11155111], personal_sign: true },
    ],
  };
  const policyText = JSON.stringify(policy, null, 2);
  fs.writeFileSync(T('policy.json'), policyText);
  const policyHash = `0x${crypto.createHash('sha256').update(policyText).digest('hex')}`;
  fs.writeFileSync(T('policy-bad.json'), JSON.stringify({ version: 1, policies: [{ name: 'x', keys: ['*'], max_value_wei: 'lots' }] }));
  let p = spawnSync(SIGIL, ['policy', 'set', T('policy-bad.json'), '--store', STORE], { encoding: 'utf8' });
  check(p.status === 2 && /max_value_wei/.test(p.stderr), '`sigil policy set` refuses an invalid rules file, naming the field', p.stderr);
  p = spawnSync(SIGIL, ['policy', 'set', T('policy.json'), '--store', STORE], { encoding: 'utf8' });
  check(p.status === 0 && p.stdout.includes(policyHash), '`sigil policy set` stores the rules and prints their hash', p.stdout + p.stderr);

  // ---- 2. boot ----
  PORT = await freePort();
  const statusPort = await freePort();
  const host = start('host', path.join(BIN, 'sigil-host'), ['--store', STORE, '--launcher', 'local', '--sigild', path.join(BIN, 'sigild'),
    '--kms', KMS, '--kms-ca', T('kms', 'tls-cert.pem'), '--kms-credentials', T('kms', 'credentials'),
    '--sim-attestation-dir', T('attestation'), '--client-ca', T('tls', 'client-ca.pem'),
    '--listen', `127.0.0.1:${PORT}`, '--status-listen', `127.0.0.1:${statusPort}`, '--status-interval-s', '1',
    '--run-dir', T('run'), '--data-dir', T('data'), '--network', 'hoodi']);
  const t0 = Date.now();
  const ready = await waitFor(60000, () => status(statusPort).json?.state === 'READY');
  report.boot_ms = Date.now() - t0;
  await waitFor(5000, () => status(statusPort).json?.eth1_keys === 2);
  let st = status(statusPort);
  check(ready && st.json?.policy_hash === policyHash && st.json?.policy === 'loaded' && st.json?.eth1_keys === 2 && st.json?.wallet === 'enabled',
    `READY in ${report.boot_ms} ms; status: policy hash = SHA-256 of the file, 2 eth1 keys, wallet enabled`, st.json);
  check(st.json?.keys_loaded === 2 && st.json?.keys_expected === 2, 'status: keys loaded and expected count both chains (2 of 2)',
    { loaded: st.json?.keys_loaded, expected: st.json?.keys_expected });
  check(/^0x[0-9a-f]{40}$/.test(st.json?.audit?.signer ?? '') && st.json?.audit?.log === T('data', 'audit.jsonl') && st.json?.audit?.lines_stored >= 1,
    'status: the audit key address, the log in DATA_DIR, the start record stored by the host', st.json?.audit);
  const text = spawnSync(SIGIL, ['status', '--host', `http://127.0.0.1:${statusPort}`], { encoding: 'utf8' }).stdout;
  check(text.includes(policyHash) && /audit_log/.test(text), '`sigil status` prints the policy hash and the audit log', text);

  // ---- 3. JSON-RPC through the host's proxy ----
  agent = new https.Agent({ ca: fs.readFileSync(T('tls', 'server-cert.pem')), cert: fs.readFileSync(T('tls', 'client-cert.pem')),
    key: fs.readFileSync(T('tls', 'client-key.pem')), keepAlive: false });
  let r = await rpc('eth_accounts', []);
  const accounts = (r.result ?? []).map((a) => a.toLowerCase());
  check(accounts.includes(treasury.address.toLowerCase()) && accounts.includes(ops.address.toLowerCase()),
    'eth_accounts through the host port lists the imported wallets', r.text);
  const tx2 = { type: 2, chainId: 11155111, nonce: 7, to: '0x1111111111111111111111111111111111111111', value: 5n * 10n ** 17n,
    gasLimit: 21000, maxFeePerGas: 30000000000n, maxPriorityFeePerGas: 1000000000n, data: '0x' };
  const rpcTx = (from, t) => ({ from, to: t.to, nonce: toQuantity(t.nonce), gas: toQuantity(t.gasLimit), value: toQuantity(t.value),
    chainId: toQuantity(t.chainId), data: t.data, type: toQuantity(t.type),
    ...(t.type === 2 ? { maxFeePerGas: toQuantity(t.maxFeePerGas), maxPriorityFeePerGas: toQuantity(t.maxPriorityFeePerGas) }
      : { gasPrice: toQuantity(t.gasPrice) }) });
  r = await rpc('eth_signTransaction', [rpcTx(treasury.address, tx2)]);
  const want2 = await treasury.signTransaction(tx2);
  check(r.result === want2, 'EIP-1559 transaction signed in the enclave = ethers, byte for byte', { got: r.result, want: want2, err: r.error });
  const tx0 = { type: 0, chainId: 1, nonce: 3, to: '0x2222222222222222222222222222222222222222', value: 12345n, gasLimit: 50000,
    gasPrice: 20000000000n, data: '0xdeadbeef' };
  r = await rpc('eth_signTransaction', [rpcTx(ops.address, tx0)]);
  const want0 = await ops.signTransaction(tx0);
  check(r.result === want0, 'legacy EIP-155 transaction (ops, chain 1) = ethers', { got: r.result, want: want0, err: r.error });
  r = await rpc('personal_sign', ['0x68656c6c6f20656e636c617665', ops.address]);
  check(typeof r.result === 'string' && verifyMessage('hello enclave', r.result) === ops.address, 'personal_sign verifies with ethers', r.text);
  r = await rpc('eth_signTransaction', [rpcTx(treasury.address, { ...tx2, value: 2n * 10n ** 18n })]);
  check(refused(r, 'value.max'), 'policy refusal over JSON-RPC: value.max (2 ETH > 1 ETH), nothing signed', r.text);
  r = await rpc('eth_signTransaction', [rpcTx(treasury.address, { ...tx2, to: DENIED })]);
  check(refused(r, 'to.deny'), 'policy refusal: to.deny', r.text);
  r = await rpc('eth_signTransaction', [rpcTx(treasury.address, { ...tx2, chainId: 1 })]);
  check(refused(r, 'chain_id'), 'policy refusal: chain_id (treasury is Sepolia only)', r.text);

  // ---- 4. a key generated inside sigild ----
  const kg = spawnSync(SIGIL, ['keys', 'generate', '--chain', 'eth1', '--count', '1', '--host', `http://127.0.0.1:${statusPort}`], { encoding: 'utf8' });
  const genAddr = kg.stdout.trim().split('\n').find((l) => /^0x[0-9a-fA-F]{40}$/.test(l));
  check(kg.status === 0 && genAddr, 'sigil keys generate --chain eth1 prints the new address', kg.stdout + kg.stderr);
  const gen = genAddr ? getAddress(genAddr) : '0x0000000000000000000000000000000000000000';
  r = await rpc('eth_accounts', []);
  check((r.result ?? []).map((a) => a.toLowerCase()).includes(gen.toLowerCase()), 'the generated key is live at once', r.text);
  const txg = { ...tx0, chainId: 11155111, nonce: 0 };
  r = await rpc('eth_signTransaction', [rpcTx(gen, txg)]);
  check(typeof r.result === 'string' && Transaction.from(r.result).from === gen, 'the generated key signs; ethers recovers its address', r.text);
  const storeBytes = fs.readFileSync(T('store.db'));
  check(storeBytes.includes(Buffer.from(gen.slice(2), 'hex')), 'its envelope is in the store under its address');
  for (const bad of [['--count', '0'], ['--count', '101'], ['--count', '1', '--network', 'hoodi']]) {
    const x = spawnSync(SIGIL, ['keys', 'generate', '--chain', 'eth1', ...bad, '--host', `http://127.0.0.1:${statusPort}`], { encoding: 'utf8' });
    check(x.status === 2, `keygen refused: ${bad.join(' ')}`, x.stderr);
  }
  const hk = await fetch(`http://127.0.0.1:${statusPort}/keygen`, { method: 'POST', body: JSON.stringify({ chain: 'eth3', count: 1 }) });
  check(hk.status === 400, 'status API /keygen with an unknown chain → 400', hk.status);

  // ---- measured: signing through the host proxy, each decision durable in the host's audit log ----
  const N = Number(process.env.SIGIL_ENCLAVE_ETH1_N || 300);
  const bench = async (width) => {
    const lat = [];
    let next = 0;
    let ok = 0;
    const t = Date.now();
    await Promise.all(Array.from({ length: width }, async () => {
      while (next < N) {
        const i = next++;
        const s0 = process.hrtime.bigint();
        const rr = await rpc('eth_signTransaction', [rpcTx(ops.address, { ...tx0, nonce: 1000 + i })]);
        lat.push(Number(process.hrtime.bigint() - s0) / 1e6);
        if (typeof rr.result === 'string') ok++;
      }
    }));
    lat.sort((a, b) => a - b);
    return { ok, per_s: Math.round((N / (Date.now() - t)) * 1000), p50_ms: +lat[lat.length >> 1].toFixed(2),
      p99_ms: +lat[Math.floor(lat.length * 0.99)].toFixed(2) };
  };
  report.sign_serial = await bench(1);
  report.sign_16 = await bench(16);
  const fresh = agent; /* the same with kept-alive TLS connections: the handshakes out of the picture */
  agent = new https.Agent({ ca: fs.readFileSync(T('tls', 'server-cert.pem')), cert: fs.readFileSync(T('tls', 'client-cert.pem')),
    key: fs.readFileSync(T('tls', 'client-key.pem')), keepAlive: true, maxSockets: 16 });
  report.sign_serial_keepalive = await bench(1);
  report.sign_16_keepalive = await bench(16);
  agent.destroy();
  agent = fresh;
  check([report.sign_serial, report.sign_16, report.sign_serial_keepalive, report.sign_16_keepalive].every((b) => b.ok === N),
    `${4 * N} transactions signed through the host proxy, each audited at the host`,
    report);

  // ---- 5. kill -9 sigild: restart from the store, the audit chain continues ----
  const kids = () => fs.readdirSync('/proc').filter((d) => /^\d+$/.test(d)).filter((d) => {
    try {
      const s = fs.readFileSync(`/proc/${d}/stat`, 'utf8');
      return Number(s.slice(s.lastIndexOf(')') + 2).split(' ')[1]) === host.pid;
    } catch { return false; }
  }).map(Number);
  const sigildPid = kids().find((pid) => { try { return fs.readlinkSync(`/proc/${pid}/exe`) === fs.realpathSync(path.join(BIN, 'sigild')); } catch { return false; } });
  check(sigildPid > 0, 'found sigild under sigil-host', kids());
  const linesBefore = fs.readFileSync(T('data', 'audit.jsonl'), 'utf8').split('\n').filter(Boolean).length;
  process.kill(sigildPid, 'SIGKILL');
  const back = await waitFor(60000, () => { const s = status(statusPort).json; return s?.state === 'READY' && s?.restarts >= 1; });
  await waitFor(5000, () => status(statusPort).json?.eth1_keys === 3);
  st = status(statusPort);
  check(back && st.json?.eth1_keys === 3 && st.json?.policy_hash === policyHash, 'restarted: 3 eth1 keys (the generated one from the store), same policy', st.json);
  r = await rpc('eth_signTransaction', [rpcTx(gen, { ...txg, nonce: 1 })]);
  check(typeof r.result === 'string' && Transaction.from(r.result).from === gen, 'the generated key signs after the restart', r.text);
  r = await rpc('eth_signTransaction', [rpcTx(treasury.address, { ...tx2, nonce: 8 })]);
  check(r.result === await treasury.signTransaction({ ...tx2, nonce: 8 }), 'the imported key signs after the restart (= ethers)', r.text);
  const hc = await stop(host);
  check(hc === 0, 'sigil-host exits 0 on SIGTERM (SHUTDOWN closes the audit log first)', hc);
  const lines = fs.readFileSync(T('data', 'audit.jsonl'), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
  report.audit_lines = lines.length;
  check(lines.length > linesBefore && lines.filter((l) => l.type === 'start').length === 2 &&
    lines.slice(-2).some((l) => l.type === 'stop') && lines.at(-1).type !== 'decision',
    'audit log: two starts (one per life), the chain ends with a stop record and its checkpoint', lines.map((l) => l.type).join(','));
  const seqOk = lines.every((l, i) => i === 0 || l.seq === lines[i - 1].seq + 1);
  check(seqOk, 'audit seq numbers continue across the restart without a gap');

  // ---- 6. sigil audit verify ----
  const root = T('kms', 'attestation-root.pem');
  let v = spawnSync(SIGIL, ['audit', 'verify', T('data', 'audit.jsonl'), '--attestation-root', root, '--json'], { encoding: 'utf8' });
  let vj;
  try { vj = JSON.parse(v.stdout); } catch { vj = undefined; }
  report.verify = vj ?? v.stdout;
  check(v.status === 0, '`sigil audit verify DATA_DIR/audit.jsonl --attestation-root <dev root>` is clean', v.stdout + v.stderr);
  v = spawnSync(SIGIL, ['audit', 'verify', T('data', 'audit.jsonl'), '--attestation-root', root, '--require-attestation'], { encoding: 'utf8' });
  check(v.status === 0, 'every start record carries an attestation document binding the audit key (--require-attestation)', v.stdout + v.stderr);
  const otherRoot = T('other-root.pem');
  fs.writeFileSync(otherRoot, fs.readFileSync(T('tls', 'client-ca.pem')));
  v = spawnSync(SIGIL, ['audit', 'verify', T('data', 'audit.jsonl'), '--attestation-root', otherRoot, '--require-attestation'], { encoding: 'utf8' });
  check(v.status !== 0, 'the same log against another attestation root is not clean', v.stdout + v.stderr);
  const raw = fs.readFileSync(T('data', 'audit.jsonl'), 'utf8').split('\n');
  const di = raw.findIndex((l) => l.includes('"value.max"'));
  if (di >= 0) {
    const changed = [...raw];
    changed[di] = changed[di].replace('"value.max"', '"value.ok!"');
    fs.writeFileSync(T('audit-changed.jsonl'), changed.join('\n'));
    v = spawnSync(SIGIL, ['audit', 'verify', T('audit-changed.jsonl'), '--attestation-root', root], { encoding: 'utf8' });
    check(v.status === 3 && /line/.test(v.stdout + v.stderr), 'a changed refusal record is caught (exit 3, the line named)', v.stdout + v.stderr);
  }
  check(di >= 0, 'the value.max refusal is in the audit log');

  // ---- no wallet secret on the host side ----
  const needles = [treasury, ops].flatMap((w) => { const h = w.privateKey.slice(2); return [Buffer.from(h, 'hex'), Buffer.from(h), Buffer.from(h.toUpperCase())]; });
  const files = [];
  const walk = (d) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const f = path.join(d, e.name);
      if (e.isDirectory()) walk(f);
      else if (e.isFile()) files.push(f);
    }
  };
  for (const d of ['run', 'data', 'kms', 'attestation', 'tls']) if (fs.existsSync(T(d))) walk(T(d));
  for (const f of fs.readdirSync(tmp)) if (/^store.*\.db(-wal|-shm|-journal)?$/.test(f) || f.endsWith('.log')) files.push(T(f));
  const leaky = files.filter((f) => needles.some((n) => fs.readFileSync(f).includes(n)));
  check(files.length > 6 && leaky.length === 0, `no wallet secret (raw/hex) in ${files.length} files: store, audit log, run/data dirs, logs`, leaky);
  check(kms.exitCode === null, 'sigil-kms still up');
} catch (e) {
  t.failed++;
  console.error(`FAIL: ${e.stack}`);
} finally {
  agent?.destroy();
  await procs.stopAll();
  if (t.failed) procs.dumpLogs();
  if (!process.env.SIGIL_KEEP_TMP) fs.rmSync(tmp, { recursive: true, force: true });
}
console.log(`report: ${JSON.stringify(report)}`);
console.log(`enclave_eth1: ${t.passed} passed, ${t.failed} failed`);
process.exit(t.failed === 0 ? 0 : 1);
