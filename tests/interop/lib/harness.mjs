// Shared helpers of the interop scripts that drive the real binaries (sigild, sigil-host, sigil-kms,
// sigil): environment and skip checks, pass/fail counting, temp dirs, free ports, child processes
// (each one ours, stopped by PID), TLS material with client certificates, HTTP(S) JSON requests,
// a throwaway PostgreSQL cluster (tests/pg) and the seeded sfc32 generator of the random tests.
import { spawn, spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// SIGIL_BIN, or exit 2; exit 77 (skipped) when one of `needed` is not built there.
export function sigilBin(needed = []) {
  const bin = process.env.SIGIL_BIN;
  if (!bin) {
    console.error('SIGIL_BIN is not set');
    process.exit(2);
  }
  for (const b of needed) {
    if (!fs.existsSync(path.join(bin, b))) {
      console.log(`skipped: ${b} not built`);
      process.exit(77);
    }
  }
  return bin;
}

// Exit 77 (skipped) unless sigil-host's local sandbox works here (x86_64, user namespaces).
export function requireSandbox(bin) {
  if (os.arch() !== 'x64' ||
      spawnSync(path.join(bin, 'sigil-host'), ['sandbox-exec', '--run-dir', os.tmpdir(), '--', '/bin/true']).status !== 0) {
    console.log('skipped: the local sandbox is not available here');
    process.exit(77);
  }
}

// Pass/fail counting: t.check(cond, what, extra). verbose logs every pass; clip shortens the detail
// of a failure; maxShown limits how many failures are printed (all are counted).
export function checker({ verbose = false, clip = Infinity, maxShown = Infinity } = {}) {
  const t = { passed: 0, failed: 0 };
  t.check = (cond, what, extra) => {
    if (cond) {
      t.passed++;
      if (verbose) console.log(`ok: ${what}`);
      return;
    }
    t.failed++;
    if (t.failed > maxShown) return;
    const detail = extra === undefined ? '' : ` (${typeof extra === 'string' ? extra.slice(0, clip) : JSON.stringify(extra)?.slice(0, clip)})`;
    console.error(`FAIL: ${what}${detail}`);
  };
  return t;
}

// A fresh directory under the temp dir; T(...parts) joins inside it.
export function tempDir(prefix, { mode } = {}) {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  if (mode !== undefined) fs.chmodSync(tmp, mode);
  return { tmp, T: (...parts) => path.join(tmp, ...parts) };
}

// Runs a command to completion; throws with its stderr unless it exits 0; returns its stdout.
export function mustRun(cmd, args, input) {
  const r = spawnSync(cmd, args, { input, encoding: 'utf8', maxBuffer: 256 << 20 });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status}): ${r.stderr}`);
  return r.stdout;
}

export function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

// Polls fn (sync or async; a throw counts as "not yet") until it is truthy or ms pass.
export async function waitFor(ms, fn, stepMs = 100) {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    try {
      if (await fn()) return true;
    } catch { /* not yet */ }
    await sleep(stepMs);
  }
  return false;
}

// Sends signal to a child of ours and resolves with its exit code (or signal) once it is gone;
// with killAfterMs, a SIGKILL follows when it has not exited by then.
export function stopChild(child, { signal = 'SIGTERM', killAfterMs } = {}) {
  return new Promise((resolve) => {
    if (!child || child.exitCode !== null || child.signalCode !== null) return resolve(child?.exitCode ?? child?.signalCode);
    const t = killAfterMs ? setTimeout(() => child.kill('SIGKILL'), killAfterMs) : null;
    child.once('exit', (code, sig) => {
      if (t) clearTimeout(t);
      resolve(code ?? sig);
    });
    child.kill(signal);
  });
}

// Long-running processes with their output in DIR/NAME.log.
export class Procs {
  constructor(dir, killAfterMs) {
    this.dir = dir;
    this.killAfterMs = killAfterMs;
    this.list = [];
    this.logs = [];
  }

  start(name, cmd, args) {
    const log = path.join(this.dir, `${name}.log`);
    this.logs.push(log);
    const fd = fs.openSync(log, 'a', 0o600);
    const child = spawn(cmd, args, { stdio: ['ignore', fd, fd] });
    fs.closeSync(fd);
    child.name = name;
    this.list.push(child);
    return child;
  }

  stop(child) {
    return stopChild(child, { killAfterMs: this.killAfterMs });
  }

  async stopAll() {
    for (const p of [...this.list].reverse()) await this.stop(p);
  }

  dumpLogs(tail = 4000) {
    for (const l of this.logs) {
      try { console.error(`--- ${path.basename(l)} (tail) ---\n${fs.readFileSync(l, 'utf8').slice(-tail)}`); } catch { /* */ }
    }
  }
}

// The enclave tests' KMS: sigil-kms started by procs in DIR/kms (its TLS certificate and
// credentials appear there on first start) and a KMS key whose policy admits only the sigild
// binary's measurement (PCR0 = SHA-384 of the file). Returns {kms (the child), KMS (its URL),
// kmsArgs (the --ca/--credentials options of `sigil`), PCR0, keyId, up (whether it answered)}.
export async function startKms(bin, procs, dir, description) {
  const kmsDir = path.join(dir, 'kms');
  const port = await freePort();
  const kms = procs.start('kms', path.join(bin, 'sigil-kms'), ['--data-dir', kmsDir, '--listen', `127.0.0.1:${port}`]);
  const KMS = `https://127.0.0.1:${port}`;
  const cred = path.join(kmsDir, 'credentials');
  const cert = path.join(kmsDir, 'tls-cert.pem');
  const up = await waitFor(20000, () => fs.existsSync(cred) && fs.statSync(cred).size > 0
    && spawnSync('curl', ['-s', '-o', '/dev/null', '--cacert', cert, `${KMS}/`]).status === 0);
  const kmsArgs = ['--ca', cert, '--credentials', cred];
  const PCR0 = crypto.createHash('sha384').update(fs.readFileSync(path.join(bin, 'sigild'))).digest('hex');
  const keyId = up ? mustRun(path.join(bin, 'sigil'), ['kms', 'create-key', '--endpoint', KMS, ...kmsArgs, '--bind-pcr0', PCR0,
    '--description', description]).trim() : '';
  return { kms, KMS, kmsArgs, PCR0, keyId, up, port };
}

// `sigil status --host http://127.0.0.1:PORT [--json]`.
export function sigilStatus(bin, statusPort, json = true) {
  const r = spawnSync(path.join(bin, 'sigil'), ['status', '--host', `http://127.0.0.1:${statusPort}`, ...(json ? ['--json'] : [])],
    { encoding: 'utf8' });
  let j;
  try { j = JSON.parse(r.stdout); } catch { j = undefined; }
  return { rc: r.status, text: r.stdout + r.stderr, json: j };
}

// One request to 127.0.0.1:port; body is sent as is when a string, else as JSON. Resolves with
// { status, text, json (undefined unless the answer parses), headers }.
export function jsonRequest({ port, method, path: urlPath, body, agent, headers = {}, tls = false, servername, timeout }) {
  return new Promise((resolve, reject) => {
    const data = body === undefined ? undefined : (typeof body === 'string' ? body : JSON.stringify(body));
    const h = { 'Content-Type': 'application/json', ...headers };
    if (data !== undefined) h['Content-Length'] = Buffer.byteLength(data);
    const opts = { host: '127.0.0.1', port, method, path: urlPath, agent, headers: h };
    if (servername) opts.servername = servername;
    if (timeout) opts.timeout = timeout;
    const req = (tls ? https : http).request(opts, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c) => { text += c; });
      res.on('end', () => {
        let json;
        try { json = JSON.parse(text); } catch { json = undefined; }
        resolve({ status: res.statusCode, text, json, headers: res.headers });
      });
    });
    if (timeout) req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    if (data !== undefined) req.write(data);
    req.end();
  });
}

// A test PKI under dir: a CA (ca.pem/ca.key), a server certificate for 127.0.0.1 and localhost
// (server.pem/server.key) and one client certificate per name (NAME.pem/NAME.key).
export function makePki(dir, clients) {
  fs.mkdirSync(dir);
  const p = (f) => path.join(dir, f);
  mustRun('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '2',
    '-subj', '/CN=sigil-test-ca', '-keyout', p('ca.key'), '-out', p('ca.pem')]);
  fs.writeFileSync(p('san.cnf'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
  const issue = (name, extfile) => {
    mustRun('openssl', ['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-subj', `/CN=${name}`,
      '-keyout', p(`${name}.key`), '-out', p(`${name}.csr`)]);
    const args = ['x509', '-req', '-in', p(`${name}.csr`), '-CA', p('ca.pem'), '-CAkey', p('ca.key'),
      '-CAcreateserial', '-days', '2', '-out', p(`${name}.pem`)];
    if (extfile) args.push('-extfile', extfile);
    mustRun('openssl', args);
  };
  issue('server', p('san.cnf'));
  for (const c of clients) issue(c);
  return p;
}

// The SHA-256 fingerprint of a certificate as openssl prints it (AA:BB:...).
export const certFingerprint = (file) =>
  mustRun('openssl', ['x509', '-in', file, '-noout', '-fingerprint', '-sha256']).split('=')[1].trim();

// An https.Agent presenting a client certificate and trusting ca.
export const tlsAgent = ({ ca, cert, key, ...opts }) =>
  new https.Agent({ ca: fs.readFileSync(ca), cert: fs.readFileSync(cert), key: fs.readFileSync(key), ...opts });

// A sigild process started with `--http-listen 127.0.0.1:0`: its port is read from the
// "listening" log line, its stderr kept in .logs; start() waits for /healthcheck = 200 unless
// healthcheck is false. request(method, path, body, headers, agent) goes to it.
export class Sigild {
  constructor(bin, { name, agent, tls = false, servername, headers = {} } = {}) {
    this.bin = bin;
    this.name = name;
    this.agent = agent;
    this.tls = tls;
    this.servername = servername;
    this.headers = headers;
    this.child = null;
    this.port = 0;
    this.logs = '';
  }

  async start(args, { timeoutMs = 60000, healthcheck = true } = {}) {
    const who = this.name ? `sigild ${this.name}` : 'sigild';
    this.logs = '';
    this.port = 0;
    this.child = spawn(path.join(this.bin, 'sigild'), [...args, '--http-listen', '127.0.0.1:0'], { stdio: ['ignore', 'ignore', 'pipe'] });
    this.child.stderr.setEncoding('utf8');
    this.child.stderr.on('data', (d) => { this.logs += d; });
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline && !this.port) {
      const m = this.logs.match(/"msg":"listening"[^\n]*"port":(\d+)/);
      if (m) this.port = Number(m[1]);
      else if (this.child.exitCode !== null) throw new Error(`${who} exited: ${this.logs}`);
      else await sleep(50);
    }
    if (!this.port) throw new Error(`${who} did not start: ${this.logs}`);
    if (!healthcheck) return;
    while (Date.now() < deadline) {
      const r = await this.request('GET', '/healthcheck').catch(() => null);
      if (r && r.status === 200) return;
      await sleep(50);
    }
    throw new Error(`${who} never became healthy: ${this.logs}`);
  }

  stop(signal = 'SIGTERM') {
    return stopChild(this.child, { signal });
  }

  request(method, urlPath, body, { headers = {}, agent = this.agent } = {}) {
    return jsonRequest({ port: this.port, method, path: urlPath, body, agent, tls: this.tls, servername: this.servername,
      headers: { ...this.headers, ...headers } });
  }
}

// A throwaway PostgreSQL cluster (tests/pg/pg_start.sh) in its own directory directly under the
// temp dir (the postgres user must reach it). Returns { dir, url, stop() }. When it does not start:
// with optional, { skipped: why }; else exit 77 when PostgreSQL is not installed, 1 otherwise.
export function startPg(testName, { optional = false } = {}) {
  const here = path.dirname(fileURLToPath(import.meta.url));
  const scripts = process.env.SIGIL_PG_SCRIPTS ?? path.join(here, '..', '..', 'pg');
  const dir = path.join(os.tmpdir(), `${testName.replaceAll('_', '-')}-${process.pid}-${crypto.randomBytes(4).toString('hex')}`);
  const stop = () => spawnSync(path.join(scripts, 'pg_stop.sh'), [dir]);
  const r = spawnSync(path.join(scripts, 'pg_start.sh'), [dir], { encoding: 'utf8' });
  if (r.status !== 0 && optional) {
    if (r.status !== 77) stop();
    return { skipped: `${r.stdout.trim()} ${r.stderr.trim()}` };
  }
  if (r.status === 77) {
    console.log(`${testName}: ${r.stdout.trim() || 'skipped: PostgreSQL is not available'}`);
    process.exit(77);
  }
  if (r.status !== 0) {
    console.error(`${testName}: pg_start.sh failed (${r.status}): ${r.stdout}${r.stderr}`);
    stop();
    process.exit(1);
  }
  return { dir, url: fs.readFileSync(path.join(dir, 'url'), 'utf8').trim(), stop };
}

// sfc32, seeded: failures reproduce from the seed. Returns the generator's helpers.
export function sfc32(seed) {
  let a = 0x9e3779b9, b = 0x243f6a88, c = 0xb7e15162, d = Number(seed) >>> 0;
  const rnd32 = () => {
    a >>>= 0; b >>>= 0; c >>>= 0; d >>>= 0;
    const t = (a + b) | 0; a = b ^ (b >>> 9); b = (c + (c << 3)) | 0; c = (c << 21) | (c >>> 11);
    d = (d + 1) | 0; const r = (t + d) | 0; c = (c + r) | 0; return r >>> 0;
  };
  for (let i = 0; i < 32; i++) rnd32();
  const rint = (n) => rnd32() % n;
  const chance = (p) => rnd32() / 2 ** 32 < p;
  const bytes = (n) => { const u = new Uint8Array(n); for (let i = 0; i < n; i++) u[i] = rint(256); return u; };
  return { rnd32, rint, chance, bytes };
}
