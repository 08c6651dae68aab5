package main

import (
	"bytes"
	"runtime/debug"
	"strings"
	"testing"
)

func TestRunVersion(t *testing.T) {
	var out bytes.Buffer
	if err := runVersion(&out); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), modulePath) {
		t.Errorf("version output %q does not name the module %s", out.String(), modulePath)
	}
}

func TestWriteVersion(t *testing.T) {
	tests := []struct {
		name string
		bi   *debug.BuildInfo
		want []string
	}{
		{"no build info", nil, []string{"waleave (devel)", "module   " + modulePath, "revision unknown", "time     unknown", "modified unknown"}},
		{"devel build without vcs", &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Path: modulePath, Version: "(devel)"}},
			[]string{"waleave (devel)", "revision unknown", "go       go1.26.8"}},
		{"release with vcs", &debug.BuildInfo{
			GoVersion: "go1.26.8",
			Main:      debug.Module{Path: modulePath, Version: "v1.2.3"},
			Settings: []debug.BuildSetting{
				{Key: "vcs", Value: "git"},
				{Key: "vcs.revision", Value: "1031435aa1b2c3d4e5f60718293a4b5c6d7e8f90"},
				{Key: "vcs.time", Value: "2026-11-23T21:44:00Z"},
				{Key: "vcs.modified", Value: "true"},
			},
		}, []string{"waleave v1.2.3", "revision 1031435aa1b2c3d4e5f60718293a4b5c6d7e8f90", "time     2026-11-23T21:44:00Z", "modified true"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			if err := writeVersion(&out, tt.bi); err != nil {
				t.Fatal(err)
			}
			for _, want := range tt.want {
				if !strings.Contains(out.String(), want+"\n") {
					t.Errorf("output %q lacks line %q", out.String(), want)
				}
			}
		})
	}
}
