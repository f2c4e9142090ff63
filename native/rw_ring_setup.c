/*
 * Cold path of the io_uring driver: setup, teardown, buffer registration.
 * The hot path (queueing, submitting, reaping) is in rw_ring.c.
 */
#define _GNU_SOURCE
#include <assert.h>
#include <errno.h>
#include <linux/io_uring.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include "rw_ring.h"

static int ring_register(int ring_fd, unsigned opcode, const void *arg, unsigned count) {
    long ret = syscall(__NR_io_uring_register, ring_fd, opcode, arg, count);
    return ret < 0 ? -errno : (int)ret;
}

/* The opcodes rw_ring.c issues, in the order of the bits of a supported mask. */
static const struct {
    uint8_t opcode;
    const char *name;
} required_ops[RW_RING_REQUIRED_OPS_COUNT] = {
    {IORING_OP_NOP, "NOP"},
    {IORING_OP_READ, "READ"},
    {IORING_OP_WRITE, "WRITE"},
    {IORING_OP_FSYNC, "FSYNC"},
    {IORING_OP_READ_FIXED, "READ_FIXED"},
    {IORING_OP_WRITE_FIXED, "WRITE_FIXED"},
};

#define REQUIRED_OPS_ALL ((1u << RW_RING_REQUIRED_OPS_COUNT) - 1)

/*
 * Opcodes a test marked missing. Process-wide like the kernel it stands in for; bytes with
 * relaxed atomics, because rings are created on several threads (workers) and the order in which
 * a concurrent create sees a change does not matter.
 */
static uint8_t simulated_missing[RW_RING_PROBE_OPS];

int rw_ring_simulate_missing_ops(const uint8_t *opcodes, uint32_t count) {
    assert(count == 0 || opcodes != NULL);
    if (count > RW_RING_PROBE_OPS) return -EINVAL;
    for (uint32_t op = 0; op < RW_RING_PROBE_OPS; op++) __atomic_store_n(&simulated_missing[op], 0, __ATOMIC_RELAXED);
    for (uint32_t i = 0; i < count; i++) __atomic_store_n(&simulated_missing[opcodes[i]], 1, __ATOMIC_RELAXED);
    return 0;
}

const char *rw_ring_required_op_name(uint32_t index) {
    assert(index < RW_RING_REQUIRED_OPS_COUNT);
    return required_ops[index].name;
}

/*
 * IORING_REGISTER_PROBE (5.6+) on a ring: sets bit i of supported_mask for each required opcode
 * i the kernel supports. A kernel without the probe answers -EINVAL, and it also lacks READ and
 * WRITE (both came in 5.6), so that is -EOPNOTSUPP.
 */
static int ring_probe_required(int ring_fd, uint32_t *supported_mask) {
    size_t probe_bytes = sizeof(struct io_uring_probe) + RW_RING_PROBE_OPS * sizeof(struct io_uring_probe_op);
    /* Zeroed: the kernel refuses a probe with any byte set. */
    struct io_uring_probe *probe = calloc(1, probe_bytes);
    if (probe == NULL) return -ENOMEM;
    int ret = ring_register(ring_fd, IORING_REGISTER_PROBE, probe, RW_RING_PROBE_OPS);
    if (ret == -EINVAL) ret = -EOPNOTSUPP;
    *supported_mask = 0;
    for (uint32_t i = 0; ret >= 0 && i < RW_RING_REQUIRED_OPS_COUNT; i++) {
        uint8_t opcode = required_ops[i].opcode;
        bool supported = opcode < probe->ops_len && (probe->ops[opcode].flags & IO_URING_OP_SUPPORTED) != 0;
        if (supported && __atomic_load_n(&simulated_missing[opcode], __ATOMIC_RELAXED) == 0) {
            *supported_mask |= 1u << i;
        }
    }
    free(probe);
    return ret < 0 ? ret : 0;
}

int rw_ring_probe(uint32_t *supported_mask) {
    assert(supported_mask != NULL);
    struct io_uring_params params;
    memset(&params, 0, sizeof(params));
    /* The smallest ring that a linked pair fits in; the probe answers for the kernel, not the ring. */
    long fd = syscall(__NR_io_uring_setup, RW_RING_SQES_PER_REQUEST_MAX, &params);
    if (fd < 0) return -errno;
    int ret = ring_probe_required((int)fd, supported_mask);
    close((int)fd);
    return ret;
}

static void *ring_map(int ring_fd, size_t size_bytes, uint64_t offset) {
    void *map = mmap(NULL, size_bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, ring_fd,
                     (off_t)offset);
    return map == MAP_FAILED ? NULL : map;
}

static int ring_map_all(struct rw_ring *ring, const struct io_uring_params *params) {
    size_t sq_bytes = params->sq_off.array + params->sq_entries * sizeof(uint32_t);
    size_t cq_bytes = params->cq_off.cqes + params->cq_entries * sizeof(struct io_uring_cqe);

    /* Since 5.4 the SQ and CQ rings share one mapping; before that each has its own offset. */
    if (ring->features & IORING_FEAT_SINGLE_MMAP) {
        if (cq_bytes > sq_bytes) sq_bytes = cq_bytes;
        cq_bytes = sq_bytes;
    }
    ring->sq_map = ring_map(ring->ring_fd, sq_bytes, IORING_OFF_SQ_RING);
    if (ring->sq_map == NULL) return -errno;
    ring->sq_map_bytes = sq_bytes;

    if (ring->features & IORING_FEAT_SINGLE_MMAP) {
        ring->cq_map = ring->sq_map;
    } else {
        ring->cq_map = ring_map(ring->ring_fd, cq_bytes, IORING_OFF_CQ_RING);
        if (ring->cq_map == NULL) return -errno;
    }
    ring->cq_map_bytes = cq_bytes;

    ring->sqes_map_bytes = params->sq_entries * sizeof(struct io_uring_sqe);
    ring->sqes_map = ring_map(ring->ring_fd, ring->sqes_map_bytes, IORING_OFF_SQES);
    if (ring->sqes_map == NULL) return -errno;
    return 0;
}

static void ring_bind(struct rw_ring *ring, const struct io_uring_params *params) {
    uint8_t *sq = ring->sq_map;
    uint8_t *cq = ring->cq_map;

    ring->sq.head = (uint32_t *)(sq + params->sq_off.head);
    ring->sq.tail = (uint32_t *)(sq + params->sq_off.tail);
    ring->sq.mask = *(uint32_t *)(sq + params->sq_off.ring_mask);
    ring->sq.entries = *(uint32_t *)(sq + params->sq_off.ring_entries);
    ring->sq.tail_local = *ring->sq.tail;
    ring->sq.sqes = ring->sqes_map;

    /* SQE i always sits in SQ array slot i, so the indirection array is filled once, here. */
    uint32_t *array = (uint32_t *)(sq + params->sq_off.array);
    for (uint32_t i = 0; i < ring->sq.entries; i++) array[i] = i;

    ring->cq.head = (uint32_t *)(cq + params->cq_off.head);
    ring->cq.tail = (uint32_t *)(cq + params->cq_off.tail);
    ring->cq.mask = *(uint32_t *)(cq + params->cq_off.ring_mask);
    ring->cq.entries = *(uint32_t *)(cq + params->cq_off.ring_entries);
    ring->cq.cqes = (struct io_uring_cqe *)(cq + params->cq_off.cqes);
}

static int ring_table_create(struct rw_ring *ring, uint32_t entries) {
    ring->requests = calloc(entries, sizeof(*ring->requests));
    ring->free_slots = calloc(entries, sizeof(*ring->free_slots));
    if (ring->requests == NULL || ring->free_slots == NULL) return -ENOMEM;
    ring->entries = entries;
    /* Pushed in reverse so that slot 0 is handed out first, which keeps traces readable. */
    for (uint32_t i = 0; i < entries; i++) ring->free_slots[i] = entries - 1 - i;
    ring->free_count = entries;
    ring->pending_head = RW_SLOT_NONE;
    ring->pending_tail = RW_SLOT_NONE;
    return 0;
}

int rw_ring_create(struct rw_ring *ring, uint32_t entries) {
    assert(ring != NULL);
    if (entries == 0 || entries > RW_RING_ENTRIES_MAX) return -EINVAL;

    memset(ring, 0, sizeof(*ring));
    ring->ring_fd = -1;
    ring->event_fd = -1;

    /* A linked write+fsync is two SQEs that must go in one io_uring_enter, so the SQ holds at least two. */
    uint32_t sq_entries = entries < RW_RING_SQES_PER_REQUEST_MAX ? RW_RING_SQES_PER_REQUEST_MAX : entries;
    struct io_uring_params params;
    memset(&params, 0, sizeof(params));
    long fd = syscall(__NR_io_uring_setup, sq_entries, &params);
    if (fd < 0) return -errno;
    ring->ring_fd = (int)fd;
    ring->features = params.features;

    uint32_t supported_mask;
    int ret = ring_probe_required(ring->ring_fd, &supported_mask);
    if (ret == 0 && supported_mask != REQUIRED_OPS_ALL) ret = -EOPNOTSUPP;
    if (ret < 0) goto fail;

    ret = ring_map_all(ring, &params);
    if (ret < 0) goto fail;
    ring_bind(ring, &params);

    /*
     * A linked write+fsync is two SQEs and two CQEs, so a full table needs 2 × entries CQ slots.
     * The kernel gives 2 × sq_entries ≥ 2 × entries, so the CQ can never overflow, and the SQ
     * always has room for a pair once io_uring_enter has consumed it.
     */
    assert(ring->sq.entries >= entries && ring->sq.entries >= RW_RING_SQES_PER_REQUEST_MAX);
    assert(ring->cq.entries >= RW_RING_SQES_PER_REQUEST_MAX * entries);

    ret = ring_table_create(ring, entries);
    if (ret < 0) goto fail;

    ring->event_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (ring->event_fd < 0) {
        ret = -errno;
        goto fail;
    }
    ret = ring_register(ring->ring_fd, IORING_REGISTER_EVENTFD, &ring->event_fd, 1);
    if (ret < 0) goto fail;
    return 0;

fail:
    rw_ring_destroy(ring);
    return ret;
}

void rw_ring_destroy(struct rw_ring *ring) {
    assert(ring != NULL);
    if (ring->ring_fd >= 0) {
        if (ring->fixed_count > 0) ring_register(ring->ring_fd, IORING_UNREGISTER_BUFFERS, NULL, 0);
        if (ring->event_fd >= 0) ring_register(ring->ring_fd, IORING_UNREGISTER_EVENTFD, NULL, 0);
    }
    if (ring->event_fd >= 0) close(ring->event_fd);
    if (ring->sqes_map != NULL) munmap(ring->sqes_map, ring->sqes_map_bytes);
    if (ring->cq_map != NULL && ring->cq_map != ring->sq_map) munmap(ring->cq_map, ring->cq_map_bytes);
    if (ring->sq_map != NULL) munmap(ring->sq_map, ring->sq_map_bytes);
    if (ring->ring_fd >= 0) close(ring->ring_fd);
    free(ring->requests);
    free(ring->free_slots);
    memset(ring, 0, sizeof(*ring));
    ring->ring_fd = -1;
    ring->event_fd = -1;
}

int rw_ring_register_buffers(struct rw_ring *ring, const struct rw_ring_fixed_buffer *buffers,
                             uint32_t count) {
    assert(ring != NULL && ring->ring_fd >= 0);
    assert(count == 0 || buffers != NULL);
    if (count > RW_RING_FIXED_BUFFERS_MAX) return -EINVAL;
    /* In-flight requests may name a buffer index; the set cannot change under them. */
    if (ring->in_flight > 0) return -EBUSY;

    if (ring->fixed_count > 0) {
        int ret = ring_register(ring->ring_fd, IORING_UNREGISTER_BUFFERS, NULL, 0);
        if (ret < 0) return ret;
        ring->fixed_count = 0;
    }
    if (count == 0) return 0;

    struct iovec iovecs[RW_RING_FIXED_BUFFERS_MAX];
    for (uint32_t i = 0; i < count; i++) {
        if (buffers[i].size_bytes == 0 || buffers[i].size_bytes > RW_IO_BYTES_MAX) return -EINVAL;
        iovecs[i].iov_base = (void *)buffers[i].base;
        iovecs[i].iov_len = buffers[i].size_bytes;
    }
    int ret = ring_register(ring->ring_fd, IORING_REGISTER_BUFFERS, iovecs, count);
    if (ret < 0) return ret;
    memcpy(ring->fixed, buffers, count * sizeof(*buffers));
    ring->fixed_count = count;
    return 0;
}
