package fuzz

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"testing"

	"github.com/linkcheck/linkcheck/oracle/pipeline"
	"github.com/linkcheck/linkcheck/oracle/tools"
	"github.com/linkcheck/linkcheck/ref/incr"
	"github.com/linkcheck/linkcheck/ref/ir"
	"github.com/linkcheck/linkcheck/ref/obj"
)

// sidecarFile is the sidecar's JSON, as ref/incr writes it.
type sidecarFile struct {
	Version      int             `json:"version"`
	OutputSize   int64           `json:"output_size"`
	OutputSHA256 string          `json:"output_sha256"`
	StateSHA256  string          `json:"state_sha256"`
	State        json.RawMessage `json:"state"`
}

// tamper applies edits drawn from data to the state of the sidecar at
// path and recomputes its checksum, as a hostile or careless hand would:
// atoms' addresses, sizes, slots, alignments and trampolines shifted,
// hashes swapped, GOT slots swapped or renamed, region capacities and
// used sizes changed.
func tamper(path string, data []byte) error {
	raw, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var sc sidecarFile
	if err := json.Unmarshal(raw, &sc); err != nil {
		return err
	}
	var st incr.State
	if err := json.Unmarshal(sc.State, &st); err != nil {
		return err
	}
	names := make([]string, 0, len(st.Atoms))
	for n := range st.Atoms {
		names = append(names, n)
	}
	sort.Strings(names)
	for len(data) >= 3 && len(names) > 0 {
		op, a, v := data[0], st.Atoms[names[int(data[1])%len(names)]], uint64(data[2])
		data = data[3:]
		b := st.Atoms[names[int(v)%len(names)]]
		switch op % 10 {
		case 0:
			a.Addr += v - 128
		case 1:
			a.Size += v % 32
		case 2:
			a.Slot = a.Slot - a.Slot%16 + v%64
		case 3:
			a.Hash, b.Hash = b.Hash, a.Hash
		case 4:
			a.First = b.Addr
		case 5:
			if len(st.GOT.Slots) > 1 {
				i, j := int(v)%len(st.GOT.Slots), int(v/3)%len(st.GOT.Slots)
				st.GOT.Slots[i], st.GOT.Slots[j] = st.GOT.Slots[j], st.GOT.Slots[i]
			}
		case 6:
			r := st.Regions[incr.RegionOrder[int(v)%len(incr.RegionOrder)]]
			r.Cap = r.Cap*2 + v
		case 7:
			r := st.Regions[incr.RegionOrder[int(v)%len(incr.RegionOrder)]]
			r.High += v
		case 8:
			a.Align = 1 << (v % 12)
		case 9:
			a.Addr, b.Addr = b.Addr, a.Addr
		}
	}
	state, err := json.Marshal(&st)
	if err != nil {
		return err
	}
	sum := sha256.Sum256(state)
	sc.State, sc.StateSHA256 = state, hex.EncodeToString(sum[:])
	out, err := json.Marshal(sc)
	if err != nil {
		return err
	}
	return os.WriteFile(path, out, 0o644)
}

// FuzzSidecar tampers with a valid sidecar (its checksum recomputed) and
// updates the output to the next version: either the update links from
// scratch, or every invariant holds afterwards — never a broken output
// behind a successful update (issue 17).
func FuzzSidecar(f *testing.F) {
	tools.Require(f, "llvm-readobj")
	f.Add(int64(1), []byte{0, 1, 16})
	f.Add(int64(2), []byte{5, 0, 3, 6, 0, 1})
	f.Add(int64(3), []byte{3, 1, 2, 9, 2, 5, 4, 3, 1})
	f.Add(int64(4), []byte{1, 2, 3, 2, 3, 4, 7, 0, 9, 8, 1, 7})
	f.Fuzz(func(t *testing.T, seed int64, edits []byte) {
		if len(edits) > 60 {
			edits = edits[:60]
		}
		mods := ir.Sequence(seed, 8, 3)
		policy := incr.Trampoline
		if seed%2 == 0 {
			policy = incr.ThroughGOT
		}
		dir := t.TempDir()
		out := filepath.Join(dir, "out")
		for _, m := range mods[:2] {
			if _, err := pipeline.Update(out, obj.ELF, m, string(ir.Print(m)), policy); err != nil {
				t.Fatal(err)
			}
		}
		if err := tamper(out+incr.SidecarSuffix, edits); err != nil {
			t.Fatal(err)
		}
		m := mods[2]
		res, err := pipeline.Update(out, obj.ELF, m, string(ir.Print(m)), policy)
		if err != nil {
			// An update may refuse a state it cannot use (an error, exit
			// 1, nothing claimed): then the output must not be trusted,
			// which the next update's sidecar check ensures.
			return
		}
		if res.Relinked {
			return
		}
		if err := pipeline.CheckIncremental(context.Background(), out, m, pipeline.IncrCheck{Policy: policy, Fresh: true, Dir: dir}); err != nil {
			t.Fatalf("the tampered sidecar was trusted and the update broke the output:\n%v", err)
		}
	})
}

// FuzzStateJSON holds the sidecar state's hand-written JSON codec
// (incr.EncodeState, incr.DecodeState) to encoding/json: any input
// decodes to json.Unmarshal's state or fails where it fails, and a
// decoded state encodes to json.Marshal's bytes.
func FuzzStateJSON(f *testing.F) {
	f.Add([]byte(`{"Format":"elf","Policy":"trampoline","Regions":{".text":{"Name":".text","Base":16777216,"Cap":16384,"High":64,"Free":[{"Addr":16777232,"Size":16}],"Indexed":true,"Entries":[16777216,16777232]}},"Atoms":{"f":{"Name":"f","Kind":1,"Addr":16777216,"Size":9,"Slot":16,"Align":16,"Local":false,"Hash":"00292a7ba4cdf61f48719ac3ec153e6790b9e20b345d86afd80129527ba4cdf6","Relocs":[{"Offset":1,"Kind":2,"Sym":"g","Addend":-4}],"First":0}},"GOT":{"Slots":["f",""],"Free":[1]},"Entry":"f","Span":1048576,"Source":"func f() i64 {\n\treturn 1 \u003c 2\n}\n"}`))
	f.Add([]byte(`{"Format":"wasm","Policy":"got","Regions":null,"Atoms":{"f":null},"GOT":null,"Entry":"\u00e9\ud83d\ude00","Source":""}`))
	f.Add([]byte(`{"Format":"elf","Atoms":{"f":{"Hash":[1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31,32]}}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var want *incr.State
		wantErr := json.Unmarshal(data, &want)
		got, err := incr.DecodeState(data)
		if (err == nil) != (wantErr == nil) {
			t.Fatalf("DecodeState error %v, json.Unmarshal's %v", err, wantErr)
		}
		if err != nil {
			return
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("DecodeState read %+v, json.Unmarshal %+v", got, want)
		}
		enc, err := json.Marshal(got)
		if err != nil {
			t.Fatal(err)
		}
		if string(incr.EncodeState(got)) != string(enc) {
			t.Fatalf("EncodeState wrote\n%s\njson.Marshal\n%s", incr.EncodeState(got), enc)
		}
	})
}
