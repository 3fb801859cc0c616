package main

import (
	"github.com/linkcheck/linkcheck/oracle/pipeline"
	"github.com/linkcheck/linkcheck/ref/obj"
)

// refLink links objs into out with the reference linker of format f. When
// ours is set the objects came from linkcheck's own code generator, so a
// refusal is a finding (exit 1) rather than bad input.
func refLink(f obj.Format, objs []string, out string, ours bool) error {
	if _, err := pipeline.LinkRef(f, objs, out); err != nil {
		if ours {
			return failed(err)
		}
		return bad(err)
	}
	return nil
}
