package ir

// Partition assigns every function and global of m to a unit 0..n-1
// (n < 1 means 1), deterministically. Every `local` function is placed in
// the same unit as every function and global that refers to it (by a call,
// &name or an initializer), by taking the connected components of the
// undirected "refers to a local function" graph. Components are then dealt
// round-robin in declaration order (functions first, then globals), main's
// component first into unit 0, so that references across units are common.
func Partition(m *Module, n int) map[string]int {
	if n <= 1 {
		// One unit holds everything: no component needs finding.
		out := make(map[string]int, len(m.Funcs)+len(m.Globals))
		for _, f := range m.Funcs {
			out[f.Name] = 0
		}
		for _, g := range m.Globals {
			out[g.Name] = 0
		}
		return out
	}
	names := make([]string, 0, len(m.Funcs)+len(m.Globals))
	id := make(map[string]int, cap(names))
	local := make(map[string]bool)
	for _, f := range m.Funcs {
		if _, dup := id[f.Name]; !dup {
			id[f.Name] = len(names)
			names = append(names, f.Name)
		}
		if f.Local {
			local[f.Name] = true
		}
	}
	for _, g := range m.Globals {
		if _, dup := id[g.Name]; !dup {
			id[g.Name] = len(names)
			names = append(names, g.Name)
		}
	}
	parent := make([]int, len(names))
	for i := range parent {
		parent[i] = i
	}
	var find func(int) int
	find = func(x int) int {
		for parent[x] != x {
			parent[x] = parent[parent[x]]
			x = parent[x]
		}
		return x
	}
	union := func(a, b string) {
		ia, oka := id[a]
		ib, okb := id[b]
		if !oka || !okb {
			return
		}
		ra, rb := find(ia), find(ib)
		if ra != rb {
			if ra < rb {
				parent[rb] = ra
			} else {
				parent[ra] = rb
			}
		}
	}
	// Only references to local functions join units (union is
	// idempotent and its roots are the least indexes, whatever the order).
	if len(local) > 0 {
		for _, f := range m.Funcs {
			eachReference(f, func(r string) {
				if local[r] {
					union(f.Name, r)
				}
			})
		}
	}
	for _, g := range m.Globals {
		if local[g.Init.Addr] {
			union(g.Name, g.Init.Addr)
		}
	}
	unitOf := make(map[int]int)
	next := 0
	if mi, ok := id["main"]; ok {
		unitOf[find(mi)] = 0
		next = 1
	}
	out := make(map[string]int, len(names))
	for i, name := range names {
		root := find(i)
		u, ok := unitOf[root]
		if !ok {
			u = next % n
			next++
			unitOf[root] = u
		}
		out[name] = u
	}
	return out
}
