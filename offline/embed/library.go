package embed

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"

	ort "github.com/yalue/onnxruntime_go"
)

// LibraryName is the ONNX Runtime build the module's onnxruntime_go (v1.27, C API 24) was made for.
const LibraryName = "libonnxruntime.so.1.24.3"

// LibraryEnv names the environment variable that points at the ONNX Runtime shared library.
const LibraryEnv = "ONNXRUNTIME_SHARED_LIBRARY_PATH"

const howToGetLibrary = "run `make setup`, or `npm pack onnxruntime-node@1.24.3` and extract " +
	"package/bin/napi-v6/linux/x64/libonnxruntime.so.1, then pass it with --ort-lib or $" + LibraryEnv

// LibraryPath resolves the ONNX Runtime shared library: flagValue if set, else $ONNXRUNTIME_SHARED_LIBRARY_PATH,
// else .cache/onnxruntime/libonnxruntime.so.1.24.3 in the working folder or one above it (the repository,
// from any package's tests), else beside the running binary or in its folder's .cache (the static build
// ships the library next to the binary).
func LibraryPath(flagValue string) (string, error) {
	for _, given := range []struct{ path, from string }{{flagValue, "--ort-lib or the config"}, {os.Getenv(LibraryEnv), "$" + LibraryEnv}} {
		if given.path == "" {
			continue
		}
		if _, err := os.Stat(given.path); err != nil {
			return "", fmt.Errorf("ONNX Runtime library %s (from %s): %w; %s", given.path, given.from, err, howToGetLibrary)
		}
		return absolute(given.path)
	}
	cached := filepath.Join(".cache", "onnxruntime", LibraryName)
	var tried []string
	if wd, err := os.Getwd(); err == nil {
		for dir := wd; ; dir = filepath.Dir(dir) {
			tried = append(tried, filepath.Join(dir, cached))
			if filepath.Dir(dir) == dir {
				break
			}
		}
	}
	if exe, err := os.Executable(); err == nil {
		dir := filepath.Dir(exe)
		tried = append(tried, filepath.Join(dir, LibraryName), filepath.Join(dir, cached), filepath.Join(filepath.Dir(dir), cached))
	}
	for _, p := range tried {
		if _, err := os.Stat(p); err == nil {
			return absolute(p)
		}
	}
	return "", fmt.Errorf("ONNX Runtime library %s not found (looked in .cache/onnxruntime of the working folder and its parents, and beside the binary): %s",
		LibraryName, howToGetLibrary)
}

// absolute makes path absolute: dlopen searches the system's library folders, not the working
// folder, for a name without a slash.
func absolute(path string) (string, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", fmt.Errorf("ONNX Runtime library %s: %w", path, err)
	}
	return abs, nil
}

// environment is the process's one ONNX Runtime environment. onnxruntime_go keeps the loaded library
// and its OrtEnv in package globals, so there can only be one per process: embedders share it, the
// first Open loads it and the last Close releases it (a refcount rather than a sync.Once, so that a
// process that is done embedding gets the library's threads and memory back).
var environment struct {
	sync.Mutex
	refs    int
	library string
}

// acquireEnvironment loads library (once for all live embedders) and counts one more user.
func acquireEnvironment(library string) error {
	environment.Lock()
	defer environment.Unlock()
	if environment.refs > 0 {
		if library != environment.library {
			return fmt.Errorf("ONNX Runtime is already loaded from %s in this process; cannot also load %s", environment.library, library)
		}
		environment.refs++
		return nil
	}
	if !loadable {
		return fmt.Errorf("this facestream binary is fully static (make static) and cannot load ONNX Runtime (%s): run the offline stages with the dynamically linked build (make build, or the deploy/ container)", library)
	}
	ort.SetSharedLibraryPath(library)
	if err := ort.InitializeEnvironment(ort.WithLogLevelError()); err != nil {
		return explainLoadError(library, err)
	}
	environment.refs, environment.library = 1, library
	return nil
}

// releaseEnvironment drops one user and unloads the library when none is left.
func releaseEnvironment() error {
	environment.Lock()
	defer environment.Unlock()
	environment.refs--
	if environment.refs > 0 {
		return nil
	}
	if err := ort.DestroyEnvironment(); err != nil {
		return fmt.Errorf("release ONNX Runtime: %w", err)
	}
	return nil
}

// explainLoadError turns onnxruntime_go's load failures into what a user can act on. A library older
// than 1.24 lacks C API version 24, which onnxruntime_go reports as "Error setting ORT API base: 2".
func explainLoadError(library string, err error) error {
	msg := err.Error()
	switch {
	case strings.Contains(msg, "ORT API base"):
		return fmt.Errorf("ONNX Runtime library %s is older than 1.24 (it lacks C API version 24 that onnxruntime_go v1.27 needs): %w; %s",
			library, err, howToGetLibrary)
	case strings.Contains(msg, "OrtGetApiBase"):
		return fmt.Errorf("%s is not an ONNX Runtime library: %w; %s", library, err, howToGetLibrary)
	case strings.Contains(msg, "Error loading ONNX shared library"):
		return fmt.Errorf("cannot load the ONNX Runtime library: %w; %s", err, howToGetLibrary)
	}
	return fmt.Errorf("initialise ONNX Runtime from %s: %w", library, err)
}
