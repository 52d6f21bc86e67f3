#!/bin/sh
# Regenerates the Rust-written record documents the cross-check tests read:
# the command-line phone (`fengqiao field`) records a dispute and a visit
# offline, step by step, and each version is extracted from its database.
#   sh make.sh /path/to/fengqiao
set -eu
BIN=${1:-../../../../target/debug/fengqiao}
HERE=$(cd "$(dirname "$0")" && pwd)
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
SETUP='{"server":"http://127.0.0.1:9","token":"fq_fixture","device":"6f1c2b1e-3d4a-4b5c-8d9e-0f1a2b3c4d5e"}'
step() { node "$HERE/extract.mjs" "$WORK/$1" "$HERE/$2"; }

D="$BIN field --dir $WORK/d"
$D init --setup "$SETUP" --cadre cadre-li >/dev/null
ID=$($D dispute new --village 500110101001 --title '宅基地边界纠纷 ' --description '两家争地' --category land \
  --risk medium --party 张三:applicant:13800000000 --party 李四:respondent --assign li-si --at '2025-03-01 08:00')
step d dispute-1.am
$D dispute event "$ID" escalated --level town --note 需镇综治中心协调 --at '2025-03-02 09:30' >/dev/null
step d dispute-2.am
$D dispute edit "$ID" --risk high --description '两家🙂争宅基地' --add-party 王五:other --unassign li-si --at '2025-03-03 10:00' >/dev/null
step d dispute-3.am
$D dispute event "$ID" followup --satisfied true --outcome 双方满意 --at '2025-03-04 11:00' >/dev/null
$D dispute edit "$ID" --remove-party 1 --title 宅基地纠纷 --category neighbor --at '2025-03-05 12:00' >/dev/null
step d dispute-4.am

V="$BIN field --dir $WORK/v"
$V init --setup "$SETUP" --cadre cadre-wang >/dev/null
VID=$($V visit new --village 500110101002 --household 王家 --topic livelihood --topic health --sentiment concern \
  --notes 老人看病难 --follow-up-due 2025-04-01 --at '2025-03-10 15:00')
step v visit-1.am
$V visit edit "$VID" --notes '老人看病难，已联系村医' --sentiment urgent --at '2025-03-11 09:00' >/dev/null
$V visit edit "$VID" --follow-up-done --at '2025-03-12 09:00' >/dev/null
step v visit-2.am
