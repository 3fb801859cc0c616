#!/usr/bin/env bash
# demo.sh runs linkcheck's main job over the bundled corpus: for every
# program, the interpreter's value, the value each format's lld link computes
# under every execution oracle, and the reference ELF linker diffed against
# ld.lld — one line per program; clang's objects of corpus/c diffed the same
# way. Then an incremental update sequence with every invariant checked after
# each step. Exit status 1 if anything differs.
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
echo "== foreign objects: clang -O2 objects of corpus/c, reference ELF linker vs ld.lld"
if [ -n "${LINKCHECK_LLVM_BIN:-}" ]; then cc="$LINKCHECK_LLVM_BIN/clang"; else cc=$(command -v clang-16 || echo /usr/lib/llvm-16/bin/clang); fi
for d in corpus/c/*/; do
  name=$(basename "$d")
  objs=()
  for c in "$d"*.c; do
    o="$tmp/$name-$(basename "$c" .c).o"
    "$cc" --target=x86_64-unknown-linux-gnu -O2 -ffreestanding -fno-stack-protector -fno-asynchronous-unwind-tables -c "$c" -o "$o" || status=1
    objs+=("$o")
  done
  if r=$($LC diff -format elf "${objs[@]}" 2>&1); then
    echo "$name: $r"
  else
    echo "$name: DIFFERENT"; echo "$r" | sed 's/^/    /'; status=1
  fi
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
