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
import { spawn, spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Wallet, Transaction, encryptKeystoreJsonSync, keccak256, toQuantity } from 'ethers';

const BIN = process.env.SIGIL_BIN;
if (!BIN) {
  console.error('SIGIL_BIN is not set');
  process.exit(2);
}
const here = path.dirname(fileURLToPath(import.meta.url));
const PG_SCRIPTS = process.env.SIGIL_PG_SCRIPTS ?? path.join(here, '..', 'pg');
const args = process.argv.slice(2);
const REQUESTS = Number(args.includes('--requests') ? args[args.indexOf('--requests') + 1] : '1600');
const LIMIT = 10000n;
const VALUE = 7n;
const EXPECT = Number(LIMIT / VALUE); // 1428

let passed = 0;
let failed = 0;
function check(cond, what, extra) {
  if (cond) {
    passed++;
  } else {
    failed++;
    console.error(`FAIL: ${what}${extra === undefined ? '' : ` (${typeof extra === 'string' ? extra.slice(0, 500) : JSON.stringify(extra)})`}`);
  }
}
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const pgDir = path.join(os.tmpdir(), `sigild-eth1-pg-${process.pid}-${crypto.randomBytes(4).toString('hex')}`);
const pgStart = spawnSync(path.join(PG_SCRIPTS, 'pg_start.sh'), [pgDir], { encoding: 'utf8' });
if (pgStart.status === 77) {
  console.log(`sigild_eth1_pg: ${pgStart.stdout.trim() || 'skipped: PostgreSQL is not available'}`);
  process.exit(77);
}
if (pgStart.status !== 0) {
  console.error(`sigild_eth1_pg: pg_start.sh failed (${pgStart.status}): ${pgStart.stdout}${pgStart.stderr}`);
  spawnSync(path.join(PG_SCRIPTS, 'pg_stop.sh'), [pgDir]);
  process.exit(1);
}
const dbUrl = fs.readFileSync(path.join(pgDir, 'url'), 'utf8').trim();

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sigild-eth1-pg-test-'));
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

class Sigild {
  constructor(name) {
    this.name = name;
    this.logs = '';
    this.port = 0;
    this.audit = path.join(tmp, `audit-${name}.log`);
    this.agent = new http.Agent({ keepAlive: true, maxSockets: 16 });
  }

  async start() {
    this.child = spawn(path.join(BIN, 'sigild'), ['--eth1-keystores-path', ksDir, '--eth1-keystores-passwords-path', pwDir,
      '--policy-file', policyFile, '--audit-log', this.audit, '--slashing-db', dbUrl, '--http-listen', '127.0.0.1:0'],
    { stdio: ['ignore', 'ignore', 'pipe'] });
    this.child.stderr.setEncoding('utf8');
    this.child.stderr.on('data', (d) => { this.logs += d; });
    const deadline = Date.now() + 60000;
    while (Date.now() < deadline && !this.port) {
      const m = this.logs.match(/"msg":"listening"[^\n]*"port":(\d+)/);
      if (m) this.port = Number(m[1]);
      else if (this.child.exitCode !== null) throw new Error(`sigild ${this.name} exited: ${this.logs}`);
      else await sleep(50);
    }
    if (!this.port) throw new Error(`sigild ${this.name} did not start: ${this.logs}`);
  }

  stop() {
    return new Promise((resolve) => {
      this.agent.destroy();
      if (!this.child || this.child.exitCode !== null) return resolve(this.child?.exitCode);
      this.child.on('exit', (code, sig) => resolve(code ?? sig));
      this.child.kill('SIGTERM');
    });
  }

  rpc(method, params, id) {
    return new Promise((resolve, reject) => {
      const data = JSON.stringify({ jsonrpc: '2.0', id, method, params });
      const req = http.request({ host: '127.0.0.1', port: this.port, method: 'POST', path: '/', agent: this.agent,
        headers: { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(data) } }, (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c) => { text += c; });
        res.on('end', () => {
          try { resolve(JSON.parse(text)); } catch { resolve({ text }); }
        });
      });
      req.on('error', reject);
      req.write(data);
      req.end();
    });
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
  failed++;
  console.error(`FAIL: ${e.stack}\n--- A ---\n${A.logs.slice(-3000)}\n--- B ---\n${B.logs.slice(-3000)}`);
} finally {
  for (const inst of [A, B]) {
    if (inst.child && inst.child.exitCode === null) inst.child.kill('SIGKILL');
    inst.agent.destroy();
  }
  spawnSync(path.join(PG_SCRIPTS, 'pg_stop.sh'), [pgDir]);
  fs.rmSync(tmp, { recursive: true, force: true });
}
console.log(`sigild_eth1_pg: ${passed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
