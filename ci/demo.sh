#!/usr/bin/env bash
# demo.sh runs linkcheck's main job over the bundled corpus: for every
# program, the interpreter's value, the value each format's lld link computes
# under every execution oracle, and the reference ELF linker diffed against
# ld.lld — one line per program. Then an incremental update sequence with
# every invariant checked after each step. Exit status 1 if anything differs.
set -uo pipefail
cd "$(dirname "$0")/.."
LC=${LC:-./bin/linkcheck}
status=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

echo "== programs: interpreter vs every format and oracle; ref ELF linker vs ld.lld"
for p in corpus/programs/*.lir; do
  name=$(basename "$p")
  want=$($LC interp "$p" 2>&1) || { echo "$name: interp failed: $want"; status=1; continue; }
  line="$name: interp=$want"
  for f in elf macho coff; do
    if got=$($LC run -exec all -format "$f" "$p" 2>"$tmp/err"); then
      line="$line $f=ok"
    else
      line="$line $f=FAIL($got $(tr '\n' ' ' <"$tmp/err"))"
      status=1
    fi
  done
  if d=$($LC diff -format elf "$p" 2>&1); then
    line="$line | diff: $d"
  else
    line="$line | diff: DIFFERENT"
    echo "$d" | sed 's/^/    /' >"$tmp/diff"
    status=1
  fi
  echo "$line"
  [ -s "$tmp/diff" ] && cat "$tmp/diff" && : >"$tmp/diff"
done

echo
echo "== incremental: corpus/updates/mechanisms, every invariant after every update"
for policy in trampoline got; do
  out="$tmp/incr-$policy"
  for v in corpus/updates/mechanisms/v*.lir; do
    u=$($LC update -format elf -policy "$policy" -o "$out" "$v" 2>&1) || { echo "$policy $(basename "$v"): update failed: $u"; status=1; continue; }
    if c=$($LC check "$out" 2>&1); then
      echo "$policy $(basename "$v"): $u"
    else
      echo "$policy $(basename "$v"): CHECK FAILED"; echo "$c" | sed 's/^/    /'; status=1
    fi
  done
done
exit $status
