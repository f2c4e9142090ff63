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

#endif
