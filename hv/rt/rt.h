/* The C runtime the hypervisor gives the third-party libraries it links
 * (Debian's libzstd.a and libprotobuf-c.a, for the trace writer).
 *
 * Those archives were built for a hosted Linux process, so they expect a few
 * libc symbols: a heap, two string functions, assert and stack-protector
 * failure hooks, and a stack canary at %fs:0x28. This file supplies them from
 * memory the hypervisor hands over once; nothing here touches hardware.
 *
 * The heap is a bump arena: allocation is O(1), free() only reclaims the
 * most recent block. The trace writer allocates once at start-up (zstd gets
 * a static context on caller memory), so the arena never fragments.
 *
 * The libraries are compiled with SSE: call them only between an FPU
 * save and restore of the guest's state (see docs/hypervisor.md).
 */
#ifndef HVRR_RT_H
#define HVRR_RT_H

#include <stddef.h>
#include <stdint.h>

/* What the canary block at %fs must look like: glibc's layout puts the
 * stack-protector guard at offset 0x28 of the thread control block. */
struct rt_tcb {
    uint64_t self;
    uint64_t pad[4];
    uint64_t stack_guard; /* %fs:0x28 */
    uint64_t pad2[2];
};

/* panic(msg) must not return. arena/len: the heap. guard: the canary value
 * (any value; a random one where a source exists). Returns the TCB whose
 * address the caller loads into IA32_FS_BASE. */
struct rt_tcb *rt_init(void *arena, size_t len, uint64_t guard, void (*panic)(const char *msg));

/* Heap statistics, for the hypervisor's shutdown report. */
struct rt_heap_stats {
    size_t size, used, peak;
    uint64_t allocs, failed;
};
void rt_heap_stats(struct rt_heap_stats *st);

/* Memory for the libraries that want a ProtobufCAllocator or ZSTD_customMem
 * shaped allocator: same arena. */
void *rt_alloc(void *ctx, size_t size);
void rt_free(void *ctx, void *ptr);

#endif
