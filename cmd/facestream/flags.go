package main

import (
	"flag"
	"fmt"
	"os"
)

// newFlags makes a flag set whose errors are returned, not fatal, with a usage line naming the command.
func newFlags(name, usage string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprintf(os.Stderr, "usage: facestream %s %s\n\nflags:\n", name, usage)
		fs.PrintDefaults()
	}
	return fs
}

// parseArgs parses flags that may come before, between or after positional arguments
// (`facestream plan DS --mode uniform`), returning the positional ones in order.
func parseArgs(fs *flag.FlagSet, args []string) ([]string, error) {
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			return positional, nil
		}
		if args[0] == "--" {
			return append(positional, args[1:]...), nil
		}
		positional = append(positional, args[0])
		args = args[1:]
	}
}

// parseExact parses args and requires exactly n positional arguments, named in the error.
func parseExact(fs *flag.FlagSet, args []string, names ...string) ([]string, error) {
	pos, err := parseArgs(fs, args)
	if err != nil {
		return nil, err
	}
	if len(pos) != len(names) {
		fs.Usage()
		return nil, fmt.Errorf("want %d argument(s) %v, got %d %q", len(names), names, len(pos), pos)
	}
	return pos, nil
}
