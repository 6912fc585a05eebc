//go:build linux

package main

import (
	"testing"

	"github.com/fdscope/fdscope/internal/proctest"
)

// TestMain lets tests start this binary in proctest's roles.
func TestMain(m *testing.M) { proctest.Main(m) }
