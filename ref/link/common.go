package link

import "github.com/linkcheck/linkcheck/ref/obj"

// resolveCommons allocates common symbols as ld.lld does: for a name
// that some object defines with a non-weak definition, no common of that
// name is allocated; otherwise the first object's common is, with the
// largest size and the largest alignment of all the commons of the name. A
// common beats weak definitions, and weak definitions then lose to it in
// resolve as to any global. The commons not allocated become references
// (their COMMON section empty); objects that change are shallow copies.
func resolveCommons(objs []*obj.Object) []*obj.Object {
	type loc struct{ oi, k int }
	var commons map[string][]loc
	for oi, o := range objs {
		for k, s := range o.Symbols {
			if s.Bind != obj.Local && s.Defined() && s.Section >= 0 && o.Sections[s.Section].Common {
				if commons == nil {
					commons = make(map[string][]loc)
				}
				commons[s.Name] = append(commons[s.Name], loc{oi, k})
			}
		}
	}
	if commons == nil {
		return objs // most links: no string map of every global
	}
	// The names of commons that a non-weak definition overrides.
	strong := map[string]bool{}
	for _, o := range objs {
		for _, s := range o.Symbols {
			if s.Bind != obj.Global || !s.Defined() || commons[s.Name] == nil {
				continue
			}
			if s.Section == obj.Abs || s.Section >= 0 && !o.Sections[s.Section].Common {
				strong[s.Name] = true
			}
		}
	}
	type grow struct{ size, align uint64 }
	drop := map[loc]bool{}
	keep := map[loc]grow{}
	for name, ls := range commons {
		win := -1
		if !strong[name] {
			// ld.lld allocates the common where the name first appears
			// (the first object's), with the largest size and alignment.
			var g grow
			for _, l := range ls {
				s := objs[l.oi].Sections[objs[l.oi].Symbols[l.k].Section]
				g.size, g.align = max(g.size, s.Size), max(g.align, s.Align)
			}
			win = 0
			keep[ls[0]] = g
		}
		for i, l := range ls {
			if i != win {
				drop[l] = true
			}
		}
	}
	out := append([]*obj.Object(nil), objs...)
	for oi, o := range objs {
		var c *obj.Object
		for k, s := range o.Symbols {
			l := loc{oi, k}
			g, isWin := keep[l]
			if !drop[l] && (!isWin || g.size == o.Sections[s.Section].Size && g.align == o.Sections[s.Section].Align) {
				continue
			}
			if c == nil {
				cc := *o
				cc.Sections = append([]*obj.Section(nil), o.Sections...)
				cc.Symbols = append([]*obj.Symbol(nil), o.Symbols...)
				c = &cc
			}
			sec := *o.Sections[s.Section]
			if drop[l] {
				sec.Size, sec.Align = 0, 1
				sym := *s
				sym.Section, sym.Value, sym.Size = obj.Undef, 0, 0
				c.Symbols[k] = &sym
			} else {
				sec.Size, sec.Align = g.size, g.align
				sym := *s
				sym.Size = g.size
				c.Symbols[k] = &sym
			}
			c.Sections[s.Section] = &sec
		}
		if c != nil {
			out[oi] = c
		}
	}
	return out
}
