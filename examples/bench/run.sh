#!/usr/bin/env bash
# The HTTP benchmark of rocket-linktoken, in one command, from anywhere:
#
#     bash examples/bench/run.sh
#
# Builds the bench server and `bench-links` in release, mints the links, then for SQLite and for
# PostgreSQL (a throwaway database, created and dropped here; skipped with a message when the
# server is unreachable) starts the bench server and runs wrk in interleaved rounds over four
# scenarios: plain, guarded (one link), guarded (BENCH_LINKS distinct links) and forged. It
# prints a markdown table (medians over rounds; each ratio is taken against the plain scenario
# of the same round) and writes it, with every raw wrk output, under target/bench/.
#
# Settings, from the environment (defaults in brackets):
#   BENCH_DURATION   seconds per measured wrk run [10]
#   BENCH_WARMUP     seconds of unmeasured load per scenario before the rounds [2]
#   BENCH_ROUNDS     rounds of the four scenarios [3]
#   BENCH_THREADS    wrk threads [2]
#   BENCH_CONNECTIONS  wrk connections [64]
#   BENCH_TIMEOUT    seconds before wrk gives up on a response (slower ones count as errors and
#                    leave the latency figures) [30]
#   BENCH_LINKS      distinct links of the spread scenario [2000]
#   BENCH_PORT       the server's port [8199]
#   BENCH_BACKENDS   which databases, in order ["sqlite postgres"]
#   BENCH_POSTGRES   PostgreSQL server URL, without a database [postgres://postgres@127.0.0.1:5432]
#   BENCH_SERVER_LOG where the server's output goes [/dev/null]
#   BENCH_LOG_LEVEL  the server's Rocket log level [critical, the release default: Rocket then
#                    logs two warnings per refused request, which the forged scenario pays for]
# With the defaults a run takes about 4.5 minutes after the build.
set -euo pipefail
export LC_ALL=C

here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"

duration="${BENCH_DURATION:-10}"
warmup="${BENCH_WARMUP:-2}"
rounds="${BENCH_ROUNDS:-3}"
threads="${BENCH_THREADS:-2}"
connections="${BENCH_CONNECTIONS:-64}"
timeout="${BENCH_TIMEOUT:-30}"
spread_links="${BENCH_LINKS:-2000}"
port="${BENCH_PORT:-8199}"
backends="${BENCH_BACKENDS:-sqlite postgres}"
pg_server="${BENCH_POSTGRES:-postgres://postgres@127.0.0.1:5432}"
server_log="${BENCH_SERVER_LOG:-/dev/null}"
log_hint="the server's output (run again with BENCH_SERVER_LOG=file to keep it)"
[ "$server_log" = /dev/null ] || log_hint="$server_log"
log_level="${BENCH_LOG_LEVEL:-critical}"

scenarios="plain guarded-one guarded-spread forged"
base="http://127.0.0.1:$port"
out="$repo/target/bench"
work="$out/work"
raw="$out/raw"
results="$out/http.md"

say() { printf '== %s\n' "$*" >&2; }
die() { printf 'run.sh: %s\n' "$*" >&2; exit 1; }

# --- tools -------------------------------------------------------------------------------------

if ! command -v wrk >/dev/null; then
    say "installing wrk"
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get install -y wrk >/dev/null || { $sudo apt-get update >/dev/null && $sudo apt-get install -y wrk >/dev/null; }
fi
command -v curl >/dev/null || die "curl is needed to check the server's answers"

say "building the bench server and bench-links (release)"
cd "$repo"
cargo build --release --quiet -p bench --bins
target_dir="$(cargo metadata --format-version 1 --no-deps | grep -o '"target_directory":"[^"]*"' | cut -d'"' -f4)"
server="$target_dir/release/bench"
minter="$target_dir/release/bench-links"

rm -rf "$work" "$raw"
mkdir -p "$work" "$raw"

# --- configuration shared by the server and the minter --------------------------------------

export ROCKET_PROFILE=release
export ROCKET_ADDRESS=127.0.0.1
export ROCKET_PORT="$port"
export ROCKET_LOG_LEVEL="$log_level"
export ROCKET_CLI_COLORS=false
ROCKET_LINKTOKEN="{secret=\"$(od -An -N32 -tx1 /dev/urandom | tr -d ' \n')\"}"
export ROCKET_LINKTOKEN

say "minting links"
"$minter" --plain >"$work/plain.paths"
"$minter" --guarded >"$work/guarded-one.paths"
"$minter" --guarded --count "$spread_links" >"$work/guarded-spread.paths"
"$minter" --forged >"$work/forged.paths"

expected_status() {
    case "$1" in
        forged) echo 403 ;;
        *) echo 200 ;;
    esac
}

# --- the server ----------------------------------------------------------------------------------

server_pid=""
pg_db=""

stop_server() {
    if [ -n "$server_pid" ]; then
        kill "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
        server_pid=""
    fi
}

cleanup() {
    stop_server
    if [ -n "$pg_db" ]; then
        psql -q "$pg_server/postgres" -c "DROP DATABASE IF EXISTS $pg_db WITH (FORCE)" || true
    fi
}
trap cleanup EXIT

start_server() { # backend url
    if curl -fs -o /dev/null "$base/health"; then
        die "something already answers on port $port; set BENCH_PORT"
    fi
    # Rocket writes two warnings per refused request: kept in a file, its output would grow by
    # ~100 MB per forged run and compete with the databases' own flushes to the disk, slowing
    # whatever is measured after it. It goes to BENCH_SERVER_LOG (/dev/null unless set).
    ROCKET_DATABASES="{bench={url=\"$2\"}}" "$server" >"$server_log" 2>&1 &
    server_pid=$!
    for _ in $(seq 300); do
        curl -fs -o /dev/null "$base/health" && return 0
        kill -0 "$server_pid" 2>/dev/null || die "the $1 server exited; see $log_hint"
        sleep 0.1
    done
    die "the $1 server did not answer within 30 s; see $log_hint"
}

memory_kib() { # field of /proc/PID/status (VmHWM, VmRSS), in KiB
    awk -v field="$1:" '$1 == field { print $2 }' "/proc/$server_pid/status"
}

# --- wrk -------------------------------------------------------------------------------------------

run_wrk() { # scenario seconds output
    local paths="$work/$1.paths"
    local load=(-t"$threads" -c"$connections" -d"$2s" --timeout "${timeout}s" --latency)
    if [ "$(wc -l <"$paths")" -eq 1 ]; then
        wrk "${load[@]}" "$base$(head -n1 "$paths")" >"$3"
    else
        wrk "${load[@]}" -s "$here/spread.lua" "$base" -- "$paths" >"$3"
    fi
}

# CPU time the server has used, user and system, in clock ticks: per request, it is a figure that
# other processes on the machine disturb far less than throughput.
server_ticks() {
    awk '{ print $14 + $15 }' "/proc/$server_pid/stat"
}

# One line per run: requests/s, p50 and p99 in ms, requests, non-2xx/3xx responses, socket errors.
parse_wrk() { # file
    awk '
        function ms(v) {
            if (v ~ /us$/) return substr(v, 1, length(v) - 2) / 1000
            if (v ~ /ms$/) return substr(v, 1, length(v) - 2) + 0
            if (v ~ /m$/) return substr(v, 1, length(v) - 1) * 60000
            if (v ~ /s$/) return substr(v, 1, length(v) - 1) * 1000
            return v + 0
        }
        /^ +50% / { p50 = ms($2) }
        /^ +99% / { p99 = ms($2) }
        /requests in/ { requests = $1 }
        /^Requests\/sec:/ { rps = $2 }
        /Non-2xx or 3xx responses:/ { non2xx = $NF }
        /Socket errors:/ { gsub(",", ""); errors = $4 + $6 + $8 + $10 }
        END { printf "%s %.3f %.3f %d %d %d\n", rps, p50, p99, requests, non2xx, errors }
    ' "$1"
}

median() { # numbers on stdin
    sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# --- one backend -------------------------------------------------------------------------------

measurements="$out/measurements.tsv"
clock_ticks="$(getconf CLK_TCK)"
printf 'backend\tround\tscenario\trps\tp50_ms\tp99_ms\trequests\tnon2xx\terrors\tcpu_us\n' >"$measurements"
memory="$work/memory.tsv"
: >"$memory"
notes="$work/notes.txt"
: >"$notes"

bench_backend() { # backend url
    local backend="$1"
    say "$backend: starting the server ($(uptime | sed 's/.*load/load/'))"
    start_server "$backend" "$2"
    local rss_start
    rss_start="$(memory_kib VmRSS)"
    for scenario in $scenarios; do
        local path status
        path="$(head -n1 "$work/$scenario.paths")"
        status="$(curl -s -o /dev/null -w '%{http_code}' "$base$path")"
        [ "$status" = "$(expected_status "$scenario")" ] ||
            die "$backend: $scenario answered $status, not $(expected_status "$scenario"): see $log_hint"
    done
    if [ "$warmup" -gt 0 ]; then
        say "$backend: warming up, ${warmup} s per scenario"
        for scenario in $scenarios; do
            run_wrk "$scenario" "$warmup" "$raw/$backend-warmup-$scenario.txt"
        done
    fi
    for round in $(seq "$rounds"); do
        for scenario in $scenarios; do
            say "$backend: round $round/$rounds, $scenario, ${duration} s"
            local file="$raw/$backend-r$round-$scenario.txt"
            local ticks cpu_us
            # The kernel writes back what the scenario before wrote (a guarded SQLite run leaves
            # hundreds of megabytes) with threads on the same CPUs: written first, it is not
            # measured with the next scenario.
            sync
            ticks="$(server_ticks)"
            run_wrk "$scenario" "$duration" "$file"
            ticks=$(($(server_ticks) - ticks))
            read -r rps p50 p99 requests non2xx errors < <(parse_wrk "$file")
            cpu_us="$(awk -v t="$ticks" -v hz="$clock_ticks" -v n="$requests" 'BEGIN { printf "%.1f", t / hz / n * 1e6 }')"
            printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$backend" "$round" "$scenario" \
                "$rps" "$p50" "$p99" "$requests" "$non2xx" "$errors" "$cpu_us" >>"$measurements"
            local wrong="$non2xx"
            [ "$(expected_status "$scenario")" = 200 ] || wrong=$((requests - non2xx))
            if [ "$wrong" -ne 0 ] || [ "$errors" -ne 0 ]; then
                echo "- $backend, round $round, $scenario: $wrong responses with an unexpected status, $errors socket errors ($file)" |
                    tee -a "$notes" >&2
            fi
        done
    done
    printf '%s\t%s\t%s\n' "$backend" "$rss_start" "$(memory_kib VmHWM)" >>"$memory"
    stop_server
    echo "- $backend: load after the run: $(uptime | sed 's/.*load average: //')" >>"$notes"
}

load_before="$(uptime | sed 's/.*load average: //')"
for backend in $backends; do
    case "$backend" in
        sqlite)
            rm -f "$work"/bench.sqlite*
            bench_backend sqlite "sqlite://$work/bench.sqlite?mode=rwc"
            ;;
        postgres)
            if ! command -v psql >/dev/null || ! psql -q "$pg_server/postgres" -c "SELECT 1" >/dev/null 2>&1; then
                say "PostgreSQL at $pg_server is unreachable (or psql is missing): skipped"
                echo "- postgres: skipped, $pg_server unreachable" >>"$notes"
                continue
            fi
            pg_db="linktoken_bench_$$"
            psql -q "$pg_server/postgres" -c "CREATE DATABASE $pg_db"
            bench_backend postgres "$pg_server/$pg_db"
            psql -q "$pg_server/postgres" -c "DROP DATABASE $pg_db WITH (FORCE)"
            pg_db=""
            ;;
        *) die "unknown backend \`$backend\` in BENCH_BACKENDS (sqlite, postgres)" ;;
    esac
done

# --- the report ----------------------------------------------------------------------------------

label() {
    case "$1" in
        plain) echo "plain \`/plain/0\`" ;;
        guarded-one) echo "guarded, one link" ;;
        guarded-spread) echo "guarded, $spread_links links" ;;
        forged) echo "forged link (403)" ;;
    esac
}

# The value of column $3 for backend $1, scenario $2, one line per round, optionally divided by
# the plain scenario's value of the same round.
series() { # backend scenario column [ratio]
    awk -F'\t' -v b="$1" -v s="$2" -v c="$3" -v ratio="${4:-}" '
        NR == 1 { for (i = 1; i <= NF; i++) if ($i == c) col = i; next }
        $1 == b && $3 == "plain" { plain[$2] = $col }
        $1 == b && $3 == s { value[$2] = $col }
        END { for (r in value) print (ratio ? value[r] / plain[r] : value[r]) }
    ' "$measurements"
}

cpu="$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)"
memory_total="$(awk '/^MemTotal:/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)"
commit="$(git -C "$repo" rev-parse --short HEAD)$(git -C "$repo" diff --quiet HEAD -- . ':!BENCHMARKS.md' || echo '+changes')"

{
    echo "Run of $(date -u '+%Y-%m-%d %H:%M UTC') on commit $commit: $(nproc) CPUs ($cpu), $memory_total."
    echo "wrk -t$threads -c$connections --timeout ${timeout}s, ${duration} s per run, $rounds interleaved rounds after ${warmup} s of warm-up per scenario."
    echo "Server log level \`$log_level\`, its output to \`$server_log\`; server and wrk on the same machine."
    echo "Load average before: $load_before."
    echo
    echo "| database | scenario | req/s | × plain | p50 | × plain | p99 | × plain | server CPU/request |"
    echo "|---|---|---:|---:|---:|---:|---:|---:|---:|"
    while IFS=$'\t' read -r backend _ _; do
        for scenario in $scenarios; do
            rps="$(series "$backend" "$scenario" rps | median)"
            p50="$(series "$backend" "$scenario" p50_ms | median)"
            p99="$(series "$backend" "$scenario" p99_ms | median)"
            cpu_us="$(series "$backend" "$scenario" cpu_us | median)"
            if [ "$scenario" = plain ]; then
                ratios=("" "" "")
            else
                ratios=("$(series "$backend" "$scenario" rps ratio | median)"
                    "$(series "$backend" "$scenario" p50_ms ratio | median)"
                    "$(series "$backend" "$scenario" p99_ms ratio | median)")
                ratios=("$(printf '%.2f' "${ratios[0]}")" "$(printf '%.2f' "${ratios[1]}")" "$(printf '%.2f' "${ratios[2]}")")
            fi
            printf '| %s | %s | %.0f | %s | %.2f ms | %s | %.2f ms | %s | %.0f µs |\n' "$backend" "$(label "$scenario")" \
                "$rps" "${ratios[0]}" "$p50" "${ratios[1]}" "$p99" "${ratios[2]}" "$cpu_us"
        done
    done <"$memory"
    echo
    echo "| database | server RSS after start | server peak RSS (VmHWM) |"
    echo "|---|---:|---:|"
    while IFS=$'\t' read -r backend start peak; do
        printf '| %s | %.1f MiB | %.1f MiB |\n' "$backend" "$(echo "$start" | awk '{ print $1 / 1024 }')" \
            "$(echo "$peak" | awk '{ print $1 / 1024 }')"
    done <"$memory"
    if [ -s "$notes" ]; then
        echo
        cat "$notes"
    fi
} | tee "$results"

say "written to $results (raw wrk output in $raw, every run in $measurements)"
