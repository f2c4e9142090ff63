/*
 * Every memory barrier between this process and the kernel's io_uring lives here.
 *
 * The SQ and CQ rings are shared memory: the kernel and we each own one index of each ring and
 * only read the other's. An index store must publish the entries it covers, and an index load
 * must happen before the entries it covers are read, so each pair is release/acquire.
 */
#ifndef RW_BARRIER_H
#define RW_BARRIER_H

#include <stdint.h>

/* Ensure the kernel sees the SQE contents we wrote before it sees the new SQ tail. */
static inline void rw_sq_tail_store(uint32_t *tail, uint32_t value) {
    __atomic_store_n(tail, value, __ATOMIC_RELEASE);
}

/* Ensure we see the kernel's SQ head (how far it consumed) before we overwrite freed SQEs. */
static inline uint32_t rw_sq_head_load(const uint32_t *head) {
    return __atomic_load_n(head, __ATOMIC_ACQUIRE);
}

/* Ensure we see the CQE contents the kernel wrote before we see the CQ tail that covers them. */
static inline uint32_t rw_cq_tail_load(const uint32_t *tail) {
    return __atomic_load_n(tail, __ATOMIC_ACQUIRE);
}

/* Ensure the kernel sees that we finished reading CQEs before it reuses their slots. */
static inline void rw_cq_head_store(uint32_t *head, uint32_t value) {
    __atomic_store_n(head, value, __ATOMIC_RELEASE);
}

#endif
