#!/usr/bin/env node
// EIP-2335 keystore interoperability between the sigil CLI and @chainsafe/bls-keystore:
//   Sigil -> bls-keystore: `sigil keystore create --password-file F --kdf K` (secret key hex on
//       stdin, keystore JSON on stdout) must decrypt with bls-keystore to the same key, and its
//       pubkey field must be the key's public key (checked with @chainsafe/blst).
//   bls-keystore -> Sigil: keystores from bls-keystore (pbkdf2 and scrypt, cheap and default
//       costs, Unicode passwords with control characters) must decrypt with
//       `sigil keystore decrypt --keystore F --password-file F` (secret key hex on stdout).
//   Wrong passwords must fail on both sides.
//
// Environment: SIGIL_BIN (directory with the sigil binary; set by ctest), SIGIL_DIFF_SEED.
// Exit status: 0 all agreed, 1 first mismatch (reported), 2 setup error.

import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

import blst from '@chainsafe/blst';
import keystore from '@chainsafe/bls-keystore';

const R = 0x73eda753299d7d483339d80809a1d80553bda402fffe5bfeffffffff00000001n;
const SEED = process.env.SIGIL_DIFF_SEED !== undefined ? Number(process.env.SIGIL_DIFF_SEED) >>> 0 : (Date.now() ^ (process.pid << 16)) >>> 0;
const KEY_PATH = 'm/12381/3600/0/0/0';

const bin = process.env.SIGIL_BIN ? path.join(process.env.SIGIL_BIN, 'sigil') : null;
if (!bin || !existsSync(bin)) {
  console.error('keystore_diff: set SIGIL_BIN to the directory holding the sigil binary (ctest does this)');
  process.exit(2);
}

const hex = (u8) => Buffer.from(u8).toString('hex');
const work = mkdtempSync(path.join(tmpdir(), 'sigil-keystore-diff-'));
process.on('exit', () => rmSync(work, { recursive: true, force: true }));

// Deterministic inputs from the seed (xorshift32 is plenty for picking keys and passwords).
let state = SEED || 1;
const u32 = () => {
  state ^= state << 13;
  state >>>= 0;
  state ^= state >>> 17;
  state ^= state << 5;
  return (state >>>= 0);
};
const randomBytes = (n) => Uint8Array.from({ length: n }, () => u32() & 0xff);
function randomSk() {
  for (;;) {
    const b = randomBytes(32);
    b[0] &= 0x7f;
    const x = BigInt('0x' + hex(b));
    if (x > 0n && x < R) return b;
  }
}
// Password alphabet: ASCII, characters that NFKD changes (precomposed accents, a ligature, the
// ohm sign, full-width and non-breaking space), astral characters, and C0/C1/DEL control codes
// that EIP-2335 strips. NUL is tested separately below.
const ALPHABET = [
  ...'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 !"#$%&\'()*+,-./:;<=>?@[\\]^_`{|}~',
  'é', 'e\u0301', 'ﬁ', '\u2126', 'Ａ', '\u00a0', 'ß', 'Å', '한', '日本', '𝔱', '🔑', 'Ⅻ',
  '\u0001', '\u0007', '\t', '\n', '\u001b', '\u001f', '\u007f', '\u0080', '\u0085', '\u009f',
];
function randomPassword() {
  let s = '';
  const len = 1 + (u32() % 24);
  for (let i = 0; i < len; i++) s += ALPHABET[u32() % ALPHABET.length];
  return s;
}

let fileNo = 0;
function writeTemp(name, data) {
  const f = path.join(work, `${fileNo++}-${name}`);
  writeFileSync(f, data, { mode: 0o600 });
  return f;
}

function run(args, input) {
  return new Promise((resolve) => {
    const child = spawn(bin, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', (e) => resolve({ status: -1, stdout, stderr: String(e) }));
    child.on('close', (status) => resolve({ status, stdout, stderr }));
    child.stdin.end(input ?? '');
  });
}

const counts = new Map();
const pass = (what) => counts.set(what, (counts.get(what) ?? 0) + 1);
function fail(what, details) {
  console.error(`\nMISMATCH in ${what} (seed ${SEED}; rerun with SIGIL_DIFF_SEED=${SEED})`);
  for (const [k, v] of Object.entries(details)) console.error(`  ${k.padEnd(12)} ${typeof v === 'string' ? v : JSON.stringify(v)}`);
  process.exit(1);
}

const pkOf = (sk) => hex(blst.SecretKey.fromBytes(sk).toPublicKey().toBytes(true));
// A printable form of a password for failure reports.
const showPw = (pw) => JSON.stringify(pw);

// -------------------------------------------------------------- Sigil creates, bls-keystore decrypts

async function sigilToChainsafe(label, kdf, password, keyPath = null) {
  const sk = randomSk();
  const pwFile = writeTemp('password', Buffer.from(password, 'utf8'));
  const args = ['keystore', 'create', '--password-file', pwFile];
  if (kdf) args.push('--kdf', kdf);
  if (keyPath) args.push('--path', keyPath);
  const r = await run(args, hex(sk) + '\n');
  if (r.status !== 0) fail(`sigil keystore create (${label})`, { args: args.join(' '), status: r.status, stderr: r.stderr.trim() });
  let ks;
  try {
    ks = keystore.Keystore.parse(r.stdout);
  } catch (e) {
    fail(`bls-keystore cannot parse Sigil's keystore (${label})`, { error: e.message, keystore: r.stdout });
  }
  const wantKdf = kdf ?? ks.crypto.kdf.function;
  if (ks.crypto.kdf.function !== wantKdf) fail(`Sigil keystore kdf (${label})`, { asked: kdf, got: ks.crypto.kdf.function });
  if (ks.version !== 4) fail(`Sigil keystore version (${label})`, { version: ks.version });
  if (keyPath && ks.path !== keyPath) fail(`Sigil keystore path (${label})`, { asked: keyPath, got: ks.path });
  if (ks.pubkey.replace(/^0x/, '') !== pkOf(sk)) fail(`Sigil keystore pubkey (${label})`, { sk: hex(sk), keystore: ks.pubkey, blst: pkOf(sk) });
  if (!/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/.test(ks.uuid)) fail(`Sigil keystore uuid (${label})`, { uuid: ks.uuid });
  let got;
  try {
    got = await ks.decrypt(password);
  } catch (e) {
    fail(`bls-keystore decrypt of Sigil's keystore (${label})`, { password: showPw(password), error: e.message, keystore: r.stdout });
  }
  if (hex(got) !== hex(sk)) fail(`bls-keystore decrypt of Sigil's keystore (${label})`, { sk: hex(sk), decrypted: hex(got) });
  if (await ks.verifyPassword(password + 'x')) fail(`wrong password accepted by bls-keystore (${label})`, {});
  pass(`sigil create -> bls-keystore decrypt: ${label}`);
  return { ks: r.stdout, sk, password };
}

// -------------------------------------------------------------- bls-keystore creates, Sigil decrypts

async function chainsafeToSigil(label, kdfMod, password, { checkWrong = false } = {}) {
  const sk = randomSk();
  const ks = await keystore.Keystore.create(password, sk, Buffer.from(pkOf(sk), 'hex'), KEY_PATH, '', kdfMod);
  const json = ks.stringify();
  const ksFile = writeTemp('keystore.json', json);
  const pwFile = writeTemp('password', Buffer.from(password, 'utf8'));
  const r = await run(['keystore', 'decrypt', '--keystore', ksFile, '--password-file', pwFile]);
  if (r.status !== 0) fail(`sigil keystore decrypt (${label})`, { password: showPw(password), status: r.status, stderr: r.stderr.trim(), keystore: json });
  const got = r.stdout.trim().replace(/^0x/, '').toLowerCase();
  if (got !== hex(sk)) fail(`sigil keystore decrypt (${label})`, { sk: hex(sk), sigil: got, password: showPw(password) });
  if (checkWrong) {
    const badFile = writeTemp('password', Buffer.from(password + 'x', 'utf8'));
    const w = await run(['keystore', 'decrypt', '--keystore', ksFile, '--password-file', badFile]);
    if (w.status === 0) fail(`sigil accepted a wrong password (${label})`, { stdout: w.stdout.trim() });
    if (w.stdout.includes(hex(sk))) fail(`sigil printed the key despite a wrong password (${label})`, {});
    pass('sigil decrypt: wrong password rejected');
  }
  pass(`bls-keystore create -> sigil decrypt: ${label}`);
}

const pbkdf2 = (c) => ({ ...keystore.defaultPbkdfModule(), params: { ...keystore.defaultPbkdfModule().params, c } });
const scrypt = (n) => ({ ...keystore.defaultScryptModule(), params: { ...keystore.defaultScryptModule().params, n } });
const CONTROL_PW = 'p\u0007ass\u0001w\u007ford\u0085 𝔱𝔢𝔰𝔱 é\u001bﬁ🔑'; // C0, DEL, C1, NFKD-changing

const t0 = performance.now();
console.log(`keystore_diff: seed ${SEED}, sigil ${bin}`);

// Sigil's KDF costs are its own (EIP-2335 defaults); these are the expensive cases.
await sigilToChainsafe('pbkdf2, ASCII password, --path', 'pbkdf2', 'testpassword', KEY_PATH);
await sigilToChainsafe('scrypt (default cost), ASCII password', 'scrypt', 'testpassword');
await sigilToChainsafe('scrypt (default cost), Unicode password with control codes', 'scrypt', randomPassword() + '\u0007𝔱é');
await sigilToChainsafe('pbkdf2, Unicode password with control codes', 'pbkdf2', randomPassword() + '\u009f한');
await sigilToChainsafe('default kdf, random password', null, randomPassword());

// bls-keystore side: cheap costs for the random sweep, then default costs once per kdf.
for (let i = 0; i < 6; i++) {
  await chainsafeToSigil('pbkdf2 c=2^12, random password', pbkdf2(4096), randomPassword(), { checkWrong: i === 0 });
  await chainsafeToSigil('scrypt n=2^12, random password', scrypt(4096), randomPassword(), { checkWrong: i === 0 });
}
await chainsafeToSigil('pbkdf2 default cost (c=2^18), control-code password', keystore.defaultPbkdfModule(), CONTROL_PW);
await chainsafeToSigil('scrypt default cost (n=2^18), control-code password', keystore.defaultScryptModule(), CONTROL_PW, { checkWrong: true });
await chainsafeToSigil('pbkdf2, password that is only control codes (empty after stripping)', pbkdf2(4096), '\u0001\u0002\u007f\u0080');
await chainsafeToSigil('pbkdf2, password with an embedded NUL (stripped like any C0 code)', pbkdf2(4096), 'before\u0000after');
await chainsafeToSigil('scrypt, empty password', scrypt(4096), '');

let total = 0;
for (const [what, n] of [...counts.entries()].sort()) {
  console.log(`${what}: ${n} passed, 0 failed`);
  total += n;
}
console.log(`keystore_diff: ${total} passed, 0 failed in ${((performance.now() - t0) / 1000).toFixed(1)} s (seed ${SEED})`);
