// Random valid Web3Signer signing requests for every request type and every fork it applies to,
// each with the signing root Lodestar computes for it (@lodestar/types 1.46.0 SSZ types,
// @lodestar/config mainnet chain config, @lodestar/state-transition computeSigningRoot /
// computeDomain). Values are random JSON per SSZ type, validated by the type's fromJson; the
// request carries the type's toJson (snake_case, uint64 as decimal strings, bitfields as SSZ hex).
//
// Used by eth2_roots.mjs (roots through eth2_driver) and sigild_lodestar.mjs (signatures through
// the real daemon).
import {ssz} from "@lodestar/types";
import {createBeaconConfig} from "@lodestar/config";
import {mainnetChainConfig} from "@lodestar/config/networks";
import {computeSigningRoot, computeDomain} from "@lodestar/state-transition";
import * as P from "@lodestar/params";

export const GENESIS_VALIDATORS_ROOT = Buffer.from(
  "4b363db94e286120d76eb905340fdd4e54bfe9f06bf33ff6cf5ad27f511bfe95",
  "hex",
);
export const FORKS = ["phase0", "altair", "bellatrix", "capella", "deneb", "electra", "fulu"];
/** Types that slashing protection checks (proposals and votes). */
export const SLASHABLE_TYPES = ["BLOCK", "BLOCK_V2", "ATTESTATION"];
export const hex = (b) => "0x" + Buffer.from(b).toString("hex");

const config = createBeaconConfig(mainnetChainConfig, GENESIS_VALIDATORS_ROOT);
const C = mainnetChainConfig;
const forkVersion = (f) => (f === "phase0" ? C.GENESIS_FORK_VERSION : C[`${f.toUpperCase()}_FORK_VERSION`]);
export const forkEpoch = (f) => (f === "phase0" ? 0 : C[`${f.toUpperCase()}_FORK_EPOCH`]);
const SPE = P.SLOTS_PER_EPOCH;
const ZERO = new Uint8Array(32);
const MAX_SAFE = 2n ** 53n - 1n;

/** Web3Signer fork_info for a chain at fork f (mainnet). */
export function forkInfo(f) {
  const i = FORKS.indexOf(f);
  return {
    fork: {
      previous_version: hex(forkVersion(FORKS[Math.max(0, i - 1)])),
      current_version: hex(forkVersion(f)),
      epoch: String(forkEpoch(f)),
    },
    genesis_validators_root: hex(GENESIS_VALIDATORS_ROOT),
  };
}

// The generators of one run: their own deterministic random stream (xorshift64*), so a failure
// reproduces with the same seed. monotonic: slots of BLOCK and BLOCK_V2 and (source, target) of
// ATTESTATION strictly increase over the run, per type, so one key per type can sign them all
// without a slashing refusal (the forks are generated in order and their epoch ranges ascend).
function makeGenerators(seedIn, monotonic) {
  let seed = BigInt(seedIn) | 1n;
  function rand64() {
    seed ^= seed >> 12n;
    seed ^= (seed << 25n) & 0xffffffffffffffffn;
    seed ^= seed >> 27n;
    return (seed * 0x2545f4914f6cdd1dn) & 0xffffffffffffffffn;
  }
  const randInt = (n) => Number(rand64() % BigInt(n));
  const randBytes = (n) => {
    const b = Buffer.alloc(n);
    for (let i = 0; i < n; i++) b[i] = randInt(256);
    return b;
  };

  function randU64(bigint) {
    const max = bigint ? 2n ** 64n - 1n : MAX_SAFE;
    switch (randInt(4)) {
      case 0:
        return String(randInt(1000));
      case 1:
        return String(rand64() % 2n ** 32n);
      case 2:
        return String(max - BigInt(randInt(3)));
      default:
        return String(rand64() % (max + 1n));
    }
  }

  // Random JSON for a @chainsafe/ssz type; lists get a few elements (maxElems).
  function randJson(t, maxElems) {
    switch (t.constructor.name) {
      case "ContainerType":
      case "ContainerNodeStructType": {
        const o = {};
        for (const f of t.fieldsEntries) o[f.jsonKey] = randJson(f.fieldType, maxElems);
        return o;
      }
      case "UintNumberType":
        return randU64(false);
      case "UintBigintType":
        return randU64(true);
      case "ByteVectorType":
        return hex(randBytes(t.lengthBytes));
      case "BitListType": {
        const cap = Math.min(t.limitBits, randInt(4) === 0 ? t.limitBits : 300);
        const len = randInt(cap + 1);
        const b = randBytes(Math.floor(len / 8) + 1);
        const last = Math.floor(len / 8);
        b[last] = (b[last] & ((1 << len % 8) - 1)) | (1 << len % 8);
        return hex(b);
      }
      case "BitVectorType": {
        const b = randBytes(Math.ceil(t.lengthBits / 8));
        if (t.lengthBits % 8) b[b.length - 1] &= (1 << t.lengthBits % 8) - 1;
        return hex(b);
      }
      case "ListCompositeType":
      case "ListBasicType": {
        const n = randInt(Math.min(t.limit, t.elementType.constructor.name.startsWith("Uint") ? 40 : maxElems) + 1);
        return Array.from({length: n}, () => randJson(t.elementType, maxElems));
      }
      case "VectorCompositeType":
      case "VectorBasicType":
        return Array.from({length: t.length}, () => randJson(t.elementType, maxElems));
      default:
        // subclasses of ByteVectorType (ExecutionAddressType, ...)
        if (typeof t.lengthBytes === "number" && !t.fieldsEntries) return hex(randBytes(t.lengthBytes));
        throw new Error("unhandled SSZ type " + t.constructor.name);
    }
  }

  // Random value of type t: random JSON through fromJson (which validates it), back to JSON.
  function randValue(t, maxElems = 2) {
    const value = t.fromJson(randJson(t, maxElems));
    return {value, json: t.toJson(value)};
  }

  // Epoch range a chain at fork f could sign messages for: a few epochs before f (previous
  // version) up to just before the next fork.
  function epochRange(f) {
    const i = FORKS.indexOf(f);
    const lo = Math.max(0, forkEpoch(f) - 3);
    const hi = i + 1 < FORKS.length ? forkEpoch(FORKS[i + 1]) - 1 : forkEpoch(f) + 100000;
    return [lo, hi];
  }
  function messageEpoch(f) {
    const [lo, hi] = epochRange(f);
    return lo + randInt(hi - lo + 1);
  }
  const stateSlot = (f) => forkEpoch(f) * SPE + randInt(SPE);

  // monotonic mode: the last slot / target epoch handed out per type
  const last = new Map();
  function proposalSlot(type, f) {
    if (!monotonic) return messageEpoch(f) * SPE + randInt(SPE);
    const [lo, hi] = epochRange(f);
    const slot = Math.max((last.get(type) ?? -1) + 1, lo * SPE) + randInt(SPE);
    if (slot >= (hi + 1) * SPE) throw new Error(`monotonic slots for ${type} exhausted in ${f}`);
    last.set(type, slot);
    return slot;
  }
  function voteEpochs(type, f) {
    const [lo, hi] = epochRange(f);
    const target = Math.max((last.get(type) ?? 0) + 1, lo, 1) + randInt(3);
    if (target > hi) throw new Error(`monotonic epochs for ${type} exhausted in ${f}`);
    last.set(type, target);
    return [target - 1, target];
  }

  // Each generator returns [request-without-common-fields, signing root].
  const T = {
    BLOCK: {
      forks: ["phase0"],
      gen(f) {
        const {value, json} = randValue(ssz.phase0.BeaconBlock, 2);
        value.slot = proposalSlot("BLOCK", f);
        json.slot = String(value.slot);
        const d = config.getDomain(stateSlot(f), P.DOMAIN_BEACON_PROPOSER, value.slot);
        return [{block: json}, computeSigningRoot(ssz.phase0.BeaconBlock, value, d)];
      },
    },
    BLOCK_V2: {
      forks: FORKS,
      gen(f) {
        const full = f === "phase0" || f === "altair";
        const t = full ? ssz[f].BeaconBlock : ssz.phase0.BeaconBlockHeader;
        const {value} = randValue(t, 2);
        value.slot = proposalSlot("BLOCK_V2", f);
        const d = config.getDomain(stateSlot(f), P.DOMAIN_BEACON_PROPOSER, value.slot);
        const bb = {version: f.toUpperCase()};
        bb[full ? "block" : "block_header"] = t.toJson(value);
        return [{beacon_block: bb}, computeSigningRoot(t, value, d)];
      },
    },
    ATTESTATION: {
      forks: FORKS,
      gen(f) {
        const {value} = randValue(ssz.phase0.AttestationData);
        if (monotonic) {
          [value.source.epoch, value.target.epoch] = voteEpochs("ATTESTATION", f);
        } else {
          value.target.epoch = messageEpoch(f);
        }
        const d = config.getDomain(stateSlot(f), P.DOMAIN_BEACON_ATTESTER, value.target.epoch * SPE);
        return [
          {attestation: ssz.phase0.AttestationData.toJson(value)},
          computeSigningRoot(ssz.phase0.AttestationData, value, d),
        ];
      },
    },
    AGGREGATION_SLOT: {
      forks: FORKS,
      gen(f) {
        const slot = messageEpoch(f) * SPE + randInt(SPE);
        const d = config.getDomain(stateSlot(f), P.DOMAIN_SELECTION_PROOF, slot);
        return [{aggregation_slot: {slot: String(slot)}}, computeSigningRoot(ssz.Slot, slot, d)];
      },
    },
    AGGREGATE_AND_PROOF: {
      forks: FORKS.slice(0, 5),
      gen(f) {
        const t = ssz.phase0.AggregateAndProof;
        const {value} = randValue(t);
        value.aggregate.data.slot = messageEpoch(f) * SPE + randInt(SPE);
        const d = config.getDomain(stateSlot(f), P.DOMAIN_AGGREGATE_AND_PROOF, value.aggregate.data.slot);
        return [{aggregate_and_proof: t.toJson(value)}, computeSigningRoot(t, value, d)];
      },
    },
    AGGREGATE_AND_PROOF_V2: {
      forks: FORKS,
      gen(f) {
        const electra = f === "electra" || f === "fulu";
        const t = electra ? ssz.electra.AggregateAndProof : ssz.phase0.AggregateAndProof;
        const {value} = randValue(t);
        value.aggregate.data.slot = messageEpoch(f) * SPE + randInt(SPE);
        const d = config.getDomain(stateSlot(f), P.DOMAIN_AGGREGATE_AND_PROOF, value.aggregate.data.slot);
        // pre-Electra, sometimes the legacy bare shape Web3Signer also accepts
        const body = !electra && randInt(4) === 0 ? t.toJson(value) : {version: f.toUpperCase(), data: t.toJson(value)};
        return [{aggregate_and_proof: body}, computeSigningRoot(t, value, d)];
      },
    },
    DEPOSIT: {
      forks: ["phase0"],
      noForkInfo: true,
      gen() {
        const t = ssz.phase0.DepositMessage;
        const {value, json} = randValue(t);
        const gfv = randInt(2) ? randBytes(4) : C.GENESIS_FORK_VERSION;
        const d = computeDomain(P.DOMAIN_DEPOSIT, gfv, ZERO);
        return [{deposit: {...json, genesis_fork_version: hex(gfv)}}, computeSigningRoot(t, value, d)];
      },
    },
    RANDAO_REVEAL: {
      forks: FORKS,
      gen(f) {
        const epoch = messageEpoch(f);
        const d = config.getDomain(stateSlot(f), P.DOMAIN_RANDAO, epoch * SPE);
        return [{randao_reveal: {epoch: String(epoch)}}, computeSigningRoot(ssz.Epoch, epoch, d)];
      },
    },
    VOLUNTARY_EXIT: {
      forks: FORKS,
      gen(f) {
        const t = ssz.phase0.VoluntaryExit;
        const {value} = randValue(t);
        value.epoch = messageEpoch(f);
        const d = config.getDomainForVoluntaryExit(stateSlot(f), value.epoch * SPE);
        return [{voluntary_exit: t.toJson(value)}, computeSigningRoot(t, value, d)];
      },
    },
    SYNC_COMMITTEE_MESSAGE: {
      forks: FORKS.slice(1),
      gen(f) {
        const root = randBytes(32);
        const slot = messageEpoch(f) * SPE + randInt(SPE);
        const d = config.getDomain(stateSlot(f), P.DOMAIN_SYNC_COMMITTEE, slot);
        return [
          {sync_committee_message: {beacon_block_root: hex(root), slot: String(slot)}},
          computeSigningRoot(ssz.Root, root, d),
        ];
      },
    },
    SYNC_COMMITTEE_SELECTION_PROOF: {
      forks: FORKS.slice(1),
      gen(f) {
        const t = ssz.altair.SyncAggregatorSelectionData;
        const {value} = randValue(t);
        value.slot = messageEpoch(f) * SPE + randInt(SPE);
        const d = config.getDomain(stateSlot(f), P.DOMAIN_SYNC_COMMITTEE_SELECTION_PROOF, value.slot);
        return [{sync_aggregator_selection_data: t.toJson(value)}, computeSigningRoot(t, value, d)];
      },
    },
    SYNC_COMMITTEE_CONTRIBUTION_AND_PROOF: {
      forks: FORKS.slice(1),
      gen(f) {
        const t = ssz.altair.ContributionAndProof;
        const {value} = randValue(t);
        value.contribution.slot = messageEpoch(f) * SPE + randInt(SPE);
        const d = config.getDomain(stateSlot(f), P.DOMAIN_CONTRIBUTION_AND_PROOF, value.contribution.slot);
        return [{contribution_and_proof: t.toJson(value)}, computeSigningRoot(t, value, d)];
      },
    },
    VALIDATOR_REGISTRATION: {
      forks: ["bellatrix"],
      noForkInfo: true,
      gen() {
        const t = ssz.bellatrix.ValidatorRegistrationV1;
        const {value, json} = randValue(t);
        const d = computeDomain(P.DOMAIN_APPLICATION_BUILDER, C.GENESIS_FORK_VERSION, ZERO);
        return [{validator_registration: json}, computeSigningRoot(t, value, d)];
      },
    },
    BLS_TO_EXECUTION_CHANGE: {
      forks: FORKS.slice(3),
      gen() {
        const t = ssz.capella.BLSToExecutionChange;
        const {value, json} = randValue(t);
        const d = config.getDomainAtFork("phase0", P.DOMAIN_BLS_TO_EXECUTION_CHANGE);
        // Web3Signer names the key in snake case; Lodestar sends the upper-case type name
        const key = randInt(2) ? "bls_to_execution_change" : "BLS_TO_EXECUTION_CHANGE";
        return [{[key]: json}, computeSigningRoot(t, value, d)];
      },
    },
  };
  return {T, randInt};
}

/** The (type, fork) pairs, in generation order. */
export function typeForkPairs() {
  const {T} = makeGenerators(1, false);
  return Object.entries(T).flatMap(([type, def]) => def.forks.map((fork) => ({type, fork})));
}

/**
 * Yields {type, fork, request, signingRoot} — count requests for every (type, fork) pair, type by
 * type and fork by fork in order. signingRoot is Lodestar's root (Uint8Array). The request's type
 * name is sometimes lower case, and it sometimes carries signingRoot / signing_root (the
 * cross-check Web3Signer clients may send). Deterministic for a given seed.
 * monotonic: see makeGenerators (for signing slashable types through one key per type).
 */
export function* generateRequests({count = 60, seed = 20260701n, monotonic = false} = {}) {
  const {T, randInt} = makeGenerators(seed, monotonic);
  for (const [type, def] of Object.entries(T)) {
    for (const fork of def.forks) {
      for (let i = 0; i < count; i++) {
        const [body, root] = def.gen(fork);
        const typeName = randInt(8) === 0 ? type.toLowerCase() : type;
        const request = {type: typeName, ...(def.noForkInfo ? {} : {fork_info: forkInfo(fork)}), ...body};
        const rootKey = ["signingRoot", "signing_root", null][randInt(3)];
        if (rootKey) request[rootKey] = hex(root);
        yield {type, fork, request, signingRoot: root};
      }
    }
  }
}
