// Differential test of Sigil's eth2 signing roots against Lodestar. eth2_gen.mjs generates random
// valid requests for every request type and every fork it applies to, with Lodestar's signing
// root for each (@lodestar/types 1.46.0 SSZ types, @lodestar/config mainnet chain config,
// @lodestar/state-transition computeSigningRoot / computeDomain); this script writes them as JSON
// lines and runs Sigil's eth2_driver over them.
//
// Usage: node eth2_roots.mjs [--count N] [--seed S] [--out FILE]
//   env SIGIL_ETH2_DRIVER: path of the eth2_driver binary (run unless --out is given)
import {spawnSync} from "node:child_process";
import {mkdtempSync, writeFileSync, rmSync} from "node:fs";
import {tmpdir} from "node:os";
import {join} from "node:path";
import {generateRequests, hex} from "./eth2_gen.mjs";

const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : dflt;
};
const COUNT = Number(opt("--count", "60"));

const lines = [];
const groups = new Set();
const seed = BigInt(opt("--seed", "20260701"));
for (const {type, fork, request, signingRoot} of generateRequests({count: COUNT, seed})) {
  lines.push(JSON.stringify({type, fork, request, signing_root: hex(signingRoot)}));
  groups.add(`${type}/${fork}`);
}
console.log(`generated ${lines.length} requests over ${groups.size} (type, fork) pairs, ${COUNT} each`);
const outArg = opt("--out", null);
const dir = outArg ? null : mkdtempSync(join(tmpdir(), "sigil-eth2-"));
const file = outArg ?? join(dir, "requests.jsonl");
writeFileSync(file, lines.join("\n") + "\n");
if (outArg) process.exit(0);

const driver = process.env.SIGIL_ETH2_DRIVER;
if (!driver) {
  console.error("SIGIL_ETH2_DRIVER is not set");
  process.exit(2);
}
const r = spawnSync(driver, [file], {stdio: "inherit"});
rmSync(dir, {recursive: true, force: true});
process.exit(r.status ?? 1);
