package incr

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand"
	"reflect"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/linkcheck/linkcheck/ref/obj"
)

// fillStrings are the strings randomState draws from: what encoding/json
// writes as is, escapes briefly, escapes as \u, or replaces.
var fillStrings = []string{"", "f", ".text", "main", "<a & b>", "q\"\\/", "\x00\x01\b\f\n\r\t\x1f\x7f", "é ü 日本", "\u2028\u2029", "\xff\xfe bad", "a\xc3", "\U0001F600"}

// fill sets every exported field reachable from v to random values (nil
// pointers, slices and maps among them), so that a field added to the
// state is encoded and decoded by the tests below without being named
// in them.
func fill(t *testing.T, r *rand.Rand, v reflect.Value, depth int) {
	switch v.Kind() {
	case reflect.Struct:
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				fill(t, r, v.Field(i), depth+1)
			}
		}
	case reflect.Pointer:
		if r.Intn(8) == 0 && depth > 0 {
			return
		}
		v.Set(reflect.New(v.Type().Elem()))
		fill(t, r, v.Elem(), depth+1)
	case reflect.Map:
		if r.Intn(6) == 0 {
			return
		}
		v.Set(reflect.MakeMap(v.Type()))
		for range r.Intn(4) {
			k := reflect.New(v.Type().Key()).Elem()
			fill(t, r, k, depth+1)
			e := reflect.New(v.Type().Elem()).Elem()
			fill(t, r, e, depth+1)
			v.SetMapIndex(k, e)
		}
	case reflect.Slice:
		if r.Intn(4) == 0 {
			return
		}
		n := r.Intn(4)
		v.Set(reflect.MakeSlice(v.Type(), n, n))
		for i := range n {
			fill(t, r, v.Index(i), depth+1)
		}
	case reflect.Array:
		for i := range v.Len() {
			fill(t, r, v.Index(i), depth+1)
		}
	case reflect.String:
		v.SetString(fillStrings[r.Intn(len(fillStrings))])
	case reflect.Bool:
		v.SetBool(r.Intn(2) == 0)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		x := []uint64{0, 1, 9, 10, 255, uint64(r.Int63()), math.MaxUint64}[r.Intn(7)]
		v.SetUint(x & (math.MaxUint64 >> (64 - v.Type().Bits())))
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		x := []int64{0, 1, -1, -4, math.MinInt64, math.MaxInt64, r.Int63() - r.Int63()}[r.Intn(7)]
		v.SetInt(x >> (64 - v.Type().Bits()))
	default:
		t.Fatalf("fill: a %s field (%s): teach the tests, EncodeState and decodeState its encoding", v.Kind(), v.Type())
	}
}

// TestStateJSON: EncodeState writes json.Marshal's bytes for random
// states (every exported field set or left nil), decodeState reads all
// of them, and both decoders give json.Unmarshal's state.
func TestStateJSON(t *testing.T) {
	r := rand.New(rand.NewSource(1))
	for i := range 3000 {
		st := &State{}
		fill(t, r, reflect.ValueOf(st).Elem(), 0)
		want, err := json.Marshal(st)
		require.NoError(t, err)
		got := EncodeState(st)
		require.Equal(t, string(want), string(got), "state %d", i)
		var back *State
		require.NoError(t, json.Unmarshal(want, &back))
		fast, err := decodeState(got)
		require.NoError(t, err, "state %d: %s", i, got)
		require.Equal(t, back, fast, "state %d", i)
		slow, err := DecodeState(got)
		require.NoError(t, err)
		require.Equal(t, back, slow)
	}
	require.Equal(t, "null", string(EncodeState(nil)))
}

// TestDecodeStateOtherJSON: JSON that EncodeState does not write (an
// older sidecar's digests as numbers, whitespace, fields in another
// order or case, numbers written otherwise, surrogates, invalid UTF-8,
// duplicate keys, damage, every prefix of a real encoding) is refused by
// decodeState, and DecodeState reads it as json.Unmarshal does: the same
// state or an error.
func TestDecodeStateOtherJSON(t *testing.T) {
	st := sampleState()
	enc := string(EncodeState(st))
	old := func() string {
		b, err := json.Marshal(map[string]any{"Format": "elf", "Policy": "got", "Regions": st.Regions, "Atoms": map[string]any{"f": map[string]any{"Name": "f", "Hash": [32]byte(st.Atoms["f"].Hash)}}, "GOT": st.GOT, "Entry": "f", "Source": ""})
		require.NoError(t, err)
		return string(b)
	}()
	cases := []string{
		old,
		" " + enc, enc + " ", enc + "x", enc + "{}",
		`{"Policy":"got","Format":"elf"}`,
		`{"format":"elf","Policy":"got","Regions":null,"Atoms":null,"GOT":null,"Entry":"","Source":""}`,
		`{"Format":"elf","Policy":"got","Regions":{"a":null,"a":null},"Atoms":null,"GOT":null,"Entry":"","Source":""}`,
		`{"Format":"elf","Policy":"got","Regions":null,"Atoms":null,"GOT":{"Slots":[],"Free":[-0,1e2]},"Entry":"","Source":""}`,
		`{"Format":"elf","Policy":"got","Regions":null,"Atoms":null,"GOT":{"Slots":[],"Free":[01]},"Entry":"","Source":""}`,
		`{"Format":"elf","Policy":"got","Regions":null,"Atoms":null,"GOT":null,"Entry":"\ud83d\ude00","Source":"\udc00"}`,
		`{"Format":"elf","Policy":"got","Regions":null,"Atoms":null,"GOT":null,"Entry":"` + "\xff" + `","Source":""}`,
		`{"Format":"elf","Policy":"got","Regions":null,"Atoms":null,"GOT":null,"Entry":"` + "\x01" + `","Source":""}`,
		`{"Format":"elf","Policy":"got","Regions":null,"Atoms":null,"GOT":null,"Entry":"\x","Source":""}`,
		`{"Format":"elf","Policy":"got","Regions":null,"Atoms":null,"GOT":null,"Entry":"","Span":18446744073709551616,"Source":""}`,
		`{"Format":"elf","Policy":"got","Regions":null,"Atoms":null,"GOT":null,"Entry":"","Span":0,"Source":""}`,
		`{"Format":"elf","Policy":"got","Regions":{"r":{"Name":"","Base":0,"Cap":0,"High":0,"Free":null,"Indexed":false,"Entries":[]}},"Atoms":null,"GOT":null,"Entry":"","Source":""}`,
		`{"Format":"elf","Policy":"got","Regions":null,"Atoms":{"f":{"Name":"f","Kind":256}},"GOT":null,"Entry":"","Source":""}`,
		`{"Format":"elf","Policy":"got","Regions":null,"Atoms":null,"GOT":null,"Entry":null,"Source":""}`,
		`null`, ``, `{}`, `[]`,
	}
	for i := range len(enc) {
		cases = append(cases, enc[:i])
	}
	for _, c := range cases {
		_, err := decodeState([]byte(c))
		require.ErrorIs(t, err, errNotCanonical, "%q", c)
		var want *State
		wantErr := json.Unmarshal([]byte(c), &want)
		got, err := DecodeState([]byte(c))
		if wantErr != nil {
			require.Error(t, err, "%q", c)
			continue
		}
		require.NoError(t, err, "%q", c)
		require.Equal(t, want, got, "%q", c)
	}
}

// TestDecodeSidecar: decodeSidecar reads what encodeSidecar writes as
// encoding/json reads it, and leaves anything else (every prefix of it,
// whitespace, its fields in another order) to encoding/json.
func TestDecodeSidecar(t *testing.T) {
	data, state := encodeSidecar(4096, "00ff", sampleState())
	sc, st := decodeSidecar(data)
	require.NotNil(t, sc)
	var want sidecar
	require.NoError(t, json.Unmarshal(data, &want))
	require.Equal(t, want, *sc)
	require.Equal(t, sampleState(), st)
	cases := []string{" " + string(data), string(data) + " ", string(data[:len(data)-1]) + " }",
		`{"output_size":4096,"version":2,"output_sha256":"00ff","state_sha256":"","state":` + string(state) + `}`}
	for i := range len(data) {
		cases = append(cases, string(data[:i]))
	}
	for _, c := range cases {
		sc, st := decodeSidecar([]byte(c))
		require.Nil(t, sc, "%q", c)
		require.Nil(t, st, "%q", c)
	}
}

// sampleState is a small state with every kind of field set.
func sampleState() *State {
	st := &State{Format: obj.ELF, Policy: ThroughGOT, Regions: map[string]*Region{
		RegText: {Name: RegText, Base: 0x1000000, Cap: 0x4000, High: 0x40, Free: []Span{{Addr: 0x1000010, Size: 16}}, Indexed: true, Entries: []uint64{0x1000000, 0x1000010}},
		RegData: {Name: RegData, Base: 0x3000000, Cap: 0x4000},
	}, Atoms: map[string]*AtomState{"f": {Name: "f", Kind: obj.Text, Addr: 0x1000000, Size: 9, Slot: 16, Align: 16, Local: true,
		Relocs: []obj.SymReloc{{Offset: 1, Kind: obj.PCRel32, Sym: "g", Addend: -4}}, First: 0x1000020}},
		GOT: &GOT{Slots: []string{"f", ""}, Free: []int{1}}, Entry: "f", Span: 0x100000, Source: "func f() i64 {\n\treturn 1 < 2\n}\n"}
	for i := range st.Atoms["f"].Hash {
		st.Atoms["f"].Hash[i] = byte(i * 41)
	}
	return st
}

// BenchmarkStateJSON is the state's encoding and decoding for a
// 1,000-atom state (encoding/json's beside for comparison).
func BenchmarkStateJSON(b *testing.B) {
	st := sampleState()
	for i := range 1000 {
		a := *st.Atoms["f"]
		a.Name = fmt.Sprintf("f%d", i)
		a.Relocs = append([]obj.SymReloc{}, a.Relocs...)
		st.Atoms[a.Name] = &a
	}
	enc := EncodeState(st)
	b.Run("encode", func(b *testing.B) {
		for b.Loop() {
			EncodeState(st)
		}
	})
	b.Run("decode", func(b *testing.B) {
		for b.Loop() {
			if _, err := decodeState(enc); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("json.Marshal", func(b *testing.B) {
		for b.Loop() {
			if _, err := json.Marshal(st); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("json.Unmarshal", func(b *testing.B) {
		for b.Loop() {
			var back *State
			if err := json.Unmarshal(enc, &back); err != nil {
				b.Fatal(err)
			}
		}
	})
}
