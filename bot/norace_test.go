//go:build !race

package bot

// raceFactor scales latency bounds in tests; 1 without the race detector.
const raceFactor = 1
