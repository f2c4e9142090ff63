#define _GNU_SOURCE
#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "rw_pool.h"

int rw_pool_create(struct rw_pool *pool, uint32_t slots) {
    assert(pool != NULL);
    if (slots == 0 || slots > RW_POOL_SLOTS_MAX) return -EINVAL;
    memset(pool, 0, sizeof(*pool));
    pool->requests = calloc(slots, sizeof(*pool->requests));
    pool->free_slots = calloc(slots, sizeof(*pool->free_slots));
    if (pool->requests == NULL || pool->free_slots == NULL) {
        rw_pool_destroy(pool);
        return -ENOMEM;
    }
    pool->slots = slots;
    for (uint32_t i = 0; i < slots; i++) pool->free_slots[i] = slots - 1 - i;
    pool->free_count = slots;
    return 0;
}

void rw_pool_destroy(struct rw_pool *pool) {
    assert(pool != NULL && pool->in_flight == 0);
    free(pool->requests);
    free(pool->free_slots);
    memset(pool, 0, sizeof(*pool));
}

static int pool_acquire(struct rw_pool *pool, int32_t req_id, int fd, void *context) {
    if (pool->free_count == 0) return -EBUSY;
    uint32_t slot = pool->free_slots[--pool->free_count];
    struct rw_pool_request *request = &pool->requests[slot];
    assert(!request->busy);
    memset(request, 0, sizeof(*request));
    request->busy = true;
    request->req_id = req_id;
    request->fd = fd;
    request->completion.req_id = req_id;
    request->completion.context = context;
    pool->in_flight++;
    assert(pool->in_flight + pool->free_count == pool->slots);
    return (int)slot;
}

static bool io_args_valid(const void *buffer, uint32_t length_bytes, uint64_t file_offset_bytes) {
    if (buffer == NULL || length_bytes == 0 || length_bytes > RW_IO_BYTES_MAX) return false;
    return file_offset_bytes <= (uint64_t)INT64_MAX - length_bytes;
}

int rw_pool_prepare_write(struct rw_pool *pool, int32_t req_id, int fd, void *buffer, uint32_t length_bytes,
                          uint64_t file_offset_bytes, int durability, void *context) {
    assert(pool != NULL && pool->requests != NULL);
    if (!io_args_valid(buffer, length_bytes, file_offset_bytes)) return -EINVAL;
    if (durability < RW_DURABILITY_NONE || durability > RW_DURABILITY_DSYNC) return -EINVAL;
    if (fd < 0) return -EBADF;
    int slot = pool_acquire(pool, req_id, fd, context);
    if (slot < 0) return slot;
    struct rw_pool_request *request = &pool->requests[slot];
    request->op = RW_POOL_OP_WRITE;
    request->durability = (uint8_t)durability;
    request->buffer = buffer;
    request->length_bytes = length_bytes;
    request->file_offset_bytes = file_offset_bytes;
    request->fault_write_errno = rw_fault_take(&pool->fault_write);
    if (request->fault_write_errno == 0 && durability != RW_DURABILITY_NONE) {
        request->fault_sync_errno = rw_fault_take(&pool->fault_sync);
    }
    return slot;
}

int rw_pool_prepare_read(struct rw_pool *pool, int32_t req_id, int fd, void *buffer, uint32_t length_bytes,
                         uint64_t file_offset_bytes, void *context) {
    assert(pool != NULL && pool->requests != NULL);
    if (!io_args_valid(buffer, length_bytes, file_offset_bytes)) return -EINVAL;
    if (fd < 0) return -EBADF;
    int slot = pool_acquire(pool, req_id, fd, context);
    if (slot < 0) return slot;
    struct rw_pool_request *request = &pool->requests[slot];
    request->op = RW_POOL_OP_READ;
    request->buffer = buffer;
    request->length_bytes = length_bytes;
    request->file_offset_bytes = file_offset_bytes;
    return slot;
}

int rw_pool_prepare_fsync(struct rw_pool *pool, int32_t req_id, int fd, bool datasync, void *context) {
    assert(pool != NULL && pool->requests != NULL);
    if (fd < 0) return -EBADF;
    int slot = pool_acquire(pool, req_id, fd, context);
    if (slot < 0) return slot;
    struct rw_pool_request *request = &pool->requests[slot];
    request->op = RW_POOL_OP_FSYNC;
    request->datasync = datasync;
    request->fault_sync_errno = rw_fault_take(&pool->fault_sync);
    return slot;
}

/*
 * Moves the whole range, looping over short transfers; returns the bytes moved or -errno.
 * A short read is not end of file (a /proc file answers a page at a time, a network file system
 * whatever arrived): only a read of 0 bytes is, and then the bytes so far are the answer.
 * A write of 0 bytes makes no progress, which only a broken device does, so it is -EIO.
 * An error after some bytes moved is reported as the error: the range is not all there.
 */
static int32_t pool_transfer_all(const struct rw_pool_request *request, bool write) {
    uint32_t done_bytes = 0;
    uint32_t interrupts = 0;
    /* Bounded: every pass moves at least one byte or returns, and EINTR is counted. */
    while (done_bytes < request->length_bytes) {
        struct iovec iov = {
            .iov_base = request->buffer + done_bytes,
            .iov_len = request->length_bytes - done_bytes,
        };
        off_t offset = (off_t)(request->file_offset_bytes + done_bytes);
        int flags = write && request->durability == RW_DURABILITY_DSYNC ? RWF_DSYNC : 0;
        ssize_t moved = write ? pwritev2(request->fd, &iov, 1, offset, flags)
                              : preadv2(request->fd, &iov, 1, offset, flags);
        if (moved < 0) {
            if (errno == EINTR && ++interrupts < RW_POOL_EINTR_RETRIES_MAX) continue;
            return -errno;
        }
        if (moved == 0) {
            if (write) return -EIO;
            break;
        }
        assert((size_t)moved <= iov.iov_len);
        done_bytes += (uint32_t)moved;
    }
    return (int32_t)done_bytes;
}

static int32_t pool_sync(int fd, bool datasync) {
    return (datasync ? fdatasync(fd) : fsync(fd)) < 0 ? -errno : 0;
}

void rw_pool_execute(struct rw_pool_request *request) {
    assert(request != NULL && request->busy);
    struct rw_completion *completion = &request->completion;

    switch (request->op) {
    case RW_POOL_OP_READ:
        completion->syscall = RW_SYSCALL_READ;
        completion->result = pool_transfer_all(request, false);
        return;
    case RW_POOL_OP_FSYNC:
        completion->syscall = request->datasync ? RW_SYSCALL_FDATASYNC : RW_SYSCALL_FSYNC;
        completion->result = request->fault_sync_errno > 0 ? -request->fault_sync_errno
                                                           : pool_sync(request->fd, request->datasync);
        return;
    case RW_POOL_OP_WRITE:
        break;
    default:
        assert(!"unknown request op");
    }

    completion->syscall = RW_SYSCALL_WRITE;
    if (request->fault_write_errno > 0) {
        completion->result = -request->fault_write_errno;
        return;
    }
    int32_t written = pool_transfer_all(request, true);
    if (written < 0) {
        completion->result = written;
        return;
    }
    int32_t sync_result = 0;
    if (request->fault_sync_errno > 0) {
        sync_result = -request->fault_sync_errno;
    } else if (request->durability == RW_DURABILITY_FDATASYNC) {
        sync_result = pool_sync(request->fd, true);
    }
    if (sync_result < 0) {
        completion->syscall = RW_SYSCALL_FDATASYNC;
        completion->result = sync_result;
        return;
    }
    completion->result = written;
}

void rw_pool_finish(struct rw_pool *pool, uint32_t slot, struct rw_completion *out) {
    assert(pool != NULL && slot < pool->slots && out != NULL);
    struct rw_pool_request *request = &pool->requests[slot];
    assert(request->busy && pool->in_flight > 0);
    *out = request->completion;
    request->busy = false;
    pool->free_slots[pool->free_count++] = slot;
    pool->in_flight--;
    assert(pool->in_flight + pool->free_count == pool->slots);
}

int rw_pool_inject_fault(struct rw_pool *pool, int syscall_kind, uint32_t countdown, int32_t errno_value) {
    assert(pool != NULL);
    if (errno_value <= 0 || errno_value > RW_ERRNO_MAX) return -EINVAL;
    struct rw_fault fault = {.countdown = countdown, .errno_value = errno_value};
    if (syscall_kind == RW_SYSCALL_WRITE) {
        pool->fault_write = fault;
    } else if (syscall_kind == RW_SYSCALL_FDATASYNC) {
        pool->fault_sync = fault;
    } else {
        return -EINVAL;
    }
    return 0;
}
