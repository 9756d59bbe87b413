//go:build !cgo || facestream_purego

package augment

// JPEGDecoder names the JPEG decoder this build uses.
const JPEGDecoder = "go"

// newJPEGDecoder returns nil: this build decodes JPEG with Go's image/jpeg, like the other formats.
func newJPEGDecoder() jpegDecoder { return nil }
