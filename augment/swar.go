package augment

// SWAR ("SIMD within a register") kernels: eight bytes are loaded as one uint64 and split into
// the even and the odd bytes, four 16-bit lanes each, so that one multiplication weights four
// samples. With 8-bit weights summing to 256, no lane can overflow: the weighted sum of values
// up to 255 is at most 255*256 + 128 (rounding) = 65408 < 65536.
//
// Horizontally, one 8-byte load holds two neighbouring RGB pixels, r0 g0 b0 r1 g1 b1: the even
// lanes hold r0 b0 g1 and the odd lanes g0 r1 b1, so shifting the odd lanes down one lane lines
// r1 up under r0 and b1 under b0, and shifting the even lanes down two lines g1 up under g0.
// Four multiplications then weight both pixels' three channels (resampleRow).

const (
	evenBytes = 0x00ff00ff00ff00ff
	laneHalf  = 0x0080008000800080 // 128 in every lane: rounding before the shift by 8
)
