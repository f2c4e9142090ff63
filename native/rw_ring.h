/*
 * A minimal io_uring driver over raw system calls (no liburing).
 *
 * Requests live in a table of `entries` slots allocated at create; the hot path allocates
 * nothing. A request may need several submissions (short reads and writes are resubmitted for the
 * remainder, with their sync step), but it reports exactly one struct rw_completion.
 *
 *   caller ──rw_ring_write──▶ slot (PENDING) ──flush──▶ SQEs ──io_uring_enter──▶ kernel
 *   caller ◀──rw_ring_reap──  slot (FREE)   ◀─ all CQEs of the slot seen ◀── CQ ◀─┘
 *                                     └─ short read or write: back to PENDING for the rest
 *
 * Every function returns 0 (or a count) on success and -errno on failure. Not thread-safe: one
 * thread (the event loop) owns a ring.
 */
#ifndef RW_RING_H
#define RW_RING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rw_completion.h"

/* The request table is allocated at create; this bounds its memory and the kernel's rings. */
#define RW_RING_ENTRIES_MAX 4096u

/* The most SQEs one request needs at a time: a write and its linked fsync. */
#define RW_RING_SQES_PER_REQUEST_MAX 2u

/* Registered buffers pin memory; a WAL needs a handful (one per in-flight batch buffer). */
#define RW_RING_FIXED_BUFFERS_MAX 64u

enum rw_slot_state {
    RW_SLOT_FREE = 0,
    RW_SLOT_PENDING,   /* accepted, waiting for SQ space */
    RW_SLOT_SUBMITTED, /* its SQEs are in the kernel; CQEs outstanding */
};

enum rw_ring_op {
    RW_RING_OP_WRITE = 1,
    RW_RING_OP_READ,
    RW_RING_OP_FSYNC,
};

/* A slot index is at most RW_RING_ENTRIES_MAX - 1, so this marks "no slot". */
#define RW_SLOT_NONE UINT32_MAX

/* No fixed buffer covers the request: use plain WRITE/READ. */
#define RW_FIXED_NONE UINT32_MAX

struct rw_ring_request {
    uint8_t state;             /* enum rw_slot_state */
    uint8_t op;                /* enum rw_ring_op */
    uint8_t durability;        /* enum rw_durability, writes only */
    uint8_t datasync;          /* fsync requests only */
    uint8_t cqes_outstanding;  /* CQEs of the current submission not yet reaped */
    int32_t req_id;
    int fd;
    uint8_t *buffer;
    uint32_t length_bytes;
    uint32_t done_bytes;       /* read or written so far, over all submissions */
    uint64_t file_offset_bytes;
    uint32_t fixed_index;      /* registered buffer holding [buffer, buffer + length) */
    int32_t main_result;       /* CQE result of the write/read/fsync of the latest submission */
    int32_t sync_result;       /* CQE result of the linked fsync of the latest submission */
    int32_t fault_main_errno;  /* > 0: a NOP replaced the write; report -fault_main_errno */
    int32_t fault_sync_errno;  /* > 0: a NOP replaced the sync step; report -fault_sync_errno */
    uint32_t pending_next;
    void *context;
};

struct rw_ring_sq {
    uint32_t *head;
    uint32_t *tail;
    uint32_t mask;
    uint32_t entries;
    uint32_t tail_local; /* SQEs prepared up to here; published to *tail at flush */
    struct io_uring_sqe *sqes;
};

struct rw_ring_cq {
    uint32_t *head;
    uint32_t *tail;
    uint32_t mask;
    uint32_t entries;
    struct io_uring_cqe *cqes;
};

struct rw_ring_fixed_buffer {
    uintptr_t base;
    size_t size_bytes;
};

struct rw_ring {
    int ring_fd;
    int event_fd;
    uint32_t features;

    void *sq_map;
    size_t sq_map_bytes;
    void *cq_map; /* equal to sq_map with IORING_FEAT_SINGLE_MMAP */
    size_t cq_map_bytes;
    void *sqes_map;
    size_t sqes_map_bytes;
    struct rw_ring_sq sq;
    struct rw_ring_cq cq;

    uint32_t entries;
    uint32_t in_flight; /* slots not FREE */
    struct rw_ring_request *requests;
    uint32_t *free_slots; /* stack of free slot indexes */
    uint32_t free_count;
    uint32_t pending_head; /* FIFO of slots waiting for SQ space, linked through the slots */
    uint32_t pending_tail;
    uint32_t pending_count;

    struct rw_ring_fixed_buffer fixed[RW_RING_FIXED_BUFFERS_MAX];
    uint32_t fixed_count;

    struct rw_fault fault_write;
    struct rw_fault fault_sync;
    int submit_error;            /* 0, or the -errno of the io_uring_enter that left SQEs unsubmitted */
    uint32_t enter_failures;     /* test hook: io_uring_enter calls still to fail */
    int32_t enter_failure_errno; /* ... with -enter_failure_errno */
    uint32_t enter_sqes_max;     /* test hook: > 0: the next io_uring_enter passes at most this many SQEs */
};

/*
 * The opcodes the driver issues. Kernels 5.1 to 5.5 set up a ring but lack READ and WRITE (and
 * the probe itself), so create probes and answers -EOPNOTSUPP there instead of failing every write.
 */
#define RW_RING_REQUIRED_OPS_COUNT 6u

/* The probe asks about this many opcodes: IORING_OP_LAST is about 60 and the field is a byte. */
#define RW_RING_PROBE_OPS 256u

/*
 * Cold: io_uring_setup, the opcode probe, the three mmaps, the eventfd and the request table.
 * -EOPNOTSUPP when the kernel has no probe or lacks a required opcode.
 */
int rw_ring_create(struct rw_ring *ring, uint32_t entries);
/* Cold: releases everything create made. In-flight requests are abandoned to the kernel. */
void rw_ring_destroy(struct rw_ring *ring);

/*
 * Hot: each queues one request and submits what fits in the SQ; -EBUSY when the table is full.
 * A submission io_uring_enter refuses still answers 0: the request is accepted and waits (see
 * rw_ring_submit_error below).
 */
int rw_ring_write(struct rw_ring *ring, int32_t req_id, int fd, void *buffer, uint32_t length_bytes,
                  uint64_t file_offset_bytes, int durability, void *context);
int rw_ring_read(struct rw_ring *ring, int32_t req_id, int fd, void *buffer, uint32_t length_bytes,
                 uint64_t file_offset_bytes, void *context);
int rw_ring_fsync(struct rw_ring *ring, int32_t req_id, int fd, bool datasync, void *context);

/*
 * Hot: consumes every CQE present, resubmits what is unfinished, and writes finished requests to
 * out (capacity >= ring->entries, since each slot finishes at most once per call). Returns the count.
 */
int rw_ring_reap(struct rw_ring *ring, struct rw_completion *out, uint32_t out_capacity);

/*
 * A refused submission. io_uring_enter may refuse SQEs (EAGAIN: the kernel is out of request
 * memory; EBUSY: a CQ backlog). The refused SQEs stay published in the SQ and the requests behind
 * them pending, and nothing in the kernel will ever answer them, so the caller must act: while
 * rw_ring_submit_error() is not 0 it calls rw_ring_submit() again later, and when it gives up it
 * calls rw_ring_fail_unsubmitted(), which completes every request not yet in the kernel.
 */

/* Hot: 0 when nothing waits to be submitted, else the -errno of the refusal that stalled it. */
int rw_ring_submit_error(const struct rw_ring *ring);
/* SQEs published to the SQ that the kernel has not consumed. */
uint32_t rw_ring_unsubmitted_sqes(const struct rw_ring *ring);
/* Retries the submission: 0 when everything went, else the -errno of the new refusal. */
int rw_ring_submit(struct rw_ring *ring);
/* EAGAIN and EBUSY are the kernel's "later"; EINTR is a signal. Anything else will not get better. */
bool rw_ring_submit_retryable(int error);

/*
 * The retry schedule: the first retry on the next loop turn (the refusal may have been a moment's
 * shortage), then doubling from 1 ms, each wait capped so that a recovered kernel is used within
 * 10 ms. The budget bounds the retries (STYLE: every retry bounded): a kernel that refuses for 10 s
 * is short of memory for good (reclaim and the OOM killer act within seconds), and every write
 * waiting on it is a commit the caller is waiting for. After it the requests fail with the errno.
 */
#define RW_RING_SUBMIT_RETRY_DELAY_MS_MAX 10u
#define RW_RING_SUBMIT_RETRY_BUDGET_MS 10000u
/* The wait before retry `attempt` (0 first): 0, 1, 2, 4, 8, 10, 10 … ms. */
uint32_t rw_ring_submit_retry_delay_ms(uint32_t attempt);

/*
 * Gives up on a stalled submission: takes the unsubmitted SQEs back out of the SQ and completes,
 * into out (capacity >= ring->entries), every request that is not in the kernel with `error`
 * (< 0). A linked write+fsync is one request and gets one completion. If the kernel took a write
 * but not its linked sync, that request completes at the write's CQE with the sync failed.
 * Returns the count written to out.
 */
int rw_ring_fail_unsubmitted(struct rw_ring *ring, int32_t error, struct rw_completion *out,
                             uint32_t out_capacity);

/* Clears the eventfd counter; the caller reaps right after, so no CQE can be missed. */
void rw_ring_eventfd_clear(struct rw_ring *ring);

/* Cold: replaces the registered buffer set (count 0 unregisters). -EBUSY while requests are in flight. */
int rw_ring_register_buffers(struct rw_ring *ring, const struct rw_ring_fixed_buffer *buffers,
                             uint32_t count);

/*
 * Cold diagnostic: sets bit i of supported_mask when required opcode i (in the order of
 * rw_ring_required_op_name) is supported. Sets up and closes a ring of its own; -EOPNOTSUPP when
 * the kernel has no probe.
 */
int rw_ring_probe(uint32_t *supported_mask);
/* The name of required opcode index (< RW_RING_REQUIRED_OPS_COUNT), as in IORING_OP_<name>. */
const char *rw_ring_required_op_name(uint32_t index);

/*
 * Test hook: every later probe in this process (so every create) treats these opcodes as
 * unsupported; count 0 resets. -EINVAL for more than RW_RING_PROBE_OPS opcodes.
 */
int rw_ring_simulate_missing_ops(const uint8_t *opcodes, uint32_t count);

/* Test hook: the countdown-th next request of kind syscall (1 write, 2 sync step) fails with -errno. */
int rw_ring_inject_fault(struct rw_ring *ring, int syscall_kind, uint32_t countdown, int32_t errno_value);

/* Test hook: the next `failures` io_uring_enter calls answer -errno without entering the kernel. */
int rw_ring_inject_enter_fault(struct rw_ring *ring, uint32_t failures, int32_t errno_value);

/*
 * Test hook: the next io_uring_enter call passes the kernel at most sqes_max of the SQEs published
 * (0 disarms), so the kernel consumes only those, as it does when it runs short of request memory
 * partway through the SQ; a linked pair can be split between two calls this way. It goes before an
 * armed enter fault, which then applies to the calls after it.
 */
void rw_ring_inject_partial_submit(struct rw_ring *ring, uint32_t sqes_max);

#endif
