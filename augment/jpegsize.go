package augment

import "encoding/binary"

// jpegFrameSize reads a JPEG's size from its frame header (SOFn) by walking the marker
// segments, without decoding anything. TurboJPEG's header call parses the whole header (tables
// included) a second time when the decode that follows parses it again, a few microseconds of
// a 112×112 face's decode. Only well-formed segment sequences are walked: ok is false on
// anything else (bytes between segments, a scan before the frame, a truncated header, an empty
// frame), and the caller asks TurboJPEG, whose error then says what is wrong.
func jpegFrameSize(b []byte) (width, height int, ok bool) {
	if len(b) < 2 || b[0] != 0xff || b[1] != 0xd8 {
		return 0, 0, false
	}
	i := 2
	for {
		if i >= len(b) || b[i] != 0xff {
			return 0, 0, false
		}
		for i < len(b) && b[i] == 0xff { // fill bytes may precede a marker
			i++
		}
		if i >= len(b) {
			return 0, 0, false
		}
		marker := b[i]
		i++
		switch {
		case marker >= 0xd0 && marker <= 0xd7 || marker == 0x01:
			continue // RSTn and TEM carry no length
		case marker == 0x00 || marker == 0xd8 || marker == 0xd9 || marker == 0xda:
			return 0, 0, false // a stuffed byte, a second SOI, EOI or a scan before any frame
		}
		if i+2 > len(b) {
			return 0, 0, false
		}
		length := int(binary.BigEndian.Uint16(b[i:]))
		if length < 2 || i+length > len(b) {
			return 0, 0, false
		}
		if isFrameMarker(marker) {
			if length < 8 {
				return 0, 0, false
			}
			height = int(binary.BigEndian.Uint16(b[i+3:]))
			width = int(binary.BigEndian.Uint16(b[i+5:]))
			if width == 0 || height == 0 || b[i+7] == 0 { // no lines (a DNL marker) or no components
				return 0, 0, false
			}
			return width, height, true
		}
		i += length
	}
}

// isFrameMarker reports whether marker starts a frame header: SOF0-SOF15 but DHT (C4), JPG
// (C8) and DAC (CC).
func isFrameMarker(marker byte) bool {
	return marker >= 0xc0 && marker <= 0xcf && marker != 0xc4 && marker != 0xc8 && marker != 0xcc
}
