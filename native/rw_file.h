/* Cold-path file operations that TypeScript needs and Node does not offer. */
#ifndef RW_FILE_H
#define RW_FILE_H

#include <stdbool.h>
#include <stdint.h>

/* Non-blocking flock; -EWOULDBLOCK when another open file description holds it. */
int rw_file_flock(int fd, bool exclusive);
int rw_file_fallocate(int fd, int mode, int64_t offset_bytes, int64_t length_bytes);
/* From statx(STATX_DIOALIGN); -EOPNOTSUPP when the kernel or filesystem does not say. */
int rw_file_dio_alignment(int fd, uint32_t *mem_align_bytes, uint32_t *offset_align_bytes);

/* The advice numbers as Linux defines them on x86-64 and arm64; they cross from TypeScript as is. */
enum rw_file_advice {
    RW_FILE_ADVICE_NORMAL = 0,
    RW_FILE_ADVICE_RANDOM = 1,
    RW_FILE_ADVICE_SEQUENTIAL = 2,
    RW_FILE_ADVICE_WILLNEED = 3,
    RW_FILE_ADVICE_DONTNEED = 4,
    RW_FILE_ADVICE_NOREUSE = 5,
};

/*
 * posix_fadvise over [offset, offset + length) (length 0: to the end of the file). DONTNEED drops
 * the clean cached pages of the range, which recovery needs: after a failed fsync Linux keeps the
 * failed pages in the cache marked clean, so a read would trust bytes that never reached the disk.
 */
int rw_file_fadvise(int fd, int64_t offset_bytes, int64_t length_bytes, int advice);

#endif
