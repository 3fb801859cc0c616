package incr

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/linkcheck/linkcheck/ref/obj"
)

// TestEncodeSidecar: the sidecar's bytes are json.Marshal's, for states
// with sources that JSON escapes (HTML characters, control characters,
// non-ASCII) and digests of every byte value.
func TestEncodeSidecar(t *testing.T) {
	for _, src := range []string{"", "func main() i64 { return 1 }\n", "<a & b>\t\"q\"\\ \x01 é \u2028"} {
		st := &State{Format: obj.ELF, Policy: Trampoline, Regions: map[string]*Region{".text": {Name: ".text", Base: 0x1000000, Cap: 0x1000, High: 0x40}},
			Atoms: map[string]*AtomState{"f": {Name: "f", Addr: 0x1000000, Size: 3, Slot: 4, Relocs: []obj.SymReloc{{Offset: 1, Kind: obj.PCRel32, Sym: "g<>", Addend: -4}}}},
			GOT:   NewGOT(), Entry: "f", Source: src}
		for i := range st.Atoms["f"].Hash {
			st.Atoms["f"].Hash[i] = byte(37 * i)
		}
		state, err := json.Marshal(st)
		require.NoError(t, err)
		stateSum := sha256.Sum256(state)
		want, err := json.Marshal(sidecar{Version: sidecarVersion, OutputSize: 12345, OutputSHA256: "00ff", StateSHA256: hex.EncodeToString(stateSum[:]), State: state})
		require.NoError(t, err)
		data, got := encodeSidecar(12345, "00ff", st)
		require.Equal(t, string(want), string(data))
		require.Equal(t, string(state), string(got))
	}
}

// TestDigestJSON: a digest is written as 64 hex digits and read back,
// the 32 numbers of an older sidecar read too, and anything else is an
// error.
func TestDigestJSON(t *testing.T) {
	var d Digest
	for i := range d {
		d[i] = byte(255 - 7*i)
	}
	b, err := json.Marshal(d)
	require.NoError(t, err)
	require.Equal(t, `"`+hex.EncodeToString(d[:])+`"`, string(b))
	var back Digest
	require.NoError(t, json.Unmarshal(b, &back))
	require.Equal(t, d, back)
	old, err := json.Marshal([32]byte(d))
	require.NoError(t, err)
	require.Equal(t, byte('['), old[0])
	back = Digest{}
	require.NoError(t, json.Unmarshal(old, &back))
	require.Equal(t, d, back)
	for _, bad := range []string{`"abc"`, `"` + hex.EncodeToString(d[:])[:62] + `zz"`, `17`, `{}`, `["x"]`} {
		require.Error(t, json.Unmarshal([]byte(bad), &back), bad)
	}
}
