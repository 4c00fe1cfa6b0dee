// Lodestar-built requests through the real sigild process. eth2_gen.mjs generates random valid
// Web3Signer requests for every (type, fork) pair with Lodestar's signing root; each goes over
// HTTP to /api/v1/eth2/sign/{pubkey}, and the signature must equal, byte for byte, both
// @chainsafe/blst's and @noble/curves' signature of Lodestar's root. Slashable types use one key
// per type with strictly increasing slots / epochs, so none is refused.
//
// Then bounded history: a key signs a run of attestations and blocks; sigild restarts with
// --slashing-prune-keep-epochs 2; the export must shrink, and the pruned slots / epochs must still
// be refused (the low watermarks replace the deleted records).
//
// Usage: node sigild_lodestar.mjs [--count N] [--seed S]     env: SIGIL_BIN (build/bin)
import {spawnSync} from "node:child_process";
import fs from "node:fs";
import http from "node:http";
import path from "node:path";
import * as blst from "@chainsafe/blst";
import {bls12_381} from "@noble/curves/bls12-381.js";
import {SLASHABLE_TYPES, forkEpoch, forkInfo, generateRequests, hex, typeForkPairs} from "./eth2_gen.mjs";
import {Sigild, checker, mustRun as run, sigilBin, sleep, tempDir} from "./lib/harness.mjs";

const BIN = sigilBin();
const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : dflt;
};
const COUNT = Number(opt("--count", "10"));
const SEED = BigInt(opt("--seed", "20261121"));
const noble = bls12_381.longSignatures;
const DST_SIG = "BLS_SIG_BLS12381G2_XMD:SHA-256_SSWU_RO_POP_";

const t = checker();
const {check} = t;

const {tmp} = tempDir("sigild-lodestar-");

// ---- keys: one per slashable type, one for everything else, one for the pruning test ----
const ksDir = path.join(tmp, "keystores");
const pwDir = path.join(tmp, "passwords");
fs.mkdirSync(ksDir);
fs.mkdirSync(pwDir);
fs.writeFileSync(path.join(tmp, "pw"), "lodestar test password\n");
const keys = {};
for (const role of [...SLASHABLE_TYPES, "other", "prune"]) {
  const sk = blst.SecretKey.fromKeygen(Buffer.from(`sigil lodestar interop key for ${role} ....`.padEnd(32, ".")));
  const skBytes = sk.toBytes();
  const ks = run(
    path.join(BIN, "sigil"),
    ["keystore", "create", "--password-file", path.join(tmp, "pw"), "--kdf", "pbkdf2", "--cost", "1024"],
    hex(skBytes),
  );
  fs.writeFileSync(path.join(ksDir, `${role}.json`), ks);
  fs.writeFileSync(path.join(pwDir, `${role}.txt`), "lodestar test password\n");
  keys[role] = {sk, skBytes, pk: hex(sk.toPublicKey().toBytes())};
}
const keyFor = (type) => keys[SLASHABLE_TYPES.includes(type) ? type : "other"];

// ---- sigild process control (plain HTTP on loopback, fresh SQLite DB) ----
const dbUrl = `sqlite:${path.join(tmp, "slashing.db")}`;
const agent = new http.Agent({keepAlive: true, maxSockets: 8});
const sigild = new Sigild(BIN, {agent, headers: {Accept: "application/json"}});
const startSigild = (extraArgs = []) =>
  sigild.start(["--keystores-path", ksDir, "--keystores-passwords-path", pwDir, "--slashing-db", dbUrl, "--network", "mainnet",
    ...extraArgs]);
const stopSigild = () => sigild.stop();
const request = (method, urlPath, body) => sigild.request(method, urlPath, body);
const sign = (pk, body) => request("POST", `/api/v1/eth2/sign/${pk}`, body);
const exportHistory = () => JSON.parse(run(path.join(BIN, "sigil"), ["slashing", "export", "--db", dbUrl]));

// Runs fn over items with at most n in flight.
async function pool(items, n, fn) {
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      await fn(items[i], i);
    }
  };
  await Promise.all(Array.from({length: n}, worker));
}

try {
  await startSigild();
  const r0 = await request("GET", "/api/v1/eth2/publicKeys");
  check(r0.status === 200 && r0.json?.length === Object.keys(keys).length, "publicKeys lists every key", r0.text);

  // ---- every (type, fork) pair, COUNT requests each ----
  const all = [...generateRequests({count: COUNT, seed: SEED, monotonic: true})];
  const perPair = new Map(typeForkPairs().map(({type, fork}) => [`${type}/${fork}`, {ok: 0, bad: 0}]));
  let nobleChecked = 0;
  const verifyOne = async (g) => {
    const key = keyFor(g.type);
    const r = await sign(key.pk, g.request);
    const sigHex = r.json?.signature;
    const blstSig = hex(key.sk.sign(g.signingRoot).toBytes());
    const nobleSig = hex(noble.Signature.toBytes(noble.sign(noble.hash(g.signingRoot, DST_SIG), key.skBytes)));
    nobleChecked++;
    const good = r.status === 200 && sigHex === blstSig && sigHex === nobleSig;
    const tally = perPair.get(`${g.type}/${g.fork}`);
    if (good) {
      tally.ok++;
    } else {
      tally.bad++;
      check(false, `${g.type}/${g.fork} signature equals blst and noble`, {
        status: r.status,
        body: r.text.slice(0, 300),
        blst: blstSig,
        noble: nobleSig,
        request: JSON.stringify(g.request).slice(0, 300),
      });
    }
  };
  // slashable types in generation order (their slots / epochs increase), the rest in parallel
  const slashable = all.filter((g) => SLASHABLE_TYPES.includes(g.type));
  const rest = all.filter((g) => !SLASHABLE_TYPES.includes(g.type));
  const t0 = Date.now();
  await Promise.all([
    (async () => {
      for (const g of slashable) await verifyOne(g);
    })(),
    pool(rest, 4, verifyOne),
  ]);
  let pairsOk = 0;
  for (const [pair, t] of perPair) {
    if (t.ok >= COUNT && t.bad === 0) pairsOk++;
    else check(false, `${pair}: ${COUNT} good signatures`, t);
  }
  check(pairsOk === perPair.size, `every (type, fork) pair signed ${COUNT} times`, `${pairsOk}/${perPair.size}`);
  console.log(
    `sigild_lodestar: ${all.length} requests over ${perPair.size} (type, fork) pairs, ${COUNT} each, ` +
      `${nobleChecked} checked against blst and noble in ${((Date.now() - t0) / 1000).toFixed(1)} s`,
  );

  // the slashable streams really were protected: a conflicting proposal / vote is refused
  const lastBlock = slashable.filter((g) => g.type === "BLOCK_V2").at(-1);
  const bb = lastBlock.request.beacon_block;
  const hdr = bb.block_header ?? bb.block;
  const {signingRoot: _a, signing_root: _b, ...blockReq} = lastBlock.request;
  let r = await sign(keys.BLOCK_V2.pk, {
    ...blockReq,
    beacon_block: {...bb, [bb.block_header ? "block_header" : "block"]: {...hdr, state_root: hex(Buffer.alloc(32, 0x55))}},
  });
  check(r.status === 412, "double proposal after the run refused (412)", r.text);
  const lastAtt = slashable.filter((g) => g.type === "ATTESTATION").at(-1);
  const {signingRoot: _c, signing_root: _d, ...attReq} = lastAtt.request;
  r = await sign(keys.ATTESTATION.pk, {
    ...attReq,
    attestation: {...attReq.attestation, beacon_block_root: hex(Buffer.alloc(32, 0x77))},
  });
  check(r.status === 412, "double vote after the run refused (412)", r.text);

  // ---- bounded history: --slashing-prune-keep-epochs ----
  const pk = keys.prune.pk;
  const E0 = forkEpoch("fulu") + 1000;
  const N = 40;
  const att = (target, rootByte) => ({
    type: "ATTESTATION",
    fork_info: forkInfo("fulu"),
    attestation: {
      slot: String(target * 32),
      index: "0",
      beacon_block_root: hex(Buffer.alloc(32, rootByte)),
      source: {epoch: String(target - 1), root: hex(Buffer.alloc(32, 1))},
      target: {epoch: String(target), root: hex(Buffer.alloc(32, 2))},
    },
  });
  const block = (slot, rootByte) => ({
    type: "BLOCK_V2",
    fork_info: forkInfo("fulu"),
    beacon_block: {
      version: "FULU",
      block_header: {
        slot: String(slot),
        proposer_index: "7",
        parent_root: hex(Buffer.alloc(32, rootByte)),
        state_root: hex(Buffer.alloc(32, 3)),
        body_root: hex(Buffer.alloc(32, 4)),
      },
    },
  });
  let signedOk = 0;
  for (let i = 0; i < N; i++) {
    const a = await sign(pk, att(E0 + i, 0x10));
    const b = await sign(pk, block((E0 + i) * 32 + 5, 0x10));
    if (a.status === 200 && b.status === 200) signedOk++;
  }
  check(signedOk === N, `prune key signed ${N} attestations and ${N} blocks`, signedOk);
  check((await stopSigild()) === 0, "clean shutdown before the pruning restart");
  const before = exportHistory().data.find((d) => d.pubkey === pk);
  check(before?.signed_attestations?.length === N && before?.signed_blocks?.length === N, "export before pruning", {
    atts: before?.signed_attestations?.length,
    blocks: before?.signed_blocks?.length,
  });

  // bad flag values are refused at start
  for (const bad of [["--slashing-prune-keep-epochs", "-1"], ["--slashing-prune-keep-epochs", "2x"],
    ["--slashing-prune-keep-epochs", "2", "--slashing-prune-interval-s", "0"]]) {
    const rr = spawnSync(path.join(BIN, "sigild"), ["--keystores-path", ksDir, "--keystores-passwords-path", pwDir,
      "--slashing-db", dbUrl, "--network", "mainnet", "--http-listen", "127.0.0.1:0", ...bad], {encoding: "utf8"});
    check(rr.status === 2 && /slashing-prune/.test(rr.stderr), `sigild refuses ${bad.join(" ")}`, rr.stderr);
  }

  await startSigild(["--slashing-prune-keep-epochs", "2", "--slashing-prune-interval-s", "1"]);
  const deadline = Date.now() + 20000;
  while ((sigild.logs.match(/"msg":"slashing history pruned"/g) ?? []).length < 2 && Date.now() < deadline) await sleep(100);
  const runs = (sigild.logs.match(/"msg":"slashing history pruned"/g) ?? []).length;
  check(runs >= 2, "pruning runs at start and again after the interval", sigild.logs.match(/[^\n]*prun[^\n]*/g));
  check(/"msg":"slashing history pruning enabled"[^\n]*"keep_epochs":2[^\n]*"slots_per_epoch":32/.test(sigild.logs),
    "pruning configuration is logged", sigild.logs.match(/[^\n]*pruning enabled[^\n]*/)?.[0]);
  // old slots and epochs are still refused (watermarks), double signing of the newest too
  for (const [what, req] of [
    ["pruned epoch: double vote", att(E0 + 3, 0x20)],
    ["pruned epoch: identical re-sign below the watermark", att(E0, 0x10)],
    ["kept epoch: double vote", att(E0 + N - 1, 0x20)],
    ["pruned slot: double proposal", block((E0 + 3) * 32 + 5, 0x20)],
    ["pruned slot: new slot below the watermark", block((E0 + 3) * 32 + 6, 0x20)],
  ]) {
    const rr = await sign(pk, req);
    check(rr.status === 412, `${what} refused (412)`, `${rr.status} ${rr.text}`);
  }
  const next = await sign(pk, att(E0 + N, 0x10));
  check(next.status === 200, "the next epoch still signs after pruning", next.text);
  check((await stopSigild()) === 0, "clean shutdown with the pruner running");
  check(/"msg":"stopped"/.test(sigild.logs), "stop logged");
  const after = exportHistory().data.find((d) => d.pubkey === pk);
  const na = after?.signed_attestations?.length ?? -1;
  const nb = after?.signed_blocks?.length ?? -1;
  check(na >= 1 && na <= 3 && nb >= 1 && nb <= 2 * 32, "export after pruning keeps about 2 epochs", {na, nb});
  const minTarget = Math.min(...(after?.signed_attestations ?? []).map((a) => Number(a.target_epoch)));
  check(minTarget >= E0 + N - 2, "only the newest epochs remain", minTarget);
  console.log(`sigild_lodestar: pruning kept ${na} of ${N + 1} attestations and ${nb} of ${N} blocks`);
} catch (e) {
  t.failed++;
  console.error(`FAIL: ${e.stack}\n--- sigild log ---\n${sigild.logs.slice(-4000)}`);
} finally {
  if (sigild.child && sigild.child.exitCode === null) sigild.child.kill("SIGKILL");
  agent.destroy();
  fs.rmSync(tmp, {recursive: true, force: true});
}
console.log(`sigild_lodestar: ${t.passed} passed, ${t.failed} failed`);
process.exit(t.failed === 0 ? 0 : 1);
