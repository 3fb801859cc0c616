package main

import (
	"fmt"

	"github.com/linkcheck/linkcheck/ref/obj"
)

// refLink links objs into out with the reference linker of format f.
func refLink(f obj.Format, objs []string, out string, ours bool) error {
	return bad(fmt.Errorf("-linker ref: the reference %s linker is not built yet; use -linker lld", f))
}
