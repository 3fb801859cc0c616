package pipeline

import (
	"context"
	"math/rand"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/linkcheck/linkcheck/oracle/exec"
	"github.com/linkcheck/linkcheck/ref/ir"
	"github.com/linkcheck/linkcheck/ref/obj"
	"github.com/linkcheck/linkcheck/ref/target"
)

// freshCheck is one full check of a recorded sequence: the version and
// the incremental output's bytes after its update.
type freshCheck struct {
	v   *version
	exe []byte
}

// recordFreshChecks runs seqs sequences of 20 random edits of
// 40-function programs (as `linkcheck bench check`) with invariants 3 to 7
// only, and records the versions and outputs the fuzz tiers' full checks
// see: every 4th update's and the last.
func recordFreshChecks(tb testing.TB, format obj.Format, seqs int) [][]freshCheck {
	ctx := context.Background()
	var out [][]freshCheck
	for seed := int64(1); seed <= int64(seqs); seed++ {
		r := rand.New(rand.NewSource(seed))
		m := ir.Generate(ir.GenConfig{Seed: seed, Funcs: 40})
		s, err := NewSession(ctx, m, SessionOptions{Format: format, Tiers: Tiers{Every: 0}, Dir: tb.TempDir()})
		require.NoError(tb, err)
		var seq []freshCheck
		for i := 1; i <= 20; i++ {
			m, _ = ir.RandomEditShared(m, r)
			_, err := s.Update(ctx, m, false)
			require.NoError(tb, err)
			if i%FuzzTiers.Every == 0 {
				seq = append(seq, freshCheck{v: s.cur, exe: append([]byte(nil), s.Bytes()...)})
			}
		}
		out = append(out, seq)
	}
	return out
}

// cpuTime is this process's CPU time.
func cpuTime() time.Duration {
	var u syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &u)
	return time.Duration(u.Utime.Nano() + u.Stime.Nano())
}

// BenchmarkFreshDiff is the fresh-link diff of the checked update loop
// alone (invariant 2: the fresh link, both canonical images and their
// comparison, one decode cache per sequence), over the full checks of
// recorded sequences: ns/op is one full check.
func BenchmarkFreshDiff(b *testing.B) {
	for _, format := range []obj.Format{obj.ELF, obj.MachO, obj.COFF, obj.Wasm} {
		b.Run(string(format), func(b *testing.B) {
			seqs := recordFreshChecks(b, format, 10)
			s := &Session{SessionOptions: SessionOptions{Format: format}}
			var err error
			s.t, err = target.Lookup(format)
			require.NoError(b, err)
			checks := 0
			cpu0 := cpuTime()
			b.ResetTimer()
			for b.Loop() {
				for _, seq := range seqs {
					for _, c := range seq {
						rep, err := s.freshDiff(c.exe, c.v)
						if err != nil || !rep.Equal() {
							b.Fatalf("%v %v", err, rep)
						}
						checks++
					}
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(checks), "ns/check")
			b.ReportMetric(float64((cpuTime()-cpu0).Nanoseconds())/float64(checks), "cpu-ns/check")
		})
	}
}

// BenchmarkCheckSidecar is the sidecar round trip of a sequence's end
// (Session.CheckSidecar: save, reopen as `linkcheck update` would, compare
// state and bytes) after 20 random edits of a 40-function program, for
// each format, its files in a Runner's scratch directory as in `linkcheck
// bench check` (tmpfs where there is one).
func BenchmarkCheckSidecar(b *testing.B) {
	runner := exec.NewRunner()
	b.Cleanup(func() { runner.Close() })
	for _, f := range []obj.Format{obj.ELF, obj.MachO, obj.COFF, obj.Wasm} {
		b.Run(string(f), func(b *testing.B) {
			ctx := context.Background()
			r := rand.New(rand.NewSource(1))
			m := ir.Generate(ir.GenConfig{Seed: 1, Funcs: 40})
			s, err := NewSession(ctx, m, SessionOptions{Format: f, Runner: runner, Tiers: Tiers{Every: 0}, Dir: b.TempDir()})
			require.NoError(b, err)
			for range 20 {
				m, _ = ir.RandomEditShared(m, r)
				_, err := s.Update(ctx, m, false)
				require.NoError(b, err)
			}
			cpu0 := cpuTime()
			for b.Loop() {
				require.NoError(b, s.CheckSidecar())
			}
			b.ReportMetric(float64((cpuTime()-cpu0).Nanoseconds())/float64(b.N), "cpu-ns/op")
		})
	}
}
