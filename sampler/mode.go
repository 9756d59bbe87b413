package sampler

import (
	"fmt"
	"strings"
)

// Mode is a sampling strategy.
type Mode string

const (
	// Uniform draws a fresh permutation of all rows every epoch.
	Uniform Mode = "uniform"
	// Balanced gives every identity exactly its quota of draws per epoch,
	// walking each identity's endless chain of permutations.
	Balanced Mode = "balanced"
	// Weighted draws rows with replacement in proportion to their weights.
	Weighted Mode = "weighted"
	// PK fills every batch with P distinct identities × K photos each.
	PK Mode = "pk"
)

// Modes lists the sampling modes.
func Modes() []Mode { return []Mode{Uniform, Balanced, Weighted, PK} }

// ParseMode returns the mode named s (case-insensitive).
func ParseMode(s string) (Mode, error) {
	name := strings.ToLower(strings.TrimSpace(s))
	for _, m := range Modes() {
		if string(m) == name {
			return m, nil
		}
	}
	return "", fmt.Errorf("unknown sampling mode %q (want one of %v)", s, Modes())
}
