//go:build race

package bot

// raceFactor: the race detector slows every request several times, so
// tests that bound latency scale their bounds by raceFactor.
const raceFactor = 4
