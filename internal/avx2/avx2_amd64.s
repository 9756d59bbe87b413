//go:build amd64 && !purego

#include "textflag.h"

// The resampling kernels weight bytes widened to 16-bit lanes by 8-bit weights summing to at
// most 256, add 128 and shift right by 8: the SWAR kernels' arithmetic, so the bytes are the same.

// HALF_WORDS sets every 16-bit lane of y to 128, the rounding term.
#define HALF_WORDS(y) VPCMPEQW y, y, y; VPSRLW $15, y, y; VPSLLW $7, y, y

// SPREAD loads the eight packed RGB pixels at DI (24 bytes; lane 0 gets bytes 0-15, lane 1
// bytes 8-23) into Y0 and spreads their red, green and blue to the 32-bit lanes of Y1, Y2, Y3.
#define SPREAD VMOVDQU (DI), X0; VINSERTI128 $1, 8(DI), Y0, Y0; VPSHUFB satConst<>+0(SB), Y0, Y1; VPSHUFB satConst<>+32(SB), Y0, Y2; VPSHUFB satConst<>+64(SB), Y0, Y3

// STORE24 packs the eight 0x00BBGGRR lanes of y back to 24 bytes at DI (Y10: the VPERMD order).
#define STORE24(y, x) VPSHUFB satConst<>+96(SB), y, y; VPERMD y, Y10, y; VMOVDQU x, (DI); VEXTRACTI128 $1, y, x; MOVQ x, 16(DI)

// STORE16 shifts the sixteen rounded 16-bit sums of y (eight a 128-bit lane) right by 8 and
// stores them as bytes at dst, lane 0's first.
#define STORE16(y, x, dst) VPSRLW $8, y, y; VPACKUSWB y, y, y; VPERMQ $0x08, y, y; VMOVDQU x, dst

// The weighted-rows kernels weight the even and odd bytes of a 32-byte block apart, widened in
// place by a mask (Y14: 0x00ff in every 16-bit lane) and a shift, and put each result byte
// back where it came from: none of the byte shuffles, widening loads or packs of port 5, which
// they would saturate. ROWS_INIT sets Y14 and the rounding term Y15; BLOCK_INIT starts a
// block's sums (Y0 even, Y1 odd); BLOCK_TAP adds the 32 bytes at src times the 16-bit weight at
// w; BLOCK_STORE writes the block's bytes to dst.
#define ROWS_INIT HALF_WORDS(Y15); VPCMPEQW Y14, Y14, Y14; VPSRLW $8, Y14, Y14
#define BLOCK_INIT VMOVDQA Y15, Y0; VMOVDQA Y15, Y1
#define BLOCK_TAP(src, w) VMOVDQU src, Y2; VPBROADCASTW w, Y4; VPAND Y14, Y2, Y3; VPSRLW $8, Y2, Y2; VPMULLW Y4, Y3, Y3; VPMULLW Y4, Y2, Y2; VPADDW Y3, Y0, Y0; VPADDW Y2, Y1, Y1
#define BLOCK_STORE(dst) VPSRLW $8, Y0, Y0; VPANDN Y1, Y14, Y1; VPOR Y1, Y0, Y0; VMOVDQU Y0, dst

// BROADCAST_D sets every 32-bit lane of y to the 32-bit argument arg, through AX and x.
#define BROADCAST_D(arg, x, y) MOVL arg, AX; VMOVD AX, x; VPBROADCASTD x, y

// func weightedRows(out *byte, n int, src *byte, offs *int, w *uint64, taps int)
TEXT ·weightedRows(SB), NOSPLIT, $0-48
	MOVQ out+0(FP), DI
	MOVQ n+8(FP), CX
	MOVQ src+16(FP), SI
	MOVQ offs+24(FP), R8
	MOVQ w+32(FP), R9
	MOVQ taps+40(FP), R10
	ROWS_INIT
	XORQ BX, BX

block:
	BLOCK_INIT
	XORQ DX, DX

tap:
	MOVQ (R8)(DX*8), R11
	ADDQ SI, R11
	BLOCK_TAP((R11)(BX*1), (R9)(DX*8)) // the low 16 bits of w[k]
	INCQ DX
	CMPQ DX, R10
	JLT  tap

	BLOCK_STORE((DI)(BX*1))
	ADDQ $32, BX
	CMPQ BX, CX
	JLT  block
	VZEROUPPER
	RET

// func verticalRows(out *byte, outStride int, src *byte, srcStride int, rows int, offs *int, counts *int32, w *uint64, wStride int, n int)
// weightedRows for a whole pass, whose taps are consecutive rows: one call instead of one a row.
// The last block of a row starts at n-32, overlapping the one before when n is not a multiple
// of 32 (it rewrites bytes with the values they have).
TEXT ·verticalRows(SB), NOSPLIT, $0-80
	MOVQ out+0(FP), DI
	MOVQ outStride+8(FP), R12
	MOVQ src+16(FP), SI
	MOVQ srcStride+24(FP), R11
	MOVQ rows+32(FP), R13
	MOVQ offs+40(FP), R8
	MOVQ counts+48(FP), R9
	MOVQ w+56(FP), R10
	MOVQ wStride+64(FP), R14
	SHLQ $3, R14             // bytes between two rows' weights
	MOVQ n+72(FP), R15
	SUBQ $32, R15            // the last block's start
	ROWS_INIT

row:
	XORQ BX, BX

block:
	MOVQ    BX, AX
	CMPQ    AX, R15
	CMOVQGT R15, AX // the block's start, at most n-32
	BLOCK_INIT
	MOVQ    (R8), DX
	ADDQ    SI, DX
	ADDQ    AX, DX  // the block in the row's first tap
	XORQ    CX, CX

tap:
	BLOCK_TAP((DX), (R10)(CX*8))
	ADDQ R11, DX
	INCQ CX
	CMPL CX, (R9)
	JLT  tap

	BLOCK_STORE((DI)(AX*1))
	ADDQ $32, BX
	CMPQ AX, R15
	JLT  block

	ADDQ R12, DI
	ADDQ $8, R8
	ADDQ $4, R9
	ADDQ R14, R10
	DECQ R13
	JNZ  row
	VZEROUPPER
	RET

// func twoTapSteps(out *byte, outStride int, src *byte, srcStride int, rows int, base *int32, table *byte, steps int)
// Column by column: a step's table stays in Y8-Y11 while it runs down every row.
TEXT ·twoTapSteps(SB), NOSPLIT, $0-64
	MOVQ out+0(FP), DI
	MOVQ outStride+8(FP), R12
	MOVQ src+16(FP), SI
	MOVQ srcStride+24(FP), R11
	MOVQ rows+32(FP), R10
	MOVQ base+40(FP), R8
	MOVQ table+48(FP), R9
	MOVQ steps+56(FP), CX
	HALF_WORDS(Y15)

step:
	MOVLQSX (R8), AX
	MOVLQSX 4(R8), DX
	ADDQ    SI, AX      // the two groups' windows in row 0
	ADDQ    SI, DX
	VMOVDQU (R9), Y8    // left-tap shuffle, one control per 128-bit lane
	VMOVDQU 32(R9), Y9  // right-tap shuffle
	VMOVDQU 64(R9), Y10 // left weights
	VMOVDQU 96(R9), Y11 // right weights
	MOVQ    DI, R14
	MOVQ    R10, BX

row:
	VMOVDQU     (AX), X1
	VINSERTI128 $1, (DX), Y1, Y1
	VPSHUFB     Y8, Y1, Y2    // left taps, widened to 16 bits
	VPSHUFB     Y9, Y1, Y3    // right taps
	VPMULLW     Y10, Y2, Y2
	VPMULLW     Y11, Y3, Y3
	VPADDW      Y3, Y2, Y2
	VPADDW      Y15, Y2, Y2
	STORE16(Y2, X2, (R14))
	ADDQ        R11, AX
	ADDQ        R11, DX
	ADDQ        R12, R14
	DECQ        BX
	JNZ         row

	ADDQ $16, DI
	ADDQ $8, R8
	ADDQ $128, R9
	DECQ CX
	JNZ  step
	VZEROUPPER
	RET

// func tapSteps(out *byte, outStride int, src *byte, srcStride int, rows int, base *int32, table *byte, steps int, pairs int)
// Column by column: a step's two shuffles stay in Y8 and Y9 while it runs down every row; each
// pair of taps reads the step's two windows 6 bytes further on than the pair before.
TEXT ·tapSteps(SB), NOSPLIT, $0-72
	MOVQ   out+0(FP), DI
	MOVQ   outStride+8(FP), R12
	MOVQ   srcStride+24(FP), R11
	MOVQ   base+40(FP), R8
	MOVQ   table+48(FP), R9
	MOVQ   steps+56(FP), CX
	MOVQ   pairs+64(FP), BX
	IMUL3Q $6, BX, BX // the windows' offset after the last pair
	HALF_WORDS(Y15)

step:
	MOVQ    src+16(FP), SI
	MOVLQSX (R8), AX
	MOVLQSX 4(R8), DX
	ADDQ    SI, AX      // the two groups' windows in row 0
	ADDQ    SI, DX
	VMOVDQU (R9), Y8    // the even taps' byte shuffle, one control per 128-bit lane
	VMOVDQU 32(R9), Y9  // the odd taps'
	MOVQ    DI, R14
	MOVQ    rows+32(FP), R13

row:
	VMOVDQA Y15, Y0
	XORQ    SI, SI      // 6 * the pair
	LEAQ    64(R9), R10 // the pair's weights

pair:
	VMOVDQU     (AX)(SI*1), X1
	VINSERTI128 $1, (DX)(SI*1), Y1, Y1
	VPSHUFB     Y8, Y1, Y2    // the even tap's bytes, widened to 16 bits
	VPSHUFB     Y9, Y1, Y3    // the odd tap's
	VPMULLW     (R10), Y2, Y2
	VPMULLW     32(R10), Y3, Y3
	VPADDW      Y2, Y0, Y0
	VPADDW      Y3, Y0, Y0
	ADDQ        $64, R10
	ADDQ        $6, SI
	CMPQ        SI, BX
	JLT         pair

	STORE16(Y0, X0, (R14))
	ADDQ      R11, AX
	ADDQ      R11, DX
	ADDQ      R12, R14
	DECQ      R13
	JNZ       row

	MOVQ R10, R9 // past the last pair's weights: the next step's table
	ADDQ $16, DI
	ADDQ $8, R8
	DECQ CX
	JNZ  step
	VZEROUPPER
	RET

// The colour kernel's constants: byte shuffles that spread eight packed RGB pixels' red, green
// and blue to 32-bit lanes (lane 0 holds bytes 0-15 of the block, lane 1 bytes 8-23), the
// shuffle that packs four 0x00BBGGRR lanes back to 12 bytes per 128-bit lane, and the VPERMD
// order that joins the two halves.
DATA satConst<>+0(SB)/8, $0x8080800380808000
DATA satConst<>+8(SB)/8, $0x8080800980808006
DATA satConst<>+16(SB)/8, $0x8080800780808004
DATA satConst<>+24(SB)/8, $0x8080800d8080800a
DATA satConst<>+32(SB)/8, $0x8080800480808001
DATA satConst<>+40(SB)/8, $0x8080800a80808007
DATA satConst<>+48(SB)/8, $0x8080800880808005
DATA satConst<>+56(SB)/8, $0x8080800e8080800b
DATA satConst<>+64(SB)/8, $0x8080800580808002
DATA satConst<>+72(SB)/8, $0x8080800b80808008
DATA satConst<>+80(SB)/8, $0x8080800980808006
DATA satConst<>+88(SB)/8, $0x8080800f8080800c
DATA satConst<>+96(SB)/8, $0x0908060504020100
DATA satConst<>+104(SB)/8, $0x808080800e0d0c0a
DATA satConst<>+112(SB)/8, $0x0908060504020100
DATA satConst<>+120(SB)/8, $0x808080800e0d0c0a
DATA satConst<>+128(SB)/8, $0x0000000100000000
DATA satConst<>+136(SB)/8, $0x0000000400000002
DATA satConst<>+144(SB)/8, $0x0000000600000005
DATA satConst<>+152(SB)/8, $0x0000000700000003
GLOBL satConst<>(SB), RODATA|NOPTR, $160

// func saturate(img *byte, blocks int, lut *uint32, sat2 int32, keep int32, round int32, top uint32) int
TEXT ·saturate(SB), NOSPLIT, $0-48
	MOVQ         img+0(FP), DI
	MOVQ         blocks+8(FP), CX
	MOVQ         lut+16(FP), R8
	BROADCAST_D(sat2+24(FP), X12, Y12)
	BROADCAST_D(round+32(FP), X13, Y13)
	BROADCAST_D(keep+28(FP), X14, Y14)
	BROADCAST_D(top+36(FP), X15, Y15)
	VMOVDQU      satConst<>+128(SB), Y10
	XORQ         AX, AX

block:
	SPREAD                                // red, green, blue bytes as lut indices
	VPCMPEQD    Y7, Y7, Y7
	VPGATHERDD  Y7, (R8)(Y1*4), Y4        // r = lut[red]
	VPCMPEQD    Y7, Y7, Y7
	VPGATHERDD  Y7, (R8)(Y2*4), Y5        // g
	VPCMPEQD    Y7, Y7, Y7
	VPGATHERDD  Y7, (R8)(Y3*4), Y6        // b
	VPMAXUD     Y5, Y4, Y1
	VPMAXUD     Y6, Y1, Y1
	VPMINUD     Y5, Y4, Y2
	VPMINUD     Y6, Y2, Y2
	VPADDD      Y2, Y1, Y1                // twice the lightness
	VPMULLD     Y14, Y1, Y1
	VPADDD      Y13, Y1, Y1               // keep*l2 + round
	VPMULLD     Y12, Y4, Y4
	VPADDD      Y1, Y4, Y4
	VPMULLD     Y12, Y5, Y5
	VPADDD      Y1, Y5, Y5
	VPMULLD     Y12, Y6, Y6
	VPADDD      Y1, Y6, Y6

	// Clipped unless y - round <= top (unsigned) in every lane: max(y - round, top) == top.
	VPSUBD    Y13, Y4, Y1
	VPMAXUD   Y15, Y1, Y1
	VPCMPEQD  Y15, Y1, Y1
	VPSUBD    Y13, Y5, Y2
	VPMAXUD   Y15, Y2, Y2
	VPCMPEQD  Y15, Y2, Y2
	VPSUBD    Y13, Y6, Y3
	VPMAXUD   Y15, Y3, Y3
	VPCMPEQD  Y15, Y3, Y3
	VPAND     Y2, Y1, Y1
	VPAND     Y3, Y1, Y1
	VPMOVMSKB Y1, DX
	CMPL      DX, $0xffffffff
	JNE       done

	VPSRLD       $21, Y4, Y4
	VPSRLD       $21, Y5, Y5
	VPSRLD       $21, Y6, Y6
	VPSLLD       $8, Y5, Y5
	VPSLLD       $16, Y6, Y6
	VPOR         Y5, Y4, Y4
	VPOR         Y6, Y4, Y4                // 0x00BBGGRR per lane
	STORE24(Y4, X4)
	ADDQ         $24, DI
	INCQ         AX
	CMPQ         AX, CX
	JLT          block

done:
	VZEROUPPER
	MOVQ AX, ret+40(FP)
	RET

// func grayscale(img *byte, blocks int, lumaR, lumaG, lumaB int32)
// Each pixel becomes y, y, y with y = (lumaR*r + lumaG*g + lumaB*b + 1<<15) >> 16.
TEXT ·grayscale(SB), NOSPLIT, $0-28
	MOVQ        img+0(FP), DI
	MOVQ        blocks+8(FP), CX
	BROADCAST_D(lumaR+16(FP), X12, Y12)
	BROADCAST_D(lumaG+20(FP), X13, Y13)
	BROADCAST_D(lumaB+24(FP), X14, Y14)
	MOVL        $0x8000, AX
	VMOVD       AX, X15
	VPBROADCASTD X15, Y15
	VMOVDQU     satConst<>+128(SB), Y10

gray:
	SPREAD
	VPMULLD Y12, Y1, Y1
	VPMULLD Y13, Y2, Y2
	VPMULLD Y14, Y3, Y3
	VPADDD  Y2, Y1, Y1
	VPADDD  Y3, Y1, Y1
	VPADDD  Y15, Y1, Y1
	VPSRLD  $16, Y1, Y1 // the luma
	VPSLLD  $8, Y1, Y2
	VPSLLD  $16, Y1, Y3
	VPOR    Y2, Y1, Y1
	VPOR    Y3, Y1, Y1
	STORE24(Y1, X1)
	ADDQ    $24, DI
	DECQ    CX
	JNZ     gray
	VZEROUPPER
	RET

// func dots2x4(q0, q1, c *float32, d int, out *[8]float32)
// Eight accumulators, one per (query, centre) pair, each eight float32 lanes wide.
TEXT ·dots2x4(SB), NOSPLIT, $0-40
	MOVQ q0+0(FP), SI
	MOVQ q1+8(FP), DI
	MOVQ c+16(FP), R8
	MOVQ d+24(FP), CX
	MOVQ out+32(FP), R9
	SHLQ $2, CX              // a row in bytes
	LEAQ (R8)(CX*1), R11     // centre rows 1, 2, 3
	LEAQ (R11)(CX*1), R12
	LEAQ (R12)(CX*1), R13
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	VXORPS Y4, Y4, Y4
	VXORPS Y5, Y5, Y5
	VXORPS Y6, Y6, Y6
	VXORPS Y7, Y7, Y7
	XORQ   AX, AX

dot:
	VMOVUPS     (SI)(AX*1), Y8
	VMOVUPS     (DI)(AX*1), Y9
	VMOVUPS     (R8)(AX*1), Y10
	VFMADD231PS Y10, Y8, Y0
	VFMADD231PS Y10, Y9, Y4
	VMOVUPS     (R11)(AX*1), Y10
	VFMADD231PS Y10, Y8, Y1
	VFMADD231PS Y10, Y9, Y5
	VMOVUPS     (R12)(AX*1), Y10
	VFMADD231PS Y10, Y8, Y2
	VFMADD231PS Y10, Y9, Y6
	VMOVUPS     (R13)(AX*1), Y10
	VFMADD231PS Y10, Y8, Y3
	VFMADD231PS Y10, Y9, Y7
	ADDQ        $32, AX
	CMPQ        AX, CX
	JLT         dot

	// Sum each accumulator's lanes: two pairwise adds leave, per 128-bit lane, one partial sum
	// per centre; adding the two halves gives the four dot products in order.
	VHADDPS      Y1, Y0, Y0
	VHADDPS      Y3, Y2, Y2
	VHADDPS      Y2, Y0, Y0
	VEXTRACTF128 $1, Y0, X1
	VADDPS       X1, X0, X0
	VMOVUPS      X0, (R9)
	VHADDPS      Y5, Y4, Y4
	VHADDPS      Y7, Y6, Y6
	VHADDPS      Y6, Y4, Y4
	VEXTRACTF128 $1, Y4, X5
	VADDPS       X5, X4, X4
	VMOVUPS      X4, 16(R9)
	VZEROUPPER
	RET
