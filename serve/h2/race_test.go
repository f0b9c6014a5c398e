//go:build race

package h2

// raceEnabled: the race detector slows the server several times over.
const raceEnabled = true
