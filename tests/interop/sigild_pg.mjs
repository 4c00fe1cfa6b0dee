// Two sigild processes with the same keystores on one PostgreSQL database never both sign
// conflicting messages. A throwaway cluster (tests/pg/pg_start.sh) backs two instances, A and B.
// For many rounds, every variant of a conflicting pair (double vote: same target, different
// roots; surround vote: one vote surrounding the other; double proposal: same slot, different
// blocks) goes to BOTH instances at once; at most one variant may be signed, by either instance.
// Non-conflicting requests in the same rounds must all be signed. The export must hold no
// slashable pair and every released signature. Finally a keymanager DELETE on A must make B
// refuse slashable signing with that key (412).
//
// Usage: node sigild_pg.mjs [--rounds N]
// env: SIGIL_BIN (build/bin), SIGIL_PG_SCRIPTS (tests/pg; default ../pg next to this file)
// Exits 77 (skipped) when the PostgreSQL server binaries are not installed.
import crypto from "node:crypto";
import fs from "node:fs";
import http from "node:http";
import path from "node:path";
import * as blst from "@chainsafe/blst";
import {forkEpoch, forkInfo, hex} from "./eth2_gen.mjs";
import {Sigild as SigildProcess, checker, mustRun as run, sigilBin, startPg, tempDir} from "./lib/harness.mjs";

const BIN = sigilBin();
const args = process.argv.slice(2);
const ROUNDS = Number(args.includes("--rounds") ? args[args.indexOf("--rounds") + 1] : "200");
const KEYS_PER_KIND = 3;

const t = checker();
const {check} = t;

// ---- the cluster: its own directory directly under the temp dir (the postgres user must reach it) ----
const pg = startPg("sigild_pg");
const dbUrl = pg.url;

const {tmp} = tempDir("sigild-pg-test-");

// ---- keys: KEYS_PER_KIND per kind of conflict, plus non-conflicting traffic ----
const KINDS = ["doubleVote", "surround", "doubleProposal", "clean"];
const ksDir = path.join(tmp, "keystores");
const pwDir = path.join(tmp, "passwords");
fs.mkdirSync(ksDir);
fs.mkdirSync(pwDir);
fs.writeFileSync(path.join(tmp, "pw"), "pg test password\n");
const keys = Object.fromEntries(KINDS.map((k) => [k, []]));
for (const kind of KINDS) {
  for (let i = 0; i < KEYS_PER_KIND; i++) {
    const sk = blst.SecretKey.fromKeygen(Buffer.from(`sigil two-instance pg test key ${kind} ${i}`.padEnd(32, ".")));
    const ks = run(
      path.join(BIN, "sigil"),
      ["keystore", "create", "--password-file", path.join(tmp, "pw"), "--kdf", "pbkdf2", "--cost", "1024"],
      hex(sk.toBytes()),
    );
    fs.writeFileSync(path.join(ksDir, `${kind}-${i}.json`), ks);
    fs.writeFileSync(path.join(pwDir, `${kind}-${i}.txt`), "pg test password\n");
    keys[kind].push({sk, pk: hex(sk.toPublicKey().toBytes())});
  }
}

// ---- two sigild instances ----
class Sigild extends SigildProcess {
  constructor(name, extraArgs) {
    super(BIN, {name, agent: new http.Agent({keepAlive: true, maxSockets: 16}), headers: {Accept: "application/json"}});
    this.extraArgs = extraArgs;
  }

  start() {
    return super.start(["--keystores-path", ksDir, "--keystores-passwords-path", pwDir, "--slashing-db", dbUrl, "--network",
      "mainnet", ...this.extraArgs]);
  }

  stop() {
    this.agent.destroy();
    return super.stop();
  }

  request(method, urlPath, body, headers = {}) {
    return super.request(method, urlPath, body, {headers});
  }

  sign(pk, body) {
    return this.request("POST", `/api/v1/eth2/sign/${pk}`, body);
  }
}

// ---- request builders (fulu, mainnet) ----
const FI = forkInfo("fulu");
const E0 = forkEpoch("fulu") + 100;
const root = (tag) => hex(crypto.createHash("sha256").update(tag).digest());
const att = (source, target, tag) => ({
  type: "ATTESTATION",
  fork_info: FI,
  attestation: {
    slot: String(target * 32),
    index: "0",
    beacon_block_root: root(tag),
    source: {epoch: String(source), root: root("source")},
    target: {epoch: String(target), root: root("target")},
  },
});
const block = (slot, tag) => ({
  type: "BLOCK_V2",
  fork_info: FI,
  beacon_block: {
    version: "FULU",
    block_header: {slot: String(slot), proposer_index: "1", parent_root: root(tag), state_root: root("s"), body_root: root("b")},
  },
});
const randao = (epoch) => ({type: "RANDAO_REVEAL", fork_info: FI, randao_reveal: {epoch: String(epoch)}});

// A also prunes every second (keeping far more than the test spans), so pruning transactions
// contend with signing on the same per-validator locks.
const A = new Sigild("A", ["--keymanager-token-file", path.join(tmp, "token-a"), "--slashing-prune-keep-epochs", "100000",
  "--slashing-prune-interval-s", "1"]);
// B takes its database password from a file, not the command line (the test cluster trusts local
// connections: this covers the plumbing; libpq's parsing of the result is in test_slashing_url)
fs.writeFileSync(path.join(tmp, "pg-password"), "not on argv\n", {mode: 0o600});
const B = new Sigild("B", ["--slashing-db-password-file", path.join(tmp, "pg-password")]);
const released = []; // {pk, kind: "att"|"block", slot|source,target, tag}
const conflictStats = {pairs: 0, oneSigned: 0, noneSigned: 0, bothSigned: 0};
const statusCount = {};

// Fires every variant of one conflict at both instances at once; at most one variant may win.
async function conflict(pk, variants, what) {
  const shots = [];
  for (const [vi, v] of variants.entries()) {
    for (const inst of [A, B]) shots.push({vi, inst, p: inst.sign(pk, v.req)});
  }
  const results = await Promise.all(shots.map(async (s) => ({...s, r: await s.p})));
  const winners = new Set();
  for (const s of results) {
    statusCount[s.r.status] = (statusCount[s.r.status] ?? 0) + 1;
    if (s.r.status === 200) {
      winners.add(s.vi);
    } else if (s.r.status !== 412) {
      check(false, `${what}: only 200 or 412 expected`, `${s.inst.name}: ${s.r.status} ${s.r.text}`);
    }
  }
  conflictStats.pairs++;
  if (winners.size > 1) conflictStats.bothSigned++;
  else if (winners.size === 1) conflictStats.oneSigned++;
  else conflictStats.noneSigned++;
  check(winners.size <= 1, `${what}: at most one conflicting variant signed`, [...winners]);
  for (const vi of winners) released.push({pk, ...variants[vi].rec});
}

try {
  await Promise.all([A.start(), B.start()]);

  // ---- warm-up: every key's first block and vote, below everything the rounds sign ----
  // The first signing of a key sets its low watermark (EIP-3076 condition 2: nothing below the
  // earliest record), so the non-conflicting requests of the rounds must all lie above it.
  const warm = await Promise.all(
    KINDS.flatMap((kind) => keys[kind]).map(async ({pk}, i) => {
      const inst = i % 2 ? B : A;
      const a = await inst.sign(pk, att(E0 - 2, E0 - 1, "warm-up"));
      const b = await inst.sign(pk, block((E0 - 1) * 32, "warm-up"));
      return a.status === 200 && b.status === 200;
    }),
  );
  check(warm.every(Boolean), "warm-up: every key's first block and vote signed", warm);

  // ---- rounds of conflicting and non-conflicting traffic at both instances ----
  let cleanOk = 0;
  let cleanTotal = 0;
  const t0 = Date.now();
  for (let r = 0; r < ROUNDS; r++) {
    const jobs = [];
    const base = E0 + 10 * r;
    // random order of the variants, so neither instance nor variant is favoured
    const order = (vs) => (crypto.randomInt(2) ? vs : vs.reverse());
    for (const [i, {pk}] of keys.doubleVote.entries()) {
      const t = base + 5;
      jobs.push(conflict(pk, order([
        {req: att(t - 1, t, `dv-x-${r}-${i}`), rec: {kind: "att", source: t - 1, target: t, tag: `dv-x-${r}-${i}`}},
        {req: att(t - 1, t, `dv-y-${r}-${i}`), rec: {kind: "att", source: t - 1, target: t, tag: `dv-y-${r}-${i}`}},
      ]), `round ${r} double vote`));
    }
    for (const [i, {pk}] of keys.surround.entries()) {
      // (base+1 -> base+6) surrounds (base+2 -> base+5); the next round's votes are all later
      jobs.push(conflict(pk, order([
        {req: att(base + 1, base + 6, `sv-o-${r}-${i}`), rec: {kind: "att", source: base + 1, target: base + 6}},
        {req: att(base + 2, base + 5, `sv-i-${r}-${i}`), rec: {kind: "att", source: base + 2, target: base + 5}},
      ]), `round ${r} surround vote`));
    }
    for (const [i, {pk}] of keys.doubleProposal.entries()) {
      const slot = base * 32 + 3;
      jobs.push(conflict(pk, order([
        {req: block(slot, `bp-x-${r}-${i}`), rec: {kind: "block", slot}},
        {req: block(slot, `bp-y-${r}-${i}`), rec: {kind: "block", slot}},
      ]), `round ${r} double proposal`));
    }
    // non-conflicting: two votes with different targets and two blocks at different slots per
    // key, split across the instances and in flight together, plus non-slashable requests
    for (const [i, {pk}] of keys.clean.entries()) {
      const reqs = [
        [A, att(base + 1, base + 2, `c-a-${r}-${i}`), {kind: "att", source: base + 1, target: base + 2}],
        [B, att(base + 2, base + 3, `c-b-${r}-${i}`), {kind: "att", source: base + 2, target: base + 3}],
        [B, block(base * 32 + 1, `c-c-${r}-${i}`), {kind: "block", slot: base * 32 + 1}],
        [A, block(base * 32 + 2, `c-d-${r}-${i}`), {kind: "block", slot: base * 32 + 2}],
        [A, randao(base), null],
        [B, randao(base), null],
      ];
      for (const [inst, req, rec] of reqs) {
        cleanTotal++;
        jobs.push(inst.sign(pk, req).then((res) => {
          statusCount[res.status] = (statusCount[res.status] ?? 0) + 1;
          if (res.status === 200) {
            cleanOk++;
            if (rec) released.push({pk, ...rec});
          } else {
            check(false, `round ${r}: non-conflicting ${req.type} on ${inst.name} signed`, `${res.status} ${res.text}`);
          }
        }));
      }
    }
    await Promise.all(jobs);
  }
  const secs = (Date.now() - t0) / 1000;
  check(cleanOk === cleanTotal, "every non-conflicting request signed", `${cleanOk}/${cleanTotal}`);
  check(conflictStats.bothSigned === 0, "no conflicting pair signed twice", conflictStats);
  // liveness: nothing else conflicts with these pairs, so exactly one variant should win each time
  check(conflictStats.noneSigned === 0, "every conflicting pair had one winner", conflictStats);
  console.log(
    `sigild_pg: ${ROUNDS} rounds in ${secs.toFixed(1)} s: ${conflictStats.pairs} conflicting pairs fired at both ` +
      `instances (${conflictStats.oneSigned} one winner, ${conflictStats.noneSigned} none, ` +
      `${conflictStats.bothSigned} both), ${cleanOk}/${cleanTotal} non-conflicting signed; statuses ${JSON.stringify(statusCount)}`,
  );

  // ---- the export: no slashable pair, and every released signature recorded ----
  const doc = JSON.parse(run(path.join(BIN, "sigil"), ["slashing", "export", "--db", dbUrl]));
  let slashablePairs = 0;
  let nBlocks = 0;
  let nAtts = 0;
  const byPk = new Map(doc.data.map((d) => [d.pubkey, d]));
  for (const d of doc.data) {
    const bs = d.signed_blocks ?? [];
    const as = d.signed_attestations ?? [];
    nBlocks += bs.length;
    nAtts += as.length;
    for (let i = 0; i < bs.length; i++) {
      for (let j = i + 1; j < bs.length; j++) {
        if (bs[i].slot === bs[j].slot && bs[i].signing_root !== bs[j].signing_root) slashablePairs++;
      }
    }
    for (let i = 0; i < as.length; i++) {
      const s1 = BigInt(as[i].source_epoch);
      const t1 = BigInt(as[i].target_epoch);
      for (let j = i + 1; j < as.length; j++) {
        const s2 = BigInt(as[j].source_epoch);
        const t2 = BigInt(as[j].target_epoch);
        const double = t1 === t2 && as[i].signing_root !== as[j].signing_root;
        const surround = (s1 < s2 && t2 < t1) || (s2 < s1 && t1 < t2);
        if (double || surround) {
          slashablePairs++;
          console.error(`slashable pair for ${d.pubkey}: ${JSON.stringify(as[i])} / ${JSON.stringify(as[j])}`);
        }
      }
    }
  }
  check(slashablePairs === 0, "the export holds no slashable pair", slashablePairs);
  let missing = 0;
  for (const rel of released) {
    const d = byPk.get(rel.pk);
    const found =
      rel.kind === "block"
        ? d?.signed_blocks?.some((b) => Number(b.slot) === rel.slot)
        : d?.signed_attestations?.some((a) => Number(a.source_epoch) === rel.source && Number(a.target_epoch) === rel.target);
    if (!found) missing++;
  }
  check(missing === 0, `every released slashable signature is in the export (${released.length})`, missing);
  console.log(`sigild_pg: export holds ${nBlocks} blocks and ${nAtts} attestations for ${doc.data.length} keys, ${slashablePairs} slashable pairs`);

  // ---- keymanager DELETE on A disables the key on B too ----
  const token = fs.readFileSync(path.join(tmp, "token-a"), "utf8").trim();
  const victim = keys.clean[0].pk;
  const next = E0 + 10 * ROUNDS + 10;
  let res = await B.sign(victim, att(next - 1, next, "before-delete"));
  check(res.status === 200, "B signs with the key before the delete", res.text);
  res = await A.request("DELETE", "/eth/v1/keystores", {pubkeys: [victim]}, {Authorization: `Bearer ${token}`});
  check(res.status === 200 && res.json?.data?.[0]?.status === "deleted", "keymanager DELETE on A", res.text);
  res = await A.sign(victim, att(next, next + 1, "after-delete-a"));
  check(res.status === 404, "A no longer has the key (404)", `${res.status} ${res.text}`);
  res = await B.sign(victim, att(next, next + 1, "after-delete-b"));
  check(res.status === 412, "B refuses a non-conflicting attestation with the deleted key (412)", `${res.status} ${res.text}`);
  res = await B.sign(victim, block((next + 1) * 32, "after-delete-b"));
  check(res.status === 412, "B refuses a non-conflicting block with the deleted key (412)", `${res.status} ${res.text}`);
  const other = keys.clean[1].pk;
  res = await B.sign(other, att(next, next + 1, "other-key"));
  check(res.status === 200, "B still signs with the other keys", res.text);

  const pruneRuns = (A.logs.match(/"msg":"slashing history pruned"/g) ?? []).length;
  check(pruneRuns >= 1 && !/pruning failed/.test(A.logs), "A's pruner ran alongside the signing", pruneRuns);
  check((await A.stop()) === 0, "A shuts down cleanly");
  check((await B.stop()) === 0, "B shuts down cleanly");
} catch (e) {
  t.failed++;
  console.error(`FAIL: ${e.stack}\n--- sigild A log ---\n${A.logs.slice(-3000)}\n--- sigild B log ---\n${B.logs.slice(-3000)}`);
} finally {
  for (const inst of [A, B]) {
    if (inst.child && inst.child.exitCode === null) inst.child.kill("SIGKILL");
    inst.agent.destroy();
  }
  pg.stop();
  fs.rmSync(tmp, {recursive: true, force: true});
}
console.log(`sigild_pg: ${t.passed} passed, ${t.failed} failed`);
process.exit(t.failed === 0 ? 0 : 1);
