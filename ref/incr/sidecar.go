package incr

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"

	"github.com/linkcheck/linkcheck/ref/input"
)

// SidecarSuffix is appended to the output's path to name the sidecar file
// that holds the incremental state between runs.
const SidecarSuffix = ".lcstate"

// ErrBadPath is wrapped when the output or its sidecar would replace
// something that is not a regular file (a directory): nothing is written.
var ErrBadPath = errors.New("is not a regular file")

// ErrStale is wrapped when the sidecar does not describe the output file
// (missing, corrupt, or the output changed behind the linker's back).
var ErrStale = errors.New("stale or corrupt incremental state")

// sidecar is the JSON form of the state and the output it describes. The
// state is kept as the exact bytes that were hashed into StateSHA256, so a
// sidecar whose state was changed after it was written (a flipped digit
// still parses) is refused rather than trusted.
type sidecar struct {
	Version      int             `json:"version"`
	OutputSize   int64           `json:"output_size"`
	OutputSHA256 string          `json:"output_sha256"`
	StateSHA256  string          `json:"state_sha256"`
	State        json.RawMessage `json:"state"`
}

// sidecarVersion 2 added StateSHA256; a version 1 sidecar is stale.
const sidecarVersion = 2

// SaveSidecar writes the state next to the output (atomically, after the
// output is synced), with the output's size and SHA-256 so that a changed
// output is detected, and the state's own SHA-256 so that a changed state
// is detected.
func (o *Output) SaveSidecar() error {
	_, err := o.saveSidecar(nil)
	return err
}

// saveSidecar is SaveSidecar returning the state's encoding it wrote.
// The output's size and SHA-256 are the file's, read back after the sync,
// unless written holds what was just written to it (SaveAs).
func (o *Output) saveSidecar(written []byte) ([]byte, error) {
	if o.Path == "" {
		return nil, errors.New("incr: an output in memory has no sidecar")
	}
	if err := o.f.Sync(); err != nil {
		return nil, err
	}
	var sum string
	var size int64
	if written != nil {
		s := sha256.Sum256(written)
		sum, size = hex.EncodeToString(s[:]), int64(len(written))
	} else {
		var err error
		if sum, size, err = hashFile(o.f); err != nil {
			return nil, err
		}
	}
	data, state := encodeSidecar(size, sum, o.State)
	path := o.Path + SidecarSuffix
	if fi, err := os.Lstat(path); err == nil && !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s: %w", path, ErrBadPath)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".tmp-sidecar-*")
	if err != nil {
		return nil, err
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return nil, err
	}
	if err := tmp.Close(); err != nil {
		os.Remove(tmp.Name())
		return nil, err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		os.Remove(tmp.Name())
		return nil, err
	}
	return state, nil
}

// encodeSidecar is json.Marshal of the sidecar of an output of size
// bytes and SHA-256 sum whose state is st, and the state's encoding in it
// (EncodeState's bytes), written in one pass (TestEncodeSidecar): the
// state's checksum is filled in after the state.
func encodeSidecar(size int64, sum string, st *State) (data, state []byte) {
	n := 256
	if st != nil {
		n += encodedSize(st)
	}
	b := make([]byte, 0, n)
	b = fmt.Appendf(b, `{"version":%d,"output_size":%d,"output_sha256":%q,"state_sha256":"`, sidecarVersion, size, sum)
	at := len(b)
	b = append(b, make([]byte, hex.EncodedLen(sha256.Size))...)
	b = append(b, `","state":`...)
	start := len(b)
	b = appendState(b, st)
	stateSum := sha256.Sum256(b[start:])
	hex.Encode(b[at:at+hex.EncodedLen(sha256.Size)], stateSum[:])
	b = append(b, '}')
	return b, b[start : len(b)-1 : len(b)-1]
}

// SaveAs writes an output held in memory to path, with its sidecar, as
// Create would have left it: afterwards Open(path) continues the session
// from another process.
func (o *Output) SaveAs(path string) error {
	_, err := o.SaveAsState(path)
	return err
}

// SaveAsState is SaveAs that also returns the state's encoding that the
// sidecar holds (EncodeState), for a caller that compares it with a
// reloaded state's.
func (o *Output) SaveAsState(path string) ([]byte, error) {
	m, ok := o.f.(*MemFile)
	if !ok {
		return nil, errors.New("incr: SaveAs: the output is not in memory")
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o755)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if _, err := f.Write(m.Bytes()); err != nil {
		return nil, err
	}
	saved := &Output{Path: path, State: o.State, f: f}
	// The sidecar describes the bytes written (synced before it is
	// written); Open reads them back and checks them against it.
	return saved.saveSidecar(m.Bytes())
}

func hashFile(f io.ReaderAt) (string, int64, error) {
	h := sha256.New()
	n, err := io.Copy(h, io.NewSectionReader(f, 0, math.MaxInt64))
	if err != nil {
		return "", 0, err
	}
	return hex.EncodeToString(h.Sum(nil)), n, nil
}

// Open opens an output and its sidecar for an update. It returns an error
// wrapping ErrStale when the sidecar is missing, corrupt, of another format
// or policy, or does not describe the output byte for byte; the caller
// then links from scratch.
func Open(path string, img Image, opts Options) (*Output, error) {
	policy := opts.Policy
	if policy == "" {
		policy = Trampoline
	}
	st, f, err := openVerified(path, img, policy, os.O_RDWR)
	if err != nil {
		return nil, err
	}
	st.faults = opts.Faults
	return &Output{Path: path, State: st, img: img, f: f, fl: fileLayout(img, st), faults: opts.Faults}, nil
}

// LoadState reads and verifies the sidecar of an output of img's format
// without opening the output for writing (for checks and dumps).
func LoadState(path string, img Image) (*State, error) {
	st, f, err := openVerified(path, img, "", os.O_RDONLY)
	if err != nil {
		return nil, err
	}
	return st, f.Close()
}

// openVerified reads the sidecar of the output at path, checks that its
// state is of img's format and of the given policy
// ("" accepts any), is consistent, and describes the output byte for byte,
// and returns the state and the output opened with flag. Every refusal
// wraps ErrStale.
func openVerified(path string, img Image, policy Policy, flag int) (*State, *os.File, error) {
	sc, st, err := readSidecar(path)
	if err != nil {
		return nil, nil, err
	}
	if st.Format != img.Format() {
		return nil, nil, fmt.Errorf("%s: %w: a %s output, now %s", path, ErrStale, st.Format, img.Format())
	}
	if policy != "" && st.Policy != policy {
		return nil, nil, fmt.Errorf("%s: %w: linked with policy %s, now %s", path, ErrStale, st.Policy, policy)
	}
	if err := validateState(st); err != nil {
		return nil, nil, fmt.Errorf("%s%s: %w: %v", path, SidecarSuffix, ErrStale, err)
	}
	st.arch = img.Arch()
	f, err := os.OpenFile(path, flag, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w: %v", path, ErrStale, err)
	}
	if fi, err := f.Stat(); err != nil || !fi.Mode().IsRegular() {
		f.Close()
		return nil, nil, fmt.Errorf("%s: %w: not a regular file", path, ErrStale)
	}
	// The output is read once, whole, for its checksum and the state's
	// verification; one too large to hold is read twice, in pieces.
	var out io.ReaderAt = f
	if sc.OutputSize <= maxInMemory {
		data, err := readOutput(f, sc.OutputSize, sc.OutputSHA256)
		if err != nil {
			f.Close()
			return nil, nil, fmt.Errorf("%s: %w: the output changed since the sidecar was written", path, ErrStale)
		}
		out = wholeFile(data)
	} else if sum, size, err := hashFile(f); err != nil || sum != sc.OutputSHA256 || size != sc.OutputSize {
		f.Close()
		return nil, nil, fmt.Errorf("%s: %w: the output changed since the sidecar was written", path, ErrStale)
	}
	if err := verifyAgainstFile(st, img, out, sc.OutputSize); err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("%s%s: %w: the state does not describe the output: %v", path, SidecarSuffix, ErrStale, err)
	}
	return st, f, nil
}

// readOutput reads the output f whole and returns its bytes when they are
// the size bytes of SHA-256 sum (hex) that the sidecar records, else an
// error.
func readOutput(f *os.File, size int64, sum string) ([]byte, error) {
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if fi.Size() != size {
		return nil, fmt.Errorf("%d bytes, the sidecar records %d", fi.Size(), size)
	}
	data := make([]byte, size+1)
	n, err := f.ReadAt(data, 0)
	if err != io.EOF || int64(n) != size {
		return nil, fmt.Errorf("%d bytes read of %d: %v", n, size, err)
	}
	data = data[:size]
	if s := sha256.Sum256(data); hex.EncodeToString(s[:]) != sum {
		return nil, errors.New("the output's SHA-256 is not the sidecar's")
	}
	return data, nil
}

// maxSidecar bounds the sidecar's size (its state grows with the program:
// about 1 KiB per atom), and maxInMemory the output that its verification
// reads whole.
const (
	maxSidecar  = 1 << 30
	maxInMemory = 1 << 28
)

// readSidecar reads and decodes the sidecar of the output at path: a
// missing, unparsable, other-version or altered sidecar is an error
// wrapping ErrStale.
func readSidecar(path string) (*sidecar, *State, error) {
	data, err := input.ReadFile(path+SidecarSuffix, maxSidecar)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w: %v", path, ErrStale, err)
	}
	// What encodeSidecar writes is read by hand; anything else (an older
	// or damaged sidecar) by encoding/json, as it always was.
	sc, st := decodeSidecar(data)
	if sc == nil {
		sc = new(sidecar)
		if err := json.Unmarshal(data, sc); err != nil {
			return nil, nil, fmt.Errorf("%s%s: %w: %v", path, SidecarSuffix, ErrStale, err)
		}
	}
	if sc.Version != sidecarVersion || len(sc.State) == 0 {
		return nil, nil, fmt.Errorf("%s%s: %w: version %d", path, SidecarSuffix, ErrStale, sc.Version)
	}
	if sum := sha256.Sum256(sc.State); hex.EncodeToString(sum[:]) != sc.StateSHA256 {
		return nil, nil, fmt.Errorf("%s%s: %w: the state does not match its checksum (changed since it was written)", path, SidecarSuffix, ErrStale)
	}
	if st == nil {
		if err := json.Unmarshal(sc.State, &st); err != nil || st == nil {
			return nil, nil, fmt.Errorf("%s%s: %w: state: %v", path, SidecarSuffix, ErrStale, err)
		}
	}
	return sc, st, nil
}

// decodeSidecar reads a sidecar as encodeSidecar writes it, or returns
// nils: the wrapper's fields in their order, then a state that
// decodeState reads to the sidecar's last byte.
func decodeSidecar(data []byte) (*sidecar, *State) {
	r := &stateReader{b: data}
	var sc sidecar
	ok := r.lit(`{"version":`)
	if ok {
		var v int64
		v, ok = r.int(strconv.IntSize)
		sc.Version = int(v)
	}
	ok = ok && r.lit(`,"output_size":`)
	if ok {
		sc.OutputSize, ok = r.int(64)
	}
	ok = ok && r.lit(`,"output_sha256":`)
	if ok {
		sc.OutputSHA256, ok = r.str()
	}
	ok = ok && r.lit(`,"state_sha256":`)
	if ok {
		sc.StateSHA256, ok = r.str()
	}
	if !ok || !r.lit(`,"state":`) || len(data) == 0 || data[len(data)-1] != '}' {
		return nil, nil
	}
	sc.State = data[r.off : len(data)-1]
	st, err := decodeState(sc.State)
	if err != nil {
		return nil, nil
	}
	return &sc, st
}

// validateState checks a decoded state's internal consistency, so that a
// corrupt sidecar is refused rather than trusted.
func validateState(st *State) error {
	for _, n := range RegionOrder {
		r, ok := st.Regions[n]
		if !ok || r == nil {
			return fmt.Errorf("region %s missing", n)
		}
		if r.High > r.Cap || r.Cap > st.span() {
			return fmt.Errorf("region %s: used %#x, capacity %#x", n, r.High, r.Cap)
		}
	}
	if st.GOT == nil {
		return errors.New("no GOT")
	}
	if err := st.GOT.Rebuild(); err != nil {
		return err
	}
	for _, n := range RegionOrder {
		if err := validateIndexed(st, st.Regions[n]); err != nil {
			return err
		}
	}
	for n, a := range st.Atoms {
		if a == nil || a.Name != n {
			return fmt.Errorf("atom %q malformed", n)
		}
		r := st.Regions[RegionFor(a.Kind)]
		if a.Addr < r.Base || a.Addr+a.Slot > r.Base+r.High || a.Size > a.Slot {
			return fmt.Errorf("atom %s at %#x (+%#x) outside region %s", n, a.Addr, a.Slot, r.Name)
		}
	}
	if _, ok := st.Atoms[st.Entry]; !ok {
		return fmt.Errorf("no entry %s", st.Entry)
	}
	return nil
}

// validateIndexed checks an indexed region's entries: ascending, inside
// the used space, exactly the slots of its atoms and its holes.
func validateIndexed(st *State, r *Region) error {
	if !r.Indexed {
		if len(r.Entries) > 0 {
			return fmt.Errorf("region %s: entries in a region that is not indexed", r.Name)
		}
		return nil
	}
	starts := map[uint64]bool{}
	for _, a := range st.Atoms {
		if a != nil && RegionFor(a.Kind) == r.Name {
			starts[a.Addr] = true
		}
	}
	for _, h := range r.Free {
		starts[h.Addr] = true
	}
	if len(starts) != len(r.Entries) {
		return fmt.Errorf("region %s: %d entries for %d slots", r.Name, len(r.Entries), len(starts))
	}
	for i, e := range r.Entries {
		if i > 0 && e <= r.Entries[i-1] || e < r.Base || e >= r.Base+r.High || !starts[e] {
			return fmt.Errorf("region %s: entry %d at %#x is no slot", r.Name, i, e)
		}
	}
	return nil
}
