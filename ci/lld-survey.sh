#!/usr/bin/env bash
# lld-survey.sh: the reference ELF linker on LLVM lld's own x86-64
# static-link tests (docs/elf.md, "lld's own tests").
#
#   ci/lld-survey.sh LLD_TEST_ELF_DIR [WORK_DIR]
#
# LLD_TEST_ELF_DIR is a checkout of lld/test/ELF (the llvm-mirror/lld
# snapshot's test/ELF, or llvm-project's lld/test/ELF). Nothing from it
# is copied into this repository: the tests are assembled and linked in
# WORK_DIR (default: a new directory under /tmp).
#
# Selection (ci/lld-survey-select.awk): every top-level *.s with
# "REQUIRES: x86", exactly one RUN command `llvm-mc -filetype=obj
# -triple=x86_64… %s -o OBJ`, and a first ld.lld RUN command linking only
# OBJ with no options but -o, -e SYM, --entry=SYM, -static. Of those, the
# ones ld.lld-16 links count.
#
# Each counted case is linked with `linkcheck link -linker ref` (refused:
# exit 2 with "not supported" in the message) and, when it links,
# compared with `linkcheck diff -format elf` (with -e: both linkers as
# cmd: templates), with no ignore rule. Output: one line per case
#   NAME RESULT DETAIL
# with RESULT clean, differs, refused, error or panic, then the totals.
set -u
src=${1:?usage: ci/lld-survey.sh LLD_TEST_ELF_DIR [WORK_DIR]}
work=${2:-$(mktemp -d /tmp/lld-survey.XXXXXX)}
here=$(cd "$(dirname "$0")/.." && pwd)
mkdir -p "$work"
lc="$work/linkcheck"
(cd "$here" && go build -o "$lc" ./cmd/linkcheck) || exit 1
MC=${MC:-llvm-mc-16}
LLD=${LLD:-ld.lld-16}
total=0 clean=0 differs=0 refused=0 errors=0 panics=0 skipped=0
for f in "$src"/*.s; do
	sel=$(awk -f "$here/ci/lld-survey-select.awk" "$f" 2>/dev/null)
	[ -n "$sel" ] || continue
	name=$(basename "$f" .s)
	triple=${sel%%$'\t'*}
	entry=${sel#*$'\t'}
	o="$work/$name.o"
	if ! "$MC" -filetype=obj -triple="$triple" "$f" -o "$o" 2>/dev/null; then
		skipped=$((skipped + 1))
		continue
	fi
	eopt=() lldopt=()
	if [ "$entry" != "-" ]; then
		eopt=(-e "$entry")
		lldopt=(--entry="$entry")
	fi
	if ! "$LLD" "${lldopt[@]}" "$o" -o "$work/$name.lld" 2>/dev/null; then
		skipped=$((skipped + 1)) # ld.lld does not link it: not counted
		continue
	fi
	total=$((total + 1))
	"$lc" link -format elf -linker ref "${eopt[@]}" -o "$work/$name.ref" "$o" >"$work/$name.link.txt" 2>&1
	rc=$?
	msg=$(grep -v '^warning' "$work/$name.link.txt" | head -1)
	if grep -q '^panic:\|goroutine ' "$work/$name.link.txt"; then
		panics=$((panics + 1)); echo "$name panic $msg"; continue
	fi
	if [ $rc -ne 0 ]; then
		if [ $rc -eq 2 ] && grep -q 'not supported' "$work/$name.link.txt"; then
			refused=$((refused + 1)); echo "$name refused $msg"
		else
			errors=$((errors + 1)); echo "$name error($rc) $msg"
		fi
		continue
	fi
	if [ "$entry" = "-" ]; then
		"$lc" diff -format elf "$o" >"$work/$name.diff.txt" 2>&1
	else
		"$lc" diff -format elf -no-linker-rules \
			-linker "cmd:$lc link -format elf -linker ref -e $entry -o {out} {objs}" \
			-against "cmd:$LLD --entry=$entry -o {out} {objs}" "$o" >"$work/$name.diff.txt" 2>&1
	fi
	rc=$?
	if grep -q '^panic:\|goroutine ' "$work/$name.diff.txt"; then
		panics=$((panics + 1)); echo "$name panic $(head -1 "$work/$name.diff.txt")"
	elif [ $rc -eq 0 ]; then
		clean=$((clean + 1)); echo "$name clean"
	else
		differs=$((differs + 1)); echo "$name differs $(head -3 "$work/$name.diff.txt" | tr '\n' ' ')"
	fi
done
echo "total $total (ld.lld links them; $skipped selected but not assembled or not linked by ld.lld)"
echo "clean $clean ($((total > 0 ? 100 * clean / total : 0))%), differs $differs, refused $refused, error $errors, panic $panics"
echo "work dir: $work"
