// Command realfaces prints the ImageFolder of the team's real 112×112 faces (lfw-ak), unpacked
// once, for benchmark scripts: `go run ./bench/realfaces`. Absent, it says why on stderr and
// exits with status 3, which a script reads as "skip".
package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/facestream/facestream/internal/realdata"
)

func main() {
	dir, err := realdata.FacesDir()
	if err != nil {
		fmt.Fprintln(os.Stderr, "realfaces:", err)
		if errors.Is(err, realdata.ErrAbsent) {
			os.Exit(3)
		}
		os.Exit(1)
	}
	fmt.Println(dir)
}
