/* GDT, TSS and IDT of the hypervisor, and the exception report. The hv runs
 * with interrupts disabled, so the IDT only catches exceptions (a bug in the
 * hv): each prints a full register report and ends the run. */
#include "hv/cpu.h"
#include "hv/arch.h"
#include "hv/lib.h"

struct tss64 {
    uint32_t rsvd0;
    uint64_t rsp[3];
    uint64_t rsvd1;
    uint64_t ist[7];
    uint64_t rsvd2;
    uint16_t rsvd3;
    uint16_t iomap_base;
} __attribute__((packed));

struct idt_gate {
    uint16_t off_lo, sel;
    uint8_t ist, type;
    uint16_t off_mid;
    uint32_t off_hi, rsvd;
} __attribute__((packed));

static uint64_t gdt[5] __attribute__((aligned(16)));
static struct tss64 tss __attribute__((aligned(16)));
static struct idt_gate idt[32] __attribute__((aligned(16)));
static uint8_t df_stack[8192] __attribute__((aligned(16)));
extern const uint64_t isr_table[32];

void cpu_tables_init(void)
{
    gdt[0] = 0;
    gdt[1] = 0x00af9a000000ffffull; /* 64-bit code */
    gdt[2] = 0x00cf92000000ffffull; /* data */
    uint64_t base = (uint64_t)&tss, limit = sizeof tss - 1;
    gdt[3] = (limit & 0xffff) | ((base & 0xffffff) << 16) | (0x89ull << 40) |
             (((limit >> 16) & 0xf) << 48) | (((base >> 24) & 0xff) << 56);
    gdt[4] = base >> 32;
    tss.ist[0] = (uint64_t)df_stack + sizeof df_stack;
    tss.iomap_base = sizeof tss;

    struct desc_ptr g = {sizeof gdt - 1, (uint64_t)gdt};
    __asm__ volatile("lgdt %0\n\t"
                     "pushq %1\n\t"
                     "leaq 1f(%%rip), %%rax\n\t"
                     "pushq %%rax\n\t"
                     "lretq\n"
                     "1:\n\t"
                     "movw %w2, %%ds\n\t"
                     "movw %w2, %%es\n\t"
                     "movw %w2, %%ss\n\t"
                     "ltr %w3"
                     :
                     : "m"(g), "i"((uint64_t)SEL_CODE), "r"(SEL_DATA), "r"(SEL_TSS)
                     : "rax", "memory");

    for (int v = 0; v < 32; v++) {
        uint64_t h = isr_table[v];
        idt[v] = (struct idt_gate){
            .off_lo = (uint16_t)h,
            .sel = SEL_CODE,
            .ist = (v == 8 || v == 2 || v == 18) ? 1 : 0,
            .type = 0x8e,
            .off_mid = (uint16_t)(h >> 16),
            .off_hi = (uint32_t)(h >> 32),
        };
    }
    struct desc_ptr i = {sizeof idt - 1, (uint64_t)idt};
    __asm__ volatile("lidt %0" : : "m"(i));
}

uint64_t cpu_gdt_base(void)
{
    return (uint64_t)gdt;
}
uint64_t cpu_idt_base(void)
{
    return (uint64_t)idt;
}
uint64_t cpu_tss_base(void)
{
    return (uint64_t)&tss;
}

struct exc_frame {
    uint64_t r15, r14, r13, r12, r11, r10, r9, r8, rbp, rdi, rsi, rdx, rcx, rbx, rax;
    uint64_t vector, error;
    uint64_t rip, cs, rflags, rsp, ss;
};

static const char *const exc_names[32] = {"#DE divide error",
                                          "#DB debug",
                                          "NMI",
                                          "#BP breakpoint",
                                          "#OF overflow",
                                          "#BR bound",
                                          "#UD invalid opcode",
                                          "#NM no math",
                                          "#DF double fault",
                                          "coprocessor overrun",
                                          "#TS invalid TSS",
                                          "#NP segment not present",
                                          "#SS stack fault",
                                          "#GP general protection",
                                          "#PF page fault",
                                          "reserved 15",
                                          "#MF x87 error",
                                          "#AC alignment check",
                                          "#MC machine check",
                                          "#XM SIMD error",
                                          "#VE virtualization",
                                          "#CP control protection"};

void exc_report(const struct exc_frame *f);
void exc_report(const struct exc_frame *f)
{
    const char *name = f->vector < 32 && exc_names[f->vector] ? exc_names[f->vector] : "reserved";
    hv_log("EXCEPTION in hypervisor: vector %lu (%s) error 0x%lx", f->vector, name, f->error);
    hv_log("  rip %016lx cs %04lx rflags %016lx rsp %016lx ss %04lx", f->rip, f->cs, f->rflags,
           f->rsp, f->ss);
    hv_log("  rax %016lx rbx %016lx rcx %016lx rdx %016lx", f->rax, f->rbx, f->rcx, f->rdx);
    hv_log("  rsi %016lx rdi %016lx rbp %016lx r8  %016lx", f->rsi, f->rdi, f->rbp, f->r8);
    hv_log("  r9  %016lx r10 %016lx r11 %016lx r12 %016lx", f->r9, f->r10, f->r11, f->r12);
    hv_log("  r13 %016lx r14 %016lx r15 %016lx", f->r13, f->r14, f->r15);
    hv_log("  cr0 %016lx cr2 %016lx cr3 %016lx cr4 %016lx", read_cr0(), read_cr2(), read_cr3(),
           read_cr4());
    hv_log("RESULT FAIL hypervisor exception");
    hv_poweroff();
}
