//go:build facestream_static

package embed

// loadable is false in the fully static build (`make static`): glibc cannot dlopen a shared
// library into a statically linked process (ONNX Runtime crashes on its first call), so the
// embedder refuses with an error instead.
const loadable = false
