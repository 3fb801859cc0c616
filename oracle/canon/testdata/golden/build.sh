#!/bin/sh
# build.sh: rebuilds inputs.tar.gz, the executables and objects that
# oracle/canon's golden check (golden_test.go) reads, with the linkcheck
# command line, clang, llvm-mc and ld.lld (LLVM 16). The inputs are fixed:
# rebuild them only to add cases, then re-record the manifest with the
# code before your change (go test ./oracle/canon -run Golden -golden.update).
# Run from the repository root:
#   go build -o /tmp/lc ./cmd/linkcheck && LC=/tmp/lc sh oracle/canon/testdata/golden/build.sh
set -eu
export PATH=/usr/lib/llvm-16/bin:$PATH
LC=${LC:-linkcheck}
here=oracle/canon/testdata/golden
out=$(mktemp -d)
gen=$(mktemp -d)
trap 'rm -rf "$out" "$gen"' EXIT

# canon's own test programs, as the canon, diff and fuzz tests link them.
d=$out/asm
mkdir -p $d
for s in a b; do llvm-mc -triple x86_64-linux-gnu -filetype=obj -o $d/$s.o oracle/canon/testdata/$s.s; done
ld.lld -e _start -o $d/lld.exe $d/a.o $d/b.o
ld.lld -e _start --no-relax -o $d/lld-norelax.exe $d/a.o $d/b.o
ld.lld -e _start --emit-relocs -o $d/lld-emit.exe $d/a.o $d/b.o
ld.lld -e _start -o $d/lld-ba.exe $d/b.o $d/a.o
$LC link -format elf -linker ref -o $d/ref.exe $d/a.o $d/b.o

# progs NAME PROG.lir: the program in 1 and 2 units, linked by the
# reference linker and ld.lld (with 2 units also --no-relax and
# --emit-relocs).
progs() {
	for u in 1 2; do
		d=$out/$1-u$u
		mkdir -p $d
		$LC build -format elf -units $u -o $d $2 >/dev/null
		$LC link -format elf -linker ref -o $d/ref.exe $d/*.o
		ld.lld -e _start -o $d/lld.exe $d/*.o
		if [ $u = 2 ]; then
			ld.lld -e _start --no-relax -o $d/lld-norelax.exe $d/*.o
			ld.lld -e _start --emit-relocs -o $d/lld-emit.exe $d/*.o
		fi
	done
}
for p in corpus/programs/*.lir; do progs $(basename $p .lir) $p; done
for seed in 1 2 3 4 5 6; do
	$LC gen -seed $seed -funcs $((seed * 4)) -versions 4 -o $gen/s$seed
	progs gen$seed $gen/s$seed/v1.lir
done
# incremental outputs after each of 4 versions, both policies, each with
# the objects of its version.
for seed in 1 2; do
	for pol in trampoline got; do
		d=$out/incr$seed-$pol
		for v in 1 2 3 4; do
			$LC update -format elf -policy $pol -o $gen/s$seed-$pol.exe $gen/s$seed/v$v.lir >/dev/null
			mkdir -p $d/v$v
			cp $gen/s$seed-$pol.exe $d/v$v.exe
			$LC build -format elf -units 1 -o $d/v$v $gen/s$seed/v$v.lir >/dev/null
		done
	done
done

# clang's corpus under each flag set of oracle/pipeline's TestCCorpusDiff.
i=0
for flags in "-O0" "-O1 -fno-pic" "-O2" "-O2 -fPIC" "-Os -ffunction-sections -fdata-sections"; do
	i=$((i + 1))
	for dir in corpus/c/*/; do
		d=$out/c-$(basename $dir)-f$i
		mkdir -p $d
		for src in $dir*.c; do
			clang --target=x86_64-unknown-linux-gnu -ffreestanding -fno-stack-protector \
				-fno-asynchronous-unwind-tables $flags -c $src -o $d/$(basename $src .c).o
		done
		$LC link -format elf -linker ref -o $d/ref.exe $d/*.o
		ld.lld -e _start -o $d/lld.exe $d/*.o
		ld.lld -e _start --emit-relocs -o $d/lld-emit.exe $d/*.o
	done
done

tar -C $out --sort=name --owner=0 --group=0 --numeric-owner --mtime=@0 --mode=a+r,u+w,go-w -cf - . | gzip -9n >$here/inputs.tar.gz
