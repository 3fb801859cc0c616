package link

import "github.com/linkcheck/linkcheck/ref/obj"

// discardComdats applies COMDAT group selection as ld.lld does: the first
// object (in input order) that has a group keeps its sections; in every
// later object the group's sections are discarded with their
// relocations, and the globals defined in them become references, which
// resolve to the kept definitions. Objects that lose nothing are returned
// as they are; the others are shallow copies, so the inputs are not
// changed. A discarded section stays as an empty, 1-aligned section so
// that section indexes do not move; the discarded sections are returned
// too.
func discardComdats(objs []*obj.Object) ([]*obj.Object, map[*obj.Section]bool) {
	var seen map[string]int
	var discarded map[*obj.Section]bool
	out := objs
	for oi, o := range objs {
		var drop []bool
		for si, s := range o.Sections {
			if s.Group == "" {
				continue
			}
			if seen == nil {
				seen = make(map[string]int)
			}
			first, ok := seen[s.Group]
			if !ok {
				seen[s.Group] = oi
				first = oi
			}
			if first != oi {
				if drop == nil {
					drop = make([]bool, len(o.Sections))
				}
				drop[si] = true
			}
		}
		if drop == nil {
			continue
		}
		if &out[0] == &objs[0] {
			out = append([]*obj.Object(nil), objs...)
		}
		c := *o
		c.Sections = make([]*obj.Section, len(o.Sections))
		for si, s := range o.Sections {
			if !drop[si] {
				c.Sections[si] = s
				continue
			}
			d := *s
			d.Data, d.Size, d.Relocs, d.Align = nil, 0, nil, 1
			if d.Kind == obj.BSS {
				d.Data = nil
			} else {
				d.Data = []byte{}
			}
			c.Sections[si] = &d
			if discarded == nil {
				discarded = make(map[*obj.Section]bool)
			}
			discarded[&d] = true
		}
		c.Symbols = make([]*obj.Symbol, len(o.Symbols))
		for k, s := range o.Symbols {
			c.Symbols[k] = s
			if s.Section >= 0 && drop[s.Section] {
				d := *s
				if s.Bind != obj.Local {
					d.Section, d.Value, d.Size = obj.Undef, 0, 0
				} else {
					d.Value = 0
				}
				c.Symbols[k] = &d
			}
		}
		out[oi] = &c
	}
	return out, discarded
}
