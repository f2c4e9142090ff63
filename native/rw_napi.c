/*
 * The N-API glue: converts JS values to C and back, owns the libuv handles, and nothing more.
 * Policy (retries, batching, error classes) is TypeScript's; system calls are the core's.
 *
 * One surface serves both backends, the io_uring ring and the libuv thread pool: backendCreate
 * makes either, and backendWrite, backendRead, backendFsync, backendRegisterBuffers and
 * backendClose take either handle. A handle's magic number says which core it is; the calls that
 * differ between the cores go through its struct backend_ops, and everything else (argument
 * checks, keep-alive of buffers, completion delivery, lifetime) is written once, here.
 *
 * Lifetime of a backend. Three parties can end it, in any order:
 *   - backendClose from JS, allowed only when nothing is in flight;
 *   - the environment's teardown (an async cleanup hook), which waits for in-flight requests
 *     so that the kernel or a worker never writes from freed memory;
 *   - the garbage collector (finalizer of the handle), which cannot run while requests are in
 *     flight because the handle is strongly referenced then.
 * "closed" means the engine is shut down; the struct itself is freed once the engine's last
 * libuv handle is closed ("released": for a ring the poll handle and the submit-retry timer; the
 * pool has none) and the JS handle is finalized.
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

#include "rw_aead.h"
#include "rw_crc32c.h"
#include "rw_file.h"
#include "rw_mem.h"
#include "rw_pool.h"
#include "rw_ring.h"

/* Externals carry no type; a magic number tells a ring handle from a pool handle. */
#define MAGIC_RING 0x72696e67u /* "ring" */
#define MAGIC_POOL 0x706f6f6cu /* "pool" */
#define MAGIC_DEAD 0u
/* For backend_args: a handle of either kind. */
#define MAGIC_ANY 1u

/* One completion is [reqId, result, syscall] in the JS Int32Array. */
#define TRIPLE_INTS 3

/* JS numbers are exact integers up to 2^53 - 1 (Number.MAX_SAFE_INTEGER). */
#define JS_SAFE_INTEGER_MAX 9007199254740991.0

#define NS_PER_MS 1000000u

/* The most arguments any export takes (backendWrite). */
#define ARGS_MAX 8

enum backend_op { BACKEND_WRITE, BACKEND_READ, BACKEND_FSYNC };

/* What a request asks of a backend, its arguments converted and checked by the glue. */
struct backend_request {
    enum backend_op op;
    int32_t req_id;
    int fd;
    uint8_t *data; /* write and read: the buffer's memory at bufferOffsetBytes */
    uint32_t length_bytes;
    uint64_t file_offset_bytes;
    int durability; /* write */
    bool datasync;  /* fsync */
    void *context;  /* the buffer's keep-alive reference, handed back in the completion */
};

struct backend;

/*
 * How the ring and the pool differ in what both do. The ring's own calls (buffer registration and
 * its test hooks) check the magic instead.
 */
struct backend_ops {
    const char *kind;          /* as backendCreate names it */
    const char *resource_name; /* of its async context, as async_hooks shows it */
    uint32_t magic;
    uint32_t depth_max;
    size_t size_bytes; /* of the struct that embeds struct backend */
    /* Sets up the core and the kind's libuv handles; on failure undoes its own work. */
    int (*open)(struct backend *backend, uv_loop_t *loop, uint32_t depth);
    /* 0 once the core holds the request, or -errno (the request was not taken). */
    int (*submit)(struct backend *backend, const struct backend_request *request);
    /* After each submission and drain, while not closed: the kind's share of the loop's state. */
    void (*update)(struct backend *backend, bool active);
    /* Shuts the core down and starts closing the kind's libuv handles (backend_handle_closed). */
    void (*shutdown)(struct backend *backend);
    /* Frees what the struct still owns after shutdown, right before the struct itself. */
    void (*free)(struct backend *backend);
    int (*inject_fault)(struct backend *backend, int syscall_kind, uint32_t countdown, int32_t errno_value);
    /* Sets the kind's counters on object; false after throwing. */
    bool (*info)(napi_env env, const struct backend *backend, napi_value object);
};

struct backend {
    uint32_t magic;
    const struct backend_ops *ops;
    napi_env env;
    napi_ref self_ref; /* weak while idle, strong while requests are in flight */
    bool active;
    napi_ref callback_ref;
    napi_ref completions_ref;
    int32_t *completions;
    uint32_t completions_triples;
    napi_async_context async_context;
    napi_async_cleanup_hook_handle cleanup_hook;
    const uint32_t *in_flight; /* the core's count of requests in flight, set by open */
    uint32_t handles_open; /* the kind's libuv handles whose close callback has not run */
    bool closed;    /* engine shut down: every call answers -EBADF */
    bool closing;   /* teardown is waiting for in-flight requests */
    bool released;  /* the engine's libuv handles are closed */
    bool finalized; /* the JS handle is collected */
};

struct ring_js {
    struct backend base;
    struct rw_ring ring;
    uv_poll_t poll;
    uv_timer_t retry;          /* retries a submission io_uring_enter refused */
    uint64_t retry_started_ns; /* uv_hrtime of the refusal that started the current stall */
    uint32_t retry_attempts;   /* retries of the current stall so far */
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

/* ---------- N-API status ---------- */

/*
 * Every napi_status is checked. Inside an export a failed call throws an Error that names it
 * (unless an exception is already pending, which says more) and the export returns at once, so JS
 * sees the failure and never a half-done result. Outside an export (a libuv callback, a finalizer,
 * a cleanup hook) there is no caller to throw to, and going on would lose a completion or leak a
 * reference that keeps memory the kernel writes from, so a failure there ends the process.
 */
#define NAPI_CALL_OR(call, failed)            \
    do {                                      \
        if ((call) != napi_ok) {              \
            throw_napi_failure(env, #call);   \
            return failed;                    \
        }                                     \
    } while (0)

#define NAPI_CALL(call) NAPI_CALL_OR(call, NULL)

#define NAPI_FATAL(call)                                                                  \
    do {                                                                                  \
        if ((call) != napi_ok) napi_fatal_error(__func__, NAPI_AUTO_LENGTH, #call, NAPI_AUTO_LENGTH); \
    } while (0)

/*
 * A throw fails only while an exception is pending (JS will see that one) or when JS can no
 * longer run because the environment is stopping (nothing is left to see it); anything else is
 * a broken environment.
 */
static void throw_checked(napi_status status) {
    if (status != napi_ok && status != napi_pending_exception) {
        napi_fatal_error(__func__, NAPI_AUTO_LENGTH, "cannot throw", NAPI_AUTO_LENGTH);
    }
}

static void throw_napi_failure(napi_env env, const char *call) {
    /* Read first: any later N-API call overwrites the last error. */
    const napi_extended_error_info *error = NULL;
    bool known = napi_get_last_error_info(env, &error) == napi_ok && error->error_message != NULL;
    char message[256];
    snprintf(message, sizeof(message), "%s failed: %s", call, known ? error->error_message : "no reason given");
    bool pending = false;
    NAPI_FATAL(napi_is_exception_pending(env, &pending));
    if (!pending) throw_checked(napi_throw_error(env, "ERR_RINGWAL_NAPI", message));
}

/* ---------- argument conversion ---------- */

enum arg_status { ARG_OK, ARG_RANGE, ARG_THROWN };

/* The number, or NULL after throwing. */
static napi_value js_int(napi_env env, int32_t value) {
    napi_value result;
    NAPI_CALL(napi_create_int32(env, value, &result));
    return result;
}

static void throw_type(napi_env env, const char *name, const char *expected) {
    char message[128];
    snprintf(message, sizeof(message), "%s must be %s", name, expected);
    throw_checked(napi_throw_type_error(env, NULL, message));
}

/* A wrong JS type throws; a number that is not an integer in [min, max] is ARG_RANGE. */
static enum arg_status arg_integer(napi_env env, napi_value value, const char *name, double min, double max,
                                   double *out) {
    napi_valuetype type;
    NAPI_CALL_OR(napi_typeof(env, value, &type), ARG_THROWN);
    if (type != napi_number) {
        throw_type(env, name, "a number");
        return ARG_THROWN;
    }
    double number;
    NAPI_CALL_OR(napi_get_value_double(env, value, &number), ARG_THROWN);
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
    napi_status status = napi_get_value_bool(env, value, out);
    if (status == napi_boolean_expected) {
        throw_type(env, name, "a boolean");
        return false;
    }
    NAPI_CALL_OR(status, false);
    return true;
}

/* A non-array throws; an array longer than count_max is ARG_RANGE. */
static enum arg_status arg_array(napi_env env, napi_value value, const char *name, const char *expected,
                                 uint32_t count_max, uint32_t *count) {
    bool is_array;
    NAPI_CALL_OR(napi_is_array(env, value, &is_array), ARG_THROWN);
    if (!is_array) {
        throw_type(env, name, expected);
        return ARG_THROWN;
    }
    NAPI_CALL_OR(napi_get_array_length(env, value, count), ARG_THROWN);
    return *count > count_max ? ARG_RANGE : ARG_OK;
}

static bool arg_arraybuffer(napi_env env, napi_value value, const char *name, uint8_t **data,
                            size_t *size_bytes) {
    bool is_arraybuffer;
    NAPI_CALL_OR(napi_is_arraybuffer(env, value, &is_arraybuffer), false);
    if (!is_arraybuffer) {
        throw_type(env, name, "an ArrayBuffer");
        return false;
    }
    void *memory;
    NAPI_CALL_OR(napi_get_arraybuffer_info(env, value, &memory, size_bytes), false);
    *data = memory;
    return true;
}

static bool arg_typedarray(napi_env env, napi_value value, const char *name, napi_typedarray_type want,
                           const char *want_name, void **data, size_t *length) {
    bool is_typedarray;
    NAPI_CALL_OR(napi_is_typedarray(env, value, &is_typedarray), false);
    napi_typedarray_type type = napi_int8_array;
    if (is_typedarray) NAPI_CALL_OR(napi_get_typedarray_info(env, value, &type, length, data, NULL, NULL), false);
    if (!is_typedarray || type != want) {
        throw_type(env, name, want_name);
        return false;
    }
    return true;
}

static bool arg_function(napi_env env, napi_value value, const char *name) {
    napi_valuetype type;
    NAPI_CALL_OR(napi_typeof(env, value, &type), false);
    if (type != napi_function) {
        throw_type(env, name, "a function");
        return false;
    }
    return true;
}

/* Fills argv with the first `count` arguments; the missing ones are undefined. */
static bool get_args(napi_env env, napi_callback_info info, size_t count, napi_value *argv) {
    assert(count <= ARGS_MAX);
    size_t argc = count;
    NAPI_CALL_OR(napi_get_cb_info(env, info, &argc, argv, NULL, NULL), false);
    return true;
}

/*
 * get_args for a call on a backend handle, which is argv[0]: NULL after throwing when it is not a
 * live handle of this kind (MAGIC_ANY: of either).
 */
static struct backend *backend_args(napi_env env, napi_callback_info info, size_t count, napi_value *argv,
                                    uint32_t magic) {
    if (!get_args(env, info, count, argv)) return NULL;
    napi_valuetype type;
    NAPI_CALL(napi_typeof(env, argv[0], &type));
    void *data = NULL;
    if (type == napi_external) NAPI_CALL(napi_get_value_external(env, argv[0], &data));
    struct backend *backend = data;
    bool live = backend != NULL && (backend->magic == MAGIC_RING || backend->magic == MAGIC_POOL);
    if (!live || (magic != MAGIC_ANY && backend->magic != magic)) {
        throw_type(env, "handle", magic == MAGIC_RING ? "a ring handle" : "a backend handle");
        return NULL;
    }
    return backend;
}

/* False after throwing. */
static bool set_uint32(napi_env env, napi_value object, const char *key, uint32_t value) {
    napi_value number;
    NAPI_CALL_OR(napi_create_uint32(env, value, &number), false);
    NAPI_CALL_OR(napi_set_named_property(env, object, key, number), false);
    return true;
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
    napi_value argv[2];
    if (!get_args(env, info, 2, argv)) return NULL;
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
    napi_value argv[1];
    if (!get_args(env, info, 1, argv)) return NULL;
    uint8_t *data;
    size_t size_bytes;
    if (!arg_arraybuffer(env, argv[0], "arrayBuffer", &data, &size_bytes)) return NULL;
    napi_value result;
    /* User-space addresses on x86-64 and arm64 are below 2^48, so a double holds them exactly. */
    NAPI_CALL(napi_create_double(env, (double)(uintptr_t)data, &result));
    return result;
}

static napi_value crc32c_call(napi_env env, napi_callback_info info, bool portable) {
    napi_value argv[2];
    if (!get_args(env, info, 2, argv)) return NULL;
    void *data;
    size_t length;
    if (!arg_typedarray(env, argv[0], "view", napi_uint8_array, "a Uint8Array", &data, &length)) return NULL;
    uint32_t seed = 0;
    napi_valuetype seed_type;
    NAPI_CALL(napi_typeof(env, argv[1], &seed_type));
    if (seed_type != napi_undefined) {
        napi_status status = napi_get_value_uint32(env, argv[1], &seed);
        if (status == napi_number_expected) {
            throw_type(env, "seed", "a number");
            return NULL;
        }
        NAPI_CALL(status);
    }
    uint32_t crc = portable ? rw_crc32c_portable(data, length, seed) : rw_crc32c(data, length, seed);
    napi_value result;
    NAPI_CALL(napi_create_uint32(env, crc, &result));
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
    NAPI_CALL(napi_create_string_utf8(env, rw_crc32c_impl(), NAPI_AUTO_LENGTH, &result));
    return result;
}

static napi_value js_crc32c_ranges(napi_env env, napi_callback_info info) {
    napi_value argv[4];
    if (!get_args(env, info, 4, argv)) return NULL;
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

/* ---------- AES-256-GCM (docs/encryption.md) ---------- */

#define MAGIC_AEAD 0x61656164u /* "aead" */

/* The JS handle of a key: the key itself is dropped (cleansed) by aeadKeyDestroy or the GC. */
struct aead_handle {
    uint32_t magic;
    struct rw_aead_key *key;
};

static void aead_finalize(napi_env env, void *data, void *hint) {
    (void)env;
    (void)hint;
    struct aead_handle *handle = data;
    rw_aead_key_destroy(handle->key);
    handle->magic = 0;
    free(handle);
}

/* The JS handle of `key`, which it then owns; -ENOMEM (the key destroyed) if none can be made. */
static napi_value aead_external(napi_env env, struct rw_aead_key *key) {
    struct aead_handle *handle = calloc(1, sizeof *handle);
    if (handle == NULL) {
        rw_aead_key_destroy(key);
        return js_int(env, -ENOMEM);
    }
    handle->magic = MAGIC_AEAD;
    handle->key = key;
    napi_value external;
    if (napi_create_external(env, handle, aead_finalize, NULL, &external) != napi_ok) {
        rw_aead_key_destroy(key);
        free(handle);
        return js_int(env, -ENOMEM);
    }
    return external;
}

static napi_value js_aead_key(napi_env env, napi_callback_info info) {
    napi_value argv[1];
    if (!get_args(env, info, 1, argv)) return NULL;
    void *key;
    size_t key_length;
    if (!arg_typedarray(env, argv[0], "key", napi_uint8_array, "a Uint8Array", &key, &key_length)) return NULL;
    if (key_length != RW_AEAD_KEY_BYTES) return js_int(env, -EINVAL);
    struct rw_aead_key *created = NULL;
    int rc = rw_aead_key_create(key, &created);
    if (rc < 0) return js_int(env, rc);
    return aead_external(env, created);
}

/*
 * The data of `value` when it is an external whose data starts with `magic` (both handle structs
 * do), else NULL; NULL too after a failed N-API call, which has thrown.
 */
static void *tagged_external(napi_env env, napi_value value, uint32_t magic) {
    napi_valuetype type;
    NAPI_CALL(napi_typeof(env, value, &type));
    void *data = NULL;
    if (type == napi_external) NAPI_CALL(napi_get_value_external(env, value, &data));
    if (data == NULL || *(const uint32_t *)data != magic) return NULL;
    return data;
}

/* The AES-GCM handle `value` is, or NULL after throwing; with `live`, one whose key was not destroyed. */
static struct aead_handle *aead_handle_arg(napi_env env, napi_value value, bool live) {
    struct aead_handle *handle = tagged_external(env, value, MAGIC_AEAD);
    if (handle == NULL || (live && handle->key == NULL)) {
        throw_type(env, "key", live ? "a live AES-GCM key handle" : "an AES-GCM key handle");
        return NULL;
    }
    return handle;
}

static napi_value js_aead_key_destroy(napi_env env, napi_callback_info info) {
    napi_value argv[1];
    if (!get_args(env, info, 1, argv)) return NULL;
    struct aead_handle *handle = aead_handle_arg(env, argv[0], false);
    if (handle == NULL) return NULL;
    rw_aead_key_destroy(handle->key);
    handle->key = NULL;
    return js_int(env, 0);
}

#define MAGIC_MASTER 0x6d6b6579u /* "mkey" */

/* The JS handle of a master key, dropped (cleansed) by aeadMasterKeyDestroy or the GC. */
struct master_handle {
    uint32_t magic;
    struct rw_aead_master *master;
};

static void master_finalize(napi_env env, void *data, void *hint) {
    (void)env;
    (void)hint;
    struct master_handle *handle = data;
    rw_aead_master_destroy(handle->master);
    handle->magic = MAGIC_DEAD;
    free(handle);
}

static napi_value js_aead_master_key(napi_env env, napi_callback_info info) {
    napi_value argv[1];
    if (!get_args(env, info, 1, argv)) return NULL;
    void *key;
    size_t key_length;
    if (!arg_typedarray(env, argv[0], "key", napi_uint8_array, "a Uint8Array", &key, &key_length)) return NULL;
    if (key_length != RW_AEAD_MASTER_KEY_BYTES) return js_int(env, -EINVAL);
    struct master_handle *handle = calloc(1, sizeof *handle);
    if (handle == NULL) return js_int(env, -ENOMEM);
    int rc = rw_aead_master_create(key, &handle->master);
    if (rc < 0) {
        free(handle);
        return js_int(env, rc);
    }
    handle->magic = MAGIC_MASTER;
    napi_value external;
    if (napi_create_external(env, handle, master_finalize, NULL, &external) != napi_ok) {
        rw_aead_master_destroy(handle->master);
        free(handle);
        return js_int(env, -ENOMEM);
    }
    return external;
}

/* The master key handle `value` is, or NULL after throwing; with `live`, one not destroyed. */
static struct master_handle *master_handle_arg(napi_env env, napi_value value, bool live) {
    struct master_handle *handle = tagged_external(env, value, MAGIC_MASTER);
    if (handle == NULL || (live && handle->master == NULL)) {
        throw_type(env, "master", live ? "a live master key handle" : "a master key handle");
        return NULL;
    }
    return handle;
}

static napi_value js_aead_master_key_destroy(napi_env env, napi_callback_info info) {
    napi_value argv[1];
    if (!get_args(env, info, 1, argv)) return NULL;
    struct master_handle *handle = master_handle_arg(env, argv[0], false);
    if (handle == NULL) return NULL;
    rw_aead_master_destroy(handle->master);
    handle->master = NULL;
    return js_int(env, 0);
}

/*
 * aeadDeriveKey(master, salt, info, keyCheck): the data key HKDF-SHA256(master, salt, info) as an
 * AES-GCM key handle, its key check value written to keyCheck. A salt or key check of another
 * length than 16, or an info of none or more than 256 bytes, is -EINVAL.
 */
static napi_value js_aead_derive_key(napi_env env, napi_callback_info info) {
    napi_value argv[4];
    if (!get_args(env, info, 4, argv)) return NULL;
    struct master_handle *handle = master_handle_arg(env, argv[0], true);
    if (handle == NULL) return NULL;
    void *salt, *label, *key_check;
    size_t salt_length, label_length, key_check_length;
    if (!arg_typedarray(env, argv[1], "salt", napi_uint8_array, "a Uint8Array", &salt, &salt_length)) return NULL;
    if (!arg_typedarray(env, argv[2], "info", napi_uint8_array, "a Uint8Array", &label, &label_length)) return NULL;
    if (!arg_typedarray(env, argv[3], "keyCheck", napi_uint8_array, "a Uint8Array", &key_check, &key_check_length)) return NULL;
    if (salt_length != RW_AEAD_SALT_BYTES || key_check_length != RW_AEAD_KEY_CHECK_BYTES) return js_int(env, -EINVAL);
    if (label_length == 0 || label_length > RW_AEAD_INFO_BYTES_MAX) return js_int(env, -EINVAL);
    struct rw_aead_key *derived = NULL;
    int rc = rw_aead_derive(handle->master, salt, label, label_length, &derived, key_check);
    if (rc < 0) return js_int(env, rc);
    return aead_external(env, derived);
}

/* Fields per record in an AEAD batch's ranges: aad offset, aad bytes, data offset, data bytes, tag offset. */
#define AEAD_RANGE_FIELDS 5u

/* A batch call's arguments, checked: every range inside the view and a nonce for each record. */
struct aead_batch_args {
    struct rw_aead_key *key;
    uint8_t *view;
    const uint32_t *ranges;
    const uint8_t *nonces;
    uint32_t count;
    int32_t *results;
};

/*
 * Reads (key, view, ranges, nonces, count[, results]) from `argv`: false after throwing a
 * TypeError, else true with `*rc` 0, or -EINVAL when a range or the counts do not fit (then
 * nothing may be touched).
 */
static bool aead_batch_args(napi_env env, napi_value *argv, bool with_results, struct aead_batch_args *out, int *rc) {
    struct aead_handle *handle = aead_handle_arg(env, argv[0], true);
    if (handle == NULL) return false;
    void *view, *ranges_data, *nonces, *results_data = NULL;
    size_t view_length, ranges_length, nonces_length, results_length = 0;
    if (!arg_typedarray(env, argv[1], "view", napi_uint8_array, "a Uint8Array", &view, &view_length)) return false;
    if (!arg_typedarray(env, argv[2], "ranges", napi_uint32_array, "a Uint32Array", &ranges_data, &ranges_length)) return false;
    if (!arg_typedarray(env, argv[3], "nonces", napi_uint8_array, "a Uint8Array", &nonces, &nonces_length)) return false;
    double count_value;
    enum arg_status count_status = arg_integer(env, argv[4], "count", 0, UINT32_MAX, &count_value);
    if (count_status == ARG_THROWN) return false;
    *rc = 0;
    if (count_status == ARG_RANGE) {
        *rc = -EINVAL;
        return true;
    }
    if (with_results && !arg_typedarray(env, argv[5], "results", napi_int32_array, "an Int32Array", &results_data, &results_length))
        return false;
    uint32_t count = (uint32_t)count_value;
    const uint32_t *ranges = ranges_data;
    if (count > ranges_length / AEAD_RANGE_FIELDS || count > nonces_length / RW_AEAD_NONCE_BYTES || (with_results && count > results_length)) {
        *rc = -EINVAL;
        return true;
    }
    for (uint32_t i = 0; i < count; i++) {
        const uint32_t *r = ranges + AEAD_RANGE_FIELDS * i;
        if ((uint64_t)r[0] + r[1] > view_length || (uint64_t)r[2] + r[3] > view_length || (uint64_t)r[4] + RW_AEAD_TAG_BYTES > view_length) {
            *rc = -EINVAL;
            return true;
        }
    }
    *out = (struct aead_batch_args){handle->key, view, ranges, nonces, count, results_data};
    return true;
}

static int aead_seal_records(struct rw_aead_key *key, const struct aead_batch_args *a);

/*
 * Opens the records of `a` with `key`: the number whose tags hold before the first that fails
 * (writing 0 or -EBADMSG per record into `a->results` when given), or -EIO.
 */
static int64_t aead_open_records(struct rw_aead_key *key, const struct aead_batch_args *a) {
    int64_t verified = -1;
    for (uint32_t i = 0; i < a->count; i++) {
        const uint32_t *r = a->ranges + AEAD_RANGE_FIELDS * i;
        int rc = rw_aead_open(key, a->nonces + RW_AEAD_NONCE_BYTES * i, a->view + r[0], r[1], a->view + r[2], r[3], a->view + r[4]);
        if (rc < 0 && rc != -EBADMSG) return rc;
        if (a->results != NULL) a->results[i] = rc;
        if (rc == -EBADMSG && verified < 0) {
            verified = i;
            if (a->results == NULL) break;
        }
    }
    return verified < 0 ? (int64_t)a->count : verified;
}

/*
 * aeadSealBatch(key, view, ranges, nonces, count) and aeadOpenBatch(key, view, ranges, nonces,
 * count, results): every range (and its 12-byte nonce in `nonces`) is checked before any record
 * is touched, so a bad batch changes nothing (-EINVAL). Open writes 0 or -EBADMSG per record.
 */
static napi_value aead_batch(napi_env env, napi_callback_info info, bool seal) {
    napi_value argv[6];
    if (!get_args(env, info, seal ? 5 : 6, argv)) return NULL;
    struct aead_batch_args a;
    int rc;
    if (!aead_batch_args(env, argv, !seal, &a, &rc)) return NULL;
    if (rc < 0) return js_int(env, rc);
    if (!seal) {
        int64_t verified = aead_open_records(a.key, &a);
        return js_int(env, verified < 0 ? (int)verified : 0);
    }
    return js_int(env, aead_seal_records(a.key, &a));
}

/* An aeadOpenBatchAsync or aeadSealBatchAsync in the thread pool: its own key and copies of the ranges and nonces. */
struct aead_open_work {
    bool seal;
    napi_async_work work;
    napi_deferred deferred;
    napi_ref view_ref;
    struct rw_aead_key *key;
    struct aead_batch_args args;
    uint32_t *ranges_copy;
    uint8_t *nonces_copy;
    int64_t outcome;
};

/* Seals the records of `a` with `key`: 0, or a negative errno. */
static int aead_seal_records(struct rw_aead_key *key, const struct aead_batch_args *a) {
    for (uint32_t i = 0; i < a->count; i++) {
        const uint32_t *r = a->ranges + AEAD_RANGE_FIELDS * i;
        int rc = rw_aead_seal(key, a->nonces + RW_AEAD_NONCE_BYTES * i, a->view + r[0], r[1], a->view + r[2], r[3], a->view + r[4]);
        if (rc < 0) return rc;
    }
    return 0;
}

static void aead_open_execute(napi_env env, void *data) {
    (void)env;
    struct aead_open_work *w = data;
    w->outcome = w->seal ? aead_seal_records(w->key, &w->args) : aead_open_records(w->key, &w->args);
}

static void aead_open_complete(napi_env env, napi_status status, void *data) {
    struct aead_open_work *w = data;
    napi_value value;
    int64_t outcome = status == napi_ok ? w->outcome : -ECANCELED;
    if (napi_create_int64(env, outcome, &value) == napi_ok) napi_resolve_deferred(env, w->deferred, value);
    napi_delete_reference(env, w->view_ref);
    napi_delete_async_work(env, w->work);
    rw_aead_key_destroy(w->key);
    free(w->ranges_copy);
    free(w->nonces_copy);
    free(w);
}

/*
 * aeadOpenBatchAsync(key, view, ranges, nonces, count): a Promise of how many records' tags hold
 * before the first that fails (count when all do), or a negative errno (-EINVAL for a bad batch,
 * checked before anything is queued; -EIO). The records are opened in place in the thread pool,
 * with a key of the call's own (the handle may be destroyed meanwhile); the caller must not touch
 * `view` until the promise settles (the call keeps it alive).
 */
static napi_value aead_batch_async(napi_env env, napi_callback_info info, bool seal) {
    napi_value argv[5];
    if (!get_args(env, info, 5, argv)) return NULL;
    struct aead_batch_args a;
    int rc;
    if (!aead_batch_args(env, argv, false, &a, &rc)) return NULL;
    napi_value promise;
    napi_deferred deferred;
    NAPI_CALL(napi_create_promise(env, &deferred, &promise));
    struct aead_open_work *w = calloc(1, sizeof *w);
    if (w != NULL) w->seal = seal;
    if (w != NULL && rc == 0) {
        w->ranges_copy = malloc((size_t)a.count * AEAD_RANGE_FIELDS * sizeof(uint32_t) + 1);
        w->nonces_copy = malloc((size_t)a.count * RW_AEAD_NONCE_BYTES + 1);
        if (w->ranges_copy == NULL || w->nonces_copy == NULL) rc = -ENOMEM;
        if (rc == 0) rc = rw_aead_key_clone(a.key, &w->key);
    }
    if (w == NULL) rc = -ENOMEM;
    napi_value resource_name;
    if (rc == 0 && (napi_create_reference(env, argv[1], 1, &w->view_ref) != napi_ok ||
                    napi_create_string_utf8(env, seal ? "ringwal.aeadSeal" : "ringwal.aeadOpen", NAPI_AUTO_LENGTH, &resource_name) != napi_ok ||
                    napi_create_async_work(env, NULL, resource_name, aead_open_execute, aead_open_complete, w, &w->work) != napi_ok))
        rc = -ENOMEM;
    if (rc == 0) {
        memcpy(w->ranges_copy, a.ranges, (size_t)a.count * AEAD_RANGE_FIELDS * sizeof(uint32_t));
        memcpy(w->nonces_copy, a.nonces, (size_t)a.count * RW_AEAD_NONCE_BYTES);
        w->args = a;
        w->args.ranges = w->ranges_copy;
        w->args.nonces = w->nonces_copy;
        w->args.results = NULL;
        w->deferred = deferred;
        if (napi_queue_async_work(env, w->work) == napi_ok) return promise;
        napi_delete_async_work(env, w->work);
        rc = -ENOMEM;
    }
    if (w != NULL) {
        if (w->view_ref != NULL) napi_delete_reference(env, w->view_ref);
        rw_aead_key_destroy(w->key);
        free(w->ranges_copy);
        free(w->nonces_copy);
        free(w);
    }
    napi_value value;
    NAPI_CALL(napi_create_int64(env, rc, &value));
    NAPI_CALL(napi_resolve_deferred(env, deferred, value));
    return promise;
}

static napi_value js_aead_open_batch_async(napi_env env, napi_callback_info info) {
    return aead_batch_async(env, info, false);
}

/*
 * aeadSealBatchAsync(key, view, ranges, nonces, count): a Promise of 0 or a negative errno; the
 * records are sealed in place in the thread pool, on the terms of aeadOpenBatchAsync.
 */
static napi_value js_aead_seal_batch_async(napi_env env, napi_callback_info info) {
    return aead_batch_async(env, info, true);
}

static napi_value js_aead_seal_batch(napi_env env, napi_callback_info info) {
    return aead_batch(env, info, true);
}

static napi_value js_aead_open_batch(napi_env env, napi_callback_info info) {
    return aead_batch(env, info, false);
}

/* ---------- files ---------- */

static napi_value js_flock(napi_env env, napi_callback_info info) {
    napi_value argv[2];
    if (!get_args(env, info, 2, argv)) return NULL;
    double fd;
    bool exclusive;
    ARG_INTEGER(0, "fd", INT32_MIN, INT32_MAX, fd);
    if (!arg_bool(env, argv[1], "exclusive", &exclusive)) return NULL;
    return js_int(env, rw_file_flock((int)fd, exclusive));
}

static napi_value js_fallocate(napi_env env, napi_callback_info info) {
    napi_value argv[4];
    if (!get_args(env, info, 4, argv)) return NULL;
    double fd, mode, offset_bytes, length_bytes;
    ARG_INTEGER(0, "fd", INT32_MIN, INT32_MAX, fd);
    ARG_INTEGER(1, "mode", 0, INT32_MAX, mode);
    ARG_INTEGER(2, "offsetBytes", 0, JS_SAFE_INTEGER_MAX, offset_bytes);
    ARG_INTEGER(3, "lengthBytes", 0, JS_SAFE_INTEGER_MAX, length_bytes);
    return js_int(env, rw_file_fallocate((int)fd, (int)mode, (int64_t)offset_bytes, (int64_t)length_bytes));
}

static napi_value js_fadvise(napi_env env, napi_callback_info info) {
    napi_value argv[4];
    if (!get_args(env, info, 4, argv)) return NULL;
    double fd, offset_bytes, length_bytes, advice;
    ARG_INTEGER(0, "fd", INT32_MIN, INT32_MAX, fd);
    ARG_INTEGER(1, "offsetBytes", 0, JS_SAFE_INTEGER_MAX, offset_bytes);
    ARG_INTEGER(2, "lengthBytes", 0, JS_SAFE_INTEGER_MAX, length_bytes);
    ARG_INTEGER(3, "advice", INT32_MIN, INT32_MAX, advice);
    return js_int(env, rw_file_fadvise((int)fd, (int64_t)offset_bytes, (int64_t)length_bytes, (int)advice));
}

static napi_value js_dio_alignment(napi_env env, napi_callback_info info) {
    napi_value argv[1];
    if (!get_args(env, info, 1, argv)) return NULL;
    double fd;
    ARG_INTEGER(0, "fd", INT32_MIN, INT32_MAX, fd);
    uint32_t mem_align_bytes, offset_align_bytes;
    int ret = rw_file_dio_alignment((int)fd, &mem_align_bytes, &offset_align_bytes);
    if (ret < 0) return js_int(env, ret);
    napi_value result;
    NAPI_CALL(napi_create_object(env, &result));
    if (!set_uint32(env, result, "memAlignBytes", mem_align_bytes)) return NULL;
    if (!set_uint32(env, result, "offsetAlignBytes", offset_align_bytes)) return NULL;
    return result;
}

/* ---------- shared backend plumbing ---------- */

static void backend_maybe_free(struct backend *backend) {
    if (!backend->released || !backend->finalized) return;
    if (backend->ops->free != NULL) backend->ops->free(backend);
    backend->magic = MAGIC_DEAD;
    free(backend);
}

static void backend_released(struct backend *backend) {
    assert(backend->closed && !backend->released && backend->handles_open == 0);
    backend->released = true;
    /* NULL only when backendCreate failed before it could add the hook. */
    if (backend->cleanup_hook != NULL) NAPI_FATAL(napi_remove_async_cleanup_hook(backend->cleanup_hook));
    backend_maybe_free(backend);
}

/* Close callback of every libuv handle of a backend: it is released after the last one. */
static void backend_handle_closed(uv_handle_t *handle) {
    struct backend *backend = handle->data;
    assert(backend->closed && backend->handles_open > 0);
    if (--backend->handles_open == 0) backend_released(backend);
}

/* Each part may be missing when backendCreate failed before it was made. */
static void backend_release_js(struct backend *backend) {
    napi_env env = backend->env;
    if (backend->callback_ref != NULL) NAPI_FATAL(napi_delete_reference(env, backend->callback_ref));
    if (backend->completions_ref != NULL) NAPI_FATAL(napi_delete_reference(env, backend->completions_ref));
    if (backend->self_ref != NULL) NAPI_FATAL(napi_delete_reference(env, backend->self_ref));
    if (backend->async_context != NULL) NAPI_FATAL(napi_async_destroy(env, backend->async_context));
    backend->async_context = NULL;
    backend->callback_ref = NULL;
    backend->completions_ref = NULL;
    backend->self_ref = NULL;
    backend->completions = NULL;
}

/* May free backend (a pool has no libuv handle to wait for). */
static void backend_shutdown(struct backend *backend) {
    assert(!backend->closed);
    /* Closing with requests in flight would let the kernel or a worker use memory V8 may free. */
    assert(*backend->in_flight == 0);
    backend->closed = true;
    backend->ops->shutdown(backend);
    backend_release_js(backend);
    if (backend->handles_open == 0) backend_released(backend);
}

/* A handle with requests in flight must not be collected: their completion needs it. */
static void backend_set_active(struct backend *backend, bool active) {
    if (backend->active == active) return;
    backend->active = active;
    uint32_t count;
    NAPI_FATAL(active ? napi_reference_ref(backend->env, backend->self_ref, &count)
                      : napi_reference_unref(backend->env, backend->self_ref, &count));
}

/*
 * Does what the backend's new state asks, after a submission or a drain: the last completion of a
 * teardown shuts it down; otherwise requests in flight keep the handle and the loop alive.
 */
static void backend_settle(struct backend *backend) {
    if (backend->closed) return; /* onCompletions called backendClose */
    bool active = *backend->in_flight > 0;
    if (backend->closing && !active) {
        backend_shutdown(backend);
        return;
    }
    if (backend->ops->update != NULL) backend->ops->update(backend, active);
    backend_set_active(backend, active);
}

/*
 * Calls onCompletions(count). napi_make_callback runs queued microtasks and nextTicks after the
 * call, as any libuv callback in Node does.
 */
static void backend_call_js(struct backend *backend, uint32_t count) {
    napi_env env = backend->env;
    napi_value callback, receiver, argv[1], result;
    NAPI_FATAL(napi_get_reference_value(env, backend->callback_ref, &callback));
    NAPI_FATAL(napi_get_global(env, &receiver));
    NAPI_FATAL(napi_create_uint32(env, count, &argv[0]));
    napi_status status = napi_make_callback(env, backend->async_context, receiver, callback, 1, argv, &result);
    if (status != napi_pending_exception) {
        NAPI_FATAL(status);
        return;
    }
    /*
     * onCompletions threw: the error goes to process.on('uncaughtException'). (While the
     * environment stops, JS cannot run and both calls answer napi_pending_exception with nothing
     * to report, and nothing is left to hear of it: teardown waits for the requests themselves.)
     */
    napi_value error;
    NAPI_FATAL(napi_get_and_clear_last_exception(env, &error));
    status = napi_fatal_exception(env, error);
    if (status != napi_pending_exception) NAPI_FATAL(status);
}

/*
 * Writes the triples, drops the buffers' keep-alive references and calls onCompletions(count)
 * once. During teardown the JS side is gone, so only the references are dropped.
 */
static void backend_deliver(struct backend *backend, const struct rw_completion *done, uint32_t count) {
    assert(count > 0 && count <= backend->completions_triples);
    napi_env env = backend->env;
    napi_handle_scope scope;
    NAPI_FATAL(napi_open_handle_scope(env, &scope));
    for (uint32_t i = 0; i < count; i++) {
        backend->completions[i * TRIPLE_INTS + 0] = done[i].req_id;
        backend->completions[i * TRIPLE_INTS + 1] = done[i].result;
        backend->completions[i * TRIPLE_INTS + 2] = done[i].syscall;
        if (done[i].context != NULL) NAPI_FATAL(napi_delete_reference(env, (napi_ref)done[i].context));
    }
    if (!backend->closing) backend_call_js(backend, count);
    NAPI_FATAL(napi_close_handle_scope(env, scope));
}

static void backend_on_teardown(napi_async_cleanup_hook_handle handle, void *data) {
    (void)handle;
    struct backend *backend = data;
    if (backend->closed) return; /* its libuv handles are closing; backend_released removes this hook */
    if (*backend->in_flight == 0) {
        backend_shutdown(backend);
    } else {
        backend->closing = true; /* backend_settle shuts down after the last completion */
    }
}

static void backend_finalize(napi_env env, void *data, void *hint) {
    (void)env;
    (void)hint;
    struct backend *backend = data;
    backend->finalized = true;
    if (!backend->closed) {
        backend_shutdown(backend);
        return;
    }
    backend_maybe_free(backend);
}

/* Keeps an ArrayBuffer alive while the kernel or a worker uses its memory; NULL after throwing. */
static napi_ref keep_alive(napi_env env, napi_value arraybuffer) {
    napi_ref ref;
    NAPI_CALL(napi_create_reference(env, arraybuffer, 1, &ref));
    return ref;
}

/* ---------- io_uring backend ---------- */

static void ring_on_retry(uv_timer_t *timer);

static void ring_retry_after(struct ring_js *ring, uint32_t delay_ms) {
    int ret = uv_timer_start(&ring->retry, ring_on_retry, delay_ms, 0);
    /* uv_timer_start fails only for a closing timer, and ring_shutdown closes it after the last retry. */
    assert(ret == 0);
    (void)ret;
}

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
    ring_retry_after(ring, rw_ring_submit_retry_delay_ms(0));
}

/*
 * The poll handle is referenced only while requests are in flight, so an idle ring never keeps
 * the loop alive. A stalled request is in flight, so the poll handle keeps the loop alive for it
 * while the timer retries.
 */
static void ring_update(struct backend *backend, bool active) {
    struct ring_js *ring = (struct ring_js *)backend;
    ring_update_retry(ring);
    if (active) {
        uv_ref((uv_handle_t *)&ring->poll);
    } else {
        uv_unref((uv_handle_t *)&ring->poll);
    }
}

/* Hands count completions in ring->drained to JS, then does what the ring's new state asks. */
static void ring_deliver(struct ring_js *ring, uint32_t count) {
    if (count > 0) backend_deliver(&ring->base, ring->drained, count);
    backend_settle(&ring->base);
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
            ring_retry_after(ring, rw_ring_submit_retry_delay_ms(ring->retry_attempts));
        } else {
            int failed = rw_ring_fail_unsubmitted(&ring->ring, error, ring->drained, ring->ring.entries);
            assert(failed >= 0);
            count = (uint32_t)failed;
        }
    }
    ring_deliver(ring, count);
}

static int ring_open(struct backend *backend, uv_loop_t *loop, uint32_t depth) {
    struct ring_js *ring = (struct ring_js *)backend;
    int ret = rw_ring_create(&ring->ring, depth);
    if (ret < 0) return ret;
    ring->drained = calloc(ring->ring.entries, sizeof(*ring->drained));
    if (ring->drained == NULL) {
        rw_ring_destroy(&ring->ring);
        return -ENOMEM;
    }
    ret = uv_poll_init(loop, &ring->poll, ring->ring.event_fd);
    if (ret < 0) {
        free(ring->drained);
        rw_ring_destroy(&ring->ring);
        return ret;
    }
    /* After the poll handle: a timer cannot fail to initialise, so nothing is left to unwind. */
    ret = uv_timer_init(loop, &ring->retry);
    assert(ret == 0);
    ring->poll.data = ring;
    ring->retry.data = ring;
    backend->in_flight = &ring->ring.in_flight;
    backend->handles_open = 2;
    ret = uv_poll_start(&ring->poll, UV_READABLE, ring_on_poll);
    /* uv_poll_start fails only for an fd another handle of the loop watches; the eventfd is new. */
    assert(ret == 0);
    uv_unref((uv_handle_t *)&ring->poll);
    return 0;
}

static int ring_submit(struct backend *backend, const struct backend_request *r) {
    struct rw_ring *ring = &((struct ring_js *)backend)->ring;
    switch (r->op) {
    case BACKEND_WRITE:
        return rw_ring_write(ring, r->req_id, r->fd, r->data, r->length_bytes, r->file_offset_bytes, r->durability,
                             r->context);
    case BACKEND_READ:
        return rw_ring_read(ring, r->req_id, r->fd, r->data, r->length_bytes, r->file_offset_bytes, r->context);
    case BACKEND_FSYNC:
        return rw_ring_fsync(ring, r->req_id, r->fd, r->datasync, r->context);
    }
    assert(!"unknown backend op");
    return -EINVAL;
}

static void ring_release_fixed(struct ring_js *ring) {
    for (uint32_t i = 0; i < ring->fixed_ref_count; i++) {
        NAPI_FATAL(napi_delete_reference(ring->base.env, ring->fixed_refs[i]));
    }
    ring->fixed_ref_count = 0;
}

static void ring_shutdown(struct backend *backend) {
    struct ring_js *ring = (struct ring_js *)backend;
    /* uv_close stops polling at once, so the eventfd can be closed right after. */
    uv_close((uv_handle_t *)&ring->poll, backend_handle_closed);
    /* Nothing is in flight, so nothing is stalled; uv_close stops the timer if it is still armed. */
    uv_close((uv_handle_t *)&ring->retry, backend_handle_closed);
    ring_release_fixed(ring);
    rw_ring_destroy(&ring->ring);
}

static void ring_free(struct backend *backend) {
    free(((struct ring_js *)backend)->drained);
}

static int ring_inject_fault(struct backend *backend, int syscall_kind, uint32_t countdown, int32_t errno_value) {
    return rw_ring_inject_fault(&((struct ring_js *)backend)->ring, syscall_kind, countdown, errno_value);
}

static bool ring_info(napi_env env, const struct backend *backend, napi_value object) {
    const struct rw_ring *ring = &((const struct ring_js *)backend)->ring;
    return set_uint32(env, object, "entries", ring->entries) &&
           set_uint32(env, object, "inFlight", ring->in_flight) &&
           set_uint32(env, object, "fixedBuffers", ring->fixed_count) &&
           set_uint32(env, object, "features", ring->features) &&
           set_uint32(env, object, "sqEntries", ring->sq.entries) &&
           set_uint32(env, object, "cqEntries", ring->cq.entries) &&
           set_uint32(env, object, "pending", ring->pending_count) &&
           set_uint32(env, object, "unsubmitted", rw_ring_unsubmitted_sqes(ring));
}

static const struct backend_ops ring_ops = {
    .kind = "io_uring",
    .resource_name = "ringwal:ring",
    .magic = MAGIC_RING,
    .depth_max = RW_RING_ENTRIES_MAX,
    .size_bytes = sizeof(struct ring_js),
    .open = ring_open,
    .submit = ring_submit,
    .update = ring_update,
    .shutdown = ring_shutdown,
    .free = ring_free,
    .inject_fault = ring_inject_fault,
    .info = ring_info,
};

/* ---------- thread-pool backend ---------- */

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
    backend_settle(&pool->base);
}

static int pool_open(struct backend *backend, uv_loop_t *loop, uint32_t depth) {
    struct pool_js *pool = (struct pool_js *)backend;
    int ret = rw_pool_create(&pool->pool, depth);
    if (ret < 0) return ret;
    pool->works = calloc(depth, sizeof(*pool->works));
    if (pool->works == NULL) {
        rw_pool_destroy(&pool->pool);
        return -ENOMEM;
    }
    for (uint32_t i = 0; i < depth; i++) {
        pool->works[i].owner = pool;
        pool->works[i].slot = i;
    }
    pool->loop = loop;
    backend->in_flight = &pool->pool.in_flight;
    return 0;
}

static int pool_submit(struct backend *backend, const struct backend_request *r) {
    struct pool_js *pool = (struct pool_js *)backend;
    int slot = -EINVAL;
    switch (r->op) {
    case BACKEND_WRITE:
        slot = rw_pool_prepare_write(&pool->pool, r->req_id, r->fd, r->data, r->length_bytes, r->file_offset_bytes,
                                     r->durability, r->context);
        break;
    case BACKEND_READ:
        slot = rw_pool_prepare_read(&pool->pool, r->req_id, r->fd, r->data, r->length_bytes, r->file_offset_bytes,
                                    r->context);
        break;
    case BACKEND_FSYNC:
        slot = rw_pool_prepare_fsync(&pool->pool, r->req_id, r->fd, r->datasync, r->context);
        break;
    }
    if (slot < 0) return slot;
    assert((uint32_t)slot < pool->pool.slots);
    int ret = uv_queue_work(pool->loop, &pool->works[slot].work, pool_work_run, pool_work_done);
    /* uv_queue_work fails only for a missing work callback, which would be our bug. */
    assert(ret == 0);
    (void)ret;
    return 0;
}

/* The pool has no libuv handle to close, so it is released right away. */
static void pool_shutdown(struct backend *backend) {
    struct pool_js *pool = (struct pool_js *)backend;
    rw_pool_destroy(&pool->pool);
    free(pool->works);
    pool->works = NULL;
}

static int pool_inject_fault(struct backend *backend, int syscall_kind, uint32_t countdown, int32_t errno_value) {
    return rw_pool_inject_fault(&((struct pool_js *)backend)->pool, syscall_kind, countdown, errno_value);
}

static bool pool_info(napi_env env, const struct backend *backend, napi_value object) {
    const struct rw_pool *pool = &((const struct pool_js *)backend)->pool;
    return set_uint32(env, object, "slots", pool->slots) && set_uint32(env, object, "inFlight", pool->in_flight);
}

static const struct backend_ops pool_ops = {
    .kind = "threadpool",
    .resource_name = "ringwal:pool",
    .magic = MAGIC_POOL,
    .depth_max = RW_POOL_SLOTS_MAX,
    .size_bytes = sizeof(struct pool_js),
    .open = pool_open,
    .submit = pool_submit,
    .update = NULL, /* a queued work item keeps the loop alive by itself */
    .shutdown = pool_shutdown,
    .free = NULL,
    .inject_fault = pool_inject_fault,
    .info = pool_info,
};

/* ---------- the backend surface ---------- */

/* NULL after throwing when value is neither "io_uring" nor "threadpool". */
static const struct backend_ops *arg_kind(napi_env env, napi_value value) {
    static const struct backend_ops *const kinds[] = {&ring_ops, &pool_ops};
    /* Longer than either name, so a longer string, cut to fit, still matches neither. */
    char name[16];
    size_t length;
    napi_status status = napi_get_value_string_utf8(env, value, name, sizeof(name), &length);
    if (status != napi_string_expected) NAPI_CALL(status);
    for (size_t i = 0; status == napi_ok && i < sizeof(kinds) / sizeof(kinds[0]); i++) {
        if (strcmp(name, kinds[i]->kind) == 0) return kinds[i];
    }
    throw_type(env, "kind", "'io_uring' or 'threadpool'");
    return NULL;
}

static napi_value js_backend_create(napi_env env, napi_callback_info info) {
    napi_value argv[4];
    if (!get_args(env, info, 4, argv)) return NULL;
    const struct backend_ops *ops = arg_kind(env, argv[0]);
    if (ops == NULL) return NULL;
    double depth;
    ARG_INTEGER(1, "depth", 1, ops->depth_max, depth);
    void *completions;
    size_t length;
    if (!arg_typedarray(env, argv[2], "completions", napi_int32_array, "an Int32Array", &completions, &length))
        return NULL;
    if (!arg_function(env, argv[3], "onCompletions")) return NULL;
    if (length % TRIPLE_INTS != 0 || length / TRIPLE_INTS < depth) return js_int(env, -EINVAL);
    uv_loop_t *loop;
    NAPI_CALL(napi_get_uv_event_loop(env, &loop));

    struct backend *backend = calloc(1, ops->size_bytes);
    if (backend == NULL) return js_int(env, -ENOMEM);
    backend->magic = ops->magic;
    backend->ops = ops;
    backend->env = env;
    backend->completions = completions;
    backend->completions_triples = (uint32_t)(length / TRIPLE_INTS);
    napi_value name;
    napi_status status = napi_create_reference(env, argv[2], 1, &backend->completions_ref);
    if (status == napi_ok) status = napi_create_reference(env, argv[3], 1, &backend->callback_ref);
    if (status == napi_ok) status = napi_create_string_utf8(env, ops->resource_name, NAPI_AUTO_LENGTH, &name);
    if (status == napi_ok) status = napi_async_init(env, NULL, name, &backend->async_context);
    if (status != napi_ok) {
        throw_napi_failure(env, "backendCreate (references)");
        backend_release_js(backend);
        free(backend);
        return NULL;
    }
    int ret = ops->open(backend, loop, (uint32_t)depth);
    if (ret < 0) {
        backend_release_js(backend);
        free(backend);
        return js_int(env, ret);
    }

    napi_value handle = NULL;
    status = napi_add_async_cleanup_hook(env, backend_on_teardown, backend, &backend->cleanup_hook);
    if (status == napi_ok) status = napi_create_external(env, backend, backend_finalize, NULL, &handle);
    if (status == napi_ok) status = napi_create_reference(env, handle, 0, &backend->self_ref);
    if (status != napi_ok) {
        throw_napi_failure(env, "backendCreate (handle)");
        /* The core is open: shut it down. Without a JS handle nothing would ever finalize it. */
        backend->finalized = handle == NULL;
        backend_shutdown(backend);
        return NULL;
    }
    return handle;
}

/*
 * backendWrite and backendRead:
 * (handle, reqId, fd, buffer, bufferOffsetBytes, lengthBytes, fileOffsetBytes[, durability]).
 */
static napi_value backend_transfer(napi_env env, napi_callback_info info, enum backend_op op) {
    napi_value argv[ARGS_MAX];
    struct backend *backend = backend_args(env, info, ARGS_MAX, argv, MAGIC_ANY);
    if (backend == NULL) return NULL;
    struct backend_request request = {.op = op, .durability = RW_DURABILITY_NONE};
    double req_id, fd, buffer_offset_bytes, length_bytes, file_offset_bytes, durability = RW_DURABILITY_NONE;
    ARG_INTEGER(1, "reqId", INT32_MIN, INT32_MAX, req_id);
    ARG_INTEGER(2, "fd", INT32_MIN, INT32_MAX, fd);
    size_t size_bytes;
    if (!arg_arraybuffer(env, argv[3], "buffer", &request.data, &size_bytes)) return NULL;
    ARG_INTEGER(4, "bufferOffsetBytes", 0, JS_SAFE_INTEGER_MAX, buffer_offset_bytes);
    ARG_INTEGER(5, "lengthBytes", 1, RW_IO_BYTES_MAX, length_bytes);
    ARG_INTEGER(6, "fileOffsetBytes", 0, JS_SAFE_INTEGER_MAX, file_offset_bytes);
    if (buffer_offset_bytes + length_bytes > (double)size_bytes) return js_int(env, -EINVAL);
    if (op == BACKEND_WRITE) ARG_INTEGER(7, "durability", RW_DURABILITY_NONE, RW_DURABILITY_DSYNC, durability);
    if (backend->closed || backend->closing) return js_int(env, -EBADF);

    request.req_id = (int32_t)req_id;
    request.fd = (int)fd;
    request.data += (size_t)buffer_offset_bytes;
    request.length_bytes = (uint32_t)length_bytes;
    request.file_offset_bytes = (uint64_t)file_offset_bytes;
    request.durability = (int)durability;
    request.context = keep_alive(env, argv[3]);
    if (request.context == NULL) return NULL;
    int ret = backend->ops->submit(backend, &request);
    if (ret < 0) {
        NAPI_CALL(napi_delete_reference(env, request.context));
        return js_int(env, ret);
    }
    backend_settle(backend);
    return js_int(env, 0);
}

static napi_value js_backend_write(napi_env env, napi_callback_info info) {
    return backend_transfer(env, info, BACKEND_WRITE);
}

static napi_value js_backend_read(napi_env env, napi_callback_info info) {
    return backend_transfer(env, info, BACKEND_READ);
}

static napi_value js_backend_fsync(napi_env env, napi_callback_info info) {
    napi_value argv[4];
    struct backend *backend = backend_args(env, info, 4, argv, MAGIC_ANY);
    if (backend == NULL) return NULL;
    struct backend_request request = {.op = BACKEND_FSYNC};
    double req_id, fd;
    ARG_INTEGER(1, "reqId", INT32_MIN, INT32_MAX, req_id);
    ARG_INTEGER(2, "fd", INT32_MIN, INT32_MAX, fd);
    if (!arg_bool(env, argv[3], "datasync", &request.datasync)) return NULL;
    if (backend->closed || backend->closing) return js_int(env, -EBADF);
    request.req_id = (int32_t)req_id;
    request.fd = (int)fd;
    int ret = backend->ops->submit(backend, &request);
    if (ret == 0) backend_settle(backend);
    return js_int(env, ret);
}

/* Registered buffers are the ring's alone: the pool's pwrite takes any memory as it is. */
static napi_value js_backend_register_buffers(napi_env env, napi_callback_info info) {
    napi_value argv[2];
    struct backend *backend = backend_args(env, info, 2, argv, MAGIC_ANY);
    if (backend == NULL) return NULL;
    uint32_t count;
    enum arg_status status = arg_array(env, argv[1], "buffers", "an array of ArrayBuffers",
                                       RW_RING_FIXED_BUFFERS_MAX, &count);
    if (status == ARG_THROWN) return NULL;
    if (status == ARG_RANGE) return js_int(env, -EINVAL);
    struct rw_ring_fixed_buffer fixed[RW_RING_FIXED_BUFFERS_MAX];
    napi_value elements[RW_RING_FIXED_BUFFERS_MAX];
    for (uint32_t i = 0; i < count; i++) {
        NAPI_CALL(napi_get_element(env, argv[1], i, &elements[i]));
        uint8_t *data;
        if (!arg_arraybuffer(env, elements[i], "buffers[i]", &data, &fixed[i].size_bytes)) return NULL;
        fixed[i].base = (uintptr_t)data;
    }
    if (backend->closed || backend->closing) return js_int(env, -EBADF);
    if (backend->magic != MAGIC_RING) return js_int(env, -EOPNOTSUPP);
    struct ring_js *ring = (struct ring_js *)backend;
    /*
     * Registered memory is pinned by the kernel, so V8 must not free it while it is registered:
     * the references are made first, so that none can be missing once the kernel has the set.
     */
    napi_ref refs[RW_RING_FIXED_BUFFERS_MAX];
    for (uint32_t i = 0; i < count; i++) {
        refs[i] = keep_alive(env, elements[i]);
        if (refs[i] != NULL) continue;
        while (i > 0) NAPI_FATAL(napi_delete_reference(env, refs[--i]));
        return NULL;
    }
    int ret = rw_ring_register_buffers(&ring->ring, fixed, count);
    if (ret < 0) {
        for (uint32_t i = 0; i < count; i++) NAPI_FATAL(napi_delete_reference(env, refs[i]));
        return js_int(env, ret);
    }
    ring_release_fixed(ring);
    memcpy(ring->fixed_refs, refs, count * sizeof(refs[0]));
    ring->fixed_ref_count = count;
    return js_int(env, 0);
}

static napi_value js_backend_close(napi_env env, napi_callback_info info) {
    napi_value argv[1];
    struct backend *backend = backend_args(env, info, 1, argv, MAGIC_ANY);
    if (backend == NULL) return NULL;
    if (backend->closed) return js_int(env, 0);
    if (*backend->in_flight > 0) return js_int(env, -EBUSY);
    backend_shutdown(backend);
    return js_int(env, 0);
}

static napi_value js_ring_probe(napi_env env, napi_callback_info info) {
    (void)info;
    uint32_t supported_mask;
    int ret = rw_ring_probe(&supported_mask);
    if (ret < 0) return js_int(env, ret);
    napi_value supported, missing;
    NAPI_CALL(napi_create_array(env, &supported));
    NAPI_CALL(napi_create_array(env, &missing));
    uint32_t supported_count = 0, missing_count = 0;
    for (uint32_t i = 0; i < RW_RING_REQUIRED_OPS_COUNT; i++) {
        napi_value name;
        NAPI_CALL(napi_create_string_utf8(env, rw_ring_required_op_name(i), NAPI_AUTO_LENGTH, &name));
        if (supported_mask & (1u << i)) {
            NAPI_CALL(napi_set_element(env, supported, supported_count++, name));
        } else {
            NAPI_CALL(napi_set_element(env, missing, missing_count++, name));
        }
    }
    napi_value result;
    NAPI_CALL(napi_create_object(env, &result));
    NAPI_CALL(napi_set_named_property(env, result, "supported", supported));
    NAPI_CALL(napi_set_named_property(env, result, "missing", missing));
    return result;
}

/* ---------- test hooks and diagnostics ---------- */

static napi_value js_backend_info(napi_env env, napi_callback_info info) {
    napi_value argv[1];
    struct backend *backend = backend_args(env, info, 1, argv, MAGIC_ANY);
    if (backend == NULL) return NULL;
    if (backend->closed) return js_int(env, -EBADF);
    napi_value result;
    NAPI_CALL(napi_create_object(env, &result));
    return backend->ops->info(env, backend, result) ? result : NULL;
}

static napi_value js_backend_inject_fault(napi_env env, napi_callback_info info) {
    napi_value argv[4];
    struct backend *backend = backend_args(env, info, 4, argv, MAGIC_ANY);
    if (backend == NULL) return NULL;
    double syscall_kind, countdown, errno_value;
    ARG_INTEGER(1, "syscall", 0, INT32_MAX, syscall_kind);
    ARG_INTEGER(2, "countdown", 0, UINT32_MAX, countdown);
    ARG_INTEGER(3, "errno", 0, INT32_MAX, errno_value);
    if (backend->closed) return js_int(env, -EBADF);
    return js_int(env, backend->ops->inject_fault(backend, (int)syscall_kind, (uint32_t)countdown,
                                                  (int32_t)errno_value));
}

static napi_value js_ring_inject_enter_fault(napi_env env, napi_callback_info info) {
    napi_value argv[3];
    struct ring_js *ring = (struct ring_js *)backend_args(env, info, 3, argv, MAGIC_RING);
    if (ring == NULL) return NULL;
    double failures, errno_value;
    ARG_INTEGER(1, "failures", 0, UINT32_MAX, failures);
    ARG_INTEGER(2, "errno", 0, INT32_MAX, errno_value);
    if (ring->base.closed) return js_int(env, -EBADF);
    return js_int(env, rw_ring_inject_enter_fault(&ring->ring, (uint32_t)failures, (int32_t)errno_value));
}

static napi_value js_ring_inject_partial_submit(napi_env env, napi_callback_info info) {
    napi_value argv[2];
    struct ring_js *ring = (struct ring_js *)backend_args(env, info, 2, argv, MAGIC_RING);
    if (ring == NULL) return NULL;
    double sqes_max;
    ARG_INTEGER(1, "sqesMax", 0, UINT32_MAX, sqes_max);
    if (ring->base.closed) return js_int(env, -EBADF);
    rw_ring_inject_partial_submit(&ring->ring, (uint32_t)sqes_max);
    return js_int(env, 0);
}

static napi_value js_ring_simulate_missing_ops(napi_env env, napi_callback_info info) {
    napi_value argv[1];
    if (!get_args(env, info, 1, argv)) return NULL;
    uint32_t count;
    enum arg_status status = arg_array(env, argv[0], "opcodes", "an array of numbers", RW_RING_PROBE_OPS, &count);
    if (status == ARG_THROWN) return NULL;
    if (status == ARG_RANGE) return js_int(env, -EINVAL);
    uint8_t opcodes[RW_RING_PROBE_OPS];
    for (uint32_t i = 0; i < count; i++) {
        napi_value element;
        NAPI_CALL(napi_get_element(env, argv[0], i, &element));
        double opcode;
        status = arg_integer(env, element, "opcodes[i]", 0, RW_RING_PROBE_OPS - 1, &opcode);
        if (status == ARG_THROWN) return NULL;
        if (status == ARG_RANGE) return js_int(env, -EINVAL);
        opcodes[i] = (uint8_t)opcode;
    }
    return js_int(env, rw_ring_simulate_missing_ops(opcodes, count));
}

/* ---------- module ---------- */

struct export {
    const char *name;
    napi_callback callback;
};

/* False after throwing, which makes loading the addon fail with that error. */
static bool define(napi_env env, napi_value object, const struct export *exported, size_t count) {
    for (size_t i = 0; i < count; i++) {
        const char *name = exported[i].name;
        napi_value function;
        NAPI_CALL_OR(napi_create_function(env, name, NAPI_AUTO_LENGTH, exported[i].callback, NULL, &function), false);
        NAPI_CALL_OR(napi_set_named_property(env, object, name, function), false);
    }
    return true;
}

#define DEFINE(env, object, exported) define(env, object, exported, sizeof(exported) / sizeof(exported[0]))

/*
 * The production surface is what src/ calls. Test hooks and diagnostics go on `testing`, so that
 * no production caller reaches one by accident and the surface a reader must know stays small.
 */
NAPI_MODULE_INIT() {
    static const struct export production[] = {
        {"allocAligned", js_alloc_aligned},
        {"crc32cRanges", js_crc32c_ranges},
        {"flock", js_flock},
        {"fallocate", js_fallocate},
        {"dioAlignment", js_dio_alignment},
        {"fadvise", js_fadvise},
        {"backendCreate", js_backend_create},
        {"backendWrite", js_backend_write},
        {"backendRead", js_backend_read},
        {"backendFsync", js_backend_fsync},
        {"backendRegisterBuffers", js_backend_register_buffers},
        {"backendClose", js_backend_close},
        {"ringProbe", js_ring_probe},
        {"aeadKey", js_aead_key},
        {"aeadKeyDestroy", js_aead_key_destroy},
        {"aeadOpenBatchAsync", js_aead_open_batch_async},
        {"aeadSealBatchAsync", js_aead_seal_batch_async},
        {"aeadSealBatch", js_aead_seal_batch},
        {"aeadOpenBatch", js_aead_open_batch},
        {"aeadMasterKey", js_aead_master_key},
        {"aeadMasterKeyDestroy", js_aead_master_key_destroy},
        {"aeadDeriveKey", js_aead_derive_key},
    };
    static const struct export testing[] = {
        {"info", js_backend_info},
        {"injectFault", js_backend_inject_fault},
        {"injectEnterFault", js_ring_inject_enter_fault},
        {"injectPartialSubmit", js_ring_inject_partial_submit},
        {"simulateMissingOps", js_ring_simulate_missing_ops},
        {"crc32c", js_crc32c},
        {"crc32cPortable", js_crc32c_portable},
        {"crc32cImpl", js_crc32c_impl},
        {"addressOf", js_address_of},
    };
    napi_value testing_object;
    if (!DEFINE(env, exports, production)) return NULL;
    NAPI_CALL(napi_create_object(env, &testing_object));
    if (!DEFINE(env, testing_object, testing)) return NULL;
    NAPI_CALL(napi_set_named_property(env, exports, "testing", testing_object));
    return exports;
}
