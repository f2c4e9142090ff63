/*
 * The N-API glue: converts JS values to C and back, owns the libuv handles, and nothing more.
 * Policy (retries, batching, error classes) is TypeScript's; system calls are the core's.
 *
 * Lifetime of a backend (ring or pool). Three parties can end it, in any order:
 *   - ringClose/poolClose from JS, allowed only when nothing is in flight;
 *   - the environment's teardown (an async cleanup hook), which waits for in-flight requests
 *     so that the kernel or a worker never writes from freed memory;
 *   - the garbage collector (finalizer of the handle), which cannot run while requests are in
 *     flight because the handle is strongly referenced then.
 * "closed" means the engine is shut down; the struct itself is freed once the engine's last
 * libuv handle is closed ("released": for a ring both the poll handle and the submit-retry
 * timer) and the JS handle is finalized.
 */
#define _GNU_SOURCE
#include <assert.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <node_api.h>
#include <uv.h>

#include "rw_crc32c.h"
#include "rw_file.h"
#include "rw_mem.h"
#include "rw_pool.h"
#include "rw_ring.h"

/* Externals carry no type; a magic number tells a ring handle from a pool handle. */
#define MAGIC_RING 0x72696e67u /* "ring" */
#define MAGIC_POOL 0x706f6f6cu /* "pool" */
#define MAGIC_DEAD 0u

/* One completion is [reqId, result, syscall] in the JS Int32Array. */
#define TRIPLE_INTS 3

/* JS numbers are exact integers up to 2^53 - 1 (Number.MAX_SAFE_INTEGER). */
#define JS_SAFE_INTEGER_MAX 9007199254740991.0

#define NS_PER_MS 1000000u

/* The most arguments any export takes (ringWrite). */
#define ARGS_MAX 8

struct backend {
    uint32_t magic;
    napi_env env;
    napi_ref self_ref; /* weak while idle, strong while requests are in flight */
    bool active;
    napi_ref callback_ref;
    napi_ref completions_ref;
    int32_t *completions;
    uint32_t completions_triples;
    napi_async_context async_context;
    napi_async_cleanup_hook_handle cleanup_hook;
    bool closed;    /* engine shut down: every call answers -EBADF */
    bool closing;   /* teardown is waiting for in-flight requests */
    bool released;  /* the engine's libuv handle is closed */
    bool finalized; /* the JS handle is collected */
};

struct ring_js {
    struct backend base;
    struct rw_ring ring;
    uv_poll_t poll;
    uv_timer_t retry;          /* retries a submission io_uring_enter refused */
    uint64_t retry_started_ns; /* uv_hrtime of the refusal that started the current stall */
    uint32_t retry_attempts;   /* retries of the current stall so far */
    uint32_t handles_open;     /* poll and retry until each one's close callback ran */
    struct rw_completion *drained; /* ring.entries of them, allocated at create */
    napi_ref fixed_refs[RW_RING_FIXED_BUFFERS_MAX];
    uint32_t fixed_ref_count;
};

struct pool_work {
    uv_work_t work;
    struct pool_js *owner;
    uint32_t slot;
};

struct pool_js {
    struct backend base;
    struct rw_pool pool;
    uv_loop_t *loop;
    struct pool_work *works; /* pool.slots of them, allocated at create */
};

/* ---------- argument conversion ---------- */

enum arg_status { ARG_OK, ARG_RANGE, ARG_THROWN };

static napi_value js_int(napi_env env, int32_t value) {
    napi_value result;
    napi_create_int32(env, value, &result);
    return result;
}

static void throw_type(napi_env env, const char *name, const char *expected) {
    char message[128];
    snprintf(message, sizeof(message), "%s must be %s", name, expected);
    napi_throw_type_error(env, NULL, message);
}

/* A wrong JS type throws; a number that is not an integer in [min, max] is ARG_RANGE. */
static enum arg_status arg_integer(napi_env env, napi_value value, const char *name, double min, double max,
                                   double *out) {
    napi_valuetype type;
    if (napi_typeof(env, value, &type) != napi_ok || type != napi_number) {
        throw_type(env, name, "a number");
        return ARG_THROWN;
    }
    double number;
    napi_get_value_double(env, value, &number);
    if (!(number >= min && number <= max)) return ARG_RANGE;
    if ((double)(int64_t)number != number) return ARG_RANGE;
    *out = number;
    return ARG_OK;
}

#define ARG_INTEGER(index, name, min, max, dest)                                       \
    do {                                                                               \
        double value_;                                                                 \
        enum arg_status status_ = arg_integer(env, argv[index], name, min, max, &value_); \
        if (status_ == ARG_THROWN) return NULL;                                        \
        if (status_ == ARG_RANGE) return js_int(env, -EINVAL);                         \
        (dest) = value_;                                                               \
    } while (0)

static bool arg_bool(napi_env env, napi_value value, const char *name, bool *out) {
    if (napi_get_value_bool(env, value, out) != napi_ok) {
        throw_type(env, name, "a boolean");
        return false;
    }
    return true;
}

/* A non-array throws; an array longer than count_max is ARG_RANGE. */
static enum arg_status arg_array(napi_env env, napi_value value, const char *name, const char *expected,
                                 uint32_t count_max, uint32_t *count) {
    bool is_array = false;
    napi_is_array(env, value, &is_array);
    if (!is_array) {
        throw_type(env, name, expected);
        return ARG_THROWN;
    }
    napi_get_array_length(env, value, count);
    return *count > count_max ? ARG_RANGE : ARG_OK;
}

static bool arg_arraybuffer(napi_env env, napi_value value, const char *name, uint8_t **data,
                            size_t *size_bytes) {
    bool is_arraybuffer = false;
    napi_is_arraybuffer(env, value, &is_arraybuffer);
    if (!is_arraybuffer) {
        throw_type(env, name, "an ArrayBuffer");
        return false;
    }
    void *memory;
    napi_get_arraybuffer_info(env, value, &memory, size_bytes);
    *data = memory;
    return true;
}

static bool arg_typedarray(napi_env env, napi_value value, const char *name, napi_typedarray_type want,
                           const char *want_name, void **data, size_t *length) {
    bool is_typedarray = false;
    napi_is_typedarray(env, value, &is_typedarray);
    napi_typedarray_type type;
    if (is_typedarray) napi_get_typedarray_info(env, value, &type, length, data, NULL, NULL);
    if (!is_typedarray || type != want) {
        throw_type(env, name, want_name);
        return false;
    }
    return true;
}

static bool arg_function(napi_env env, napi_value value, const char *name) {
    napi_valuetype type;
    if (napi_typeof(env, value, &type) != napi_ok || type != napi_function) {
        throw_type(env, name, "a function");
        return false;
    }
    return true;
}

/* NULL after throwing when value is not a live handle of this kind. */
static struct backend *arg_backend(napi_env env, napi_value value, uint32_t magic, const char *name) {
    napi_valuetype type;
    void *data = NULL;
    if (napi_typeof(env, value, &type) == napi_ok && type == napi_external) {
        napi_get_value_external(env, value, &data);
    }
    struct backend *backend = data;
    if (backend == NULL || backend->magic != magic) {
        throw_type(env, name, magic == MAGIC_RING ? "a ring handle" : "a pool handle");
        return NULL;
    }
    return backend;
}

/* ---------- shared backend plumbing ---------- */

static int backend_init(napi_env env, struct backend *backend, uint32_t magic, napi_value completions,
                        napi_value callback, uint32_t depth, const char *resource_name) {
    void *data;
    size_t length;
    if (!arg_typedarray(env, completions, "completions", napi_int32_array, "an Int32Array", &data, &length))
        return 1;
    if (!arg_function(env, callback, "onCompletions")) return 1;
    if (length % TRIPLE_INTS != 0 || length / TRIPLE_INTS < depth) return -EINVAL;

    backend->magic = magic;
    backend->env = env;
    backend->completions = data;
    backend->completions_triples = (uint32_t)(length / TRIPLE_INTS);
    napi_create_reference(env, completions, 1, &backend->completions_ref);
    napi_create_reference(env, callback, 1, &backend->callback_ref);
    napi_value name;
    napi_create_string_utf8(env, resource_name, NAPI_AUTO_LENGTH, &name);
    napi_async_init(env, NULL, name, &backend->async_context);
    return 0;
}

static void backend_release_js(struct backend *backend) {
    napi_env env = backend->env;
    napi_delete_reference(env, backend->callback_ref);
    napi_delete_reference(env, backend->completions_ref);
    napi_delete_reference(env, backend->self_ref);
    napi_async_destroy(env, backend->async_context);
    backend->callback_ref = NULL;
    backend->completions_ref = NULL;
    backend->self_ref = NULL;
    backend->completions = NULL;
}

/* A handle with requests in flight must not be collected: their completion needs it. */
static void backend_set_active(struct backend *backend, bool active) {
    if (backend->active == active) return;
    backend->active = active;
    uint32_t count;
    if (active) {
        napi_reference_ref(backend->env, backend->self_ref, &count);
    } else {
        napi_reference_unref(backend->env, backend->self_ref, &count);
    }
}

/*
 * Writes the triples, drops the buffers' keep-alive references and calls onCompletions(count)
 * once. napi_make_callback runs queued microtasks and nextTicks after the call, as any libuv
 * callback in Node does. During teardown the JS side is gone, so only the references are dropped.
 */
static void backend_deliver(struct backend *backend, const struct rw_completion *done, uint32_t count) {
    assert(count > 0 && count <= backend->completions_triples);
    napi_env env = backend->env;
    napi_handle_scope scope;
    napi_open_handle_scope(env, &scope);
    for (uint32_t i = 0; i < count; i++) {
        backend->completions[i * TRIPLE_INTS + 0] = done[i].req_id;
        backend->completions[i * TRIPLE_INTS + 1] = done[i].result;
        backend->completions[i * TRIPLE_INTS + 2] = done[i].syscall;
        if (done[i].context != NULL) napi_delete_reference(env, (napi_ref)done[i].context);
    }
    if (!backend->closing) {
        napi_value callback, receiver, argv[1], result;
        napi_get_reference_value(env, backend->callback_ref, &callback);
        napi_get_global(env, &receiver);
        napi_create_uint32(env, count, &argv[0]);
        napi_status status = napi_make_callback(env, backend->async_context, receiver, callback, 1, argv, &result);
        if (status == napi_pending_exception) {
            napi_value error;
            napi_get_and_clear_last_exception(env, &error);
            napi_fatal_exception(env, error);
        }
    }
    napi_close_handle_scope(env, scope);
}

/* Keeps an ArrayBuffer alive while the kernel or a worker uses its memory. */
static napi_ref keep_alive(napi_env env, napi_value arraybuffer) {
    napi_ref ref;
    napi_create_reference(env, arraybuffer, 1, &ref);
    return ref;
}

static void drop_keep_alive(napi_env env, void *context) {
    if (context != NULL) napi_delete_reference(env, (napi_ref)context);
}

/* Returns the handle, or NULL after freeing backend if the external could not be made. */
static napi_value backend_handle(napi_env env, struct backend *backend, napi_finalize finalize) {
    napi_value handle;
    napi_create_external(env, backend, finalize, NULL, &handle);
    napi_create_reference(env, handle, 0, &backend->self_ref);
    return handle;
}

/* ---------- memory and CRC32C ---------- */

/* The hint carries the mapping's size, which munmap needs. */
static void free_aligned(napi_env env, void *data, void *hint) {
    (void)env;
    rw_mem_free(data, (size_t)(uintptr_t)hint);
}

/*
 * The memory is freed by a finalizer attached to the ArrayBuffer object, not by the external
 * ArrayBuffer's own finalizer: Node runs the latter from an environment cleanup hook at teardown,
 * even while a request still writes from the memory. An object finalizer runs only when the
 * object is collected (our keep-alive reference prevents that while a request is in flight) or
 * when the N-API environment is deleted, which waits for our teardown hooks, which wait for the
 * in-flight requests.
 */
static napi_value js_alloc_aligned(napi_env env, napi_callback_info info) {
    size_t argc = 2;
    napi_value argv[2];
    napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
    double size_bytes, alignment_bytes;
    ARG_INTEGER(0, "sizeBytes", 0, JS_SAFE_INTEGER_MAX, size_bytes);
    ARG_INTEGER(1, "alignmentBytes", 0, JS_SAFE_INTEGER_MAX, alignment_bytes);
    void *memory;
    int ret = rw_mem_alloc_aligned((size_t)size_bytes, (size_t)alignment_bytes, &memory);
    if (ret < 0) return js_int(env, ret);
    napi_value arraybuffer;
    if (napi_create_external_arraybuffer(env, memory, (size_t)size_bytes, NULL, NULL, &arraybuffer) != napi_ok) {
        rw_mem_free(memory, (size_t)size_bytes);
        return js_int(env, -ENOMEM);
    }
    if (napi_add_finalizer(env, arraybuffer, memory, free_aligned, (void *)(uintptr_t)size_bytes, NULL) != napi_ok) {
        /* The ArrayBuffer is unreachable once we return an errno, so nothing can use the memory. */
        rw_mem_free(memory, (size_t)size_bytes);
        return js_int(env, -ENOMEM);
    }
    return arraybuffer;
}

static napi_value js_address_of(napi_env env, napi_callback_info info) {
    size_t argc = 1;
    napi_value argv[1];
    napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
    uint8_t *data;
    size_t size_bytes;
    if (!arg_arraybuffer(env, argv[0], "arrayBuffer", &data, &size_bytes)) return NULL;
    napi_value result;
    /* User-space addresses on x86-64 and arm64 are below 2^48, so a double holds them exactly. */
    napi_create_double(env, (double)(uintptr_t)data, &result);
    return result;
}

static napi_value crc32c_call(napi_env env, napi_callback_info info, bool portable) {
    size_t argc = 2;
    napi_value argv[2];
    napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
    void *data;
    size_t length;
    if (!arg_typedarray(env, argv[0], "view", napi_uint8_array, "a Uint8Array", &data, &length)) return NULL;
    uint32_t seed = 0;
    napi_valuetype seed_type = napi_undefined;
    if (argc >= 2) napi_typeof(env, argv[1], &seed_type);
    if (seed_type != napi_undefined && napi_get_value_uint32(env, argv[1], &seed) != napi_ok) {
        throw_type(env, "seed", "a number");
        return NULL;
    }
    uint32_t crc = portable ? rw_crc32c_portable(data, length, seed) : rw_crc32c(data, length, seed);
    napi_value result;
    napi_create_uint32(env, crc, &result);
    return result;
}

static napi_value js_crc32c(napi_env env, napi_callback_info info) {
    return crc32c_call(env, info, false);
}

static napi_value js_crc32c_portable(napi_env env, napi_callback_info info) {
    return crc32c_call(env, info, true);
}

static napi_value js_crc32c_impl(napi_env env, napi_callback_info info) {
    (void)info;
    napi_value result;
    napi_create_string_utf8(env, rw_crc32c_impl(), NAPI_AUTO_LENGTH, &result);
    return result;
}

static napi_value js_crc32c_ranges(napi_env env, napi_callback_info info) {
    size_t argc = 4;
    napi_value argv[4];
    napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
    void *view, *ranges_data, *out_data;
    size_t view_length, ranges_length, out_length;
    if (!arg_typedarray(env, argv[0], "view", napi_uint8_array, "a Uint8Array", &view, &view_length)) return NULL;
    if (!arg_typedarray(env, argv[1], "ranges", napi_uint32_array, "a Uint32Array", &ranges_data, &ranges_length))
        return NULL;
    double count_value;
    ARG_INTEGER(2, "count", 0, UINT32_MAX, count_value);
    if (!arg_typedarray(env, argv[3], "out", napi_uint32_array, "a Uint32Array", &out_data, &out_length))
        return NULL;
    uint32_t count = (uint32_t)count_value;
    const uint32_t *ranges = ranges_data;
    uint32_t *out = out_data;
    if (count > ranges_length / 2 || count > out_length) return js_int(env, -EINVAL);
    /* All ranges are checked before any is summed, so a bad batch writes nothing. */
    for (uint32_t i = 0; i < count; i++) {
        if ((uint64_t)ranges[2 * i] + ranges[2 * i + 1] > view_length) return js_int(env, -EINVAL);
    }
    const uint8_t *bytes = view;
    for (uint32_t i = 0; i < count; i++) out[i] = rw_crc32c(bytes + ranges[2 * i], ranges[2 * i + 1], 0);
    return js_int(env, 0);
}

/* ---------- files ---------- */

static napi_value js_flock(napi_env env, napi_callback_info info) {
    size_t argc = 2;
    napi_value argv[2];
    napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
    double fd;
    bool exclusive;
    ARG_INTEGER(0, "fd", INT32_MIN, INT32_MAX, fd);
    if (!arg_bool(env, argv[1], "exclusive", &exclusive)) return NULL;
    return js_int(env, rw_file_flock((int)fd, exclusive));
}

static napi_value js_fallocate(napi_env env, napi_callback_info info) {
    size_t argc = 4;
    napi_value argv[4];
    napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
    double fd, mode, offset_bytes, length_bytes;
    ARG_INTEGER(0, "fd", INT32_MIN, INT32_MAX, fd);
    ARG_INTEGER(1, "mode", 0, INT32_MAX, mode);
    ARG_INTEGER(2, "offsetBytes", 0, JS_SAFE_INTEGER_MAX, offset_bytes);
    ARG_INTEGER(3, "lengthBytes", 0, JS_SAFE_INTEGER_MAX, length_bytes);
    return js_int(env, rw_file_fallocate((int)fd, (int)mode, (int64_t)offset_bytes, (int64_t)length_bytes));
}

static napi_value js_fadvise(napi_env env, napi_callback_info info) {
    size_t argc = 4;
    napi_value argv[4];
    napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
    double fd, offset_bytes, length_bytes, advice;
    ARG_INTEGER(0, "fd", INT32_MIN, INT32_MAX, fd);
    ARG_INTEGER(1, "offsetBytes", 0, JS_SAFE_INTEGER_MAX, offset_bytes);
    ARG_INTEGER(2, "lengthBytes", 0, JS_SAFE_INTEGER_MAX, length_bytes);
    ARG_INTEGER(3, "advice", INT32_MIN, INT32_MAX, advice);
    return js_int(env, rw_file_fadvise((int)fd, (int64_t)offset_bytes, (int64_t)length_bytes, (int)advice));
}

static void set_uint32(napi_env env, napi_value object, const char *key, uint32_t value) {
    napi_value number;
    napi_create_uint32(env, value, &number);
    napi_set_named_property(env, object, key, number);
}

static napi_value js_dio_alignment(napi_env env, napi_callback_info info) {
    size_t argc = 1;
    napi_value argv[1];
    napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
    double fd;
    ARG_INTEGER(0, "fd", INT32_MIN, INT32_MAX, fd);
    uint32_t mem_align_bytes, offset_align_bytes;
    int ret = rw_file_dio_alignment((int)fd, &mem_align_bytes, &offset_align_bytes);
    if (ret < 0) return js_int(env, ret);
    napi_value result;
    napi_create_object(env, &result);
    set_uint32(env, result, "memAlignBytes", mem_align_bytes);
    set_uint32(env, result, "offsetAlignBytes", offset_align_bytes);
    return result;
}

/* ---------- io_uring backend ---------- */

static void ring_maybe_free(struct ring_js *ring) {
    if (!ring->base.released || !ring->base.finalized) return;
    free(ring->drained);
    ring->base.magic = MAGIC_DEAD;
    free(ring);
}

/* Close callback of both libuv handles: the ring is released after the second. */
static void ring_handle_closed(uv_handle_t *handle) {
    struct ring_js *ring = handle->data;
    assert(ring->base.closed && !ring->base.released);
    assert(ring->handles_open > 0);
    if (--ring->handles_open > 0) return;
    ring->base.released = true;
    napi_remove_async_cleanup_hook(ring->base.cleanup_hook);
    ring_maybe_free(ring);
}

static void ring_release_fixed(struct ring_js *ring) {
    for (uint32_t i = 0; i < ring->fixed_ref_count; i++) napi_delete_reference(ring->base.env, ring->fixed_refs[i]);
    ring->fixed_ref_count = 0;
}

static void ring_shutdown(struct ring_js *ring) {
    assert(!ring->base.closed);
    /* Closing with requests in flight would let the kernel write from memory V8 may free. */
    assert(ring->ring.in_flight == 0);
    ring->base.closed = true;
    /* uv_close stops polling at once, so the eventfd can be closed right after. */
    uv_close((uv_handle_t *)&ring->poll, ring_handle_closed);
    /* Nothing is in flight, so nothing is stalled; uv_close stops the timer if it is still armed. */
    uv_close((uv_handle_t *)&ring->retry, ring_handle_closed);
    ring_release_fixed(ring);
    rw_ring_destroy(&ring->ring);
    backend_release_js(&ring->base);
}

static void ring_on_retry(uv_timer_t *timer);

/*
 * Arms the retry timer when a submission stalls and disarms it when nothing waits any more.
 * The schedule and the budget are the core's (rw_ring.h); only the libuv timer is ours.
 */
static void ring_update_retry(struct ring_js *ring) {
    bool armed = uv_is_active((uv_handle_t *)&ring->retry);
    if (rw_ring_submit_error(&ring->ring) == 0) {
        if (armed) uv_timer_stop(&ring->retry);
        return;
    }
    if (armed) return;
    ring->retry_attempts = 0;
    /* Not uv_now: the loop's cached time can be long past (a script's first tick). */
    ring->retry_started_ns = uv_hrtime();
    uv_timer_start(&ring->retry, ring_on_retry, rw_ring_submit_retry_delay_ms(0), 0);
}

/*
 * A stalled request is in flight, so the referenced poll handle keeps the loop alive for it
 * while the timer retries.
 */
static void ring_update_active(struct ring_js *ring) {
    ring_update_retry(ring);
    bool active = ring->ring.in_flight > 0;
    if (active) {
        uv_ref((uv_handle_t *)&ring->poll);
    } else {
        uv_unref((uv_handle_t *)&ring->poll);
    }
    backend_set_active(&ring->base, active);
}

/* Hands count completions in ring->drained to JS, then does what the ring's new state asks. */
static void ring_deliver(struct ring_js *ring, uint32_t count) {
    if (count > 0) backend_deliver(&ring->base, ring->drained, count);
    if (ring->base.closed) return; /* onCompletions called ringClose */
    if (ring->base.closing && ring->ring.in_flight == 0) {
        ring_shutdown(ring);
        return;
    }
    ring_update_active(ring);
}

static void ring_on_poll(uv_poll_t *poll, int status, int events) {
    (void)status; /* an eventfd reports no poll errors; the reap below is correct either way */
    (void)events;
    struct ring_js *ring = poll->data;
    if (ring->base.closed) return;
    rw_ring_eventfd_clear(&ring->ring);
    int count = rw_ring_reap(&ring->ring, ring->drained, ring->ring.entries);
    assert(count >= 0);
    ring_deliver(ring, (uint32_t)count);
}

/*
 * Retries a stalled submission. Bounded by the core's budget: once the stall has lasted
 * RW_RING_SUBMIT_RETRY_BUDGET_MS, or at once for an errno that retrying cannot fix, every request
 * not yet in the kernel completes with the errno through the normal delivery.
 */
static void ring_on_retry(uv_timer_t *timer) {
    struct ring_js *ring = timer->data;
    assert(!ring->base.closed); /* ring_shutdown closes the timer, which stops it */
    int error = rw_ring_submit_error(&ring->ring);
    assert(error != 0);         /* ring_update_retry stops the timer when the stall clears */
    if (rw_ring_submit_retryable(error)) error = rw_ring_submit(&ring->ring);
    uint32_t count = 0;
    if (error != 0) {
        uint64_t waited_ms = (uv_hrtime() - ring->retry_started_ns) / NS_PER_MS;
        if (rw_ring_submit_retryable(error) && waited_ms < RW_RING_SUBMIT_RETRY_BUDGET_MS) {
            ring->retry_attempts++;
            uv_timer_start(timer, ring_on_retry, rw_ring_submit_retry_delay_ms(ring->retry_attempts), 0);
        } else {
            int failed = rw_ring_fail_unsubmitted(&ring->ring, error, ring->drained, ring->ring.entries);
            assert(failed >= 0);
            count = (uint32_t)failed;
        }
    }
    ring_deliver(ring, count);
}

static void ring_on_teardown(napi_async_cleanup_hook_handle handle, void *data) {
    (void)handle;
    struct ring_js *ring = data;
    if (ring->base.closed) return; /* ring_poll_closed, still to come, removes this hook */
    if (ring->ring.in_flight == 0) {
        ring_shutdown(ring);
    } else {
        ring->base.closing = true; /* ring_deliver shuts down when the last completion is in */
    }
}

static void ring_finalize(napi_env env, void *data, void *hint) {
    (void)env;
    (void)hint;
    struct ring_js *ring = data;
    ring->base.finalized = true;
    if (!ring->base.closed) ring_shutdown(ring);
    ring_maybe_free(ring);
}

static napi_value js_ring_create(napi_env env, napi_callback_info info) {
    size_t argc = 3;
    napi_value argv[3];
    napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
    double entries;
    ARG_INTEGER(0, "entries", 1, RW_RING_ENTRIES_MAX, entries);

    struct ring_js *ring = calloc(1, sizeof(*ring));
    if (ring == NULL) return js_int(env, -ENOMEM);
    int ret = backend_init(env, &ring->base, MAGIC_RING, argv[1], argv[2], (uint32_t)entries, "ringwal:ring");
    if (ret != 0) {
        if (ret < 0) backend_release_js(&ring->base);
        free(ring);
        return ret > 0 ? NULL : js_int(env, ret);
    }
    ret = rw_ring_create(&ring->ring, (uint32_t)entries);
    if (ret == 0) {
        ring->drained = calloc(ring->ring.entries, sizeof(*ring->drained));
        if (ring->drained == NULL) {
            rw_ring_destroy(&ring->ring);
            ret = -ENOMEM;
        }
    }
    uv_loop_t *loop = NULL;
    if (ret == 0) {
        napi_get_uv_event_loop(env, &loop);
        ret = uv_poll_init(loop, &ring->poll, ring->ring.event_fd);
        if (ret < 0) {
            free(ring->drained);
            rw_ring_destroy(&ring->ring);
        }
    }
    if (ret < 0) {
        backend_release_js(&ring->base);
        free(ring);
        return js_int(env, ret);
    }
    /* After the poll handle: a timer cannot fail to initialise, so nothing is left to unwind. */
    ret = uv_timer_init(loop, &ring->retry);
    assert(ret == 0);
    ring->retry.data = ring;
    ring->handles_open = 2;
    ring->poll.data = ring;
    uv_poll_start(&ring->poll, UV_READABLE, ring_on_poll);
    uv_unref((uv_handle_t *)&ring->poll);
    napi_add_async_cleanup_hook(env, ring_on_teardown, ring, &ring->base.cleanup_hook);
    return backend_handle(env, &ring->base, ring_finalize);
}

static struct ring_js *arg_ring(napi_env env, napi_value value) {
    return (struct ring_js *)arg_backend(env, value, MAGIC_RING, "handle");
}

/* Shared by ringWrite/ringRead and poolWrite/poolRead: the buffer range must lie in the buffer. */
struct io_args {
    int32_t req_id;
    int fd;
    uint8_t *data;
    uint32_t length_bytes;
    uint64_t file_offset_bytes;
};

/* 1 after throwing, -EINVAL for a bad range, 0 when args is filled from argv[1..6]. */
static int io_args_parse(napi_env env, napi_value *argv, struct io_args *args) {
    double req_id, fd, buffer_offset_bytes, length_bytes, file_offset_bytes;
    enum arg_status status;
#define IO_ARG(index, name, min, max, dest)                                   \
    status = arg_integer(env, argv[index], name, min, max, &dest);            \
    if (status == ARG_THROWN) return 1;                                       \
    if (status == ARG_RANGE) return -EINVAL;
    IO_ARG(1, "reqId", INT32_MIN, INT32_MAX, req_id)
    IO_ARG(2, "fd", INT32_MIN, INT32_MAX, fd)
    size_t size_bytes;
    if (!arg_arraybuffer(env, argv[3], "buffer", &args->data, &size_bytes)) return 1;
    IO_ARG(4, "bufferOffsetBytes", 0, JS_SAFE_INTEGER_MAX, buffer_offset_bytes)
    IO_ARG(5, "lengthBytes", 1, RW_IO_BYTES_MAX, length_bytes)
    IO_ARG(6, "fileOffsetBytes", 0, JS_SAFE_INTEGER_MAX, file_offset_bytes)
#undef IO_ARG
    if (buffer_offset_bytes + length_bytes > (double)size_bytes) return -EINVAL;
    args->req_id = (int32_t)req_id;
    args->fd = (int)fd;
    args->data += (size_t)buffer_offset_bytes;
    args->length_bytes = (uint32_t)length_bytes;
    args->file_offset_bytes = (uint64_t)file_offset_bytes;
    return 0;
}

static napi_value ring_io(napi_env env, napi_callback_info info, bool write) {
    size_t argc = ARGS_MAX;
    napi_value argv[ARGS_MAX];
    napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
    struct ring_js *ring = arg_ring(env, argv[0]);
    if (ring == NULL) return NULL;
    struct io_args args;
    int ret = io_args_parse(env, argv, &args);
    if (ret > 0) return NULL;
    if (ret < 0) return js_int(env, ret);
    double durability = RW_DURABILITY_NONE;
    if (write) ARG_INTEGER(7, "durability", RW_DURABILITY_NONE, RW_DURABILITY_DSYNC, durability);
    if (ring->base.closed || ring->base.closing) return js_int(env, -EBADF);

    napi_ref ref = keep_alive(env, argv[3]);
    if (write) {
        ret = rw_ring_write(&ring->ring, args.req_id, args.fd, args.data, args.length_bytes, args.file_offset_bytes,
                            (int)durability, ref);
    } else {
        ret = rw_ring_read(&ring->ring, args.req_id, args.fd, args.data, args.length_bytes, args.file_offset_bytes,
                           ref);
    }
    if (ret < 0) {
        drop_keep_alive(env, ref);
        return js_int(env, ret);
    }
    ring_update_active(ring);
    return js_int(env, 0);
}

static napi_value js_ring_write(napi_env env, napi_callback_info info) {
    return ring_io(env, info, true);
}

static napi_value js_ring_read(napi_env env, napi_callback_info info) {
    return ring_io(env, info, false);
}

static napi_value js_ring_fsync(napi_env env, napi_callback_info info) {
    size_t argc = 4;
    napi_value argv[4];
    napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
    struct ring_js *ring = arg_ring(env, argv[0]);
    if (ring == NULL) return NULL;
    double req_id, fd;
    bool datasync;
    ARG_INTEGER(1, "reqId", INT32_MIN, INT32_MAX, req_id);
    ARG_INTEGER(2, "fd", INT32_MIN, INT32_MAX, fd);
    if (!arg_bool(env, argv[3], "datasync", &datasync)) return NULL;
    if (ring->base.closed || ring->base.closing) return js_int(env, -EBADF);
    int ret = rw_ring_fsync(&ring->ring, (int32_t)req_id, (int)fd, datasync, NULL);
    if (ret == 0) ring_update_active(ring);
    return js_int(env, ret);
}

static napi_value js_ring_register_buffers(napi_env env, napi_callback_info info) {
    size_t argc = 2;
    napi_value argv[2];
    napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
    struct ring_js *ring = arg_ring(env, argv[0]);
    if (ring == NULL) return NULL;
    uint32_t count;
    enum arg_status status = arg_array(env, argv[1], "buffers", "an array of ArrayBuffers",
                                       RW_RING_FIXED_BUFFERS_MAX, &count);
    if (status == ARG_THROWN) return NULL;
    if (status == ARG_RANGE) return js_int(env, -EINVAL);
    struct rw_ring_fixed_buffer fixed[RW_RING_FIXED_BUFFERS_MAX];
    napi_value elements[RW_RING_FIXED_BUFFERS_MAX];
    for (uint32_t i = 0; i < count; i++) {
        napi_get_element(env, argv[1], i, &elements[i]);
        uint8_t *data;
        if (!arg_arraybuffer(env, elements[i], "buffers[i]", &data, &fixed[i].size_bytes)) return NULL;
        fixed[i].base = (uintptr_t)data;
    }
    if (ring->base.closed || ring->base.closing) return js_int(env, -EBADF);
    int ret = rw_ring_register_buffers(&ring->ring, fixed, count);
    if (ret < 0) return js_int(env, ret);
    /* Registered memory is pinned by the kernel; V8 must not free it while registered. */
    ring_release_fixed(ring);
    for (uint32_t i = 0; i < count; i++) ring->fixed_refs[i] = keep_alive(env, elements[i]);
    ring->fixed_ref_count = count;
    return js_int(env, 0);
}

static napi_value js_ring_info(napi_env env, napi_callback_info info) {
    size_t argc = 1;
    napi_value argv[1];
    napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
    struct ring_js *ring = arg_ring(env, argv[0]);
    if (ring == NULL) return NULL;
    if (ring->base.closed) return js_int(env, -EBADF);
    napi_value result;
    napi_create_object(env, &result);
    set_uint32(env, result, "entries", ring->ring.entries);
    set_uint32(env, result, "inFlight", ring->ring.in_flight);
    set_uint32(env, result, "fixedBuffers", ring->ring.fixed_count);
    set_uint32(env, result, "features", ring->ring.features);
    set_uint32(env, result, "sqEntries", ring->ring.sq.entries);
    set_uint32(env, result, "cqEntries", ring->ring.cq.entries);
    set_uint32(env, result, "pending", ring->ring.pending_count);
    set_uint32(env, result, "unsubmitted", rw_ring_unsubmitted_sqes(&ring->ring));
    return result;
}

static napi_value js_ring_close(napi_env env, napi_callback_info info) {
    size_t argc = 1;
    napi_value argv[1];
    napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
    struct ring_js *ring = arg_ring(env, argv[0]);
    if (ring == NULL) return NULL;
    if (ring->base.closed) return js_int(env, 0);
    if (ring->ring.in_flight > 0) return js_int(env, -EBUSY);
    ring_shutdown(ring);
    return js_int(env, 0);
}

static napi_value js_ring_inject_enter_fault(napi_env env, napi_callback_info info) {
    size_t argc = 3;
    napi_value argv[3];
    napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
    struct ring_js *ring = arg_ring(env, argv[0]);
    if (ring == NULL) return NULL;
    double failures, errno_value;
    ARG_INTEGER(1, "failures", 0, UINT32_MAX, failures);
    ARG_INTEGER(2, "errno", 0, INT32_MAX, errno_value);
    if (ring->base.closed) return js_int(env, -EBADF);
    return js_int(env, rw_ring_inject_enter_fault(&ring->ring, (uint32_t)failures, (int32_t)errno_value));
}

static napi_value js_ring_inject_partial_submit(napi_env env, napi_callback_info info) {
    size_t argc = 2;
    napi_value argv[2];
    napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
    struct ring_js *ring = arg_ring(env, argv[0]);
    if (ring == NULL) return NULL;
    double sqes_max;
    ARG_INTEGER(1, "sqesMax", 0, UINT32_MAX, sqes_max);
    if (ring->base.closed) return js_int(env, -EBADF);
    rw_ring_inject_partial_submit(&ring->ring, (uint32_t)sqes_max);
    return js_int(env, 0);
}

static napi_value js_ring_simulate_missing_ops(napi_env env, napi_callback_info info) {
    size_t argc = 1;
    napi_value argv[1];
    napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
    uint32_t count;
    enum arg_status status = arg_array(env, argv[0], "opcodes", "an array of numbers", RW_RING_PROBE_OPS, &count);
    if (status == ARG_THROWN) return NULL;
    if (status == ARG_RANGE) return js_int(env, -EINVAL);
    uint8_t opcodes[RW_RING_PROBE_OPS];
    for (uint32_t i = 0; i < count; i++) {
        napi_value element;
        napi_get_element(env, argv[0], i, &element);
        double opcode;
        status = arg_integer(env, element, "opcodes[i]", 0, RW_RING_PROBE_OPS - 1, &opcode);
        if (status == ARG_THROWN) return NULL;
        if (status == ARG_RANGE) return js_int(env, -EINVAL);
        opcodes[i] = (uint8_t)opcode;
    }
    return js_int(env, rw_ring_simulate_missing_ops(opcodes, count));
}

static napi_value js_ring_probe(napi_env env, napi_callback_info info) {
    (void)info;
    uint32_t supported_mask;
    int ret = rw_ring_probe(&supported_mask);
    if (ret < 0) return js_int(env, ret);
    napi_value supported, missing;
    napi_create_array(env, &supported);
    napi_create_array(env, &missing);
    uint32_t supported_count = 0, missing_count = 0;
    for (uint32_t i = 0; i < RW_RING_REQUIRED_OPS_COUNT; i++) {
        napi_value name;
        napi_create_string_utf8(env, rw_ring_required_op_name(i), NAPI_AUTO_LENGTH, &name);
        if (supported_mask & (1u << i)) {
            napi_set_element(env, supported, supported_count++, name);
        } else {
            napi_set_element(env, missing, missing_count++, name);
        }
    }
    napi_value result;
    napi_create_object(env, &result);
    napi_set_named_property(env, result, "supported", supported);
    napi_set_named_property(env, result, "missing", missing);
    return result;
}

static napi_value inject_fault(napi_env env, napi_callback_info info, uint32_t magic) {
    size_t argc = 4;
    napi_value argv[4];
    napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
    struct backend *backend = arg_backend(env, argv[0], magic, "handle");
    if (backend == NULL) return NULL;
    double syscall_kind, countdown, errno_value;
    ARG_INTEGER(1, "syscall", 0, INT32_MAX, syscall_kind);
    ARG_INTEGER(2, "countdown", 0, UINT32_MAX, countdown);
    ARG_INTEGER(3, "errno", 0, INT32_MAX, errno_value);
    if (backend->closed) return js_int(env, -EBADF);
    int ret;
    if (magic == MAGIC_RING) {
        ret = rw_ring_inject_fault(&((struct ring_js *)backend)->ring, (int)syscall_kind, (uint32_t)countdown,
                                   (int32_t)errno_value);
    } else {
        ret = rw_pool_inject_fault(&((struct pool_js *)backend)->pool, (int)syscall_kind, (uint32_t)countdown,
                                   (int32_t)errno_value);
    }
    return js_int(env, ret);
}

static napi_value js_ring_inject_fault(napi_env env, napi_callback_info info) {
    return inject_fault(env, info, MAGIC_RING);
}

/* ---------- thread-pool backend ---------- */

static void pool_maybe_free(struct pool_js *pool) {
    if (!pool->base.released || !pool->base.finalized) return;
    pool->base.magic = MAGIC_DEAD;
    free(pool);
}

static void pool_shutdown(struct pool_js *pool) {
    assert(!pool->base.closed);
    /* A worker may still run a request: its memory must outlive it. */
    assert(pool->pool.in_flight == 0);
    pool->base.closed = true;
    rw_pool_destroy(&pool->pool);
    free(pool->works);
    pool->works = NULL;
    backend_release_js(&pool->base);
    /* The pool has no libuv handle to close, so it is released right away. */
    pool->base.released = true;
    napi_remove_async_cleanup_hook(pool->base.cleanup_hook);
    pool_maybe_free(pool);
}

static void pool_work_run(uv_work_t *work) {
    struct pool_work *pool_work = (struct pool_work *)work;
    rw_pool_execute(&pool_work->owner->pool.requests[pool_work->slot]);
}

static void pool_work_done(uv_work_t *work, int status) {
    struct pool_work *pool_work = (struct pool_work *)work;
    struct pool_js *pool = pool_work->owner;
    assert(!pool->base.closed);
    struct rw_completion done;
    rw_pool_finish(&pool->pool, pool_work->slot, &done);
    /* libuv cancels only on request (uv_cancel), which we never make; handle it anyway. */
    if (status == UV_ECANCELED) done.result = -ECANCELED;
    backend_deliver(&pool->base, &done, 1);
    if (pool->base.closed) return; /* onCompletions called poolClose */
    if (pool->base.closing && pool->pool.in_flight == 0) {
        pool_shutdown(pool);
        return;
    }
    backend_set_active(&pool->base, pool->pool.in_flight > 0);
}

static void pool_on_teardown(napi_async_cleanup_hook_handle handle, void *data) {
    (void)handle;
    struct pool_js *pool = data;
    assert(!pool->base.closed); /* pool_shutdown removes this hook */
    if (pool->pool.in_flight == 0) {
        pool_shutdown(pool);
    } else {
        pool->base.closing = true; /* pool_work_done shuts down after the last request */
    }
}

static void pool_finalize(napi_env env, void *data, void *hint) {
    (void)env;
    (void)hint;
    struct pool_js *pool = data;
    pool->base.finalized = true;
    if (!pool->base.closed) pool_shutdown(pool);
    else pool_maybe_free(pool);
}

static napi_value js_pool_create(napi_env env, napi_callback_info info) {
    size_t argc = 3;
    napi_value argv[3];
    napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
    double slots;
    ARG_INTEGER(0, "slots", 1, RW_POOL_SLOTS_MAX, slots);

    struct pool_js *pool = calloc(1, sizeof(*pool));
    if (pool == NULL) return js_int(env, -ENOMEM);
    int ret = backend_init(env, &pool->base, MAGIC_POOL, argv[1], argv[2], (uint32_t)slots, "ringwal:pool");
    if (ret != 0) {
        if (ret < 0) backend_release_js(&pool->base);
        free(pool);
        return ret > 0 ? NULL : js_int(env, ret);
    }
    ret = rw_pool_create(&pool->pool, (uint32_t)slots);
    if (ret == 0) {
        pool->works = calloc((size_t)slots, sizeof(*pool->works));
        if (pool->works == NULL) {
            rw_pool_destroy(&pool->pool);
            ret = -ENOMEM;
        }
    }
    if (ret < 0) {
        backend_release_js(&pool->base);
        free(pool);
        return js_int(env, ret);
    }
    for (uint32_t i = 0; i < (uint32_t)slots; i++) {
        pool->works[i].owner = pool;
        pool->works[i].slot = i;
    }
    napi_get_uv_event_loop(env, &pool->loop);
    napi_add_async_cleanup_hook(env, pool_on_teardown, pool, &pool->base.cleanup_hook);
    return backend_handle(env, &pool->base, pool_finalize);
}

static struct pool_js *arg_pool(napi_env env, napi_value value) {
    return (struct pool_js *)arg_backend(env, value, MAGIC_POOL, "handle");
}

static napi_value pool_queue(napi_env env, struct pool_js *pool, int slot, napi_ref ref) {
    if (slot < 0) {
        drop_keep_alive(env, ref);
        return js_int(env, slot);
    }
    assert((uint32_t)slot < pool->pool.slots);
    pool->pool.requests[slot].completion.context = ref;
    int ret = uv_queue_work(pool->loop, &pool->works[slot].work, pool_work_run, pool_work_done);
    /* uv_queue_work fails only for a missing work callback, which would be our bug. */
    assert(ret == 0);
    (void)ret;
    backend_set_active(&pool->base, true);
    return js_int(env, 0);
}

static napi_value pool_io(napi_env env, napi_callback_info info, bool write) {
    size_t argc = ARGS_MAX;
    napi_value argv[ARGS_MAX];
    napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
    struct pool_js *pool = arg_pool(env, argv[0]);
    if (pool == NULL) return NULL;
    struct io_args args;
    int ret = io_args_parse(env, argv, &args);
    if (ret > 0) return NULL;
    if (ret < 0) return js_int(env, ret);
    double durability = RW_DURABILITY_NONE;
    if (write) ARG_INTEGER(7, "durability", RW_DURABILITY_NONE, RW_DURABILITY_DSYNC, durability);
    if (pool->base.closed || pool->base.closing) return js_int(env, -EBADF);

    napi_ref ref = keep_alive(env, argv[3]);
    int slot;
    if (write) {
        slot = rw_pool_prepare_write(&pool->pool, args.req_id, args.fd, args.data, args.length_bytes,
                                     args.file_offset_bytes, (int)durability, ref);
    } else {
        slot = rw_pool_prepare_read(&pool->pool, args.req_id, args.fd, args.data, args.length_bytes,
                                    args.file_offset_bytes, ref);
    }
    return pool_queue(env, pool, slot, ref);
}

static napi_value js_pool_write(napi_env env, napi_callback_info info) {
    return pool_io(env, info, true);
}

static napi_value js_pool_read(napi_env env, napi_callback_info info) {
    return pool_io(env, info, false);
}

static napi_value js_pool_fsync(napi_env env, napi_callback_info info) {
    size_t argc = 4;
    napi_value argv[4];
    napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
    struct pool_js *pool = arg_pool(env, argv[0]);
    if (pool == NULL) return NULL;
    double req_id, fd;
    bool datasync;
    ARG_INTEGER(1, "reqId", INT32_MIN, INT32_MAX, req_id);
    ARG_INTEGER(2, "fd", INT32_MIN, INT32_MAX, fd);
    if (!arg_bool(env, argv[3], "datasync", &datasync)) return NULL;
    if (pool->base.closed || pool->base.closing) return js_int(env, -EBADF);
    int slot = rw_pool_prepare_fsync(&pool->pool, (int32_t)req_id, (int)fd, datasync, NULL);
    return pool_queue(env, pool, slot, NULL);
}

static napi_value js_pool_info(napi_env env, napi_callback_info info) {
    size_t argc = 1;
    napi_value argv[1];
    napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
    struct pool_js *pool = arg_pool(env, argv[0]);
    if (pool == NULL) return NULL;
    if (pool->base.closed) return js_int(env, -EBADF);
    napi_value result;
    napi_create_object(env, &result);
    set_uint32(env, result, "slots", pool->pool.slots);
    set_uint32(env, result, "inFlight", pool->pool.in_flight);
    return result;
}

static napi_value js_pool_close(napi_env env, napi_callback_info info) {
    size_t argc = 1;
    napi_value argv[1];
    napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
    struct pool_js *pool = arg_pool(env, argv[0]);
    if (pool == NULL) return NULL;
    if (pool->base.closed) return js_int(env, 0);
    if (pool->pool.in_flight > 0) return js_int(env, -EBUSY);
    pool_shutdown(pool);
    return js_int(env, 0);
}

static napi_value js_pool_inject_fault(napi_env env, napi_callback_info info) {
    return inject_fault(env, info, MAGIC_POOL);
}

/* ---------- module ---------- */

NAPI_MODULE_INIT() {
    static const struct {
        const char *name;
        napi_callback callback;
    } exported[] = {
        {"allocAligned", js_alloc_aligned},
        {"addressOf", js_address_of},
        {"crc32c", js_crc32c},
        {"crc32cRanges", js_crc32c_ranges},
        {"crc32cImpl", js_crc32c_impl},
        {"crc32cPortable", js_crc32c_portable},
        {"flock", js_flock},
        {"fallocate", js_fallocate},
        {"dioAlignment", js_dio_alignment},
        {"fadvise", js_fadvise},
        {"ringCreate", js_ring_create},
        {"ringWrite", js_ring_write},
        {"ringRead", js_ring_read},
        {"ringFsync", js_ring_fsync},
        {"ringRegisterBuffers", js_ring_register_buffers},
        {"ringInfo", js_ring_info},
        {"ringClose", js_ring_close},
        {"ringInjectFault", js_ring_inject_fault},
        {"ringInjectEnterFault", js_ring_inject_enter_fault},
        {"ringInjectPartialSubmit", js_ring_inject_partial_submit},
        {"ringSimulateMissingOps", js_ring_simulate_missing_ops},
        {"ringProbe", js_ring_probe},
        {"poolCreate", js_pool_create},
        {"poolWrite", js_pool_write},
        {"poolRead", js_pool_read},
        {"poolFsync", js_pool_fsync},
        {"poolInfo", js_pool_info},
        {"poolClose", js_pool_close},
        {"poolInjectFault", js_pool_inject_fault},
    };
    for (size_t i = 0; i < sizeof(exported) / sizeof(exported[0]); i++) {
        napi_value function;
        napi_create_function(env, exported[i].name, NAPI_AUTO_LENGTH, exported[i].callback, NULL, &function);
        napi_set_named_property(env, exports, exported[i].name, function);
    }
    return exports;
}
