//go:build tools

// Package tools records the packages that scripts/build-tools.sh builds from this module, so that
// `go mod tidy` keeps their requirements: the provider (imported by its main package, which is copied in
// at build time) and the schema package that the main package's generate.go runs against.
package tools

import (
	_ "github.com/pulumi/pulumi-kubernetes/provider/v4/pkg/provider"
	_ "github.com/pulumi/pulumi-kubernetes/provider/v4/pkg/version"
	_ "github.com/pulumi/pulumi/pkg/v3/codegen/schema"
)
