package augment

import "encoding/binary"

// SWAR ("SIMD within a register") kernels: eight bytes are loaded as one uint64 and split into
// the even and the odd bytes, four 16-bit lanes each, so that one multiplication weights four
// samples. With 8-bit weights summing to 256, no lane can overflow: the weighted sum of values
// up to 255 is at most 255*256 + 128 (rounding) = 65408 < 65536.

const (
	evenBytes = 0x00ff00ff00ff00ff
	laneHalf  = 0x0080008000800080 // 128 in every lane: rounding before the shift by 8
)

// q8 converts a Q14 weight to the 8-bit weights of the SWAR kernels.
func q8(w int32) uint64 { return uint64((w + 1<<5) >> 6) }

// blend2 returns the lane-wise (wa*x + wb*y + 128) >> 8 of the eight bytes in x and y (wa + wb = 256).
func blend2(x, y, wa, wb uint64) uint64 {
	even := (x&evenBytes)*wa + (y&evenBytes)*wb + laneHalf
	odd := (x>>8&evenBytes)*wa + (y>>8&evenBytes)*wb + laneHalf
	return even>>8&evenBytes | odd&^evenBytes
}

// blendBytes writes out[i] = round((wa*a[i] + wb*b[i]) / 256), eight bytes per step.
func blendBytes(out, a, b []byte, wa, wb uint64) {
	n := len(out)
	a, b = a[:n], b[:n]
	i := 0
	for ; i+8 <= n; i += 8 {
		v := blend2(binary.LittleEndian.Uint64(a[i:]), binary.LittleEndian.Uint64(b[i:]), wa, wb)
		binary.LittleEndian.PutUint64(out[i:], v)
	}
	for ; i < n; i++ {
		out[i] = uint8((wa*uint64(a[i]) + wb*uint64(b[i]) + 128) >> 8)
	}
}
