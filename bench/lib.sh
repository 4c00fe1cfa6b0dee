# shellcheck shell=bash
# Helpers shared by the bench/*.sh scripts (sourced, not run; they use set -euo pipefail).

# bench_tls DIR: throwaway TLS material in DIR: a CA (ca.pem, ca.key), a server certificate for
# 127.0.0.1 (server.pem, server.key), a client certificate (client.pem, client.key) and the
# known-clients file naming the client's fingerprint (known).
bench_tls() {
  local dir=$1 n ext
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 -subj /CN=bench-ca \
    -keyout "$dir/ca.key" -out "$dir/ca.pem" 2>/dev/null
  printf 'subjectAltName=IP:127.0.0.1\n' > "$dir/san.cnf"
  for n in server client; do
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=$n" -keyout "$dir/$n.key" \
      -out "$dir/$n.csr" 2>/dev/null
    ext=(); [[ $n == server ]] && ext=(-extfile "$dir/san.cnf")
    openssl x509 -req -in "$dir/$n.csr" -CA "$dir/ca.pem" -CAkey "$dir/ca.key" -CAcreateserial -days 1 \
      -out "$dir/$n.pem" "${ext[@]}" 2>/dev/null
  done
  echo "client $(openssl x509 -in "$dir/client.pem" -noout -fingerprint -sha256 | cut -d= -f2)" > "$dir/known"
}

# bench_wait_port LOG TRIES: prints the port sigild logged in LOG, looking every 10 ms, at most
# TRIES times; fails (after printing the log to stderr) when it never appears. Assign its output
# on a line of its own (port=$(...)), so that set -e stops the script on failure.
bench_wait_port() {
  local log=$1 tries=$2 port="" _
  for _ in $(seq 1 "$tries"); do
    port=$(grep -o '"port":[0-9]*' "$log" 2>/dev/null | head -1 | cut -d: -f2 || true)
    [[ -n "$port" ]] && break
    sleep 0.01
  done
  [[ -n "$port" ]] || { echo "sigild did not start:" >&2; cat "$log" >&2; return 1; }
  echo "$port"
}

# cpu_ticks PID: user + system CPU time of PID so far, in clock ticks (getconf CLK_TCK a second).
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

# field JSON NAME: the number of the last "NAME":<number> in the one-line JSON text.
field() { echo "$1" | sed -E "s/.*\"$2\":([0-9.]+).*/\\1/"; }
