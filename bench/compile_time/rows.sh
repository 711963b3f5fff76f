# SPDX-License-Identifier: Apache-2.0
# shellcheck shell=bash disable=SC2154,SC2034  # the caller sets flags, tmp and base_s and reads row_best
# rows.sh — sourced by compile_time.sh and compile_time_init.sh: one compile timed, and one table
# row of the best of REPEAT.
#
# The caller sets CXX, REPEAT, tmp (a scratch directory), flags (an array: the compile, less the
# row's own arguments) and base_s (the baseline row's wall seconds, or empty for no comparison),
# and defines count, which prints the row's second column (it gets the row's arguments). row()
# leaves its best wall seconds in row_best, empty when the row failed to compile.

# Each row first compiles within the compiler's default constexpr limit; a row over it is timed
# again with the limit raised to big_limit, and says so.
big_limit=2147483648
limit_flag=-fconstexpr-ops-limit
if "$CXX" --version | grep -qi clang; then limit_flag=-fconstexpr-steps; fi

# Runs one compile under /usr/bin/time; sets sec (wall), usr (user CPU), kb (peak RSS), ok. The
# figures are time's last line: a compiler killed by a signal has "Command terminated ..." first.
measure() {
  if /usr/bin/time -f "%e %U %M" -o "$tmp/time" "$CXX" "${flags[@]}" "$@" 2>"$tmp/err"; then ok=1; else ok=0; fi
  read -r sec usr kb < <(tail -n 1 "$tmp/time")
}

# best-of-REPEAT; prints one table row.
row() {
  local label="$1"; shift
  local best_s="" best_u="" best_kb="" limit_note="default limits" r why
  row_best=""
  for ((r = 0; r < REPEAT; r++)); do
    measure "$@"
    if ((ok == 0)); then
      if grep -q -e "constexpr.*operation count exceeds" -e "constexpr evaluation hit maximum step limit" "$tmp/err"; then
        limit_note="EXCEEDS default $limit_flag; timed with =$big_limit"
        measure "$@" "$limit_flag=$big_limit"
      fi
      if ((ok == 0)); then
        why=$(grep -m1 'error' "$tmp/err" || head -n 1 "$tmp/time")
        echo "| $label | failed to compile: ${why:0:160} | | | | | |"
        return
      fi
    fi
    if [[ -z "$best_s" ]] || awk "BEGIN{exit !($sec < $best_s)}"; then best_s=$sec; best_u=$usr; best_kb=$kb; fi
  done
  local extra
  extra=$(awk -v s="$best_s" -v b="$base_s" 'BEGIN{ if (b == "") print "-"; else printf "%+.2f", s - b }')
  printf '| %s | %s | %.2f | %.2f | %s | %d | %s |\n' "$label" "$(count "$@")" "$best_s" "$best_u" "$extra" \
    $((best_kb / 1024)) "$limit_note"
  row_best=$best_s
}
