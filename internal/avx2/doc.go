// Package avx2 holds AVX2 assembly kernels: the image pipeline's resampling, blur and colour
// passes (package augment, which cannot hold assembly because it uses cgo) and the offline
// stage's float32 dot products (package offline). The image kernels compute exactly what
// augment's portable kernels do, so a sample's bytes do not depend on the CPU. Elsewhere
// (another architecture, the purego build tag, a CPU without AVX2 or FMA) Available or
// FMAAvailable is false and the callers use their portable code.
package avx2
