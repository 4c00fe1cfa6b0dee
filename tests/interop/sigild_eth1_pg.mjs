// Two sigild processes with the same eth1 key and a 24 h spend window on one PostgreSQL database
// never sign more than the window allows, together. A throwaway cluster (tests/pg/pg_start.sh)
// backs instances A and B; both are hammered at once with transactions of the same value and
// distinct nonces. Exactly floor(limit / value) may be signed in total, by either instance; every
// other one is refused with rule spend.daily; each signed raw transaction decodes (ethers) to the
// key's address and the value; both audit logs verify clean and their signed counts add up.
//
// Usage: node sigild_eth1_pg.mjs [--requests N]
// env: SIGIL_BIN (build/bin), SIGIL_PG_SCRIPTS (tests/pg; default ../pg next to this file)
// Exits 77 (skipped) when the PostgreSQL server binaries are not installed.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { Wallet, Transaction, encryptKeystoreJsonSync, keccak256, toQuantity } from 'ethers';
import { Sigild as SigildProcess, checker, sigilBin, startPg, tempDir } from './lib/harness.mjs';

const BIN = sigilBin();
const args = process.argv.slice(2);
const REQUESTS = Number(args.includes('--requests') ? args[args.indexOf('--requests') + 1] : '1600');
const LIMIT = 10000n;
const VALUE = 7n;
const EXPECT = Number(LIMIT / VALUE); // 1428

const t = checker({ clip: 500 });
const { check } = t;

const pg = startPg('sigild_eth1_pg');
const dbUrl = pg.url;

const { tmp } = tempDir('sigild-eth1-pg-test-');
const ksDir = path.join(tmp, 'keystores');
const pwDir = path.join(tmp, 'passwords');
fs.mkdirSync(ksDir);
fs.mkdirSync(pwDir);
const key = new Wallet(keccak256(new TextEncoder().encode('sigil two-instance spend test key')));
fs.writeFileSync(path.join(ksDir, 'treasury.json'),
  encryptKeystoreJsonSync({ address: key.address, privateKey: key.privateKey }, 'pg pw', { scrypt: { N: 1024 } }));
fs.writeFileSync(path.join(pwDir, 'treasury.txt'), 'pg pw\n');
const policyFile = path.join(tmp, 'policy.json');
fs.writeFileSync(policyFile, JSON.stringify({ version: 1, policies: [{ name: 'treasury', keys: ['*'],
  spend_windows: [{ name: 'daily', window: '24h', max_wei: String(LIMIT) }] }] }));
const DEST = '0x' + '5a'.repeat(20);

class Sigild extends SigildProcess {
  constructor(name) {
    super(BIN, { name, agent: new http.Agent({ keepAlive: true, maxSockets: 16 }) });
    this.audit = path.join(tmp, `audit-${name}.log`);
  }

  start() {
    return super.start(['--eth1-keystores-path', ksDir, '--eth1-keystores-passwords-path', pwDir, '--policy-file', policyFile,
      '--audit-log', this.audit, '--slashing-db', dbUrl], { healthcheck: false });
  }

  stop() {
    this.agent.destroy();
    return super.stop();
  }

  async rpc(method, params, id) {
    const r = await this.request('POST', '/', { jsonrpc: '2.0', id, method, params });
    return r.json ?? { text: r.text };
  }
}

const A = new Sigild('A');
const B = new Sigild('B');
try {
  await Promise.all([A.start(), B.start()]);
  const signed = [];
  const refused = [];
  const other = [];
  let next = 0;
  const tx = (nonce) => ({ from: key.address, to: DEST, nonce: toQuantity(nonce), gas: '0x5208', maxFeePerGas: '0x3b9aca00',
    maxPriorityFeePerGas: '0x1', value: toQuantity(VALUE), chainId: '0x1' });
  // 16 requests in flight at each instance, both instances at once, nonces interleaved between them.
  const worker = async (inst) => {
    while (next < REQUESTS) {
      const nonce = next++;
      const r = await inst.rpc('eth_signTransaction', [tx(nonce)], nonce);
      if (typeof r.result === 'string') signed.push({ nonce, raw: r.result, by: inst.name });
      else if (r.error?.code === -32000 && r.error?.data?.rule === 'spend.daily') refused.push(nonce);
      else other.push(r);
    }
  };
  const t0 = Date.now();
  await Promise.all([...Array.from({ length: 16 }, () => worker(A)), ...Array.from({ length: 16 }, () => worker(B))]);
  const secs = (Date.now() - t0) / 1000;
  const byA = signed.filter((s) => s.by === 'A').length;
  console.log(`sigild_eth1_pg: ${REQUESTS} requests in ${secs.toFixed(1)} s: ${signed.length} signed (A ${byA}, B ${signed.length - byA}), ` +
    `${refused.length} refused, ${other.length} other`);
  check(other.length === 0, 'every answer is a signature or a spend.daily refusal', other.slice(0, 3));
  check(signed.length === EXPECT, `exactly floor(${LIMIT} / ${VALUE}) = ${EXPECT} transactions signed in total`, signed.length);
  check(byA > 0 && signed.length - byA > 0, 'both instances signed some', byA);
  let total = 0n;
  let bad = 0;
  for (const s of signed) {
    const t = Transaction.from(s.raw);
    total += t.value;
    if (t.from !== key.address || t.value !== VALUE || Number(t.nonce) !== s.nonce || t.to.toLowerCase() !== DEST) bad++;
  }
  check(bad === 0, 'every signed transaction decodes to the key, the value and its nonce', bad);
  check(total <= LIMIT, `the total value signed (${total}) never exceeds the limit (${LIMIT})`, String(total));
  check(new Set(signed.map((s) => s.nonce)).size === signed.length, 'no nonce signed twice');
  // the window is full for both
  const late = await Promise.all([A.rpc('eth_signTransaction', [tx(REQUESTS + 1)], 1), B.rpc('eth_signTransaction', [tx(REQUESTS + 2)], 2)]);
  check(late.every((r) => r.error?.data?.rule === 'spend.daily'), 'after the hammering both instances refuse', late);

  check((await A.stop()) === 0, 'A shuts down cleanly');
  check((await B.stop()) === 0, 'B shuts down cleanly');
  let auditSigned = 0;
  let auditRefused = 0;
  for (const inst of [A, B]) {
    const v = spawnSync(path.join(BIN, 'sigil'), ['audit', 'verify', inst.audit, '--json'], { encoding: 'utf8' });
    let rep = null;
    try { rep = JSON.parse(v.stdout); } catch { /* reported below */ }
    check(v.status === 0 && rep?.clean, `audit log of ${inst.name} verifies clean`, v.stdout.slice(0, 300) + v.stderr);
    auditSigned += rep?.signed ?? 0;
    auditRefused += rep?.refused ?? 0;
  }
  check(auditSigned === EXPECT && auditRefused === REQUESTS - EXPECT + 2, 'the two audit logs hold every decision',
    { auditSigned, auditRefused });
} catch (e) {
  t.failed++;
  console.error(`FAIL: ${e.stack}\n--- A ---\n${A.logs.slice(-3000)}\n--- B ---\n${B.logs.slice(-3000)}`);
} finally {
  for (const inst of [A, B]) {
    if (inst.child && inst.child.exitCode === null) inst.child.kill('SIGKILL');
    inst.agent.destroy();
  }
  pg.stop();
  fs.rmSync(tmp, { recursive: true, force: true });
}
console.log(`sigild_eth1_pg: ${t.passed} passed, ${t.failed} failed`);
process.exit(t.failed === 0 ? 0 : 1);
