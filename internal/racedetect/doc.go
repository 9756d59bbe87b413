// Package racedetect tells whether the race detector is built in, so that a heavy test whose
// subject has no concurrency of its own can skip the 10-20× slowdown the detector costs it.
package racedetect
