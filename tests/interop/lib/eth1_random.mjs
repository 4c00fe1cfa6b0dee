// Seeded random eth1 inputs shared by eth1_diff.mjs (eth1_driver vs ethers) and sigild_eth1.mjs
// (the real sigild vs ethers): quantities, addresses, keys, access lists and EIP-712 documents
// (nested structs, arrays, every int/uint/bytesN width with edge values, an optional domain).
// Every draw comes from one sfc32 stream, so a failure reproduces from the seed; the options only
// choose how addresses are cased in typed data (each script keeps its own stream of draws).
import { Wallet, getAddress, hexlify, toQuantity } from 'ethers';
import { sfc32 } from './harness.mjs';

const BASES = ['address', 'bool', 'string', 'bytes', 'bytesN', 'uintN', 'intN'];
export const UNI = ['a', 'Z', ' ', 'é', '🚀', '中', '"', '\\', 'ß'];

// seed: the sfc32 seed. typedAddress / contractAddress (given the generator) make the address
// values of typed messages and the domain's verifyingContract; unicode: the string alphabet.
export function eth1Random(seed, { typedAddress, contractAddress, unicode = UNI } = {}) {
  const g = sfc32(seed);
  const { rint, chance, bytes } = g;
  const hexBytes = (n) => hexlify(bytes(n));
  const bigOf = (nbytes) => (nbytes === 0 ? 0n : BigInt(hexlify(bytes(nbytes))));
  const randQty = (maxBytes) => bigOf(rint(maxBytes + 1));
  const randAddr = () => getAddress(hexBytes(20));
  // checksummed twice as often as lower case
  const randAddrCase = () => { const x = randAddr(); const k = rint(3); return k === 0 ? x : k === 1 ? x.toLowerCase() : x; };
  function randKey() { for (;;) { const k = hexBytes(32); try { return new Wallet(k); } catch { /* out of range */ } } }
  function randAccessList() {
    const out = [];
    for (let n = rint(4); n > 0; n--) {
      const keys = [];
      for (let k = rint(4); k > 0; k--) keys.push(hexBytes(32));
      out.push({ address: randAddr(), storageKeys: keys });
    }
    return out;
  }

  const randCase = (addr) => (chance(0.5) ? addr : addr.toLowerCase());

  // The fields of a random transaction of type 0-4 for ethers' Transaction.from (legacy with and
  // without EIP-155, access lists, EIP-4844 without sidecar, EIP-7702 authorizations signed by
  // random keys), the authorization list as JSON-RPC wants it, and a label for the kind.
  // onAuth(signer, req, auth), when given, sees each authorization signed.
  function randTxFields(type, onAuth) {
    const chainId = chance(0.2) ? 1n : BigInt(1 + rint(0xffffffff));
    const fields = {
      type, nonce: Number(randQty(6) % 2n ** 53n), gasLimit: randQty(8), value: randQty(32),
      data: hexBytes(chance(0.3) ? 0 : rint(chance(0.1) ? 2000 : 80)),
    };
    const preEip155 = type === 0 && chance(0.3);
    if (!preEip155) fields.chainId = chainId;
    if (type >= 3 || !chance(0.15)) fields.to = randAddr();
    if (type <= 1) fields.gasPrice = randQty(32);
    else {
      const maxFee = randQty(32);
      fields.maxFeePerGas = maxFee;
      fields.maxPriorityFeePerGas = maxFee === 0n ? 0n : BigInt(hexlify(bytes(32))) % (maxFee + 1n);
    }
    if (type >= 1) fields.accessList = randAccessList();
    if (type === 3) {
      fields.maxFeePerBlobGas = randQty(32);
      fields.blobVersionedHashes = Array.from({ length: 1 + rint(6) }, () => '0x01' + hexBytes(31).slice(2));
    }
    const authJson = [];
    if (type === 4) {
      fields.authorizationList = [];
      for (let i = 1 + rint(3); i > 0; i--) {
        const signer = randKey();
        const req = { address: randAddr(), nonce: randQty(8) % 2n ** 64n, chainId: chance(0.3) ? 0n : chainId };
        const auth = signer.authorizeSync(req);
        fields.authorizationList.push(auth);
        authJson.push({
          chainId: toQuantity(auth.chainId), address: randCase(auth.address), nonce: toQuantity(auth.nonce),
          yParity: toQuantity(auth.signature.yParity), r: toQuantity(auth.signature.r), s: toQuantity(auth.signature.s),
        });
        onAuth?.(signer, req, auth);
      }
    }
    const label = type === 0 ? (preEip155 ? 'tx0-legacy' : 'tx0-eip155') : `tx${type}`;
    return { fields, authJson, label };
  }
  // Adds to j (the eth_signTransaction JSON) every field after type, nonce, gas, value, data and from.
  function txJsonRest(j, fields, authJson) {
    const { type } = fields;
    if (fields.chainId !== undefined) j.chainId = toQuantity(fields.chainId);
    if (fields.to) j.to = randCase(fields.to);
    if (type <= 1) j.gasPrice = toQuantity(fields.gasPrice);
    else { j.maxFeePerGas = toQuantity(fields.maxFeePerGas); j.maxPriorityFeePerGas = toQuantity(fields.maxPriorityFeePerGas); }
    if (type >= 1) j.accessList = fields.accessList;
    if (type === 3) { j.maxFeePerBlobGas = toQuantity(fields.maxFeePerBlobGas); j.blobVersionedHashes = fields.blobVersionedHashes; }
    if (type === 4) j.authorizationList = authJson;
    return j;
  }

  const r = { ...g, hexBytes, bigOf, randQty, randAddr, randAddrCase, randCase, randKey, randAccessList, randTxFields, txJsonRest };
  const addrValue = typedAddress ? () => typedAddress(r) : randAddrCase;
  const contractValue = contractAddress ? () => contractAddress(r) : randAddrCase;

  function randAtomic() {
    const b = BASES[rint(BASES.length)];
    if (b === 'bytesN') return `bytes${1 + rint(32)}`;
    if (b === 'uintN') return `uint${8 * (1 + rint(32))}`;
    if (b === 'intN') return `int${8 * (1 + rint(32))}`;
    return b;
  }
  function randSuffix() {
    let s = '';
    const dims = chance(0.3) ? 1 + rint(2) : 0;
    for (let i = 0; i < dims; i++) s += chance(0.5) ? '[]' : `[${1 + rint(3)}]`;
    return s;
  }
  function randIntValue(bits, signed) {
    const max = signed ? 2n ** BigInt(bits - 1) - 1n : 2n ** BigInt(bits) - 1n;
    const min = signed ? -(2n ** BigInt(bits - 1)) : 0n;
    const k = rint(6);
    let v = k === 0 ? max : k === 1 ? min : k === 2 ? 0n : BigInt(hexlify(bytes(bits / 8))) % (max + 1n);
    if (k >= 3 && signed && chance(0.5)) v = -v;
    if (v > max) v = max;
    if (v < min) v = min;
    const f = rint(3);
    if (f === 0 && v <= 2n ** 53n - 1n && v >= -(2n ** 53n - 1n)) return Number(v);
    if (f === 1) return (v < 0n ? '-0x' + (-v).toString(16) : '0x' + v.toString(16));
    return v.toString();
  }
  function randValue(type, types) {
    const m = type.match(/^(.*)\[(\d*)\]$/);
    if (m) {
      const n = m[2] === '' ? rint(4) : Number(m[2]);
      return Array.from({ length: n }, () => randValue(m[1], types));
    }
    if (types[type]) {
      const o = {};
      for (const f of types[type]) o[f.name] = randValue(f.type, types);
      return o;
    }
    if (type === 'address') return addrValue();
    if (type === 'bool') return chance(0.5);
    if (type === 'string') { let s = ''; for (let i = rint(12); i > 0; i--) s += unicode[rint(unicode.length)]; return s; }
    if (type === 'bytes') return hexBytes(rint(70));
    let mm = type.match(/^bytes(\d+)$/);
    if (mm) return hexBytes(Number(mm[1]));
    mm = type.match(/^(u?)int(\d+)$/);
    return randIntValue(Number(mm[2]), mm[1] === '');
  }
  function genTyped() {
    const ns = 1 + rint(4);
    const names = Array.from({ length: ns }, (_, i) => `S${rint(1000)}x${i}`);
    const types = {};
    for (let i = 0; i < ns; i++) {
      const fields = [];
      for (let k = 1 + rint(5); k > 0; k--) {
        const ref = i + 1 < ns && chance(0.3) ? names[i + 1 + rint(ns - i - 1)] : randAtomic();
        fields.push({ name: `f${fields.length}_${rint(100)}`, type: ref + randSuffix() });
      }
      types[names[i]] = fields;
    }
    // every struct must be reachable from the primary type (ethers refuses unused types)
    for (let j = 1; j < ns; j++) {
      const used = Object.values(types).some((fs) => fs.some((f) => f.type.replace(/\[.*$/, '') === names[j]));
      if (!used) types[names[rint(j)]].push({ name: `r${j}`, type: names[j] + (chance(0.3) ? '[]' : '') });
    }
    const domain = {};
    if (chance(0.7)) domain.name = 'Dapp ' + rint(100) + (chance(0.3) ? ' 🚀' : '');
    if (chance(0.6)) domain.version = String(rint(10));
    if (chance(0.7)) domain.chainId = chance(0.5) ? 1 + rint(100000) : toQuantity(BigInt(hexBytes(8)));
    if (chance(0.6)) domain.verifyingContract = contractValue();
    if (chance(0.3)) domain.salt = hexBytes(32);
    const message = randValue(names[0], types);
    return { types, primaryType: names[0], domain, message };
  }
  return Object.assign(r, { genTyped });
}

// The document with its EIP712Domain type spelled out (the fields the domain has, in order).
export function withDomainType(doc) {
  const order = [['name', 'string'], ['version', 'string'], ['chainId', 'uint256'], ['verifyingContract', 'address'], ['salt', 'bytes32']];
  return { ...doc, types: { EIP712Domain: order.filter(([n]) => n in doc.domain).map(([name, type]) => ({ name, type })), ...doc.types } };
}
