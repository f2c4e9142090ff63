#include <assert.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "rw_mem.h"

int rw_mem_alloc_aligned(size_t size_bytes, size_t alignment_bytes, void **out) {
    assert(out != NULL);
    *out = NULL;
    if (alignment_bytes < RW_MEM_ALIGNMENT_BYTES_MIN || alignment_bytes > RW_MEM_ALIGNMENT_BYTES_MAX)
        return -EINVAL;
    if ((alignment_bytes & (alignment_bytes - 1)) != 0) return -EINVAL;
    if (size_bytes == 0 || size_bytes > RW_MEM_SIZE_BYTES_MAX) return -EINVAL;
    if (size_bytes % alignment_bytes != 0) return -EINVAL;

    void *memory = NULL;
    int ret = posix_memalign(&memory, alignment_bytes, size_bytes);
    if (ret != 0) return -ret;
    assert(((uintptr_t)memory & (alignment_bytes - 1)) == 0);
    /* Fresh pages from the allocator may hold old heap bytes; a WAL must never write those out. */
    memset(memory, 0, size_bytes);
    *out = memory;
    return 0;
}

void rw_mem_free(void *memory) {
    free(memory);
}
