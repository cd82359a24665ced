/* Decoder for the instructions guests use on memory-mapped device
 * registers (issue 15 item 2: EPT violations on the local APIC / I/O APIC
 * pages). Only the MOV forms between a general register or an immediate
 * and memory are accepted (Intel SDM Vol. 2, "MOV", "MOVZX"):
 *   88 /r, 89 /r     MOV r/m, reg          (store)
 *   8A /r, 8B /r     MOV reg, r/m          (load)
 *   C6 /0 ib, C7 /0  MOV r/m, imm          (store)
 *   A0-A3            MOV AL/eAX <-> moffs  (load / store)
 *   0F B6, 0F B7     MOVZX reg, r/m8/16    (load)
 * with the 66/67, segment and REX prefixes. Anything else (a register
 * operand, LOCK/REP, another opcode, bytes cut short) is refused with a
 * reason, for a clear stop report. The effective address is not computed:
 * the exit gives the guest-physical address. Pure code, unit-tested on the
 * host (tests/test_mmio_decode.c). */
#ifndef HVRR_MMIO_DECODE_H
#define HVRR_MMIO_DECODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MMIO_INSN_MAX 15 /* the architectural instruction length limit */

enum mmio_cpu_mode {
    MMIO_MODE_16 = 16, /* real mode / 16-bit code segment */
    MMIO_MODE_32 = 32, /* 32-bit code segment (CS.D = 1) */
    MMIO_MODE_64 = 64, /* 64-bit code segment (CS.L = 1) */
};

struct mmio_insn {
    uint8_t len;   /* bytes, prefixes included */
    uint8_t size;  /* memory access: 1, 2, 4 or 8 bytes */
    bool write;    /* store to the device; else load */
    bool has_imm;  /* store of `imm` (else of / into register `reg`) */
    uint8_t reg;   /* general register, VMX order (RAX 0 ... R15 15) */
    bool high8;    /* AH, CH, DH, BH: bits 15:8 of register reg - 4 */
    uint8_t dsize; /* load: destination register width in bytes (MOVZX: wider than size) */
    uint64_t imm;  /* the stored value (imm32 sign-extended for 8-byte stores) */
};

/* Decodes code[0..n). Returns 0; -1 if refused, -2 if the bytes end before
 * the instruction does (both with *why set to a short reason). */
int mmio_decode(const uint8_t *code, size_t n, enum mmio_cpu_mode mode, struct mmio_insn *out,
                const char **why);

/* Store: the bytes written to the device, from the register value (or imm). */
uint64_t mmio_store_value(const struct mmio_insn *in, uint64_t regval);
/* Load: the register's new value after reading `val` (size bytes): 8/16-bit
 * destinations merge, 32-bit ones zero-extend, as the SDM says. */
uint64_t mmio_load_result(const struct mmio_insn *in, uint64_t oldreg, uint64_t val);

#endif
