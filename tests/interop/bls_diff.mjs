#!/usr/bin/env node
// Differential test of Sigil's BLS12-381 library against two independent implementations:
// @chainsafe/blst (supranational/blst) and @noble/curves (pure JS), plus @chainsafe/bls-hd-key
// for EIP-2333 derivation. Sigil runs as one long-lived bls_driver process fed by a pipeline of
// JSON lines; the oracles compute in this process while the driver works.
//
// Compared, byte for byte or verdict for verdict: sk_to_pk, sign, hash_to_g2 (POP DST and random
// DSTs, including DSTs over 255 bytes), verify (valid / wrong message / wrong key / other
// signature / bit-flipped signature), PopProve/PopVerify, aggregation of signatures and keys,
// FastAggregateVerify, AggregateVerify, batch verification, decoding verdicts for hostile 48/96-byte
// encodings (blst with subgroup check decides), edge and invalid secret keys, KeyGen, EIP-2333
// derivation along random EIP-2334 paths, and a few round trips through `sigil bls` itself.
//
// Environment:
//   SIGIL_BLS_DRIVER   path to bls_driver (set by ctest)
//   SIGIL_BIN          directory holding the sigil CLI (fallback for EIP-2333 derivation)
//   SIGIL_DIFF_SEED    PRNG seed (uint32); default: time-based, always printed
//   SIGIL_DIFF_N       number of random secret keys (default 2000)
//   SIGIL_DIFF_NOBLE_EVERY   noble (pure JS, slow) checks pk/hash/sign bytes on every k-th key
//                      and pairings / proofs of possession on every 8k-th key (default 2)
//
// Exit status: 0 when every comparison agreed, 1 on the first mismatch (with a precise report),
// 2 on a setup error.

import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createInterface } from 'node:readline';
import path from 'node:path';

import blst from '@chainsafe/blst';
import hdkey from '@chainsafe/bls-hd-key';
import { bls12_381 } from '@noble/curves/bls12-381.js';

const noble = bls12_381.longSignatures;
const DST_SIG = 'BLS_SIG_BLS12381G2_XMD:SHA-256_SSWU_RO_POP_';
const DST_POP = 'BLS_POP_BLS12381G2_XMD:SHA-256_SSWU_RO_POP_';
const R = 0x73eda753299d7d483339d80809a1d80553bda402fffe5bfeffffffff00000001n;
const P = 0x1a0111ea397fe69a4b1ba7b6434bacd764774b84f38512bf6730d2a0f6b0f6241eabfffeb153ffffb9feffffffffaaabn;

const N = Number.parseInt(process.env.SIGIL_DIFF_N ?? '2000', 10);
const NOBLE_EVERY = Math.max(1, Number.parseInt(process.env.SIGIL_DIFF_NOBLE_EVERY ?? '2', 10));
const SEED = process.env.SIGIL_DIFF_SEED !== undefined ? Number(process.env.SIGIL_DIFF_SEED) >>> 0 : (Date.now() ^ (process.pid << 16)) >>> 0;
const BATCH = 64;

// ---------------------------------------------------------------- helpers

const enc = new TextEncoder();
const hex = (u8) => '0x' + Buffer.from(u8).toString('hex');
const unhex = (s) => new Uint8Array(Buffer.from(s.replace(/^0x/, ''), 'hex'));
const eqBytes = (a, b) => Buffer.from(a).equals(Buffer.from(b));
const bigToBytes = (x, n) => unhex(x.toString(16).padStart(2 * n, '0'));
const bytesToBig = (u8) => (u8.length === 0 ? 0n : BigInt(hex(u8)));

// sfc32 seeded through splitmix32: small, fast and reproducible across node versions.
function makeRng(seed) {
  let s = seed >>> 0;
  const split = () => {
    s = (s + 0x9e3779b9) >>> 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return (z ^ (z >>> 16)) >>> 0;
  };
  let a = split(), b = split(), c = split(), d = split();
  const u32 = () => {
    const t = (((a + b) >>> 0) + d) >>> 0;
    d = (d + 1) >>> 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) >>> 0;
    c = ((c << 21) | (c >>> 11)) >>> 0;
    c = (c + t) >>> 0;
    return t;
  };
  for (let i = 0; i < 16; i++) u32();
  const rng = {
    u32,
    int: (lo, hi) => lo + Math.floor((u32() / 2 ** 32) * (hi - lo + 1)), // inclusive
    chance: (p) => u32() / 2 ** 32 < p,
    bytes(n) {
      const out = new Uint8Array(n);
      for (let i = 0; i < n; i += 4) {
        const v = u32();
        for (let j = 0; j < 4 && i + j < n; j++) out[i + j] = (v >>> (8 * j)) & 0xff;
      }
      return out;
    },
    pick: (arr) => arr[Math.floor((u32() / 2 ** 32) * arr.length)],
    // Uniform in [lo, hi) by rejection from the next power of two.
    bigBelow(hi) {
      const bits = hi.toString(2).length;
      const n = Math.ceil(bits / 8);
      for (;;) {
        let x = bytesToBig(rng.bytes(n));
        x &= (1n << BigInt(bits)) - 1n;
        if (x < hi) return x;
      }
    },
  };
  return rng;
}

const rng = makeRng(SEED);

function randomSk() {
  return bigToBytes(1n + rng.bigBelow(R - 1n), 32);
}

function randomMsg() {
  const r = rng.u32() % 8;
  if (r < 3) return rng.bytes(32); // signing roots dominate real traffic
  if (r === 3) return new Uint8Array(0);
  if (r === 4) return rng.bytes(rng.int(1, 8));
  return rng.bytes(rng.int(0, 200));
}

function flipBit(u8, bit) {
  const out = Uint8Array.from(u8);
  out[bit >> 3] ^= 0x80 >> (bit & 7);
  return out;
}

const counts = new Map();
const pass = (what) => counts.set(what, (counts.get(what) ?? 0) + 1);

function fail(what, details) {
  console.error(`\nMISMATCH in ${what} (seed ${SEED}; rerun with SIGIL_DIFF_SEED=${SEED} SIGIL_DIFF_N=${N})`);
  for (const [k, v] of Object.entries(details)) {
    const shown = v instanceof Uint8Array ? hex(v) : typeof v === 'string' ? v : JSON.stringify(v);
    console.error(`  ${k.padEnd(14)} ${shown}`);
  }
  driver.kill();
  process.exit(1);
}

// Runs fn; returns its result or the string "reject" when it throws.
function verdict(fn) {
  try {
    return fn();
  } catch {
    return 'reject';
  }
}

// ---------------------------------------------------------------- the Sigil driver

class Driver {
  constructor(file) {
    this.child = spawn(file, [], { stdio: ['pipe', 'pipe', 'inherit'] });
    this.queue = [];
    this.nextId = 1;
    this.child.on('error', (e) => this.abort(`cannot start ${file}: ${e.message}`));
    this.child.on('exit', (code, sig) => {
      if (this.queue.length > 0) this.abort(`bls_driver exited (code ${code}, signal ${sig}) with ${this.queue.length} requests pending`);
    });
    this.child.stdin.on('error', () => {}); // reported through 'exit'
    createInterface({ input: this.child.stdout }).on('line', (line) => {
      const pending = this.queue.shift();
      if (pending === undefined) return this.abort(`unsolicited driver output: ${line}`);
      let resp;
      try {
        resp = JSON.parse(line);
      } catch {
        return this.abort(`driver wrote invalid JSON for ${JSON.stringify(pending.req)}: ${line}`);
      }
      if (resp.id !== pending.req.id) return this.abort(`driver answered id ${resp.id}, expected ${pending.req.id}`);
      pending.resolve(resp);
    });
  }

  abort(msg) {
    console.error(`bls_diff: ${msg}`);
    process.exit(2);
  }

  call(op, fields) {
    const req = { op, id: this.nextId++, ...fields };
    return new Promise((resolve) => {
      this.queue.push({ req, resolve });
      this.child.stdin.write(JSON.stringify(req) + '\n');
    });
  }

  kill() {
    this.child.kill();
  }

  async close() {
    this.child.stdin.end();
    await new Promise((resolve) => this.child.on('close', resolve));
  }
}

// Sigil's verdict as true / false / "reject" (decode error) for comparisons with blst.
const sigilVerdict = (resp) => (resp.error !== undefined ? 'reject' : resp.valid);

const driverPath = process.env.SIGIL_BLS_DRIVER;
if (!driverPath || !existsSync(driverPath)) {
  console.error('bls_diff: set SIGIL_BLS_DRIVER to the bls_driver binary (ctest does this)');
  process.exit(2);
}
const driver = new Driver(driverPath);

console.log(`bls_diff: seed ${SEED}, N ${N}; noble bytes on every ${NOBLE_EVERY}. key, noble pairings on every ${8 * NOBLE_EVERY}.`);
console.log(`bls_diff: oracles @chainsafe/blst, @noble/curves, @chainsafe/bls-hd-key; Sigil via ${driverPath}`);

// ---------------------------------------------------------------- oracle helpers

const blstSk1 = blst.SecretKey.fromBytes(bigToBytes(1n, 32));
const nobleSigBytes = (pt) => noble.Signature.toBytes(pt);

function blstPkVerdict(b) {
  return verdict(() => hex(blst.PublicKey.fromBytes(b, true).toBytes(true)));
}
// Signatures: subgroup check, but a correctly encoded identity is a valid group element (the
// infinity check is a pubkey-only rule), so blst's optional infinity check stays off.
function blstSigVerdict(b) {
  return verdict(() => hex(blst.Signature.fromBytes(b, true, false).toBytes(true)));
}
function noblePkVerdict(b) {
  return verdict(() => {
    const p = bls12_381.G1.Point.fromBytes(b);
    if (p.is0()) throw new Error('identity');
    return hex(p.toBytes(true));
  });
}
function nobleSigVerdict(b) {
  return verdict(() => hex(noble.Signature.toBytes(noble.Signature.fromBytes(b))));
}
function blstVerify(msg, pkBytes, sigBytes) {
  return verdict(() => blst.verify(msg, blst.PublicKey.fromBytes(pkBytes, true), blst.Signature.fromBytes(sigBytes, true, false)));
}

// ---------------------------------------------------------------- 1. keys, signatures, verify

async function checkKeys(sks, msgs, base) {
  const jobs = [];
  for (let j = 0; j < sks.length; j++) {
    const i = base + j;
    const sk = sks[j];
    const msg = msgs[j];
    const bsk = blst.SecretKey.fromBytes(sk);
    const pk = bsk.toPublicKey().toBytes(true);
    const sig = bsk.sign(msg).toBytes(true);
    const prevSk = sks[(j + sks.length - 1) % sks.length];
    const otherPk = blst.SecretKey.fromBytes(prevSk).toPublicKey().toBytes(true);
    const wrongMsg = msg.length > 0 && rng.chance(0.5) ? flipBit(msg, rng.int(0, msg.length * 8 - 1)) : Uint8Array.from([...msg, rng.u32() & 0xff]);
    const otherSig = bsk.sign(wrongMsg).toBytes(true);
    const corruptSig = flipBit(sig, rng.int(0, 767));
    const h = blstSk1.sign(msg).toBytes(true);

    const req = {
      pk: driver.call('sk_to_pk', { sk: hex(sk) }),
      sig: driver.call('sign', { sk: hex(sk), msg: hex(msg) }),
      h: driver.call('hash_to_g2', { msg: hex(msg), dst: hex(enc.encode(DST_SIG)) }),
      vOk: driver.call('verify', { pk: hex(pk), msg: hex(msg), sig: hex(sig) }),
      vMsg: driver.call('verify', { pk: hex(pk), msg: hex(wrongMsg), sig: hex(sig) }),
      vKey: driver.call('verify', { pk: hex(otherPk), msg: hex(msg), sig: hex(sig) }),
      vSig: driver.call('verify', { pk: hex(pk), msg: hex(msg), sig: hex(otherSig) }),
      vBit: driver.call('verify', { pk: hex(pk), msg: hex(msg), sig: hex(corruptSig) }),
    };
    const expect = {
      vOk: blstVerify(msg, pk, sig),
      vMsg: blstVerify(wrongMsg, pk, sig),
      vKey: blstVerify(msg, otherPk, sig),
      vSig: blstVerify(msg, pk, otherSig),
      vBit: blstVerify(msg, pk, corruptSig),
    };
    if (expect.vOk !== true || expect.vMsg !== false || expect.vKey !== false || expect.vSig !== false || expect.vBit === true) {
      fail('oracle self-check (blst verify)', { sk, msg, expect });
    }

    // noble (slow): byte-exact public key, hash and signature on a sample of keys (the edge keys
    // always), pairings and proofs of possession on a smaller sample.
    let nobleBytes = false;
    let nobleVerify = null;
    let pop = null;
    if (i % NOBLE_EVERY === 0 || i < 8) {
      const nPk = noble.getPublicKey(sk).toBytes(true);
      const nH = noble.hash(msg, DST_SIG);
      const nSig = nobleSigBytes(noble.sign(nH, sk));
      if (!eqBytes(nPk, pk) || !eqBytes(nSig, sig) || !eqBytes(nobleSigBytes(nH), h)) {
        fail('oracle disagreement (noble vs blst)', { sk, msg, blstPk: pk, noblePk: nPk, blstSig: sig, nobleSig: nSig });
      }
      nobleBytes = true;
    }
    if (i % (8 * NOBLE_EVERY) === 0) {
      const nH = noble.hash(msg, DST_SIG);
      const nSig = sig;
      const nPk = pk;
      nobleVerify = {
        vOk: noble.verify(nSig, nH, nPk),
        vMsg: noble.verify(nSig, noble.hash(wrongMsg, DST_SIG), nPk),
        vKey: noble.verify(nSig, nH, otherPk),
      };
      const proof = nobleSigBytes(noble.sign(noble.hash(pk, DST_POP), sk));
      pop = {
        proof,
        prove: driver.call('pop_prove', { sk: hex(sk) }),
        verify: driver.call('pop_verify', { pk: hex(pk), sig: hex(proof) }),
        verifyWrong: driver.call('pop_verify', { pk: hex(otherPk), sig: hex(proof) }),
      };
    }
    jobs.push({ i, sk, msg, pk, sig, h, wrongMsg, otherPk, otherSig, corruptSig, req, expect, nobleBytes, nobleVerify, pop });
  }

  for (const job of jobs) {
    const { i, sk, msg, pk, sig, h } = job;
    const r = {};
    for (const [k, p] of Object.entries(job.req)) r[k] = await p;
    const who = job.nobleBytes ? 'blst + noble' : 'blst';
    if (r.pk.pk !== hex(pk)) fail('sk_to_pk', { key: i, sk, sigil: r.pk.pk ?? r.pk.error, [who]: pk });
    pass(`sk_to_pk (${who})`);
    if (r.sig.sig !== hex(sig)) fail('sign', { key: i, sk, msg, sigil: r.sig.sig ?? r.sig.error, [who]: sig });
    pass(`sign (${who})`);
    if (r.h.point !== hex(h)) fail('hash_to_g2 (POP DST)', { msg, sigil: r.h.point ?? r.h.error, [who]: h });
    pass(`hash_to_g2 POP DST (${who})`);
    const inputs = {
      vOk: [msg, pk, sig],
      vMsg: [job.wrongMsg, pk, sig],
      vKey: [msg, job.otherPk, sig],
      vSig: [msg, pk, job.otherSig],
      vBit: [msg, pk, job.corruptSig],
    };
    const names = { vOk: 'valid', vMsg: 'wrong message', vKey: 'wrong key', vSig: 'other valid signature', vBit: 'bit-flipped signature' };
    for (const k of Object.keys(inputs)) {
      const s = sigilVerdict(r[k]);
      const b = job.expect[k];
      // A decode error and "false" are both rejections; compare acceptance, and for the
      // bit-flipped signature also whether the encoding itself decodes.
      if (s !== b) {
        const [m, p, g] = inputs[k];
        fail(`verify (${names[k]})`, { key: i, msg: m, pk: p, sig: g, sigil: r[k], blst: b });
      }
      pass(`verify: ${names[k]} (blst)`);
    }
    if (job.nobleVerify) {
      for (const [k, v] of Object.entries(job.nobleVerify)) {
        if (sigilVerdict(r[k]) !== v) fail(`verify (${names[k]}) vs noble`, { key: i, sk, msg, sigil: r[k], noble: v });
        pass(`verify: ${names[k]} (noble)`);
      }
      const pr = await job.pop.prove;
      if (pr.sig !== hex(job.pop.proof)) fail('pop_prove', { key: i, sk, sigil: pr.sig ?? pr.error, noble: job.pop.proof });
      pass('pop_prove (noble)');
      const pv = await job.pop.verify;
      const pw = await job.pop.verifyWrong;
      if (pv.valid !== true || pw.valid !== false) fail('pop_verify', { key: i, pk, proof: job.pop.proof, sigilValid: pv, sigilWrongKey: pw });
      pass('pop_verify (noble proofs)');
    }
  }
  return jobs;
}

// ---------------------------------------------------------------- 2. aggregation

async function checkGroups(sks, msgs) {
  const keyset = sks.map((sk, j) => {
    const bsk = blst.SecretKey.fromBytes(sk);
    return { sk, bsk, pkObj: bsk.toPublicKey(), pk: bsk.toPublicKey().toBytes(true), msg: msgs[j] };
  });
  let off = 0;
  const jobs = [];
  while (off < keyset.length) {
    const size = Math.min(keyset.length - off, rng.chance(0.15) ? 1 : rng.int(2, 16));
    const g = keyset.slice(off, off + size);
    off += size;

    // Same message: Aggregate + FastAggregateVerify.
    const m = randomMsg();
    const sigObjs = g.map((k) => k.bsk.sign(m));
    const sigs = sigObjs.map((s) => s.toBytes(true));
    const pks = g.map((k) => k.pk);
    const agg = blst.aggregateSignatures(sigObjs, true).toBytes(true);
    const aggPk = blst.aggregatePublicKeys(g.map((k) => k.pkObj), true).toBytes(true);
    const m2 = Uint8Array.from([...m, 0x01]);
    const fav = [
      ['all signers', pks, m, agg],
      ['other message', pks, m2, agg],
    ];
    if (size > 1) {
      fav.push(['one key missing', pks.slice(1), m, agg]);
      fav.push(['one signature missing', pks, m, blst.aggregateSignatures(sigObjs.slice(1), true).toBytes(true)]);
    }
    fav.push(['duplicated key', [...pks, pks[0]], m, agg]);

    // Distinct messages (with an occasional repeated message: POP allows it): AggregateVerify.
    const avMsgs = g.map((k, j) => (j > 0 && rng.chance(0.1) ? g[0].msg : k.msg));
    const avSigObjs = g.map((k, j) => k.bsk.sign(avMsgs[j]));
    const avAgg = blst.aggregateSignatures(avSigObjs, true).toBytes(true);
    const av = [['matching pairs', pks, avMsgs, avAgg]];
    if (size > 1 && !eqBytes(avMsgs[0], avMsgs[1])) av.push(['two messages swapped', pks, [avMsgs[1], avMsgs[0], ...avMsgs.slice(2)], avAgg]);
    av.push(['one message altered', pks, [Uint8Array.from([...avMsgs[0], 0x00]), ...avMsgs.slice(1)], avAgg]);

    // Batch verification of independent triples (random linear combination inside).
    const avSigs = avSigObjs.map((x) => x.toBytes(true));
    const bv = [['all valid', pks, avMsgs, avSigs]];
    if (size > 1) bv.push(['two signatures swapped', pks, avMsgs, [avSigs[1], avSigs[0], ...avSigs.slice(2)]]);
    bv.push(['one message altered', pks, [Uint8Array.from([...avMsgs[0], 0x07]), ...avMsgs.slice(1)], avSigs]);

    const job = {
      g,
      m,
      bv: bv.map(([name, p, ms, ss]) => ({
        name,
        p,
        ms,
        ss,
        expect: verdict(() =>
          blst.verifyMultipleAggregateSignatures(
            p.map((x, j) => ({ pk: blst.PublicKey.fromBytes(x, true), msg: ms[j], sig: blst.Signature.fromBytes(ss[j], true, false) })),
          ),
        ),
        sigil: driver.call('batch_verify', { pks: p.map(hex), msgs: ms.map(hex), sigs: ss.map(hex) }),
      })),
      sigs,
      agg,
      aggPk,
      sAgg: driver.call('aggregate', { sigs: sigs.map(hex) }),
      sAggPk: driver.call('aggregate_pks', { pks: pks.map(hex) }),
      fav: fav.map(([name, p, msg, s]) => ({
        name,
        p,
        msg,
        s,
        expect: verdict(() => blst.fastAggregateVerify(msg, p.map((x) => blst.PublicKey.fromBytes(x, true)), blst.Signature.fromBytes(s, true, false))),
        sigil: driver.call('fast_aggregate_verify', { pks: p.map(hex), msg: hex(msg), sig: hex(s) }),
      })),
      av: av.map(([name, p, ms, s]) => ({
        name,
        p,
        ms,
        s,
        expect: verdict(() => blst.aggregateVerify(ms, p.map((x) => blst.PublicKey.fromBytes(x, true)), blst.Signature.fromBytes(s, true, false))),
        sigil: driver.call('aggregate_verify', { pks: p.map(hex), msgs: ms.map(hex), sig: hex(s) }),
      })),
      noble: null,
    };
    if (job.fav[0].expect !== true || job.av[0].expect !== true) fail('oracle self-check (blst aggregate verify)', { fav: job.fav[0].expect, av: job.av[0].expect });
    if (rng.chance(1 / 4)) {
      // noble aggregates from its own decoding of the same bytes.
      job.noble = {
        agg: nobleSigBytes(noble.aggregateSignatures(sigs)),
        aggPk: noble.aggregatePublicKeys(pks).toBytes(true),
      };
    }
    jobs.push(job);
  }

  for (const job of jobs) {
    const sAgg = await job.sAgg;
    if (sAgg.sig !== hex(job.agg)) fail('aggregate signatures', { sigs: job.sigs.map(hex), sigil: sAgg.sig ?? sAgg.error, blst: job.agg });
    pass('aggregate signatures (blst)');
    const sAggPk = await job.sAggPk;
    if (sAggPk.pk !== hex(job.aggPk)) fail('aggregate public keys', { pks: job.g.map((k) => hex(k.pk)), sigil: sAggPk.pk ?? sAggPk.error, blst: job.aggPk });
    pass('aggregate public keys (blst)');
    if (job.noble) {
      if (!eqBytes(job.noble.agg, job.agg) || !eqBytes(job.noble.aggPk, job.aggPk)) fail('oracle disagreement (noble aggregate)', { blst: job.agg, noble: job.noble.agg });
      pass('aggregate signatures + keys (noble)');
    }
    for (const c of job.fav) {
      const s = sigilVerdict(await c.sigil);
      if (s !== c.expect) fail(`fast_aggregate_verify (${c.name})`, { pks: c.p.map(hex), msg: c.msg, sig: c.s, sigil: s, blst: c.expect });
      pass(`fast_aggregate_verify: ${c.name} (blst)`);
    }
    for (const c of job.bv) {
      const s = sigilVerdict(await c.sigil);
      if (s !== c.expect) fail(`batch_verify (${c.name})`, { pks: c.p.map(hex), msgs: c.ms.map(hex), sigs: c.ss.map(hex), sigil: s, blst: c.expect });
      pass(`batch_verify: ${c.name} (blst)`);
    }
    for (const c of job.av) {
      const s = sigilVerdict(await c.sigil);
      if (s !== c.expect) fail(`aggregate_verify (${c.name})`, { pks: c.p.map(hex), msgs: c.ms.map(hex), sig: c.s, sigil: s, blst: c.expect });
      pass(`aggregate_verify: ${c.name} (blst)`);
    }
  }
}

// ---------------------------------------------------------------- 3. decoding verdicts

// Candidate encodings that exercise every decoder branch: flag bits, x >= p, off-curve x,
// on-curve points outside the subgroup, infinity forms, and single-bit corruptions of valid points.
function fieldBytes(x) {
  return bigToBytes(x, 48);
}
function randomPkCandidate(validPk) {
  switch (rng.int(0, 7)) {
    case 0:
      return rng.bytes(48); // raw garbage (flags random)
    case 1:
    case 2: {
      const b = fieldBytes(rng.bigBelow(P)); // x < p, compressed, random sign: ~half on the curve
      b[0] |= 0x80 | (rng.chance(0.5) ? 0x20 : 0);
      return b;
    }
    case 3: {
      const b = fieldBytes(P + rng.bigBelow((1n << 381n) - P)); // x >= p
      b[0] |= 0x80 | (rng.chance(0.5) ? 0x20 : 0);
      return b;
    }
    case 4: {
      const b = new Uint8Array(48); // infinity forms
      b[0] = rng.pick([0xc0, 0xe0, 0x40, 0xc0, 0x80, 0xa0]);
      if (rng.chance(0.5)) b[rng.int(1, 47)] = 1 << rng.int(0, 7);
      return b;
    }
    case 5: {
      const b = Uint8Array.from(validPk);
      b[0] ^= 0x20; // the other root: also valid
      return b;
    }
    default:
      return flipBit(validPk, rng.int(0, 383));
  }
}
function randomSigCandidate(validSig) {
  switch (rng.int(0, 7)) {
    case 0:
      return rng.bytes(96);
    case 1:
    case 2: {
      const b = new Uint8Array(96);
      b.set(fieldBytes(rng.bigBelow(P)), 0); // x1 (imaginary part first)
      b.set(fieldBytes(rng.bigBelow(P)), 48);
      b[0] |= 0x80 | (rng.chance(0.5) ? 0x20 : 0);
      return b;
    }
    case 3: {
      const b = new Uint8Array(96);
      const big = P + rng.bigBelow((1n << 381n) - P);
      const small = rng.bigBelow(P);
      const firstHigh = rng.chance(0.5);
      b.set(fieldBytes(firstHigh ? big : small), 0);
      b.set(fieldBytes(firstHigh ? small : big), 48);
      b[0] |= 0x80 | (rng.chance(0.5) ? 0x20 : 0);
      return b;
    }
    case 4: {
      const b = new Uint8Array(96);
      b[0] = rng.pick([0xc0, 0xe0, 0x40, 0xc0, 0x80, 0xa0]);
      if (rng.chance(0.5)) b[rng.int(1, 95)] = 1 << rng.int(0, 7);
      return b;
    }
    case 5: {
      const b = Uint8Array.from(validSig);
      b[0] ^= 0x20;
      return b;
    }
    default:
      return flipBit(validSig, rng.int(0, 767));
  }
}

async function checkDecoding(jobs, useNoble) {
  const pending = [];
  for (const job of jobs) {
    const pkB = randomPkCandidate(job.pk);
    const sigB = randomSigCandidate(job.sig);
    pending.push({
      kind: 'public key',
      bytes: pkB,
      blst: blstPkVerdict(pkB),
      noble: useNoble ? noblePkVerdict(pkB) : undefined,
      sigil: driver.call('decompress_pk', { pk: hex(pkB) }),
    });
    pending.push({
      kind: 'signature',
      bytes: sigB,
      blst: blstSigVerdict(sigB),
      noble: useNoble ? nobleSigVerdict(sigB) : undefined,
      sigil: driver.call('decompress_sig', { sig: hex(sigB) }),
    });
  }
  for (const c of pending) {
    const r = await c.sigil;
    const s = r.error !== undefined ? 'reject' : (r.pk ?? r.sig);
    if (c.noble !== undefined && c.noble !== c.blst) fail(`oracle disagreement (${c.kind} decoding)`, { bytes: c.bytes, blst: c.blst, noble: c.noble });
    if (s !== c.blst) fail(`${c.kind} decoding verdict`, { bytes: c.bytes, sigil: r.error ?? s, blst: c.blst, noble: c.noble ?? 'not run' });
    const tag = c.blst === 'reject' ? 'rejected' : 'accepted';
    pass(`decode ${c.kind}: ${tag} (blst${c.noble !== undefined ? ' + noble' : ''})`);
  }
}

// ---------------------------------------------------------------- 4. fixed edge cases

async function checkEdges() {
  // Secret keys: the valid extremes and the invalid neighbours.
  const valid = [1n, 2n, 3n, 0xffn, 1n << 64n, 1n << 128n, (R - 1n) / 2n, R - 2n, R - 1n];
  const invalid = [0n, R, R + 1n, (1n << 255n) - 1n, (1n << 256n) - 1n];
  const msg = enc.encode('sigil edge keys');
  for (const x of valid) {
    const sk = bigToBytes(x, 32);
    const b = blst.SecretKey.fromBytes(sk);
    const pk = b.toPublicKey().toBytes(true);
    const sig = b.sign(msg).toBytes(true);
    const rp = await driver.call('sk_to_pk', { sk: hex(sk) });
    const rs = await driver.call('sign', { sk: hex(sk), msg: hex(msg) });
    if (rp.pk !== hex(pk) || rs.sig !== hex(sig)) fail('edge secret key', { sk, sigilPk: rp.pk ?? rp.error, blstPk: pk, sigilSig: rs.sig ?? rs.error, blstSig: sig });
    if (!eqBytes(noble.getPublicKey(sk).toBytes(true), pk)) fail('oracle disagreement (edge key)', { sk });
    pass('edge secret keys (blst + noble)');
  }
  for (const x of invalid) {
    const sk = bigToBytes(x, 32);
    const b = verdict(() => blst.SecretKey.fromBytes(sk));
    const rp = await driver.call('sk_to_pk', { sk: hex(sk) });
    const rs = await driver.call('sign', { sk: hex(sk), msg: hex(msg) });
    if (b !== 'reject') fail('oracle self-check (blst accepted an invalid scalar)', { sk });
    if (rp.error !== 'SIGIL_ERR_BLS_SCALAR' || rs.error !== 'SIGIL_ERR_BLS_SCALAR') fail('invalid secret key accepted', { sk, sigilPk: rp, sigilSign: rs });
    pass('invalid secret keys rejected (blst)');
  }

  // Canonical identity encodings: a signature may be the identity (it never verifies); a public
  // key may not (KeyValidate).
  const infPk = new Uint8Array(48);
  infPk[0] = 0xc0;
  const infSig = new Uint8Array(96);
  infSig[0] = 0xc0;
  const rPk = await driver.call('decompress_pk', { pk: hex(infPk) });
  const rSig = await driver.call('decompress_sig', { sig: hex(infSig) });
  if (blstPkVerdict(infPk) !== 'reject' || rPk.error === undefined) fail('identity public key', { sigil: rPk, blst: blstPkVerdict(infPk) });
  if (blstSigVerdict(infSig) !== hex(infSig) || rSig.sig !== hex(infSig)) fail('identity signature decoding', { sigil: rSig, blst: blstSigVerdict(infSig) });
  const someSk = blst.SecretKey.fromBytes(bigToBytes(7n, 32));
  const rv = await driver.call('verify', { pk: hex(someSk.toPublicKey().toBytes(true)), msg: hex(msg), sig: hex(infSig) });
  if (rv.valid !== false) fail('identity signature must not verify', { sigil: rv });
  pass('identity encodings (blst)');

  // Aggregating nothing is an error; an aggregate that cancels to the identity never verifies.
  const rEmpty = await driver.call('aggregate', { sigs: [] });
  if (rEmpty.error !== 'SIGIL_ERR_BLS_EMPTY') fail('aggregate of nothing', { sigil: rEmpty });
  const fEmpty = await driver.call('fast_aggregate_verify', { pks: [], msg: hex(msg), sig: hex(someSk.sign(msg).toBytes(true)) });
  if (sigilVerdict(fEmpty) === true) fail('fast_aggregate_verify with no keys', { sigil: fEmpty });
  const aEmpty = await driver.call('aggregate_verify', { pks: [], msgs: [], sig: hex(infSig) });
  if (sigilVerdict(aEmpty) === true) fail('aggregate_verify with no pairs', { sigil: aEmpty });
  const s = someSk.sign(msg).toBytes(true);
  const negS = Uint8Array.from(s);
  negS[0] ^= 0x20;
  const rCancel = await driver.call('aggregate', { sigs: [hex(s), hex(negS)] });
  const bCancel = blst.aggregateSerializedSignatures([s, negS], true).toBytes(true);
  if (rCancel.sig !== hex(bCancel)) fail('aggregate cancelling to identity', { sigil: rCancel, blst: bCancel });
  pass('empty and cancelling aggregates');
}

// ---------------------------------------------------------------- 5. hash_to_g2 with other DSTs

async function checkHashToCurve(count) {
  const jobs = [];
  for (let k = 0; k < count; k++) {
    const msg = randomMsg();
    const dstLen = rng.pick([1, 16, 43, 64, 255, 256, rng.int(1, 300)]);
    const dst = rng.bytes(dstLen);
    let expect;
    try {
      expect = nobleSigBytes(noble.hash(msg, dst));
    } catch (e) {
      expect = 'reject';
    }
    jobs.push({ msg, dst, expect, sigil: driver.call('hash_to_g2', { msg: hex(msg), dst: hex(dst) }) });
  }
  for (const j of jobs) {
    const r = await j.sigil;
    if (j.expect === 'reject') continue;
    if (r.point !== hex(j.expect)) fail('hash_to_g2 (random DST)', { msg: j.msg, dst: j.dst, sigil: r.point ?? r.error, noble: j.expect });
    pass(`hash_to_g2 random DST${j.dst.length > 255 ? ' > 255 bytes' : ''} (noble)`);
  }
}

// ---------------------------------------------------------------- 6. KeyGen and EIP-2333

async function checkKeygen(count) {
  const jobs = [];
  for (let k = 0; k < count; k++) {
    const ikm = rng.bytes(rng.pick([32, 32, 33, 48, 64, rng.int(32, 128)]));
    const info = rng.chance(0.4) ? new Uint8Array(0) : rng.bytes(rng.int(1, 40));
    const b = blst.SecretKey.fromKeygen(ikm, info).toBytes();
    let hd = null;
    if (info.length === 0) hd = hdkey.deriveMasterSK(ikm); // EIP-2333 master key = KeyGen with empty info
    jobs.push({ ikm, info, b, hd, sigil: driver.call('keygen', { ikm: hex(ikm), info: hex(info) }) });
  }
  for (const j of jobs) {
    const r = await j.sigil;
    if (r.sk !== hex(j.b)) fail('keygen', { ikm: j.ikm, info: j.info, sigil: r.sk ?? r.error, blst: j.b });
    pass('keygen (blst)');
    if (j.hd) {
      if (!eqBytes(j.hd, j.b)) fail('oracle disagreement (bls-hd-key master vs blst keygen)', { ikm: j.ikm });
      pass('keygen empty info = EIP-2333 master (bls-hd-key)');
    }
  }
  const short = await driver.call('keygen', { ikm: hex(rng.bytes(31)), info: '0x' });
  if (short.error === undefined) fail('keygen with a 31-byte IKM must fail', { sigil: short });
  pass('keygen short IKM rejected');
}

function randomEip2334Path() {
  const idx = () => rng.pick([0, 1, 2, rng.int(0, 1000), rng.int(0, 2 ** 31 - 1), 2 ** 31, 2 ** 32 - 1, rng.u32()]);
  switch (rng.int(0, 3)) {
    case 0:
      return `m/12381/3600/${idx()}/0/0`; // signing key
    case 1:
      return `m/12381/3600/${idx()}/0`; // withdrawal key
    case 2:
      return `m/12381/3600/${idx()}/${idx()}/${idx()}`;
    default:
      return `m/12381/3600/${idx()}/0/0/${idx()}`;
  }
}

// Sigil's derivation through the driver if it has the op, else through the CLI.
async function makeSigilDerive() {
  const probe = await driver.call('derive', { seed: hex(new Uint8Array(32)), path: 'm/12381/3600/0/0/0' });
  if (probe.error === undefined) {
    return { how: 'bls_driver derive', run: async (seed, p) => driver.call('derive', { seed: hex(seed), path: p }) };
  }
  const cli = process.env.SIGIL_BIN ? path.join(process.env.SIGIL_BIN, 'sigil') : null;
  if (cli && existsSync(cli)) {
    const run = async (seed, p) => {
      const res = spawnSync(cli, ['keys', 'derive', '--path', p], { input: hex(seed).slice(2) + '\n', encoding: 'utf8' });
      if (res.status !== 0) return { error: `exit ${res.status}: ${res.stderr.trim()}` };
      return { sk: '0x' + res.stdout.trim().replace(/^0x/, '').toLowerCase() };
    };
    const t = await run(new Uint8Array(32), 'm/12381/3600/0/0/0');
    if (t.error === undefined) return { how: `${cli} keys derive`, run };
    return { how: null, why: `driver: ${probe.error}; CLI: ${t.error}` };
  }
  return { how: null, why: `driver: ${probe.error}; no sigil CLI under SIGIL_BIN` };
}

async function checkDerive(count) {
  const d = await makeSigilDerive();
  if (d.how === null) {
    console.log(`bls_diff: EIP-2333 derivation SKIPPED (${d.why})`);
    return false;
  }
  console.log(`bls_diff: EIP-2333 derivation via ${d.how}`);
  for (let k = 0; k < count; k++) {
    const seed = rng.bytes(rng.pick([32, 64, rng.int(32, 96)]));
    const p = k === 0 ? 'm/12381/3600/0/0/0' : randomEip2334Path();
    const indices = hdkey.pathToIndices(p);
    const hd = hdkey.deriveChildSKMultiple(hdkey.deriveMasterSK(seed), indices);
    let b = blst.SecretKey.deriveMasterEip2333(seed);
    for (const i of indices) b = b.deriveChildEip2333(i);
    if (!eqBytes(hd, b.toBytes())) fail('oracle disagreement (bls-hd-key vs blst EIP-2333)', { seed, path: p });
    const r = await d.run(seed, p);
    if (r.sk !== hex(hd)) fail('EIP-2333 derive', { seed, path: p, sigil: r.sk ?? r.error, bls_hd_key_blst: hd });
    pass('EIP-2333 derive (bls-hd-key + blst)');
  }
  return true;
}

// ---------------------------------------------------------------- 7. the product CLI

// A few keys through `sigil bls pubkey | sign | verify`, so the CLI's own plumbing (stdin hex,
// argument parsing, exit codes) is held to the same oracle as the library.
function checkCli(count) {
  const cli = process.env.SIGIL_BIN ? path.join(process.env.SIGIL_BIN, 'sigil') : null;
  if (!cli || !existsSync(cli)) {
    console.log('bls_diff: CLI checks SKIPPED (no sigil binary under SIGIL_BIN)');
    return false;
  }
  const run = (args, input) => spawnSync(cli, args, { input, encoding: 'utf8' });
  const probe = run(['bls', 'pubkey'], '01'.padStart(64, '0') + '\n');
  if (probe.status === 2 && /not built yet|unknown command/.test(probe.stderr)) {
    console.log(`bls_diff: CLI checks SKIPPED (${probe.stderr.trim()})`);
    return false;
  }
  const norm = (out) => '0x' + out.trim().replace(/^0x/, '').toLowerCase();
  for (let k = 0; k < count; k++) {
    const sk = k === 0 ? bigToBytes(1n, 32) : randomSk();
    const msg = k === 1 ? new Uint8Array(0) : randomMsg();
    const b = blst.SecretKey.fromBytes(sk);
    const pk = b.toPublicKey().toBytes(true);
    const sig = b.sign(msg).toBytes(true);
    const skHex = hex(sk).slice(2) + '\n';
    const rp = run(['bls', 'pubkey'], skHex);
    if (rp.status !== 0 || norm(rp.stdout) !== hex(pk)) fail('CLI bls pubkey', { sk, status: rp.status ?? rp.signal, stdout: rp.stdout.trim(), stderr: rp.stderr.trim(), blst: pk });
    const rs = run(['bls', 'sign', '--message', hex(msg)], skHex);
    if (rs.status !== 0 || norm(rs.stdout) !== hex(sig)) fail('CLI bls sign', { sk, msg, status: rs.status ?? rs.signal, stdout: rs.stdout.trim(), stderr: rs.stderr.trim(), blst: sig });
    const rv = run(['bls', 'verify', '--public-key', hex(pk), '--message', hex(msg), '--signature', hex(sig)]);
    const wrong = Uint8Array.from([...msg, 0x42]);
    const rw = run(['bls', 'verify', '--public-key', hex(pk), '--message', hex(wrong), '--signature', hex(sig)]);
    if (rv.status !== 0 || rw.status !== 1) fail('CLI bls verify exit codes (0 valid, 1 invalid)', { pk, msg, sig, valid: rv.status ?? rv.signal, wrongMessage: rw.status ?? rw.signal, stderr: (rv.stderr + rw.stderr).trim() });
    pass('CLI bls pubkey / sign / verify (blst)');
  }
  // `sigil keys derive --path P` with the seed as hex on stdin.
  const dprobe = run(['keys', 'derive', '--path', 'm/12381/3600/0/0/0'], '00'.repeat(32) + '\n');
  if (dprobe.status !== 0 && /not built yet/.test(dprobe.stderr)) {
    console.log(`bls_diff: CLI keys derive SKIPPED (${dprobe.stderr.trim()})`);
    return true;
  }
  for (let k = 0; k < Math.max(2, count >> 2); k++) {
    const seed = rng.bytes(rng.pick([32, 64]));
    const p = randomEip2334Path();
    const want = hdkey.deriveChildSKMultiple(hdkey.deriveMasterSK(seed), hdkey.pathToIndices(p));
    const r = run(['keys', 'derive', '--path', p], hex(seed).slice(2) + '\n');
    if (r.status !== 0 || norm(r.stdout) !== hex(want)) fail('CLI keys derive', { seed, path: p, status: r.status ?? r.signal, stdout: r.stdout.trim(), stderr: r.stderr.trim(), bls_hd_key: want });
    pass('CLI keys derive (bls-hd-key)');
  }
  return true;
}

// ---------------------------------------------------------------- main

const t0 = performance.now();
await checkEdges();
const edgeKeys = [1n, 2n, 3n, R - 1n, R - 2n].map((x) => bigToBytes(x, 32));
for (let base = 0; base < N; base += BATCH) {
  const n = Math.min(BATCH, N - base);
  const sks = [];
  const msgs = [];
  for (let j = 0; j < n; j++) {
    sks.push(base + j < edgeKeys.length ? edgeKeys[base + j] : randomSk());
    msgs.push(randomMsg());
  }
  const jobs = await checkKeys(sks, msgs, base);
  await checkGroups(sks, msgs);
  await checkDecoding(jobs, (base / BATCH) % 2 === 0);
  if (((base / BATCH) | 0) % 5 === 4 || base + n >= N) {
    process.stdout.write(`bls_diff: ${base + n}/${N} keys (${((performance.now() - t0) / 1000).toFixed(1)} s)\n`);
  }
}
await checkHashToCurve(Math.max(20, N >> 4));
await checkKeygen(Math.max(20, N >> 4));
const derived = await checkDerive(Math.max(8, N >> 7));
const cliChecked = checkCli(Math.max(4, Math.min(24, N >> 6)));
await driver.close();

let total = 0;
for (const [what, n] of [...counts.entries()].sort()) {
  console.log(`${what}: ${n} passed, 0 failed`);
  total += n;
}
const skipped = [derived ? null : 'EIP-2333 derivation', cliChecked ? null : 'CLI'].filter(Boolean);
console.log(`bls_diff: ${total} passed, 0 failed in ${((performance.now() - t0) / 1000).toFixed(1)} s (seed ${SEED})${skipped.length ? ` -- not checked: ${skipped.join(', ')}` : ''}`);
