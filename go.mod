module github.com/linkcheck/linkcheck

go 1.26.0

require (
	github.com/ebitengine/purego v0.11.3
	github.com/google/gofuzz v1.2.0
	github.com/rogpeppe/go-internal v1.16.0
	github.com/stretchr/testify v1.12.1
	github.com/tetratelabs/wazero v1.12.0
	golang.org/x/arch v0.32.0
	golang.org/x/sys v0.44.0
)

require (
	go.yaml.in/yaml/v3 v3.0.5 // indirect
	golang.org/x/tools v0.26.0 // indirect
)
