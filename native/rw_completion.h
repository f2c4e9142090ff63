/*
 * What both backends report when a request finishes: one record per request, whatever number of
 * system calls (short-write retries, the sync step) it took.
 */
#ifndef RW_COMPLETION_H
#define RW_COMPLETION_H

#include <stdint.h>

/* Which system call a completion's result belongs to; the values cross to TypeScript as is. */
enum rw_syscall {
    RW_SYSCALL_WRITE = 1,
    RW_SYSCALL_FDATASYNC = 2,
    RW_SYSCALL_READ = 3,
    RW_SYSCALL_FSYNC = 4,
};

/* How a write is made durable; the values cross from TypeScript as is. */
enum rw_durability {
    RW_DURABILITY_NONE = 0,      /* plain write, page cache or device cache only */
    RW_DURABILITY_FDATASYNC = 1, /* write, then fdatasync of the file */
    RW_DURABILITY_DSYNC = 2,     /* one write with RWF_DSYNC */
};

/* The largest single request: the kernel caps one read or write a little under 2 GiB. */
#define RW_IO_BYTES_MAX (1u << 30)

/* Injected errno values must be real errno numbers, which Linux keeps below 4096. */
#define RW_ERRNO_MAX 4095

struct rw_completion {
    int32_t req_id;
    int32_t result;  /* bytes transferred, or -errno */
    int32_t syscall; /* enum rw_syscall */
    void *context;   /* the caller's, given back untouched */
};

/*
 * A countdown fault: the countdown-th next request of one kind fails with -errno.
 * countdown 0 means disarmed.
 */
struct rw_fault {
    uint32_t countdown;
    int32_t errno_value;
};

/* Counts one request against a fault; returns the errno to inject (> 0) or 0. */
static inline int32_t rw_fault_take(struct rw_fault *fault) {
    if (fault->countdown == 0) return 0;
    fault->countdown--;
    if (fault->countdown != 0) return 0;
    return fault->errno_value;
}

#endif
