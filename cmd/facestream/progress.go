package main

import (
	"os"
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"
)

// terminalProgress returns the callback through which the library packages report progress,
// drawing one bar per task on stderr, and the function that clears the last bar. When stderr is
// not a terminal (a log file) report is nil, so nothing is drawn, and finish does nothing.
func terminalProgress() (report func(task, unit string, done, total int), finish func()) {
	if !term.IsTerminal(int(os.Stderr.Fd())) {
		return nil, func() {}
	}
	var (
		mu      sync.Mutex
		bar     *progressbar.ProgressBar
		current string
	)
	finishLocked := func() {
		if bar != nil {
			_ = bar.Finish() // drawing to the terminal; a failed redraw is not the command's failure
			bar = nil
		}
	}
	report = func(task, unit string, done, total int) {
		mu.Lock()
		defer mu.Unlock()
		if bar == nil || task != current {
			finishLocked()
			bar = progressbar.NewOptions(total, progressbar.OptionSetWriter(os.Stderr),
				progressbar.OptionSetDescription(task), progressbar.OptionShowCount(), progressbar.OptionShowIts(),
				progressbar.OptionSetItsString(unit), progressbar.OptionThrottle(100*time.Millisecond),
				progressbar.OptionClearOnFinish())
			current = task
		}
		_ = bar.Set(done)
	}
	finish = func() {
		mu.Lock()
		defer mu.Unlock()
		finishLocked()
	}
	return report, finish
}
