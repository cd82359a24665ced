/* MMIO instruction decoder (hv/mmio_decode.c): the encodings of Intel SDM
 * Vol. 2 ("Instruction Format", "MOV", "MOVZX"), with the byte sequences
 * gcc emits for Linux's readl/writel/readb and for x2APIC-less APIC code
 * (native_apic_mem_read/write), and the forms that must be refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "hv/mmio_decode.h"

struct want {
    uint8_t len, size, reg, dsize;
    bool write, has_imm, high8;
    uint64_t imm;
};

static void ok(enum mmio_cpu_mode mode, const uint8_t *code, size_t n, struct want w)
{
    struct mmio_insn in;
    const char *why = NULL;
    assert_int_equal(mmio_decode(code, n, mode, &in, &why), 0);
    assert_int_equal(in.len, w.len);
    assert_int_equal(in.size, w.size);
    assert_int_equal(in.write, w.write);
    assert_int_equal(in.has_imm, w.has_imm);
    assert_int_equal(in.high8, w.high8);
    if (!w.has_imm)
        assert_int_equal(in.reg, w.reg);
    if (!w.write)
        assert_int_equal(in.dsize, w.dsize);
    if (w.has_imm)
        assert_int_equal(in.imm, w.imm);
}

static void refused(enum mmio_cpu_mode mode, const uint8_t *code, size_t n, const char *reason)
{
    struct mmio_insn in;
    const char *why = NULL;
    int rc = mmio_decode(code, n, mode, &in, &why);
    assert_int_equal(rc, strstr(reason, "cut short") ? -2 : -1);
    assert_non_null(why);
    assert_non_null(strstr(why, reason));
}

#define OK64(w, ...)                                                                               \
    do {                                                                                           \
        static const uint8_t c_[] = {__VA_ARGS__};                                                 \
        ok(MMIO_MODE_64, c_, sizeof c_, w);                                                        \
    } while (0)
#define BAD(mode, reason, ...)                                                                     \
    do {                                                                                           \
        static const uint8_t c_[] = {__VA_ARGS__};                                                 \
        refused(mode, c_, sizeof c_, reason);                                                      \
    } while (0)

/* 64-bit loads and stores of 32-bit registers, the APIC accessors. */
static void test_mov_forms_64(void **st)
{
    (void)st;
    /* mov (%rdi),%eax */
    OK64(((struct want){.len = 2, .size = 4, .reg = 0, .dsize = 4}), 0x8b, 0x07);
    /* mov %esi,(%rdi) */
    OK64(((struct want){.len = 2, .size = 4, .reg = 6, .write = true}), 0x89, 0x37);
    /* mov 0xf0(%rdi),%eax: disp32 */
    OK64(((struct want){.len = 6, .size = 4, .reg = 0, .dsize = 4}), 0x8b, 0x87, 0xf0, 0, 0, 0);
    /* mov %r12d,0x10(%rax): REX.R, disp8 */
    OK64(((struct want){.len = 4, .size = 4, .reg = 12, .write = true}), 0x44, 0x89, 0x60, 0x10);
    /* mov 0xfee00020,%rax: SIB without base or index, disp32, REX.W */
    OK64(((struct want){.len = 8, .size = 8, .reg = 0, .dsize = 8}), 0x48, 0x8b, 0x04, 0x25, 0x20,
         0x00, 0xe0, 0xfe);
    /* mov %dx,(%rax) */
    OK64(((struct want){.len = 3, .size = 2, .reg = 2, .write = true}), 0x66, 0x89, 0x10);
    /* a REX followed by a legacy prefix is void: 48 66 89 07 is a 16-bit store */
    OK64(((struct want){.len = 4, .size = 2, .reg = 0, .write = true}), 0x48, 0x66, 0x89, 0x07);
    /* segment override ignored: mov %fs:(%rax),%ecx */
    OK64(((struct want){.len = 3, .size = 4, .reg = 1, .dsize = 4}), 0x64, 0x8b, 0x08);
    /* mov 0x8(%rsp),%eax: SIB with base RSP, disp8 */
    OK64(((struct want){.len = 4, .size = 4, .reg = 0, .dsize = 4}), 0x8b, 0x44, 0x24, 0x08);
    /* mov %eax,0x300(%rip) */
    OK64(((struct want){.len = 6, .size = 4, .reg = 0, .write = true}), 0x89, 0x05, 0x00, 0x03, 0,
         0);
}

/* Immediate stores: imm8/imm16/imm32, sign-extended for 64-bit stores. */
static void test_immediates(void **st)
{
    (void)st;
    /* movl $0x0,0x12345678(%rip) */
    OK64(((struct want){.len = 10, .size = 4, .write = true, .has_imm = true, .imm = 0}), 0xc7,
         0x05, 0x78, 0x56, 0x34, 0x12, 0, 0, 0, 0);
    /* movq $-1,(%rax) */
    OK64(((struct want){.len = 7, .size = 8, .write = true, .has_imm = true, .imm = ~0ull}), 0x48,
         0xc7, 0x00, 0xff, 0xff, 0xff, 0xff);
    /* movw $0x1234,(%rbx) */
    OK64(((struct want){.len = 5, .size = 2, .write = true, .has_imm = true, .imm = 0x1234}), 0x66,
         0xc7, 0x03, 0x34, 0x12);
    /* movb $0x5a,0x40(%rdi) */
    OK64(((struct want){.len = 4, .size = 1, .write = true, .has_imm = true, .imm = 0x5a}), 0xc6,
         0x47, 0x40, 0x5a);
    static const uint8_t c[] = {0x48, 0xc7, 0x00, 0xff, 0xff, 0xff, 0xff};
    struct mmio_insn in;
    const char *why;
    assert_int_equal(mmio_decode(c, sizeof c, MMIO_MODE_64, &in, &why), 0);
    assert_int_equal(mmio_store_value(&in, 0x42), ~0ull);
}

/* Byte registers: AH..BH without REX, SPL..DIL with one; MOVZX. */
static void test_byte_registers_and_movzx(void **st)
{
    (void)st;
    struct mmio_insn in;
    const char *why;
    /* mov %ah,(%rax) */
    OK64(((struct want){.len = 2, .size = 1, .reg = 0, .write = true, .high8 = true}), 0x88, 0x20);
    static const uint8_t st_ah[] = {0x88, 0x20};
    mmio_decode(st_ah, 2, MMIO_MODE_64, &in, &why);
    assert_int_equal(mmio_store_value(&in, 0x1234), 0x12);
    /* mov %sil,(%rax) */
    OK64(((struct want){.len = 3, .size = 1, .reg = 6, .write = true}), 0x40, 0x88, 0x30);
    /* mov (%rax),%bh */
    static const uint8_t ld_bh[] = {0x8a, 0x38};
    OK64(((struct want){.len = 2, .size = 1, .reg = 3, .dsize = 1, .high8 = true}), 0x8a, 0x38);
    mmio_decode(ld_bh, 2, MMIO_MODE_64, &in, &why);
    assert_int_equal(mmio_load_result(&in, 0x1111, 0xab), 0xab11);
    /* mov (%rdi),%al merges into RAX */
    static const uint8_t ld_al[] = {0x8a, 0x07};
    mmio_decode(ld_al, 2, MMIO_MODE_64, &in, &why);
    assert_int_equal(mmio_load_result(&in, 0xffffffffffffff00ull, 0x7f), 0xffffffffffffff7full);
    /* movzbl (%rdi),%eax: zero-extends through bit 63 */
    static const uint8_t zx[] = {0x0f, 0xb6, 0x07};
    OK64(((struct want){.len = 3, .size = 1, .reg = 0, .dsize = 4}), 0x0f, 0xb6, 0x07);
    mmio_decode(zx, 3, MMIO_MODE_64, &in, &why);
    assert_int_equal(mmio_load_result(&in, ~0ull, 0x1ff), 0xff);
    /* movzwl 0x2(%rdi),%eax */
    OK64(((struct want){.len = 4, .size = 2, .reg = 0, .dsize = 4}), 0x0f, 0xb7, 0x47, 0x02);
    /* 32-bit loads zero-extend, 16-bit ones merge */
    static const uint8_t l32[] = {0x8b, 0x07}, l16[] = {0x66, 0x8b, 0x07};
    mmio_decode(l32, 2, MMIO_MODE_64, &in, &why);
    assert_int_equal(mmio_load_result(&in, ~0ull, 0x12345678), 0x12345678);
    mmio_decode(l16, 3, MMIO_MODE_64, &in, &why);
    assert_int_equal(mmio_load_result(&in, ~0ull, 0x12345678), 0xffffffffffff5678ull);
}

/* moffs forms and the 16/32-bit modes (operand/address-size prefixes). */
static void test_moffs_and_modes(void **st)
{
    (void)st;
    static const uint8_t a1_32[] = {0xa1, 0x20, 0x00, 0xe0, 0xfe};
    ok(MMIO_MODE_32, a1_32, sizeof a1_32, (struct want){.len = 5, .size = 4, .reg = 0, .dsize = 4});
    static const uint8_t a3_64[] = {0xa3, 0xb0, 0x00, 0xe0, 0xfe, 0, 0, 0, 0};
    ok(MMIO_MODE_64, a3_64, sizeof a3_64, (struct want){.len = 9, .size = 4, .write = true});
    static const uint8_t a2_16[] = {0xa2, 0x00, 0x03};
    ok(MMIO_MODE_16, a2_16, sizeof a2_16, (struct want){.len = 3, .size = 1, .write = true});
    /* 16-bit code: mov 0x10(%bp),%ax (disp8), mov %cx,0x300 (disp16) */
    static const uint8_t m16a[] = {0x8b, 0x46, 0x10}, m16b[] = {0x89, 0x0e, 0x00, 0x03};
    ok(MMIO_MODE_16, m16a, 3, (struct want){.len = 3, .size = 2, .reg = 0, .dsize = 2});
    ok(MMIO_MODE_16, m16b, 4, (struct want){.len = 4, .size = 2, .reg = 1, .write = true});
    /* 16-bit code with 66 67: mov %eax,(%edi) */
    static const uint8_t m16c[] = {0x66, 0x67, 0x89, 0x07};
    ok(MMIO_MODE_16, m16c, 4, (struct want){.len = 4, .size = 4, .reg = 0, .write = true});
    /* 32-bit code with 67: 16-bit addressing, mov 0x1234(%bx,%si),%eax */
    static const uint8_t m32[] = {0x67, 0x8b, 0x80, 0x34, 0x12};
    ok(MMIO_MODE_32, m32, 5, (struct want){.len = 5, .size = 4, .reg = 0, .dsize = 4});
}

/* Refused, with the reason. */
static void test_refused(void **st)
{
    (void)st;
    BAD(MMIO_MODE_64, "LOCK/REP", 0xf3, 0xa5);         /* rep movsl */
    BAD(MMIO_MODE_64, "LOCK/REP", 0xf0, 0x89, 0x07);   /* lock mov */
    BAD(MMIO_MODE_64, "not a MOV", 0x01, 0x07);        /* add %eax,(%rdi) */
    BAD(MMIO_MODE_64, "not a MOV", 0x0f, 0xb1, 0x17);  /* cmpxchg */
    BAD(MMIO_MODE_64, "register operand", 0x89, 0xc0); /* mov %eax,%eax */
    BAD(MMIO_MODE_64, "reg field", 0xc7, 0x08, 0, 0, 0, 0);
    BAD(MMIO_MODE_64, "cut short", 0x8b);
    BAD(MMIO_MODE_64, "cut short", 0x8b, 0x87, 0xf0, 0x00);
    BAD(MMIO_MODE_64, "cut short", 0x66, 0x66);
    BAD(MMIO_MODE_64, "cut short", 0xc7, 0x07, 0x01, 0x02);
    BAD(MMIO_MODE_32, "not a MOV", 0x40, 0x89, 0x07); /* INC eax outside 64-bit mode */
    /* beyond 15 bytes */
    BAD(MMIO_MODE_64, "cut short", 0x3e, 0x3e, 0x3e, 0x3e, 0x3e, 0x3e, 0x3e, 0x3e, 0x3e, 0x3e, 0x3e,
        0x3e, 0x3e, 0x3e, 0x8b, 0x07);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mov_forms_64),
        cmocka_unit_test(test_immediates),
        cmocka_unit_test(test_byte_registers_and_movzx),
        cmocka_unit_test(test_moffs_and_modes),
        cmocka_unit_test(test_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
