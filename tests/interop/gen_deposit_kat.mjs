// Generates the deposit known answers embedded in tests/unit/test_deposit.c, with Lodestar's SSZ
// types, its computeDomain/computeSigningRoot, and @chainsafe/blst for the signature.
//   cd tests/interop && node gen_deposit_kat.mjs
import {ssz} from "@lodestar/types";
import {computeDomain, computeSigningRoot} from "@lodestar/state-transition";
import {DOMAIN_DEPOSIT} from "@lodestar/params";
import {networksChainConfig} from "@lodestar/config/networks";
import {SecretKey} from "@chainsafe/blst";
import {createHash} from "node:crypto";

const hex = (b) => Buffer.from(b).toString("hex");
const unhex = (s) => Uint8Array.from(Buffer.from(s.replace(/^0x/, ""), "hex"));
const ZERO_ROOT = new Uint8Array(32);
// Lodestar 1.46 no longer ships Holesky's config; its GENESIS_FORK_VERSION is 0x01017000
// (eth-clients/holesky metadata/config.yaml; 0x00017000 was the aborted first genesis).
const forkVersions = {
  mainnet: networksChainConfig.mainnet.GENESIS_FORK_VERSION,
  sepolia: networksChainConfig.sepolia.GENESIS_FORK_VERSION,
  hoodi: networksChainConfig.hoodi.GENESIS_FORK_VERSION,
  holesky: unhex("01017000"),
};

for (const net of Object.keys(forkVersions)) {
  console.log(`network ${net} GENESIS_FORK_VERSION ${hex(forkVersions[net])}`);
}

// The EIP-2335 test secret, and a second key (EIP-2333 test case 0's child) for 0x00 credentials.
const sk = SecretKey.fromBytes(unhex("000000000019d6689c085ae165831e934ff763ae46a2a6c172b3f1b60a8ce26f"));
const withdrawalSk = SecretKey.fromBytes(unhex("2d18bd6c14e6d15bf8b5085c9b74f3daae3b03cc2014770a599d8c1539e50f8e"));
const address = "00112233445566778899aabbccddeeff00112233";

const cases = [
  {net: "mainnet", wc: "01" + "00".repeat(11) + address, amount: 32000000000},
  {net: "hoodi", wc: "02" + "00".repeat(11) + address, amount: 2048000000000},
  {
    net: "holesky",
    wc: "00" + hex(createHash("sha256").update(withdrawalSk.toPublicKey().toBytes()).digest()).slice(2),
    amount: 32000000000,
  },
  {net: "sepolia", wc: "01" + "00".repeat(11) + address, amount: 1000000000},
];

for (const c of cases) {
  const forkVersion = forkVersions[c.net];
  const msg = {pubkey: sk.toPublicKey().toBytes(), withdrawalCredentials: unhex(c.wc), amount: c.amount};
  const domain = computeDomain(DOMAIN_DEPOSIT, forkVersion, ZERO_ROOT);
  const signingRoot = computeSigningRoot(ssz.phase0.DepositMessage, msg, domain);
  const signature = sk.sign(signingRoot).toBytes();
  const data = {...msg, signature};
  console.log(JSON.stringify({
    network_name: c.net,
    fork_version: hex(forkVersion),
    pubkey: hex(msg.pubkey),
    withdrawal_credentials: c.wc,
    amount: c.amount,
    domain: hex(domain),
    signing_root: hex(signingRoot),
    signature: hex(signature),
    deposit_message_root: hex(ssz.phase0.DepositMessage.hashTreeRoot(msg)),
    deposit_data_root: hex(ssz.phase0.DepositData.hashTreeRoot(data)),
    withdrawal_pubkey: hex(withdrawalSk.toPublicKey().toBytes()),
  }));
}
