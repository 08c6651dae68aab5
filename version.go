package main

import (
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
)

// modulePath is printed when the binary carries no build information.
const modulePath = "github.com/waleave/waleave"

// runVersion implements `waleave version`: the module, its version and the
// VCS revision the binary was built from, as the Go toolchain recorded them.
func runVersion(stdout io.Writer) error {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		bi = nil
	}
	return writeVersion(stdout, bi)
}

// writeVersion prints bi (nil when the binary has none). A `go build` from a
// checkout records the version as "(devel)", and builds with -buildvcs=false
// or outside a repository record no revision: those show as "unknown".
func writeVersion(w io.Writer, bi *debug.BuildInfo) error {
	path, version, goVersion := modulePath, "(devel)", runtime.Version()
	vcs := map[string]string{}
	if bi != nil {
		if bi.Main.Path != "" {
			path = bi.Main.Path
		}
		if bi.Main.Version != "" {
			version = bi.Main.Version
		}
		if bi.GoVersion != "" {
			goVersion = bi.GoVersion
		}
		for _, s := range bi.Settings {
			vcs[s.Key] = s.Value
		}
	}
	or := func(key string) string {
		if v := vcs[key]; v != "" {
			return v
		}
		return "unknown"
	}
	_, err := fmt.Fprintf(w, "waleave %s\nmodule   %s\nrevision %s\ntime     %s\nmodified %s\ngo       %s\n",
		version, path, or("vcs.revision"), or("vcs.time"), or("vcs.modified"), goVersion)
	if err != nil {
		return fmt.Errorf("version: %w", err)
	}
	return nil
}
