#!/usr/bin/env bash
# End-to-end tests of the sigil CLI: the stable command surface, exit codes (0 ok, 1 "no",
# 2 bad input with one sentence on stderr), secrets only on stdin/files, and hostile input.
set -uo pipefail
SIGIL=${SIGIL_BIN:?}/sigil
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
. "$(dirname "$0")/lib.sh"

SK=0x47b8192d77bf871b62e87859d653922725724a5c031afeabc60bcef5ff665138
MSG=0x5656565656565656565656565656565656565656565656565656565656565656
WANT_SIG=0xaf1390c3c47acdb37131a51216da683c509fce0e954328a59f93aebda7e4ff974ba208d9a4a2a2389f892a9d418d618418dd7f7a6bc7aa0da999a9d3a5b815bc085e14fd001f6a1948768a3f4afefc8b8240dda329f984cb345c6363272ba4fe
R=73eda753299d7d483339d80809a1d80553bda402fffe5bfeffffffff00000001

# --- bls ---
IN=$SK expect 0 "pubkey" -- "$SIGIL" bls pubkey
PK=$LAST_OUT
[[ $PK =~ ^0x[0-9a-f]{96}$ ]] && ok || bad "pubkey format: $PK"
IN=${SK#0x} expect 0 "sign (no 0x prefix)" -- "$SIGIL" bls sign --message $MSG
[[ $LAST_OUT == "$WANT_SIG" ]] && ok || bad "sign vector: $LAST_OUT"
IN="  $SK
" expect 0 "sign with whitespace around the key" -- "$SIGIL" bls sign --message ${MSG#0x}
[[ $LAST_OUT == "$WANT_SIG" ]] && ok || bad "sign vector with whitespace"
IN= expect 0 "verify valid" -- "$SIGIL" bls verify --public-key $PK --message $MSG --signature $WANT_SIG
IN= expect 1 "verify wrong message" -- "$SIGIL" bls verify --public-key $PK --message 0x00 --signature $WANT_SIG
IN= expect 1 "verify empty message" -- "$SIGIL" bls verify --public-key $PK --message 0x --signature $WANT_SIG
IN= expect 2 "verify malformed pubkey" -- "$SIGIL" bls verify --public-key 0x00 --message $MSG --signature $WANT_SIG
IN= expect 2 "verify infinity pubkey" -- "$SIGIL" bls verify --public-key 0xc0$(printf '0%.0s' {1..94}) --message $MSG --signature $WANT_SIG
IN= expect 2 "verify pubkey not on curve" -- "$SIGIL" bls verify --public-key 0x8$(printf '0%.0s' {1..94})1 --message $MSG --signature $WANT_SIG
IN= expect 2 "verify non-hex signature" -- "$SIGIL" bls verify --public-key $PK --message $MSG --signature 0xzz
IN= expect 2 "verify missing option" -- "$SIGIL" bls verify --public-key $PK --message $MSG
IN= expect 2 "unknown option" -- "$SIGIL" bls sign --message $MSG --secret-key $SK
IN=0x00 expect 2 "short secret key" -- "$SIGIL" bls pubkey
IN=0x$(printf '0%.0s' {1..64}) expect 2 "zero secret key" -- "$SIGIL" bls pubkey
IN=0x$R expect 2 "secret key = r" -- "$SIGIL" bls pubkey
IN=0xffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff expect 2 "secret key > r" -- "$SIGIL" bls pubkey
IN=0x73eda753299d7d483339d80809a1d80553bda402fffe5bfeffffffff00000000 expect 0 "secret key = r-1" -- "$SIGIL" bls pubkey
IN="not hex at all" expect 2 "garbage secret key" -- "$SIGIL" bls pubkey
IN=$(head -c 100000 /dev/zero | tr '\0' 'a') expect 2 "oversized stdin" -- "$SIGIL" bls pubkey
IN= expect 2 "unknown command" -- "$SIGIL" frobnicate
IN= expect 2 "no command" -- "$SIGIL"
IN= expect 0 "help" -- "$SIGIL" --help

# --- keys derive (EIP-2333 test case 0) ---
SEED=0xc55257c360c07c72029aebc1b53c05ed0362ada38ead3e3e9efa3708e53495531f09a6987599d18264c1e1c92f2cf141630c7a3c4ab7c81b2f001698e7463b04
IN=$SEED expect 0 "derive master" -- "$SIGIL" keys derive --path m
[[ $LAST_OUT == 0x0d7359d57963ab8fbbde1852dcf553fedbc31f464d80ee7d40ae683122b45070 ]] && ok || bad "master SK: $LAST_OUT"
IN=$SEED expect 0 "derive child m/0" -- "$SIGIL" keys derive --path m/0 --from seed
[[ $LAST_OUT == 0x2d18bd6c14e6d15bf8b5085c9b74f3daae3b03cc2014770a599d8c1539e50f8e ]] && ok || bad "child SK: $LAST_OUT"
printf 'TREZOR' > "$TMP/passphrase"
IN="abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about" \
  expect 0 "derive from mnemonic + passphrase" -- "$SIGIL" keys derive --path m/0 --from mnemonic --passphrase-file "$TMP/passphrase"
[[ $LAST_OUT == 0x2d18bd6c14e6d15bf8b5085c9b74f3daae3b03cc2014770a599d8c1539e50f8e ]] && ok || bad "mnemonic child SK: $LAST_OUT"
IN="abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon" \
  expect 2 "mnemonic with a bad checksum" -- "$SIGIL" keys derive --path m/0 --from mnemonic
IN="abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon zzzz" \
  expect 2 "mnemonic with an unknown word" -- "$SIGIL" keys derive --path m/0 --from mnemonic
IN=$SEED expect 2 "bad path" -- "$SIGIL" keys derive --path m/x/0
IN=$SEED expect 2 "path index too large" -- "$SIGIL" keys derive --path m/4294967296
IN=0x00 expect 2 "seed too short" -- "$SIGIL" keys derive --path m/0
IN=$SEED expect 2 "bad --from" -- "$SIGIL" keys derive --path m/0 --from words

# --- keystores ---
printf 'correct horse battery staple\n' > "$TMP/pw"
printf 'wrong password\n' > "$TMP/pw2"
for kdf in pbkdf2 scrypt; do
  IN=$SK expect 0 "keystore create $kdf" -- "$SIGIL" keystore create --password-file "$TMP/pw" --kdf $kdf --cost 1024 --path m/12381/3600/0/0/0
  printf '%s\n' "$LAST_OUT" > "$TMP/ks-$kdf.json"
  grep -q "\"function\": *\"$kdf\"" "$TMP/ks-$kdf.json" && ok || bad "keystore kdf field ($kdf)"
  grep -q "${PK#0x}" "$TMP/ks-$kdf.json" && ok || bad "keystore pubkey field ($kdf)"
  IN= expect 0 "keystore decrypt $kdf" -- "$SIGIL" keystore decrypt --keystore "$TMP/ks-$kdf.json" --password-file "$TMP/pw"
  [[ $LAST_OUT == "$SK" ]] && ok || bad "keystore round trip ($kdf)"
  IN= expect 2 "keystore wrong password $kdf" -- "$SIGIL" keystore decrypt --keystore "$TMP/ks-$kdf.json" --password-file "$TMP/pw2"
done
printf '{"crypto": 5}' > "$TMP/hostile.json"
IN= expect 2 "hostile keystore" -- "$SIGIL" keystore decrypt --keystore "$TMP/hostile.json" --password-file "$TMP/pw"
head -c 200000 /dev/zero > "$TMP/huge.json"
IN= expect 2 "oversized keystore" -- "$SIGIL" keystore decrypt --keystore "$TMP/huge.json" --password-file "$TMP/pw"
IN= expect 2 "missing keystore file" -- "$SIGIL" keystore decrypt --keystore "$TMP/nope.json" --password-file "$TMP/pw"
IN=$SK expect 2 "bad kdf" -- "$SIGIL" keystore create --password-file "$TMP/pw" --kdf argon2

# --- keys new ---
OUT=$TMP/keys
IN= expect 0 "keys new" -- "$SIGIL" keys new --count 3 --start-index 5 --network hoodi \
  --withdrawal-address 0x7E5F4552091A69125d5DfCb7b8C2659029395Bdf --password-file "$TMP/pw" \
  --kdf pbkdf2 --cost 1024 --mnemonic-file "$TMP/mnemonic.txt" --out "$OUT"
[[ $(ls "$OUT"/keystore-m_12381_3600_{5,6,7}_0_0-*.json | wc -l) -eq 3 ]] && ok || bad "keys new: keystore files"
[[ $(stat -c %a "$TMP/mnemonic.txt") == 600 ]] && ok || bad "mnemonic file mode"
[[ $(wc -w < "$TMP/mnemonic.txt") -eq 24 ]] && ok || bad "mnemonic has 24 words"
DD=$(ls "$OUT"/deposit_data-*.json)
grep -q '"network_name": *"hoodi"' "$DD" && ok || bad "deposit data network"
grep -q '"withdrawal_credentials": *"0100000000000000000000007e5f4552091a69125d5dfcb7b8c2659029395bdf"' "$DD" && ok || bad "deposit withdrawal credentials"
# the keystore for index 6 is the mnemonic's key at m/12381/3600/6/0/0
KS6=$(ls "$OUT"/keystore-m_12381_3600_6_0_0-*.json)
IN= expect 0 "decrypt new keystore" -- "$SIGIL" keystore decrypt --keystore "$KS6" --password-file "$TMP/pw"
SK6=$LAST_OUT
IN=$(cat "$TMP/mnemonic.txt") expect 0 "re-derive from mnemonic" -- "$SIGIL" keys derive --path m/12381/3600/6/0/0 --from mnemonic
[[ $LAST_OUT == "$SK6" ]] && ok || bad "keystore key equals mnemonic derivation"
IN= expect 2 "keys new: bad checksum address" -- "$SIGIL" keys new --count 1 --network hoodi \
  --withdrawal-address 0x7e5F4552091A69125d5DfCb7b8C2659029395Bdf --password-file "$TMP/pw" --out "$TMP/k2"
IN= expect 2 "keys new: unknown network" -- "$SIGIL" keys new --count 1 --network nowhere \
  --withdrawal-address 0x7E5F4552091A69125d5DfCb7b8C2659029395Bdf --password-file "$TMP/pw" --out "$TMP/k2"
IN= expect 2 "keys new: zero count" -- "$SIGIL" keys new --count 0 --network hoodi \
  --withdrawal-address 0x7E5F4552091A69125d5DfCb7b8C2659029395Bdf --password-file "$TMP/pw" --out "$TMP/k2"
IN= expect 2 "keys new: mnemonic file exists" -- "$SIGIL" keys new --count 1 --network hoodi \
  --withdrawal-address 0x7E5F4552091A69125d5DfCb7b8C2659029395Bdf --password-file "$TMP/pw" --out "$TMP/k3" \
  --mnemonic-file "$TMP/mnemonic.txt" --cost 1024

# --- secrets never on argv: no option takes a key, seed, mnemonic or password value ---
"$SIGIL" --help | grep -Eiq -- '--(secret|private|seed|mnemonic|password)[a-z-]* (HEX|WORDS|PASS)' && bad "help advertises a secret on argv" || ok

finish cli
