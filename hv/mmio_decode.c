/* MOV-to/from-memory decoder for MMIO exits (mmio_decode.h). Encodings:
 * Intel SDM Vol. 2, ch. 2 "Instruction Format" (prefixes, REX, ModR/M,
 * SIB, displacement), "MOV" and "MOVZX". */
#include "hv/mmio_decode.h"

static uint64_t size_mask(unsigned size)
{
    return size >= 8 ? ~0ull : (1ull << (8 * size)) - 1;
}

/* Bytes of ModR/M + SIB + displacement at code[0], or -1 (register form). */
static int modrm_len(const uint8_t *code, size_t n, unsigned asz)
{
    if (n < 1)
        return -2;
    unsigned mod = code[0] >> 6, rm = code[0] & 7u;
    if (mod == 3)
        return -1;
    if (asz == 16) {
        if (mod == 0)
            return rm == 6 ? 3 : 1;
        return mod == 1 ? 2 : 3;
    }
    int len = 1;
    if (rm == 4) { /* SIB */
        if (n < 2)
            return -2;
        len++;
        if (mod == 0 && (code[1] & 7u) == 5)
            return len + 4;
    } else if (mod == 0 && rm == 5) {
        return len + 4; /* disp32 (RIP-relative in 64-bit mode) */
    }
    return len + (mod == 1 ? 1 : mod == 2 ? 4 : 0);
}

int mmio_decode(const uint8_t *code, size_t n, enum mmio_cpu_mode mode, struct mmio_insn *out,
                const char **why)
{
    *out = (struct mmio_insn){0};
    *why = "";
    if (n > MMIO_INSN_MAX)
        n = MMIO_INSN_MAX;
    bool opsz = false, adsz = false;
    unsigned rex = 0;
    size_t i = 0;
    for (;; i++) {
        if (i >= n) {
            *why = "instruction bytes cut short";
            return -2;
        }
        uint8_t b = code[i];
        if (b == 0x66) {
            opsz = true;
        } else if (b == 0x67) {
            adsz = true;
        } else if (b == 0x26 || b == 0x2e || b == 0x36 || b == 0x3e || b == 0x64 || b == 0x65) {
            /* segment override: the exit gives the physical address */
        } else if (b == 0xf0 || b == 0xf2 || b == 0xf3) {
            *why = "LOCK/REP prefix on a device register access";
            return -1;
        } else if (mode == MMIO_MODE_64 && (b & 0xf0) == 0x40) {
            rex = b; /* takes effect only right before the opcode (below) */
            continue;
        } else {
            break;
        }
        rex = 0; /* a legacy prefix after a REX voids the REX */
    }
    unsigned osz, asz;
    if (mode == MMIO_MODE_64) {
        osz = (rex & 8u) ? 8 : opsz ? 2 : 4;
        asz = adsz ? 32 : 64;
    } else if (mode == MMIO_MODE_32) {
        osz = opsz ? 2 : 4;
        asz = adsz ? 16 : 32;
    } else {
        osz = opsz ? 4 : 2;
        asz = adsz ? 32 : 16;
    }
    unsigned op = code[i++];
    bool twobyte = false;
    if (op == 0x0f) {
        if (i >= n) {
            *why = "instruction bytes cut short";
            return -2;
        }
        op = code[i++];
        twobyte = true;
    }
    struct mmio_insn r = {0};
    bool has_modrm = true;
    unsigned imm_len = 0;
    if (!twobyte && (op == 0x88 || op == 0x89 || op == 0x8a || op == 0x8b)) {
        r.size = (op & 1u) ? (uint8_t)osz : 1;
        r.write = op <= 0x89;
        r.dsize = r.size;
    } else if (!twobyte && (op == 0xc6 || op == 0xc7)) {
        r.size = op == 0xc6 ? 1 : (uint8_t)osz;
        r.write = true;
        r.has_imm = true;
        imm_len = r.size == 8 ? 4 : r.size;
    } else if (!twobyte && op >= 0xa0 && op <= 0xa3) {
        r.size = (op & 1u) ? (uint8_t)osz : 1;
        r.write = op >= 0xa2;
        r.dsize = r.size;
        r.reg = 0; /* AL / eAX / rAX */
        has_modrm = false;
        imm_len = asz / 8; /* the moffs */
    } else if (twobyte && (op == 0xb6 || op == 0xb7)) {
        r.size = op == 0xb6 ? 1 : 2;
        r.dsize = (uint8_t)osz;
    } else {
        *why = "not a MOV between a register or immediate and memory";
        return -1;
    }
    if (has_modrm) {
        if (i >= n) {
            *why = "instruction bytes cut short";
            return -2;
        }
        uint8_t m = code[i];
        unsigned regf = (m >> 3) & 7u;
        int ml = modrm_len(code + i, n - i, asz);
        if (ml == -1) {
            *why = "register operand: no memory access";
            return -1;
        }
        if (ml < 0) {
            *why = "instruction bytes cut short";
            return -2;
        }
        if (r.has_imm && regf != 0) {
            *why = "C6/C7 with a reg field other than 0 (not MOV)";
            return -1;
        }
        r.reg = (uint8_t)(regf | ((rex & 4u) << 1));
        /* An 8-bit register operand without REX: 4-7 are AH, CH, DH, BH. */
        if (!r.has_imm && !twobyte && r.size == 1 && !rex && regf >= 4) {
            r.high8 = true;
            r.reg = (uint8_t)(regf - 4);
        }
        i += (size_t)ml;
    }
    if (i + imm_len > n) {
        *why = "instruction bytes cut short";
        return -2;
    }
    if (r.has_imm) {
        uint64_t v = 0;
        for (unsigned k = 0; k < imm_len; k++)
            v |= (uint64_t)code[i + k] << (8 * k);
        if (r.size == 8 && (v & 0x80000000ull))
            v |= 0xffffffff00000000ull; /* imm32 sign-extended to 64 bits */
        r.imm = v;
    }
    i += imm_len;
    r.len = (uint8_t)i;
    *out = r;
    return 0;
}

uint64_t mmio_store_value(const struct mmio_insn *in, uint64_t regval)
{
    if (in->has_imm)
        return in->imm & size_mask(in->size);
    if (in->high8)
        return (regval >> 8) & 0xff;
    return regval & size_mask(in->size);
}

uint64_t mmio_load_result(const struct mmio_insn *in, uint64_t oldreg, uint64_t val)
{
    uint64_t v = val & size_mask(in->size); /* MOVZX: zero-extended */
    switch (in->dsize) {
    case 1:
        if (in->high8)
            return (oldreg & ~0xff00ull) | (v << 8);
        return (oldreg & ~0xffull) | v;
    case 2: return (oldreg & ~0xffffull) | v;
    default: return v; /* 32-bit destinations zero-extend; 64-bit take all */
    }
}
