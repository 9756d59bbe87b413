//go:build amd64 && !purego

#include "textflag.h"

// Both kernels weight bytes widened to 16-bit lanes by 8-bit weights summing to at most 256,
// add 128 and shift right by 8: the SWAR kernels' arithmetic, so the bytes are the same.

// func weightedRows(out *byte, n int, src *byte, offs *int, w *uint64, taps int)
TEXT ·weightedRows(SB), NOSPLIT, $0-48
	MOVQ out+0(FP), DI
	MOVQ n+8(FP), CX
	MOVQ src+16(FP), SI
	MOVQ offs+24(FP), R8
	MOVQ w+32(FP), R9
	MOVQ taps+40(FP), R10
	// Y15: 128 in every 16-bit lane.
	VPCMPEQW Y15, Y15, Y15
	VPSRLW   $15, Y15, Y15
	VPSLLW   $7, Y15, Y15
	XORQ     BX, BX

block:
	VMOVDQA Y15, Y0 // bytes 0-15 of the block
	VMOVDQA Y15, Y1 // bytes 16-31
	XORQ    DX, DX

tap:
	MOVQ         (R8)(DX*8), R11
	ADDQ         SI, R11
	VPMOVZXBW    (R11)(BX*1), Y2
	VPMOVZXBW    16(R11)(BX*1), Y3
	VPBROADCASTW (R9)(DX*8), Y4 // the low 16 bits of w[k]
	VPMULLW      Y4, Y2, Y2
	VPMULLW      Y4, Y3, Y3
	VPADDW       Y2, Y0, Y0
	VPADDW       Y3, Y1, Y1
	INCQ         DX
	CMPQ         DX, R10
	JLT          tap

	VPSRLW    $8, Y0, Y0
	VPSRLW    $8, Y1, Y1
	VPACKUSWB Y1, Y0, Y0     // qwords: bytes 0-7, 16-23, 8-15, 24-31
	VPERMQ    $0xd8, Y0, Y0  // back in order
	VMOVDQU   Y0, (DI)(BX*1)
	ADDQ      $32, BX
	CMPQ      BX, CX
	JLT       block
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
	VPCMPEQW Y15, Y15, Y15
	VPSRLW   $15, Y15, Y15
	VPSLLW   $7, Y15, Y15

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
	VPSRLW      $8, Y2, Y2
	VPACKUSWB   Y2, Y2, Y2    // each lane's eight bytes in its low qword
	VPERMQ      $0x08, Y2, Y2 // qwords 0 and 2 together
	VMOVDQU     X2, (R14)
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
