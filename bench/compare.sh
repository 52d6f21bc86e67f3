#!/usr/bin/env bash
# Fengqiao side by side with the automerge-repo sync server (Node.js) and
# samod, on the same dispute records and this machine. Everything runs on
# 127.0.0.1.
#
#   bench/compare.sh                                  # N = 1,000 and 10,000, 3 repetitions
#   bench/compare.sh --records 1000 --repetitions 1   # a quick look
#   bench/compare.sh --systems fengqiao-batch         # the batch door alone
#   bench/compare.sh --postgres postgres://user@127.0.0.1/db \
#       --systems fengqiao-batch,fengqiao-batch-pg    # the same door on PostgreSQL
#                                                     # (or FENGQIAO_BENCH_POSTGRES=URL)
#   bench/compare.sh --help                           # every option
#
# Builds the release binaries, installs the reference server's pinned npm
# packages, then runs the comparison; the report (markdown) goes to stdout
# and, with --out FILE, to a file. Progress goes to stderr.
set -euo pipefail
cd "$(dirname "$0")/.."

cargo build --release --locked -p fengqiao-server --bin fengqiao \
    -p fengqiao-bench --bin samod_server --bin compare
# Some npm versions refuse the lock file over optional native packages of
# other platforms; the same pinned versions are then installed without
# touching the lock file.
(cd bench/js && { npm ci --no-audit --no-fund --loglevel=error 2>/dev/null ||
    npm install --no-audit --no-fund --loglevel=error --no-save; })
exec cargo run --release --locked -q -p fengqiao-bench --bin compare -- "$@"
