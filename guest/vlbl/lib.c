/* vlbl: the few memory helpers the compiler and the loader need. */
#include "guest/vlbl/vlbl.h"

void *memset(void *d, int c, uint32_t n)
{
    void *r = d;
    __asm__ volatile("addr32 rep stosb" : "+D"(d), "+c"(n) : "a"(c) : "memory");
    return r;
}

void *memcpy(void *d, const void *s, uint32_t n)
{
    void *r = d;
    __asm__ volatile("addr32 rep movsb" : "+D"(d), "+S"(s), "+c"(n) : : "memory");
    return r;
}

/* memmove between guest-physical addresses, possibly above 1 MiB (unreal
 * mode: 32-bit ESI/EDI with 4 GiB DS/ES limits). */
void phys_move(uint32_t dst, uint32_t src, uint32_t n)
{
    if (dst == src || n == 0)
        return;
    if (dst < src || dst >= src + n) {
        uint32_t words = n / 4, bytes = n % 4;
        __asm__ volatile("addr32 rep movsl\n\t"
                         "movl %3, %%ecx\n\t"
                         "addr32 rep movsb"
                         : "+D"(dst), "+S"(src), "+c"(words)
                         : "r"(bytes)
                         : "memory");
    } else {
        /* overlapping with dst above src: copy backwards byte-wise */
        uint32_t d = dst + n - 1, s = src + n - 1;
        __asm__ volatile("std\n\t"
                         "addr32 rep movsb\n\t"
                         "cld"
                         : "+D"(d), "+S"(s), "+c"(n)
                         :
                         : "memory");
    }
}
