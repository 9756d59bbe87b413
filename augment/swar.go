package augment

import "encoding/binary"

// SWAR ("SIMD within a register") kernels: eight bytes are loaded as one uint64 and split into
// the even and the odd bytes, four 16-bit lanes each, so that one multiplication weights four
// samples. With 8-bit weights summing to 256, no lane can overflow: the weighted sum of values
// up to 255 is at most 255*256 + 128 (rounding) = 65408 < 65536.
//
// Horizontally, one 8-byte load holds two neighbouring RGB pixels, r0 g0 b0 r1 g1 b1, and a
// multiplication does the blending: with r0 b0 r1 b1 spread to the 16-bit lanes at bits 0, 16,
// 32, 48, multiplying by wb + wa<<32 adds the lanes shifted up by two, so the lane at bit 32
// holds r0*wa + r1*wb and the lane at bit 48 b0*wa + b1*wb (the low lanes hold leftovers, which
// cannot carry). Green goes the same way from g0 at bit 0 and g1 at bit 32 (blendPair).

const (
	evenBytes = 0x00ff00ff00ff00ff
	laneHalf  = 0x0080008000800080 // 128 in every lane: rounding before the shift by 8
)

// Rounding constants of blendPair's result lanes.
const (
	pairHalfRB = 0x0080008000000000
	pairHalfG  = 0x0000008000000000
)

// blendPair weights the two RGB pixels in the low six bytes of x by wa and wb (wa + wb <= 256),
// given as weights = wb | wa<<32, and returns red and blue in the lanes at bits 32 and 48 of rb,
// green at bit 32 of g, all times 256. Sums of pairs add up to a wider kernel; pairPixel packs
// them once rounded.
func blendPair(x, weights uint64) (rb, g uint64) {
	rbLanes := x&0x0000_0000_00ff_00ff | x<<8&0x00ff_00ff_0000_0000 // r0, b0, r1, b1
	gLanes := x>>8&0xff | x&0xff_0000_0000                          // g0, g1
	return rbLanes * weights, gLanes * weights
}

// pairPixel packs blendPair sums (already rounded) into the low three bytes: r, g, b.
func pairPixel(rb, g uint64) uint32 {
	return uint32(rb>>40&0x00ff00ff | g>>32&0xff00)
}

// blendTwoTap blends the two RGB pixels at px[0:3] and px[3:6] by wa and wb, given as
// weights = wb | wa<<32 (wa + wb = 256), and returns the rounded pixel in the low three bytes.
// With the pixels loaded as r0 g0 b0 . r1 g1 b1 . (two overlapping 4-byte loads), the even
// bytes are r0 b0 r1 b1 and the odd ones g0 . g1 .: as in blendPair, multiplying by weights
// leaves red and blue in the lanes at bits 32 and 48 and green at bit 32. The fourth byte of
// the result holds a leftover, which keeps the compiler from splitting a 4-byte store of it.
func blendTwoTap(px *[7]byte, weights uint64) uint32 {
	x := uint64(binary.LittleEndian.Uint32(px[0:4])) | uint64(binary.LittleEndian.Uint32(px[3:7]))<<32
	rb := (x&evenBytes)*weights + pairHalfRB
	g := (x>>8&evenBytes)*weights + pairHalfRB
	return uint32(rb>>40)&0x00ff00ff | uint32(g>>32)&0xff00ff00
}
