package x86

import (
	"errors"
	"math/rand/v2"
)

// GenBatch returns a deterministic batch of valid instructions covering
// every form of every mnemonic: perForm instances per form, with registers,
// memory shapes (every base and index, rsp/r12 and rbp/r13, disp0/8/32,
// absolute and RIP-relative) and boundary immediates drawn from a seeded
// generator. It is exported for the external tests (x86_test).
func GenBatch(seed uint64, perForm int) []Inst {
	rng := rand.New(rand.NewPCG(seed, 0x5eed))
	var out []Inst
	for _, op := range Mnemonics() {
		for fi := range forms[op] {
			f := &forms[op][fi]
			for n := 0; n < perForm; n++ {
				in, ok := genInst(rng, op, f)
				if ok {
					out = append(out, in)
				}
			}
		}
	}
	return out
}

func genInst(rng *rand.Rand, op string, f *form) (Inst, bool) {
	for try := 0; try < 20; try++ {
		in := Inst{Op: op}
		for _, s := range f.args {
			in.Args = append(in.Args, genArg(rng, s, f.osz))
		}
		_, err := Encode(in)
		if err == nil {
			return in, true
		}
		// A sizeless memory operand may be ambiguous: give it a size.
		for i, a := range in.Args {
			if m, ok := a.(Mem); ok && m.Size == 0 && f.args[i].c == cRM {
				m.Size = int(f.args[i].sz)
				in.Args[i] = m
			}
		}
		if _, err := Encode(in); err == nil {
			return in, true
		} else if !errors.Is(err, ErrInvalid) {
			panic(err)
		}
	}
	return Inst{}, false
}

func genReg(rng *rand.Rand, sz uint8) Reg {
	switch sz {
	case 8:
		return RAX + Reg(rng.IntN(16))
	case 4:
		return EAX + Reg(rng.IntN(16))
	case 2:
		return AX + Reg(rng.IntN(16))
	}
	return AL + Reg(rng.IntN(20)) // includes AH..BH
}

func genMem(rng *rand.Rand) Mem {
	var m Mem
	switch rng.IntN(10) {
	case 0:
		m.RIP = true
	case 1: // absolute, maybe with index
		if rng.IntN(2) == 0 {
			m.Index = genIndex(rng)
			m.Scale = []uint8{1, 2, 4, 8}[rng.IntN(4)]
		}
	default:
		m.Base = RAX + Reg(rng.IntN(16))
		if rng.IntN(2) == 0 {
			m.Index = genIndex(rng)
			m.Scale = []uint8{1, 2, 4, 8}[rng.IntN(4)]
		}
	}
	switch rng.IntN(4) {
	case 0:
		m.Disp = 0
	case 1:
		m.Disp = int32(rng.IntN(256) - 128)
	case 2:
		m.Disp = []int32{127, -128, 128, -129, 0x7fffffff, -0x80000000}[rng.IntN(6)]
	default:
		m.Disp = int32(rng.Uint32())
	}
	return m
}

func genIndex(rng *rand.Rand) Reg {
	for {
		if r := RAX + Reg(rng.IntN(16)); r != RSP {
			return r
		}
	}
}

// genImm returns a value that fits n bytes (signed or unsigned), biased to
// the boundaries.
func genImm(rng *rand.Rand, n uint8, signedOnly bool) int64 {
	bits := uint(n) * 8
	lo, hi := int64(-1)<<(bits-1), int64(1)<<(bits-1)-1
	if bits == 64 {
		lo, hi = -1<<63, 1<<63-1
	}
	uhi := hi
	if !signedOnly && bits < 64 {
		uhi = 1<<bits - 1
	}
	cands := []int64{0, 1, -1, 2, lo, hi, uhi, lo + 1, hi - 1, 127, -128, 128, 255, -129}
	if rng.IntN(2) == 0 {
		c := cands[rng.IntN(len(cands))]
		if c >= lo && c <= uhi {
			return c
		}
	}
	if bits == 64 {
		return int64(rng.Uint64())
	}
	return lo + rng.Int64N(uhi-lo+1)
}

func genArg(rng *rand.Rand, s slot, osz uint8) Operand {
	switch s.c {
	case cReg:
		return genReg(rng, s.sz)
	case cRM:
		if rng.IntN(2) == 0 {
			return genReg(rng, s.sz)
		}
		m := genMem(rng)
		if rng.IntN(4) != 0 {
			m.Size = int(s.sz)
		}
		return m
	case cMem:
		return genMem(rng)
	case cAcc:
		return []Reg{0, AL, AX, 0, EAX, 0, 0, 0, RAX}[s.sz]
	case cCL:
		return CL
	case cOne:
		return Imm(1)
	case cImm:
		return Imm(genImm(rng, s.sz, false))
	case cImmS:
		if osz == 0 {
			osz = 1
		}
		v := genImm(rng, s.sz, true)
		if osz < 8 && v < 0 && rng.IntN(2) == 0 {
			v &= 1<<(uint(osz)*8) - 1 // the unsigned spelling of the same bits
		}
		return Imm(v)
	case cRel:
		if s.sz == 1 {
			return Rel{Disp: int32(rng.IntN(256) - 128), Size: 1}
		}
		d := int32(rng.Uint32())
		if rng.IntN(3) == 0 {
			d = int32(rng.IntN(256) - 128)
		}
		return Rel{Disp: d, Size: 4}
	}
	return nil
}
