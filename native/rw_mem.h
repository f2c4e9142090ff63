/* Aligned memory for O_DIRECT buffers. */
#ifndef RW_MEM_H
#define RW_MEM_H

#include <stddef.h>

/* O_DIRECT needs at least logical-sector alignment, and 512 is the smallest sector there is. */
#define RW_MEM_ALIGNMENT_BYTES_MIN 512u
/* Larger than any page or device block, so a larger request is a mistake in the caller. */
#define RW_MEM_ALIGNMENT_BYTES_MAX (1u << 21)
/* One buffer holds at most one batch; a batch larger than this is a caller mistake. */
#define RW_MEM_SIZE_BYTES_MAX (1u << 30)

/* Zero-filled, alignment_bytes-aligned memory; free with rw_mem_free and the same size. */
int rw_mem_alloc_aligned(size_t size_bytes, size_t alignment_bytes, void **out);
void rw_mem_free(void *memory, size_t size_bytes);

#endif
