//go:build !facestream_static

package embed

// loadable says whether this build can load ONNX Runtime's shared library (see static.go).
const loadable = true
