/*
 * Hot path of the io_uring driver: queue a request, submit SQEs, reap CQEs.
 * Setup and teardown are in rw_ring_setup.c.
 */
#define _GNU_SOURCE
#include <assert.h>
#include <errno.h>
#include <linux/io_uring.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include "rw_barrier.h"
#include "rw_ring.h"

/* Which SQE of a request a CQE answers; packed into user_data next to the slot index. */
enum { PART_MAIN = 0, PART_SYNC = 1, PART_BITS = 1 };

static uint64_t user_data_of(uint32_t slot, uint32_t part) {
    return ((uint64_t)slot << PART_BITS) | part;
}

/* The inverse of user_data_of, for a CQE or an SQE; its request must still await that part. */
static struct rw_ring_request *request_of(struct rw_ring *ring, uint64_t user_data, uint32_t *slot,
                                          uint32_t *part) {
    *slot = (uint32_t)(user_data >> PART_BITS);
    *part = (uint32_t)(user_data & ((1u << PART_BITS) - 1));
    assert(*slot < ring->entries);
    struct rw_ring_request *request = &ring->requests[*slot];
    assert(request->state == RW_SLOT_SUBMITTED && request->cqes_outstanding > 0);
    return request;
}

static uint32_t fixed_lookup(const struct rw_ring *ring, const uint8_t *buffer, uint32_t length_bytes) {
    uintptr_t start = (uintptr_t)buffer;
    for (uint32_t i = 0; i < ring->fixed_count; i++) {
        const struct rw_ring_fixed_buffer *fixed = &ring->fixed[i];
        if (start >= fixed->base && start - fixed->base <= fixed->size_bytes &&
            length_bytes <= fixed->size_bytes - (start - fixed->base)) {
            return i;
        }
    }
    return RW_FIXED_NONE;
}

static void pending_push(struct rw_ring *ring, uint32_t slot) {
    struct rw_ring_request *request = &ring->requests[slot];
    assert(request->state != RW_SLOT_PENDING);
    request->state = RW_SLOT_PENDING;
    request->pending_next = RW_SLOT_NONE;
    if (ring->pending_tail == RW_SLOT_NONE) {
        ring->pending_head = slot;
    } else {
        ring->requests[ring->pending_tail].pending_next = slot;
    }
    ring->pending_tail = slot;
    ring->pending_count++;
    assert(ring->pending_count <= ring->in_flight);
}

static uint32_t pending_pop(struct rw_ring *ring) {
    uint32_t slot = ring->pending_head;
    assert(slot != RW_SLOT_NONE && ring->pending_count > 0);
    ring->pending_head = ring->requests[slot].pending_next;
    if (ring->pending_head == RW_SLOT_NONE) ring->pending_tail = RW_SLOT_NONE;
    ring->pending_count--;
    return slot;
}

static struct rw_ring_request *slot_acquire(struct rw_ring *ring, uint32_t *slot_out) {
    if (ring->free_count == 0) return NULL;
    uint32_t slot = ring->free_slots[--ring->free_count];
    struct rw_ring_request *request = &ring->requests[slot];
    assert(request->state == RW_SLOT_FREE);
    memset(request, 0, sizeof(*request));
    request->fixed_index = RW_FIXED_NONE;
    ring->in_flight++;
    assert(ring->in_flight + ring->free_count == ring->entries);
    *slot_out = slot;
    return request;
}

static void slot_release(struct rw_ring *ring, uint32_t slot) {
    struct rw_ring_request *request = &ring->requests[slot];
    assert(request->state == RW_SLOT_SUBMITTED && request->cqes_outstanding == 0);
    request->state = RW_SLOT_FREE;
    ring->free_slots[ring->free_count++] = slot;
    ring->in_flight--;
    assert(ring->in_flight + ring->free_count == ring->entries);
}

static uint32_t sqes_needed(const struct rw_ring_request *request) {
    /* An injected write failure replaces the whole request by one NOP: nothing is written. */
    if (request->op == RW_RING_OP_WRITE && request->fault_main_errno == 0 &&
        request->durability == RW_DURABILITY_FDATASYNC) {
        return 2;
    }
    return 1;
}

static struct io_uring_sqe *sqe_next(struct rw_ring *ring) {
    struct io_uring_sqe *sqe = &ring->sq.sqes[ring->sq.tail_local & ring->sq.mask];
    ring->sq.tail_local++;
    memset(sqe, 0, sizeof(*sqe));
    return sqe;
}

static void sqe_nop(struct io_uring_sqe *sqe, uint32_t slot, uint32_t part) {
    sqe->opcode = IORING_OP_NOP;
    sqe->user_data = user_data_of(slot, part);
}

static void sqe_fsync(struct io_uring_sqe *sqe, int fd, bool datasync, uint32_t slot, uint32_t part) {
    sqe->opcode = IORING_OP_FSYNC;
    sqe->fd = fd;
    sqe->fsync_flags = datasync ? IORING_FSYNC_DATASYNC : 0;
    sqe->user_data = user_data_of(slot, part);
}

static void sqe_rw(struct io_uring_sqe *sqe, const struct rw_ring_request *request, uint32_t slot,
                   bool write) {
    uint32_t remaining_bytes = request->length_bytes - request->done_bytes;
    bool fixed = request->fixed_index != RW_FIXED_NONE;
    if (write) {
        sqe->opcode = fixed ? IORING_OP_WRITE_FIXED : IORING_OP_WRITE;
    } else {
        sqe->opcode = fixed ? IORING_OP_READ_FIXED : IORING_OP_READ;
    }
    sqe->fd = request->fd;
    sqe->addr = (uint64_t)(uintptr_t)(request->buffer + request->done_bytes);
    sqe->len = remaining_bytes;
    sqe->off = request->file_offset_bytes + request->done_bytes;
    if (fixed) sqe->buf_index = (uint16_t)request->fixed_index;
    if (write && request->durability == RW_DURABILITY_DSYNC) sqe->rw_flags = RWF_DSYNC;
    sqe->user_data = user_data_of(slot, PART_MAIN);
}

/* Writes the SQEs of one request; the caller checked that sqes_needed() of them are free. */
static void request_prepare(struct rw_ring *ring, uint32_t slot) {
    struct rw_ring_request *request = &ring->requests[slot];
    assert(request->state == RW_SLOT_PENDING);
    uint32_t needed = sqes_needed(request);

    switch (request->op) {
    case RW_RING_OP_WRITE:
        if (request->fault_main_errno > 0) {
            sqe_nop(sqe_next(ring), slot, PART_MAIN);
            break;
        }
        struct io_uring_sqe *write_sqe = sqe_next(ring);
        sqe_rw(write_sqe, request, slot, true);
        if (request->durability == RW_DURABILITY_FDATASYNC) {
            /* The link makes the kernel start the sync only after the whole write succeeded. */
            write_sqe->flags |= IOSQE_IO_LINK;
            struct io_uring_sqe *sync_sqe = sqe_next(ring);
            if (request->fault_sync_errno > 0) {
                sqe_nop(sync_sqe, slot, PART_SYNC);
            } else {
                sqe_fsync(sync_sqe, request->fd, true, slot, PART_SYNC);
            }
        }
        break;
    case RW_RING_OP_READ:
        sqe_rw(sqe_next(ring), request, slot, false);
        break;
    case RW_RING_OP_FSYNC:
        if (request->fault_sync_errno > 0) {
            sqe_nop(sqe_next(ring), slot, PART_MAIN);
        } else {
            sqe_fsync(sqe_next(ring), request->fd, request->datasync, slot, PART_MAIN);
        }
        break;
    default:
        assert(!"unknown request op");
    }
    request->state = RW_SLOT_SUBMITTED;
    request->cqes_outstanding = (uint8_t)needed;
    request->main_result = 0;
    request->sync_result = 0;
}

static int ring_enter(struct rw_ring *ring, uint32_t to_submit) {
    if (ring->enter_sqes_max > 0) {
        /*
         * The kernel consumes SQEs from the head in order, so a smaller to_submit is exactly the
         * partial consumption of a kernel short of memory: it submits the link built so far alone.
         */
        if (to_submit > ring->enter_sqes_max) to_submit = ring->enter_sqes_max;
        ring->enter_sqes_max = 0;
    } else if (ring->enter_failures > 0) {
        ring->enter_failures--;
        return -ring->enter_failure_errno;
    }
    long ret = syscall(__NR_io_uring_enter, ring->ring_fd, to_submit, 0, 0, NULL, 0);
    return ret < 0 ? -errno : (int)ret;
}

static uint32_t sq_unsubmitted(const struct rw_ring *ring) {
    uint32_t unsubmitted = ring->sq.tail_local - rw_sq_head_load(ring->sq.head);
    assert(unsubmitted <= ring->sq.entries);
    return unsubmitted;
}

/*
 * Restores the order of a linked pair that the kernel split. io_uring_enter may consume only part
 * of the SQ: io_submit_sqes stops at the first SQE it cannot allocate a request for and submits
 * the link built so far on its own. A pair split there has its write in the kernel and its sync,
 * no longer linked, at the SQ head. Sent as it is, the sync could run before the write completed,
 * and the request would be reported durable although the flush did not cover the write.
 * IOSQE_IO_DRAIN makes the kernel start the sync only after every request submitted before it has
 * completed, the write among them: the order the link would have given. (It also holds back the
 * requests submitted after it until the sync completes; a split is rare, so that costs little.)
 *
 * Called right after an io_uring_enter that consumed some but not all of the SQEs published.
 * Changing a published SQE is safe without SQPOLL (never set here): the kernel reads SQEs only
 * inside io_uring_enter, and ring_flush enters again only after rw_sq_tail_store, whose release
 * orders this store before it like any other SQE contents.
 */
static void sq_split_pair_drain(struct rw_ring *ring) {
    uint32_t head = rw_sq_head_load(ring->sq.head);
    assert(head != ring->sq.tail_local);
    struct io_uring_sqe *sqe = &ring->sq.sqes[head & ring->sq.mask];
    uint32_t slot, part;
    struct rw_ring_request *request = request_of(ring, sqe->user_data, &slot, &part);
    if (part != PART_SYNC) return;
    /*
     * request_prepare writes a pair side by side, write first, so the SQE before a sync at the
     * head is its write, which the kernel just consumed; nothing was prepared over it since.
     */
    const struct io_uring_sqe *write_sqe = &ring->sq.sqes[(head - 1) & ring->sq.mask];
    assert(write_sqe->user_data == user_data_of(slot, PART_MAIN));
    assert(write_sqe->flags & IOSQE_IO_LINK);
    assert(sqes_needed(request) == RW_RING_SQES_PER_REQUEST_MAX);
    /*
     * The write went in this very call and nothing reaps in between, so both CQEs are still
     * counted: the request settles at the later of the two, as an unsplit pair does.
     */
    assert(request->cqes_outstanding == RW_RING_SQES_PER_REQUEST_MAX);
    sqe->flags |= IOSQE_IO_DRAIN;
}

/*
 * Moves pending requests into the SQ while they fit and submits. Returns 0 when everything is in
 * the kernel, or the -errno of the io_uring_enter that refused (EAGAIN: the kernel is out of
 * request memory; EBUSY: a CQ backlog; anything else: our ring is broken), with the refused SQEs
 * still published in the SQ and the requests behind them pending. Such a stall is remembered in
 * submit_error until a later flush clears it or rw_ring_fail_unsubmitted withdraws the SQEs.
 *
 * Each pass either empties the SQ (io_uring_enter consumes all SQEs without SQPOLL) and so
 * places at least one pending request, or stops. A kernel short of memory may take only part
 * of the SQ (splitting a linked pair: sq_split_pair_drain), and the next pass offers the rest;
 * entries + 1 passes bound the loop, and what is left after them is a stall like any other
 * (-EAGAIN), retried by the caller.
 */
static int ring_flush(struct rw_ring *ring) {
    int error = 0;
    for (uint32_t pass = 0; pass <= ring->entries; pass++) {
        while (ring->pending_count > 0) {
            const struct rw_ring_request *next = &ring->requests[ring->pending_head];
            /* Both SQEs of a linked pair must go in one io_uring_enter, or the link breaks. */
            if (ring->sq.entries - sq_unsubmitted(ring) < sqes_needed(next)) break;
            request_prepare(ring, pending_pop(ring));
        }
        uint32_t to_submit = sq_unsubmitted(ring);
        if (to_submit == 0) break;
        rw_sq_tail_store(ring->sq.tail, ring->sq.tail_local);

        int ret = ring_enter(ring, to_submit);
        if (ret == -EINTR) {
            error = ret;
            continue;
        }
        if (ret < 0) {
            error = ret;
            break;
        }
        assert((uint32_t)ret <= to_submit);
        /* A linked pair may have been split here; its sync must not overtake its write. */
        if (ret > 0 && (uint32_t)ret < to_submit) sq_split_pair_drain(ring);
        /* What the kernel did not take goes in the next pass; if the passes run out, it is a stall. */
        error = -EAGAIN;
    }
    if (sq_unsubmitted(ring) == 0) {
        /* An empty SQ has room for any request, so nothing can still be pending. */
        assert(ring->pending_count == 0);
        error = 0;
    }
    ring->submit_error = error;
    return error;
}

static int request_queue(struct rw_ring *ring, uint32_t slot) {
    pending_push(ring, slot);
    /* A refused submission is not this request's failure: it is retried (rw_ring_submit_error). */
    ring_flush(ring);
    return 0;
}

static bool io_args_valid(const void *buffer, uint32_t length_bytes, uint64_t file_offset_bytes) {
    if (buffer == NULL || length_bytes == 0 || length_bytes > RW_IO_BYTES_MAX) return false;
    /* The kernel takes a signed 64-bit offset; the end must not wrap past it. */
    return file_offset_bytes <= (uint64_t)INT64_MAX - length_bytes;
}

int rw_ring_write(struct rw_ring *ring, int32_t req_id, int fd, void *buffer, uint32_t length_bytes,
                  uint64_t file_offset_bytes, int durability, void *context) {
    assert(ring != NULL && ring->ring_fd >= 0);
    if (!io_args_valid(buffer, length_bytes, file_offset_bytes)) return -EINVAL;
    if (durability < RW_DURABILITY_NONE || durability > RW_DURABILITY_DSYNC) return -EINVAL;
    if (fd < 0) return -EBADF;

    uint32_t slot;
    struct rw_ring_request *request = slot_acquire(ring, &slot);
    if (request == NULL) return -EBUSY;
    request->op = RW_RING_OP_WRITE;
    request->durability = (uint8_t)durability;
    request->req_id = req_id;
    request->fd = fd;
    request->buffer = buffer;
    request->length_bytes = length_bytes;
    request->file_offset_bytes = file_offset_bytes;
    request->fixed_index = fixed_lookup(ring, buffer, length_bytes);
    request->context = context;
    request->fault_main_errno = rw_fault_take(&ring->fault_write);
    if (request->fault_main_errno == 0 && durability != RW_DURABILITY_NONE) {
        request->fault_sync_errno = rw_fault_take(&ring->fault_sync);
    }
    return request_queue(ring, slot);
}

int rw_ring_read(struct rw_ring *ring, int32_t req_id, int fd, void *buffer, uint32_t length_bytes,
                 uint64_t file_offset_bytes, void *context) {
    assert(ring != NULL && ring->ring_fd >= 0);
    if (!io_args_valid(buffer, length_bytes, file_offset_bytes)) return -EINVAL;
    if (fd < 0) return -EBADF;

    uint32_t slot;
    struct rw_ring_request *request = slot_acquire(ring, &slot);
    if (request == NULL) return -EBUSY;
    request->op = RW_RING_OP_READ;
    request->req_id = req_id;
    request->fd = fd;
    request->buffer = buffer;
    request->length_bytes = length_bytes;
    request->file_offset_bytes = file_offset_bytes;
    request->fixed_index = fixed_lookup(ring, buffer, length_bytes);
    request->context = context;
    return request_queue(ring, slot);
}

int rw_ring_fsync(struct rw_ring *ring, int32_t req_id, int fd, bool datasync, void *context) {
    assert(ring != NULL && ring->ring_fd >= 0);
    if (fd < 0) return -EBADF;

    uint32_t slot;
    struct rw_ring_request *request = slot_acquire(ring, &slot);
    if (request == NULL) return -EBUSY;
    request->op = RW_RING_OP_FSYNC;
    request->datasync = datasync;
    request->req_id = req_id;
    request->fd = fd;
    request->context = context;
    request->fault_sync_errno = rw_fault_take(&ring->fault_sync);
    return request_queue(ring, slot);
}

/*
 * Counts the bytes a read or write moved in its latest submission. Returns true when the
 * transfer is over (all of it, end of file, or an error in out->result); false when the
 * remainder was queued again.
 */
static bool transfer_settle(struct rw_ring *ring, uint32_t slot, struct rw_completion *out) {
    struct rw_ring_request *request = &ring->requests[slot];
    bool write = request->op == RW_RING_OP_WRITE;
    int32_t moved = request->main_result;
    if (moved < 0) {
        out->result = moved;
        return true;
    }
    if (moved == 0) {
        /* A write that makes no progress would loop forever; the kernel says 0 only on a broken device. */
        if (write) {
            out->result = -EIO;
            return true;
        }
        /* A read of 0 bytes is end of file: what came before it is the answer. */
        out->result = (int32_t)request->done_bytes;
        return true;
    }
    uint32_t remaining_bytes = request->length_bytes - request->done_bytes;
    assert((uint32_t)moved <= remaining_bytes);
    request->done_bytes += (uint32_t)moved;
    if (request->done_bytes < request->length_bytes) {
        /*
         * A short read is not end of file (a /proc file answers a page at a time), so the rest is
         * read until a read answers 0. A short write broke the link, so the kernel cancelled the
         * sync (or, for a pair it split, ran the sync unlinked after the write, covering only the
         * part written): both are redone for the rest.
         */
        pending_push(ring, slot);
        return false;
    }
    out->result = (int32_t)request->length_bytes;
    return true;
}

/*
 * Decides, once every CQE of a submission is in, whether the request is finished. Returns true
 * and fills out if so; false if the remainder of a short read or write was queued again.
 */
static bool request_settle(struct rw_ring *ring, uint32_t slot, struct rw_completion *out) {
    struct rw_ring_request *request = &ring->requests[slot];
    assert(request->state == RW_SLOT_SUBMITTED && request->cqes_outstanding == 0);
    out->req_id = request->req_id;
    out->context = request->context;

    switch (request->op) {
    case RW_RING_OP_READ:
        out->syscall = RW_SYSCALL_READ;
        return transfer_settle(ring, slot, out);
    case RW_RING_OP_FSYNC:
        out->result = request->fault_sync_errno > 0 ? -request->fault_sync_errno : request->main_result;
        out->syscall = request->datasync ? RW_SYSCALL_FDATASYNC : RW_SYSCALL_FSYNC;
        return true;
    case RW_RING_OP_WRITE:
        break;
    default:
        assert(!"unknown request op");
    }

    out->syscall = RW_SYSCALL_WRITE;
    if (request->fault_main_errno > 0) {
        out->result = -request->fault_main_errno;
        return true;
    }
    if (!transfer_settle(ring, slot, out)) return false;
    if (out->result < 0) return true;
    assert(out->result == (int32_t)request->length_bytes);

    int32_t sync_result = 0;
    if (request->fault_sync_errno > 0) {
        sync_result = -request->fault_sync_errno;
    } else if (request->durability == RW_DURABILITY_FDATASYNC) {
        sync_result = request->sync_result;
    }
    if (sync_result < 0) {
        out->result = sync_result;
        out->syscall = RW_SYSCALL_FDATASYNC;
    }
    return true;
}

int rw_ring_reap(struct rw_ring *ring, struct rw_completion *out, uint32_t out_capacity) {
    assert(ring != NULL && ring->ring_fd >= 0);
    assert(out != NULL && out_capacity >= ring->entries);
    uint32_t count = 0;
    uint32_t head = *ring->cq.head;
    uint32_t tail = rw_cq_tail_load(ring->cq.tail);
    assert(tail - head <= ring->cq.entries);

    for (; head != tail; head++) {
        const struct io_uring_cqe *cqe = &ring->cq.cqes[head & ring->cq.mask];
        uint32_t slot, part;
        struct rw_ring_request *request = request_of(ring, cqe->user_data, &slot, &part);

        if (part == PART_SYNC) {
            request->sync_result = cqe->res;
        } else {
            request->main_result = cqe->res;
        }
        if (--request->cqes_outstanding > 0) continue;
        if (request_settle(ring, slot, &out[count])) {
            slot_release(ring, slot);
            count++;
            assert(count <= out_capacity);
        }
    }
    rw_cq_head_store(ring->cq.head, head);
    /*
     * Remainders of short reads and writes were queued by request_settle; send them now the CQ
     * has room. A refusal is left to the caller's retry (rw_ring_submit_error).
     */
    ring_flush(ring);
    return (int)count;
}

int rw_ring_submit(struct rw_ring *ring) {
    assert(ring != NULL && ring->ring_fd >= 0);
    return ring_flush(ring);
}

int rw_ring_submit_error(const struct rw_ring *ring) {
    assert(ring != NULL);
    /* Without a stall nothing waits: ring_flush cleared it only with an empty SQ. */
    assert(ring->submit_error != 0 || (sq_unsubmitted(ring) == 0 && ring->pending_count == 0));
    return ring->submit_error;
}

uint32_t rw_ring_unsubmitted_sqes(const struct rw_ring *ring) {
    assert(ring != NULL);
    return sq_unsubmitted(ring);
}

bool rw_ring_submit_retryable(int error) {
    return error == -EAGAIN || error == -EBUSY || error == -EINTR;
}

uint32_t rw_ring_submit_retry_delay_ms(uint32_t attempt) {
    if (attempt == 0) return 0;
    uint32_t delay_ms = 1;
    /* Doubles attempt - 1 times, stopping at the cap: a few passes at most. */
    for (uint32_t i = 1; i < attempt && delay_ms < RW_RING_SUBMIT_RETRY_DELAY_MS_MAX; i++) delay_ms *= 2;
    return delay_ms < RW_RING_SUBMIT_RETRY_DELAY_MS_MAX ? delay_ms : RW_RING_SUBMIT_RETRY_DELAY_MS_MAX;
}

/*
 * Records that one SQE of a request never reached the kernel: its part failed with error. An
 * injected fault of that part is dropped, since its NOP never ran; the refusal is what happened.
 */
static void request_withdraw(struct rw_ring_request *request, uint32_t part, int32_t error) {
    if (part == PART_SYNC) {
        request->sync_result = error;
        request->fault_sync_errno = 0;
        return;
    }
    request->main_result = error;
    request->fault_main_errno = 0;
    /* An fsync request's one SQE is PART_MAIN, but its fault is kept as a sync fault. */
    if (request->op == RW_RING_OP_FSYNC) request->fault_sync_errno = 0;
}

int rw_ring_fail_unsubmitted(struct rw_ring *ring, int32_t error, struct rw_completion *out,
                             uint32_t out_capacity) {
    assert(ring != NULL && ring->ring_fd >= 0);
    assert(error < 0 && error >= -RW_ERRNO_MAX);
    assert(out != NULL && out_capacity >= ring->entries);
    uint32_t head = rw_sq_head_load(ring->sq.head);
    uint32_t tail = ring->sq.tail_local;
    assert(tail - head <= ring->sq.entries);

    /*
     * Without SQPOLL (never set here) the kernel reads SQEs only inside io_uring_enter, which is
     * ours to call, so rewinding the tail to the head takes back the SQEs it has not consumed.
     */
    ring->sq.tail_local = head;
    rw_sq_tail_store(ring->sq.tail, head);

    uint32_t count = 0;
    for (uint32_t index = head; index != tail; index++) {
        const struct io_uring_sqe *sqe = &ring->sq.sqes[index & ring->sq.mask];
        uint32_t slot, part;
        struct rw_ring_request *request = request_of(ring, sqe->user_data, &slot, &part);
        request_withdraw(request, part, error);
        /*
         * A linked pair settles once, at its second SQE. If the kernel took the write but not
         * its sync (a partial submission), the write's CQE settles it later with the sync failed.
         */
        if (--request->cqes_outstanding > 0) continue;
        /*
         * Not finished only where the kernel already answered a short write whose sync was
         * withdrawn: its remainder went back to pending, which the loop below fails.
         */
        if (!request_settle(ring, slot, &out[count])) continue;
        slot_release(ring, slot);
        count++;
    }

    /* The requests behind the refused SQEs never had SQEs of this round: they fail the same way. */
    while (ring->pending_count > 0) {
        uint32_t slot = pending_pop(ring);
        struct rw_ring_request *request = &ring->requests[slot];
        assert(request->state == RW_SLOT_PENDING);
        request->state = RW_SLOT_SUBMITTED;
        request->cqes_outstanding = 0;
        request_withdraw(request, PART_MAIN, error);
        bool finished = request_settle(ring, slot, &out[count]);
        assert(finished);
        (void)finished;
        slot_release(ring, slot);
        count++;
    }
    assert(count <= out_capacity);
    assert(sq_unsubmitted(ring) == 0 && ring->pending_count == 0);
    ring->submit_error = 0;
    return (int)count;
}

void rw_ring_eventfd_clear(struct rw_ring *ring) {
    assert(ring != NULL && ring->event_fd >= 0);
    uint64_t counter;
    /* Non-blocking: EAGAIN only means another wakeup already cleared it. */
    ssize_t ret = read(ring->event_fd, &counter, sizeof(counter));
    assert(ret == (ssize_t)sizeof(counter) || errno == EAGAIN || errno == EINTR);
    (void)ret;
}

int rw_ring_inject_fault(struct rw_ring *ring, int syscall_kind, uint32_t countdown, int32_t errno_value) {
    assert(ring != NULL);
    if (errno_value <= 0 || errno_value > RW_ERRNO_MAX) return -EINVAL;
    struct rw_fault fault = {.countdown = countdown, .errno_value = errno_value};
    if (syscall_kind == RW_SYSCALL_WRITE) {
        ring->fault_write = fault;
    } else if (syscall_kind == RW_SYSCALL_FDATASYNC) {
        ring->fault_sync = fault;
    } else {
        return -EINVAL;
    }
    return 0;
}

int rw_ring_inject_enter_fault(struct rw_ring *ring, uint32_t failures, int32_t errno_value) {
    assert(ring != NULL);
    if (errno_value <= 0 || errno_value > RW_ERRNO_MAX) return -EINVAL;
    ring->enter_failures = failures;
    ring->enter_failure_errno = errno_value;
    return 0;
}

void rw_ring_inject_partial_submit(struct rw_ring *ring, uint32_t sqes_max) {
    assert(ring != NULL);
    ring->enter_sqes_max = sqes_max;
}
