package exec

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"runtime"
	"slices"
	"unsafe"

	"github.com/linkcheck/linkcheck/oracle/exec/unicorn"
)

// A machine is a Unicorn engine kept from one run to the next. Most of the
// cost of emulating a small program is translating its code, and the
// updates of an incremental sequence leave most functions where they were:
// a machine translates each piece of code once and, before every run,
// makes its memory exactly what a fresh engine loading the image would
// hold, dropping the translations of every page whose bytes it changed.
//
// What a run starts from is the same as on a fresh engine:
//   - the CPU state: a context saved when the engine was new is restored;
//   - the image's regions: mapped with their protections onto host memory
//     the machine owns; when the next image's regions differ in address,
//     size or protection, all are unmapped (which drops their
//     translations) and mapped again. Writable regions, which the program
//     may have changed anywhere, are zeroed and given the segments' bytes.
//     In the others only the images write, so the pages that this image
//     or the previous one filled are compared with what the loader puts
//     there (the segments' bytes, zeros elsewhere) and rewritten where
//     they differ; the translations of code in the rewritten 64-byte
//     granules of executable pages are dropped (uc_ctl_remove_cache), and
//     those of writable executable regions;
//   - the stack: zeroed after every run (its touched pages are dropped);
//   - the sentinel page and the hooks: made once, never written.
//
// An engine is used only from the one OS thread that opened it (the
// machine's goroutine, locked to it), one emulation at a time in the
// process (unicorn.Lib.Exclusive).
type machine struct {
	lib      *unicorn.Lib
	e        *unicorn.Engine
	pristine *unicorn.Context
	regions  []hostRegion
	filled   []span      // the pages the loaded image's segments fill
	stack    []byte      // host memory of [StackTop-StackSize, StackTop)
	cur      *emulation  // the run in progress, which the hooks serve
	jobs     chan func() // run on the machine's thread
	done     chan struct{}
}

// hostRegion is a mapped region of the loaded image and its memory.
type hostRegion struct {
	Region
	mem []byte
}

// newMachine opens an engine on a goroutine locked to its thread and maps
// what every run shares.
func newMachine(lib *unicorn.Lib) (*machine, error) {
	m := &machine{lib: lib, jobs: make(chan func()), done: make(chan struct{})}
	opened := make(chan error)
	go m.serve(opened)
	if err := <-opened; err != nil {
		return nil, err
	}
	return m, nil
}

// serve opens the engine and runs the machine's jobs on this goroutine's
// thread until close. The thread stays locked: it ends with the goroutine.
func (m *machine) serve(opened chan<- error) {
	runtime.LockOSThread()
	defer close(m.done)
	err := m.open()
	if err != nil {
		m.release()
	}
	opened <- err
	if err != nil {
		return
	}
	for job := range m.jobs {
		job()
	}
	m.release()
}

func (m *machine) open() error {
	unlock := m.lib.Exclusive()
	defer unlock()
	e, err := m.lib.NewEngine()
	if err != nil {
		return err
	}
	m.e = e
	if m.stack, err = hostAlloc(StackSize); err != nil {
		return err
	}
	if err := e.MapHost(StackTop-StackSize, StackSize, unicorn.ProtRead|unicorn.ProtWrite, unsafe.Pointer(&m.stack[0])); err != nil {
		return fmt.Errorf("map stack: %w", err)
	}
	// The sentinel page holds hlt instructions, so that even if Unicorn ran
	// past the `until` address the run would stop there.
	if err := e.MapMem(Sentinel, PageSize, unicorn.ProtRead|unicorn.ProtExec); err != nil {
		return fmt.Errorf("map sentinel: %w", err)
	}
	if err := e.WriteMem(Sentinel, bytes.Repeat([]byte{0xf4}, PageSize)); err != nil {
		return err
	}
	if err := e.OnSyscall(func(e *unicorn.Engine) { m.cur.syscall(e) }); err != nil {
		return err
	}
	if err := e.OnMemInvalid(func(e *unicorn.Engine, access unicorn.MemAccess, addr uint64, size int, value int64) bool {
		return m.cur.memInvalid(e, access, addr, size, value)
	}); err != nil {
		return err
	}
	if err := e.OnInterrupt(func(e *unicorn.Engine, intno uint32) { m.cur.interrupt(e, intno) }); err != nil {
		return err
	}
	m.pristine, err = e.SaveContext()
	return err
}

// release closes the engine and frees the machine's memory.
func (m *machine) release() {
	if m.pristine != nil {
		m.pristine.Free()
	}
	if m.e != nil {
		unlock := m.lib.Exclusive()
		_ = m.e.Close()
		unlock()
	}
	for _, r := range m.regions {
		hostFree(r.mem)
	}
	m.regions = nil
	if m.stack != nil {
		hostFree(m.stack)
	}
}

// close ends the machine's goroutine and releases the engine.
func (m *machine) close() {
	close(m.jobs)
	<-m.done
}

// emulate runs img on the machine. ok reports whether the machine is fit
// for another run: false when loading or the engine failed, so that the
// caller closes it rather than trust its state.
func (m *machine) emulate(ctx context.Context, img *Image, opts Options) (res *Result, err error, ok bool) {
	finished := make(chan struct{})
	m.jobs <- func() {
		defer close(finished)
		unlock := m.lib.Exclusive()
		defer unlock()
		if err = m.load(img); err != nil {
			return
		}
		if err = m.e.RestoreContext(m.pristine); err != nil {
			return
		}
		em := &emulation{img: img, stdout: limitedBuffer{max: MaxOutput}, stderr: limitedBuffer{max: MaxOutput}}
		m.cur = em
		res, err = m.start(ctx, em, opts)
		m.cur = nil
		hostZero(m.stack)
		ok = true
	}
	<-finished
	return res, err, ok
}

// load makes the image's regions hold what a loader would put there.
func (m *machine) load(img *Image) error {
	regions := img.Regions()
	for _, reg := range regions {
		if reg.Addr < StackTop+PageSize && reg.Addr+reg.Size > StackTop-StackSize-StackGuard {
			return fmt.Errorf("image region %#x+%#x overlaps the emulator's stack", reg.Addr, reg.Size)
		}
	}
	if !m.sameLayout(regions) {
		if err := m.mapRegions(regions); err != nil {
			return err
		}
		m.filled = nil
	}
	filled := img.filledPages()
	// The pages a read-only region may hold other bytes on: those this
	// image or the previous one fills; the rest are zero before and after.
	either := mergeSpans(append(append([]span(nil), filled...), m.filled...))
	for _, r := range m.regions {
		if r.Prot&ProtWrite == 0 {
			if err := m.syncReadOnly(r, img, either); err != nil {
				return err
			}
			continue
		}
		// The program may have written anywhere in it: zero it all (the
		// kernel drops the touched pages) and copy the data.
		hostZero(r.mem)
		img.copyData(r.mem, r.Addr)
		if r.Prot&ProtExec != 0 {
			if err := m.e.RemoveCache(r.Addr, r.Addr+r.Size); err != nil {
				return err
			}
		}
	}
	m.filled = filled
	return nil
}

// syncReadOnly rewrites the pages of the read-only region r, within the
// spans either image fills, that differ from what the loader puts there
// for img, and drops the translations of the 64-byte granules that
// changed.
func (m *machine) syncReadOnly(r hostRegion, img *Image, either []span) error {
	end := r.Addr + r.Size
	var page [PageSize]byte
	stale := uint64(0) // start of a run of rewritten granules; 0: none
	for _, sp := range either {
		lo, hi := max(sp.lo, r.Addr), min(sp.hi, end)
		for addr := lo; addr < hi; addr += PageSize {
			clear(page[:])
			img.copyData(page[:], addr)
			have := r.mem[addr-r.Addr : addr-r.Addr+PageSize]
			if bytes.Equal(have, page[:]) {
				if err := m.removeCache(r, &stale, addr); err != nil {
					return err
				}
				continue
			}
			// Only the translations of the bytes that changed go: a
			// patched call site leaves the rest of its page's code as
			// it was.
			for g := uint64(0); g < PageSize; g += granule {
				if bytes.Equal(have[g:g+granule], page[g:g+granule]) {
					if err := m.removeCache(r, &stale, addr+g); err != nil {
						return err
					}
				} else if stale == 0 {
					stale = addr + g
				}
			}
			copy(have, page[:])
		}
		if err := m.removeCache(r, &stale, hi); err != nil {
			return err
		}
	}
	return nil
}

// granule is the unit in which load compares a rewritten page, and so the
// smallest range whose translations it drops.
const granule = 64

// span is an address range [lo, hi).
type span struct{ lo, hi uint64 }

// filledPages returns the page-aligned ranges that hold the segments'
// file bytes, sorted and merged.
func (img *Image) filledPages() []span {
	var out []span
	for _, s := range img.Segments {
		if len(s.Data) > 0 {
			out = append(out, span{s.Addr &^ (PageSize - 1), (s.Addr + uint64(len(s.Data)) + PageSize - 1) &^ (PageSize - 1)})
		}
	}
	return mergeSpans(out)
}

// mergeSpans sorts spans and merges those that overlap or touch.
func mergeSpans(spans []span) []span {
	slices.SortFunc(spans, func(a, b span) int { return cmp.Compare(a.lo, b.lo) })
	out := spans[:0]
	for _, sp := range spans {
		if n := len(out); n > 0 && sp.lo <= out[n-1].hi {
			out[n-1].hi = max(out[n-1].hi, sp.hi)
			continue
		}
		out = append(out, sp)
	}
	return out
}

// removeCache drops the translations of the rewritten bytes from *stale to
// end of an executable region, and ends the run.
func (m *machine) removeCache(r hostRegion, stale *uint64, end uint64) error {
	if *stale == 0 {
		return nil
	}
	begin := *stale
	*stale = 0
	if r.Prot&ProtExec == 0 {
		return nil
	}
	return m.e.RemoveCache(begin, end)
}

func (m *machine) sameLayout(regions []Region) bool {
	if len(regions) != len(m.regions) {
		return false
	}
	for i, r := range regions {
		if m.regions[i].Region != r {
			return false
		}
	}
	return true
}

// mapRegions replaces the mapped regions with fresh, zeroed ones.
func (m *machine) mapRegions(regions []Region) error {
	for _, r := range m.regions {
		if err := m.e.UnmapMem(r.Addr, r.Size); err != nil {
			return err
		}
		hostFree(r.mem)
	}
	m.regions = m.regions[:0]
	for _, reg := range regions {
		mem, err := hostAlloc(reg.Size)
		if err != nil {
			return fmt.Errorf("map image: %w", err)
		}
		m.regions = append(m.regions, hostRegion{Region: reg, mem: mem})
		if err := m.e.MapHost(reg.Addr, reg.Size, unicorn.Prot(reg.Prot), unsafe.Pointer(&mem[0])); err != nil {
			return fmt.Errorf("map image: %w", err)
		}
	}
	return nil
}

// copyData copies into dst, which stands for the memory at addr, the
// bytes of the segments' file data that fall in it; the rest of dst is
// left as it is.
func (img *Image) copyData(dst []byte, addr uint64) {
	end := addr + uint64(len(dst))
	for _, s := range img.Segments {
		if lo, hi := max(s.Addr, addr), min(s.Addr+uint64(len(s.Data)), end); lo < hi {
			copy(dst[lo-addr:hi-addr], s.Data[lo-s.Addr:hi-s.Addr])
		}
	}
}

// machines is a runner's pool of idle machines.
type machines struct{ pool pool[*machine] }

// maxIdleMachines bounds the engines a runner keeps between runs.
const maxIdleMachines = 4

// take returns an idle machine, or a new one.
func (p *machines) take(lib *unicorn.Lib) (*machine, error) {
	if m, ok := p.pool.take(nil); ok {
		return m, nil
	}
	return newMachine(lib)
}

// put keeps m for a later run, or closes it when the pool is full.
func (p *machines) put(m *machine) {
	if !p.pool.put(m, maxIdleMachines) {
		m.close()
	}
}

// closeAll closes the idle machines.
func (p *machines) closeAll() {
	for _, m := range p.pool.drain() {
		m.close()
	}
}
