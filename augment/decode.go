package augment

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"image/png"

	"golang.org/x/image/bmp"
	"golang.org/x/image/webp"
)

// MaxPixels is the largest image (width × height) any decoder here accepts: a decompression-bomb
// limit checked from the header before any pixel memory is allocated.
const MaxPixels = 50_000_000

// DefaultMaxPixels is what a Worker decodes at most (after TurboJPEG's scaled decode), unless told
// otherwise: 4096×4096, beyond any face photo. A 140 KB PNG can announce 7000×7000, which Go's
// decoders would hold at up to DecodeBytesPerPixel bytes a pixel.
const DefaultMaxPixels = 4096 * 4096

// DecodeBytesPerPixel bounds what decoding one image costs a worker per decoded pixel: Go's
// decoders' image (up to 4 bytes) and its packed RGB copy (3).
const DecodeBytesPerPixel = 7

// Format names DecodeConfig reports.
const (
	FormatJPEG = "jpeg"
	FormatPNG  = "png"
	FormatGIF  = "gif"
	FormatBMP  = "bmp"
	FormatWebP = "webp"
)

// ErrUnknownFormat is returned for bytes that are none of the accepted image formats.
var ErrUnknownFormat = errors.New("not a JPEG, PNG, GIF, BMP or WebP image")

// sniffFormat names the format from the magic bytes, without allocating.
func sniffFormat(b []byte) (string, error) {
	switch {
	case len(b) >= 3 && b[0] == 0xff && b[1] == 0xd8 && b[2] == 0xff:
		return FormatJPEG, nil
	case len(b) >= 8 && string(b[:8]) == "\x89PNG\r\n\x1a\n":
		return FormatPNG, nil
	case len(b) >= 6 && (string(b[:6]) == "GIF87a" || string(b[:6]) == "GIF89a"):
		return FormatGIF, nil
	case len(b) >= 2 && string(b[:2]) == "BM":
		return FormatBMP, nil
	case len(b) >= 12 && string(b[:4]) == "RIFF" && string(b[8:12]) == "WEBP":
		return FormatWebP, nil
	}
	return "", ErrUnknownFormat
}

// DecodeConfig reads only the header: the format and the size. It refuses images over MaxPixels.
func DecodeConfig(encoded []byte) (format string, width, height int, err error) {
	format, err = sniffFormat(encoded)
	if err != nil {
		return "", 0, 0, err
	}
	r := bytes.NewReader(encoded)
	var cfg image.Config
	switch format {
	case FormatJPEG:
		cfg, err = jpeg.DecodeConfig(r)
	case FormatPNG:
		cfg, err = png.DecodeConfig(r)
	case FormatGIF:
		cfg, err = gif.DecodeConfig(r)
	case FormatBMP:
		cfg, err = bmp.DecodeConfig(r)
	case FormatWebP:
		cfg, err = webp.DecodeConfig(r)
	}
	if err != nil {
		return format, 0, 0, fmt.Errorf("read %s header: %w", format, err)
	}
	if err := checkSize(cfg.Width, cfg.Height); err != nil {
		return format, 0, 0, fmt.Errorf("%s image: %w", format, err)
	}
	return format, cfg.Width, cfg.Height, nil
}

// checkSize refuses empty images and images over MaxPixels.
func checkSize(width, height int) error {
	if width <= 0 || height <= 0 {
		return fmt.Errorf("empty image (%dx%d)", width, height)
	}
	if int64(width)*int64(height) > MaxPixels {
		return fmt.Errorf("%dx%d is over the limit of %d pixels", width, height, MaxPixels)
	}
	return nil
}

// DecodeImage decodes a whole image with Go's decoders, after checking its header against MaxPixels.
// Animated GIFs give their first frame.
func DecodeImage(encoded []byte) (image.Image, error) {
	format, _, _, err := DecodeConfig(encoded)
	if err != nil {
		return nil, err
	}
	r := bytes.NewReader(encoded)
	var img image.Image
	switch format {
	case FormatJPEG:
		img, err = jpeg.Decode(r)
	case FormatPNG:
		img, err = png.Decode(r)
	case FormatGIF:
		img, err = gif.Decode(r)
	case FormatBMP:
		img, err = bmp.Decode(r)
	case FormatWebP:
		img, err = webp.Decode(r)
	}
	if err != nil {
		return nil, fmt.Errorf("decode %s: %w", format, err)
	}
	if b := img.Bounds(); checkSize(b.Dx(), b.Dy()) != nil {
		return nil, fmt.Errorf("decode %s: decoded size %dx%d disagrees with the header or the limit", format, b.Dx(), b.Dy())
	}
	return img, nil
}

// toRGB writes img as packed RGB into buf (grown when too small) and returns the filled slice.
// Alpha is composited over black; grayscale becomes three equal channels.
func toRGB(img image.Image, buf []byte) []byte {
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	buf = grow(buf, w*h*3)
	switch m := img.(type) {
	case *image.YCbCr:
		for y := range h {
			row := buf[y*w*3 : (y+1)*w*3]
			for x := range w {
				yi := m.YOffset(b.Min.X+x, b.Min.Y+y)
				ci := m.COffset(b.Min.X+x, b.Min.Y+y)
				row[3*x], row[3*x+1], row[3*x+2] = color.YCbCrToRGB(m.Y[yi], m.Cb[ci], m.Cr[ci])
			}
		}
	case *image.Gray:
		for y := range h {
			src := m.Pix[y*m.Stride : y*m.Stride+w]
			row := buf[y*w*3 : (y+1)*w*3]
			for x, v := range src {
				row[3*x], row[3*x+1], row[3*x+2] = v, v, v
			}
		}
	case *image.RGBA:
		for y := range h {
			src := m.Pix[y*m.Stride : y*m.Stride+4*w]
			row := buf[y*w*3 : (y+1)*w*3]
			for x := range w {
				row[3*x], row[3*x+1], row[3*x+2] = src[4*x], src[4*x+1], src[4*x+2]
			}
		}
	default:
		// NRGBA, paletted, CMYK, 16-bit: rare enough that the generic colour model is fine.
		i := 0
		for y := b.Min.Y; y < b.Max.Y; y++ {
			for x := b.Min.X; x < b.Max.X; x++ {
				r, g, bl, _ := img.At(x, y).RGBA()
				buf[i], buf[i+1], buf[i+2] = uint8(r>>8), uint8(g>>8), uint8(bl>>8)
				i += 3
			}
		}
	}
	return buf
}

// grow returns buf resliced to n bytes, reallocating only when its capacity is too small.
func grow(buf []byte, n int) []byte {
	if cap(buf) < n {
		return make([]byte, n)
	}
	return buf[:n]
}

// jpegDecoder decodes JPEG into packed RGB in caller memory, optionally scaled by 1/denom
// (denom 1, 2, 4 or 8); decode returns the filled buffer and its size.
type jpegDecoder interface {
	header(encoded []byte) (width, height int, err error)
	decode(encoded []byte, width, height, denom int, buf []byte) (rgb []byte, w, h int, err error)
	close()
}
