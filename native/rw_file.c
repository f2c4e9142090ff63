#define _GNU_SOURCE
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rw_file.h"

int rw_file_flock(int fd, bool exclusive) {
    if (fd < 0) return -EBADF;
    /* EINTR cannot happen with LOCK_NB: the call never sleeps. */
    return flock(fd, (exclusive ? LOCK_EX : LOCK_SH) | LOCK_NB) < 0 ? -errno : 0;
}

int rw_file_fallocate(int fd, int mode, int64_t offset_bytes, int64_t length_bytes) {
    if (fd < 0) return -EBADF;
    if (offset_bytes < 0 || length_bytes <= 0) return -EINVAL;
    return fallocate(fd, mode, offset_bytes, length_bytes) < 0 ? -errno : 0;
}

int rw_file_dio_alignment(int fd, uint32_t *mem_align_bytes, uint32_t *offset_align_bytes) {
    assert(mem_align_bytes != NULL && offset_align_bytes != NULL);
    if (fd < 0) return -EBADF;
    struct statx stx;
    memset(&stx, 0, sizeof(stx));
    if (statx(fd, "", AT_EMPTY_PATH, STATX_DIOALIGN, &stx) < 0) return -errno;
    /* Zero alignments mean the file cannot do direct I/O at all, which is also "not reported". */
    if ((stx.stx_mask & STATX_DIOALIGN) == 0 || stx.stx_dio_mem_align == 0) return -EOPNOTSUPP;
    *mem_align_bytes = stx.stx_dio_mem_align;
    *offset_align_bytes = stx.stx_dio_offset_align;
    return 0;
}

int rw_file_fadvise(int fd, int64_t offset_bytes, int64_t length_bytes, int advice) {
    /* Indexed by enum rw_file_advice: a few architectures (s390x) number the advice otherwise. */
    static const int platform_advice[] = {
        [RW_FILE_ADVICE_NORMAL] = POSIX_FADV_NORMAL,
        [RW_FILE_ADVICE_RANDOM] = POSIX_FADV_RANDOM,
        [RW_FILE_ADVICE_SEQUENTIAL] = POSIX_FADV_SEQUENTIAL,
        [RW_FILE_ADVICE_WILLNEED] = POSIX_FADV_WILLNEED,
        [RW_FILE_ADVICE_DONTNEED] = POSIX_FADV_DONTNEED,
        [RW_FILE_ADVICE_NOREUSE] = POSIX_FADV_NOREUSE,
    };
    if (fd < 0) return -EBADF;
    if (offset_bytes < 0 || length_bytes < 0) return -EINVAL;
    if (advice < RW_FILE_ADVICE_NORMAL || advice > RW_FILE_ADVICE_NOREUSE) return -EINVAL;
    /* The kernel treats an end past INT64_MAX as "to the end"; refuse it instead of guessing. */
    if (offset_bytes > INT64_MAX - length_bytes) return -EINVAL;
    /* posix_fadvise returns the error number rather than setting errno. */
    return -posix_fadvise(fd, offset_bytes, length_bytes, platform_advice[advice]);
}
