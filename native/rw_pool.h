/*
 * The thread-pool backend's core: a table of preallocated requests, and the blocking system
 * calls one request makes on a worker thread. Who runs the worker (libuv) is the glue's business.
 *
 *   loop thread: rw_pool_prepare_*  ──▶ worker: rw_pool_execute ──▶ loop thread: rw_pool_finish
 *
 * The loop thread owns the table; a worker touches only the one request it was handed, and the
 * queue hand-off orders its accesses with the loop thread's.
 */
#ifndef RW_POOL_H
#define RW_POOL_H

#include <stdbool.h>
#include <stdint.h>

#include "rw_completion.h"

/* libuv runs 4 worker threads by default; more queued requests than this only add latency. */
#define RW_POOL_SLOTS_MAX 1024u

/* A read or write interrupted by signals this many times is reported, not retried forever. */
#define RW_POOL_EINTR_RETRIES_MAX 16u

enum rw_pool_op {
    RW_POOL_OP_WRITE = 1,
    RW_POOL_OP_READ,
    RW_POOL_OP_FSYNC,
};

struct rw_pool_request {
    bool busy;
    uint8_t op;         /* enum rw_pool_op */
    uint8_t durability; /* enum rw_durability */
    bool datasync;
    int32_t req_id;
    int fd;
    uint8_t *buffer;
    uint32_t length_bytes;
    uint64_t file_offset_bytes;
    int32_t fault_write_errno; /* > 0: skip the write and report -fault_write_errno */
    int32_t fault_sync_errno;  /* > 0: do the write, skip the sync and report -fault_sync_errno */
    struct rw_completion completion; /* filled by rw_pool_execute */
};

struct rw_pool {
    uint32_t slots;
    uint32_t in_flight;
    struct rw_pool_request *requests;
    uint32_t *free_slots; /* stack of free slot indexes */
    uint32_t free_count;
    struct rw_fault fault_write;
    struct rw_fault fault_sync;
};

int rw_pool_create(struct rw_pool *pool, uint32_t slots);
/* The caller makes sure no worker still runs a request (in_flight == 0) or leaks the pool. */
void rw_pool_destroy(struct rw_pool *pool);

/* Each returns the slot index (>= 0) to hand to rw_pool_execute, or -errno (-EBUSY when full). */
int rw_pool_prepare_write(struct rw_pool *pool, int32_t req_id, int fd, void *buffer, uint32_t length_bytes,
                          uint64_t file_offset_bytes, int durability, void *context);
int rw_pool_prepare_read(struct rw_pool *pool, int32_t req_id, int fd, void *buffer, uint32_t length_bytes,
                         uint64_t file_offset_bytes, void *context);
int rw_pool_prepare_fsync(struct rw_pool *pool, int32_t req_id, int fd, bool datasync, void *context);

/* Worker thread: performs the blocking calls and fills request->completion. */
void rw_pool_execute(struct rw_pool_request *request);

/* Loop thread: copies the completion out and frees the slot. */
void rw_pool_finish(struct rw_pool *pool, uint32_t slot, struct rw_completion *out);

int rw_pool_inject_fault(struct rw_pool *pool, int syscall_kind, uint32_t countdown, int32_t errno_value);

#endif
