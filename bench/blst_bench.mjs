#!/usr/bin/env node
// Speed comparison of Sigil's BLS12-381 against blst (through @chainsafe/blst), measured in the
// same run on the same machine. Usage: node bench/blst_bench.mjs [BUILD_DIR]   (default: build)
//
// Sigil's numbers come from `BUILD_DIR/bin/sigil bench bls --json` (median microseconds per
// operation); blst's are measured here with the same kinds of input: a fixed secret key, a 32-byte
// message, 128 public keys for FastAggregateVerify, and decompression WITH the subgroup check.
// Prints a Markdown table and writes BUILD_DIR/bench/bls.json.
//
// Environment:
//   SIGIL_BENCH_SECONDS  time budget per blst operation (default 1.5)
//   SIGIL_BENCH_STRICT   if 1, exit 1 when a goal is missed
//   SIGIL_BENCH_SKIP_SIGIL  if 1, measure blst only (for checking this script)

import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '..');
// The npm oracles are installed (pinned) under tests/interop.
const requireOracle = createRequire(path.join(root, 'tests/interop/package.json'));
let blst;
try {
  blst = requireOracle('@chainsafe/blst');
} catch (e) {
  console.error(`blst_bench: cannot load @chainsafe/blst (run \`npm ci\` in tests/interop): ${e.message}`);
  process.exit(2);
}

const buildDir = path.resolve(process.argv[2] ?? 'build');
const SECONDS = Number(process.env.SIGIL_BENCH_SECONDS ?? '1.5');
const STRICT = process.env.SIGIL_BENCH_STRICT === '1';

// ---------------------------------------------------------------- inputs

// The inputs `sigil bench bls` publishes (and echoes under "inputs"): sk = 32 bytes of 0x01,
// msg = 32 bytes of 0xab, and the integers 1..128 as the fast-aggregate-verify secret keys.
const fill = (n, v) => new Uint8Array(n).fill(v);
const intKey = (i) => {
  const b = new Uint8Array(32);
  new DataView(b.buffer).setUint32(28, i);
  return b;
};
const sk = blst.SecretKey.fromBytes(fill(32, 0x01));
const msg = fill(32, 0xab);
const pk = sk.toPublicKey();
const sig = sk.sign(msg);
const pkBytes = pk.toBytes(true);
const sigBytes = sig.toBytes(true);
const sks128 = Array.from({ length: 128 }, (_, i) => blst.SecretKey.fromBytes(intKey(i + 1)));
const pks128 = sks128.map((k) => k.toPublicKey());
const agg128 = blst.aggregateSignatures(sks128.map((k) => k.sign(msg)));
const INPUTS = { sk: '0x' + '01'.repeat(32), msg: '0x' + 'ab'.repeat(32) };
if (!blst.verify(msg, pk, sig) || !blst.fastAggregateVerify(msg, pks128, agg128)) {
  console.error('blst_bench: blst self-check failed');
  process.exit(2);
}

// ---------------------------------------------------------------- timing

// Median of per-call times over a time budget (at least 21 calls), after a short warm-up.
function measure(fn) {
  const warmEnd = performance.now() + Math.min(200, SECONDS * 200);
  while (performance.now() < warmEnd) fn();
  const samples = [];
  const end = performance.now() + SECONDS * 1000;
  while (performance.now() < end || samples.length < 21) {
    const t = process.hrtime.bigint();
    fn();
    samples.push(Number(process.hrtime.bigint() - t) / 1000);
  }
  samples.sort((a, b) => a - b);
  return { median: samples[samples.length >> 1], n: samples.length };
}

// The operations Sigil's `bench bls` reports, with blst's equivalent. blst exposes no bare
// hash-to-G2 through @chainsafe/blst, so that row has no reference number.
const OPS = [
  { key: 'sign_us', name: 'sign (32-byte message)', goal: 1.25, blst: () => sk.sign(msg) },
  { key: 'verify_us', name: 'verify (decoded pk and sig)', goal: 1.5, blst: () => blst.verify(msg, pk, sig) },
  { key: 'hash_to_g2_us', name: 'hash_to_g2 (32-byte message)', goal: null, blst: null },
  { key: 'sk_to_pk_us', name: 'sk_to_pk', goal: null, blst: () => sk.toPublicKey() },
  { key: 'pk_decompress_us', name: 'pk decompress + subgroup check', goal: 1.5, blst: () => blst.PublicKey.fromBytes(pkBytes, true) },
  { key: 'sig_decompress_us', name: 'sig decompress + subgroup check', goal: 1.5, blst: () => blst.Signature.fromBytes(sigBytes, true) },
  { key: 'fast_aggregate_verify_128_us', name: 'fast_aggregate_verify, 128 keys', goal: null, blst: () => blst.fastAggregateVerify(msg, pks128, agg128) },
];

// ---------------------------------------------------------------- Sigil

function runSigil() {
  if (process.env.SIGIL_BENCH_SKIP_SIGIL === '1') return { error: 'skipped (SIGIL_BENCH_SKIP_SIGIL=1)' };
  const bin = path.join(buildDir, 'bin', 'sigil');
  if (!existsSync(bin)) return { error: `${bin} not found (build it first)` };
  const r = spawnSync(bin, ['bench', 'bls', '--json', '--seconds', String(SECONDS)], { encoding: 'utf8', maxBuffer: 1 << 20 });
  if (r.status !== 0) return { error: `\`sigil bench bls --json\` exited with ${r.status ?? r.signal}: ${(r.stderr || '').trim().split('\n').pop()}` };
  // The JSON object is the last non-empty line (progress may precede it).
  const line = r.stdout.trim().split('\n').filter((l) => l.trim().startsWith('{')).pop();
  try {
    return { results: JSON.parse(line ?? r.stdout) };
  } catch {
    return { error: `cannot parse sigil output as JSON: ${r.stdout.slice(0, 200)}` };
  }
}

// ---------------------------------------------------------------- main

const started = new Date();
console.error(`blst_bench: running ${path.join(buildDir, 'bin', 'sigil')} bench bls --json ...`);
const sigil = runSigil();
if (sigil.error) console.error(`blst_bench: Sigil numbers unavailable: ${sigil.error}`);
const inp = sigil.results?.inputs;
if (inp && (inp.sk?.toLowerCase() !== INPUTS.sk || inp.msg?.toLowerCase() !== INPUTS.msg)) {
  console.error(`blst_bench: sigil bench inputs changed (${JSON.stringify(inp)}); update this script's inputs to match`);
  process.exit(2);
}

console.error(`blst_bench: measuring blst (${SECONDS} s per operation, this thread only) ...`);
const rows = [];
for (const op of OPS) {
  const b = op.blst ? measure(op.blst) : null;
  const s = sigil.results?.[op.key];
  const sigilUs = typeof s === 'number' ? s : null;
  const blstUs = b ? b.median : null;
  const ratio = sigilUs !== null && blstUs !== null ? sigilUs / blstUs : null;
  const met = op.goal !== null && ratio !== null ? ratio <= op.goal : null;
  rows.push({ op: op.name, key: op.key, sigil_us: sigilUs, blst_us: blstUs, blst_samples: b?.n ?? 0, ratio, goal: op.goal, goal_met: met });
}

const f = (x, d = 1) => (x === null ? 'n/a' : x.toFixed(d));
const lines = [
  '| operation | Sigil µs | blst µs | ratio | goal |',
  '|---|---:|---:|---:|---|',
  ...rows.map((r) => {
    const goal = r.goal === null ? '—' : `≤ ${r.goal.toFixed(2)} ${r.goal_met === null ? '(not measured)' : r.goal_met ? '✅' : '❌ MISSED'}`;
    return `| ${r.op} | ${f(r.sigil_us)} | ${f(r.blst_us)} | ${f(r.ratio, 2)} | ${goal} |`;
  }),
];
const cpu = os.cpus()[0]?.model ?? 'unknown CPU';
console.log(`\nBLS12-381 speed, Sigil vs blst (${started.toISOString()}, ${cpu}, ${os.cpus().length} CPUs, node ${process.version})\n`);
console.log(lines.join('\n'));
if (sigil.error) console.log(`\nSigil: ${sigil.error}`);
console.log('\nratio = Sigil / blst (lower is better); medians of single-threaded calls.');

const outDir = path.join(buildDir, 'bench');
mkdirSync(outDir, { recursive: true });
const outFile = path.join(outDir, 'bls.json');
writeFileSync(
  outFile,
  JSON.stringify(
    {
      date: started.toISOString(),
      host: { cpu, cpus: os.cpus().length, node: process.version, platform: `${os.platform()} ${os.release()}` },
      method: `median of single-threaded per-call wall time over ${SECONDS} s per operation (both sides, one pinned CPU via bench/run.sh); Sigil from \`sigil bench bls --json --seconds ${SECONDS}\``,
      sigil_raw: sigil.results ?? null,
      sigil_error: sigil.error ?? null,
      rows,
      markdown: lines.join('\n'),
    },
    null,
    2,
  ) + '\n',
);
console.error(`blst_bench: wrote ${outFile}`);

if (STRICT && rows.some((r) => r.goal_met === false)) process.exit(1);
