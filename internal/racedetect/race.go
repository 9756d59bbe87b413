//go:build race

package racedetect

// Enabled is true when the binary is built with -race.
const Enabled = true
