// Package avx2 holds the AVX2 kernels of the image pipeline's resampling and blur passes.
// They live apart from package augment because Go does not allow assembly in a package that
// uses cgo. Each kernel computes exactly what augment's SWAR kernel for it does; elsewhere
// (another architecture, the purego build tag, a CPU without AVX2) Available is false.
package avx2
