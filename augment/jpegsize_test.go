package augment

import (
	"bytes"
	"image/jpeg"
	"testing"
)

// withSegment inserts raw bytes (segments, fill) right after a JPEG's SOI.
func withSegment(enc []byte, raw ...byte) []byte {
	return append(append(append([]byte{}, enc[:2]...), raw...), enc[2:]...)
}

func TestJPEGFrameSize(t *testing.T) {
	base := encodeJPEG(t, face(3, 130, 70), 90)
	sof := bytes.Index(base, []byte{0xff, 0xc0})
	progressive := append([]byte{}, base...)
	progressive[sof+1] = 0xc2
	noLines := append([]byte{}, base...)
	noLines[sof+5], noLines[sof+6] = 0, 0
	cases := []struct {
		name string
		in   []byte
		w, h int
		ok   bool
	}{
		{"baseline", base, 130, 70, true},
		// An EXIF-like APP1 whose payload holds a thumbnail's SOF0: skipped by its length.
		{"app1 holding a frame header", withSegment(base, 0xff, 0xe1, 0, 13, 0xff, 0xc0, 0, 11, 8, 0, 9, 0, 9, 3, 1), 130, 70, true},
		{"fill bytes", withSegment(base, 0xff, 0xff, 0xff, 0xfe, 0, 4, 'h', 'i'), 130, 70, true},
		{"progressive frame", progressive, 130, 70, true},
		{"bytes between segments", withSegment(base, 0x00), 0, 0, false},
		{"scan before the frame", withSegment(base, 0xff, 0xda, 0, 2), 0, 0, false},
		{"segment longer than the file", withSegment(base[:2], 0xff, 0xfe, 0xff, 0xf0), 0, 0, false},
		{"truncated frame header", base[:sof+6], 0, 0, false},
		{"no lines (DNL)", noLines, 0, 0, false},
		{"SOI alone", base[:2], 0, 0, false},
		{"empty", nil, 0, 0, false},
		{"png", encodePNG(t, face(1, 8, 8)), 0, 0, false},
	}
	for _, c := range cases {
		w, h, ok := jpegFrameSize(c.in)
		if w != c.w || h != c.h || ok != c.ok {
			t.Errorf("%s: jpegFrameSize = %dx%d %v, want %dx%d %v", c.name, w, h, ok, c.w, c.h, c.ok)
		}
	}
}

// FuzzJPEGFrameSize holds jpegFrameSize to the decoders' own reading of the header wherever both
// read one: Go's image/jpeg, and TurboJPEG's in builds that have it.
func FuzzJPEGFrameSize(f *testing.F) {
	f.Add(encodeJPEG(f, face(1, 24, 20), 80))
	f.Add(withSegment(encodeJPEG(f, face(2, 9, 31), 95), 0xff, 0xff, 0xff, 0xe0, 0, 2))
	f.Add(jpegWithSize(f, 60000, 60000))
	type headerReader interface {
		readHeader([]byte) (int, int, error)
	}
	dec := newJPEGDecoder()
	if dec != nil {
		f.Cleanup(dec.close)
	}
	lib, _ := dec.(headerReader)
	f.Fuzz(func(t *testing.T, data []byte) {
		w, h, ok := jpegFrameSize(data)
		if !ok {
			return
		}
		if w <= 0 || h <= 0 {
			t.Fatalf("ok with size %dx%d", w, h)
		}
		if cfg, err := jpeg.DecodeConfig(bytes.NewReader(data)); err == nil && (cfg.Width != w || cfg.Height != h) {
			t.Fatalf("jpegFrameSize %dx%d, image/jpeg %dx%d", w, h, cfg.Width, cfg.Height)
		}
		if lib == nil {
			return
		}
		if lw, lh, err := lib.readHeader(data); err == nil && (lw != w || lh != h) {
			t.Fatalf("jpegFrameSize %dx%d, TurboJPEG %dx%d", w, h, lw, lh)
		}
	})
}
