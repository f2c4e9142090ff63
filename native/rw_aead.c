#include "rw_aead.h"

#include <errno.h>
#include <limits.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/params.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

struct rw_aead_key {
    uint8_t bytes[RW_AEAD_KEY_BYTES];
    /* One context per key and direction, keyed once; each record only sets its nonce. */
    EVP_CIPHER_CTX *seal;
    EVP_CIPHER_CTX *open;
    int locked;
};

struct rw_aead_master {
    uint8_t bytes[RW_AEAD_MASTER_KEY_BYTES];
    int locked;
};

/* What the key check value is the MAC of (docs/encryption.md "Scheme"), without its NUL. */
static const char KEY_CHECK_LABEL[] = "ringwal/v6/key-check";
#define HMAC_SHA256_BYTES 32u

static EVP_CIPHER_CTX *keyed_context(const uint8_t *key, int encrypt) {
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    if (ctx == NULL) return NULL;
    if (EVP_CipherInit_ex(ctx, EVP_aes_256_gcm(), NULL, NULL, NULL, encrypt) != 1 ||
        EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, RW_AEAD_NONCE_BYTES, NULL) != 1 ||
        EVP_CipherInit_ex(ctx, NULL, NULL, key, NULL, encrypt) != 1) {
        EVP_CIPHER_CTX_free(ctx);
        return NULL;
    }
    return ctx;
}

int rw_aead_key_create(const uint8_t *key, struct rw_aead_key **out) {
    struct rw_aead_key *k = calloc(1, sizeof *k);
    if (k == NULL) return -ENOMEM;
    /* Best effort: a key in swap is worse than none locked, but a low memlock limit is not an error. */
    k->locked = mlock(k, sizeof *k) == 0;
    memcpy(k->bytes, key, RW_AEAD_KEY_BYTES);
    k->seal = keyed_context(k->bytes, 1);
    k->open = keyed_context(k->bytes, 0);
    if (k->seal == NULL || k->open == NULL) {
        rw_aead_key_destroy(k);
        return -EIO;
    }
    *out = k;
    return 0;
}

int rw_aead_key_clone(const struct rw_aead_key *key, struct rw_aead_key **out) {
    return rw_aead_key_create(key->bytes, out);
}

void rw_aead_key_destroy(struct rw_aead_key *key) {
    if (key == NULL) return;
    /* EVP_CIPHER_CTX_free cleanses the expanded key schedule. */
    EVP_CIPHER_CTX_free(key->seal);
    EVP_CIPHER_CTX_free(key->open);
    OPENSSL_cleanse(key->bytes, sizeof key->bytes);
    if (key->locked) munlock(key, sizeof *key);
    free(key);
}

/* Runs the cipher over `data` in place, in pieces an int can count. */
static int update(EVP_CIPHER_CTX *ctx, uint8_t *data, size_t data_bytes) {
    while (data_bytes > 0) {
        int piece = data_bytes > (size_t)(INT_MAX / 2) ? INT_MAX / 2 : (int)data_bytes;
        int written = 0;
        if (EVP_CipherUpdate(ctx, data, &written, data, piece) != 1 || written != piece) return -EIO;
        data += piece;
        data_bytes -= (size_t)piece;
    }
    return 0;
}

static int start(EVP_CIPHER_CTX *ctx, const uint8_t *nonce, const uint8_t *aad, size_t aad_bytes) {
    if (EVP_CipherInit_ex(ctx, NULL, NULL, NULL, nonce, -1) != 1) return -EIO;
    if (aad_bytes > (size_t)INT_MAX) return -EIO;
    int written = 0;
    if (aad_bytes > 0 && EVP_CipherUpdate(ctx, NULL, &written, aad, (int)aad_bytes) != 1) return -EIO;
    return 0;
}

int rw_aead_seal(struct rw_aead_key *key, const uint8_t *nonce, const uint8_t *aad, size_t aad_bytes, uint8_t *data, size_t data_bytes,
                 uint8_t *tag) {
    EVP_CIPHER_CTX *ctx = key->seal;
    int rc = start(ctx, nonce, aad, aad_bytes);
    if (rc == 0) rc = update(ctx, data, data_bytes);
    int written = 0;
    uint8_t end[16];
    if (rc == 0 && EVP_CipherFinal_ex(ctx, end, &written) != 1) rc = -EIO;
    if (rc == 0 && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, RW_AEAD_TAG_BYTES, tag) != 1) rc = -EIO;
    return rc;
}

int rw_aead_open(struct rw_aead_key *key, const uint8_t *nonce, const uint8_t *aad, size_t aad_bytes, uint8_t *data, size_t data_bytes,
                 const uint8_t *tag) {
    EVP_CIPHER_CTX *ctx = key->open;
    int rc = start(ctx, nonce, aad, aad_bytes);
    if (rc == 0) rc = update(ctx, data, data_bytes);
    uint8_t expected[RW_AEAD_TAG_BYTES];
    memcpy(expected, tag, sizeof expected);
    if (rc == 0 && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, RW_AEAD_TAG_BYTES, expected) != 1) rc = -EIO;
    int written = 0;
    uint8_t end[16];
    /* GCM's final step is the tag check. */
    if (rc == 0 && EVP_CipherFinal_ex(ctx, end, &written) != 1) rc = -EBADMSG;
    return rc;
}

int rw_aead_master_create(const uint8_t *key, struct rw_aead_master **out) {
    struct rw_aead_master *m = calloc(1, sizeof *m);
    if (m == NULL) return -ENOMEM;
    /* Best effort, as for a data key. */
    m->locked = mlock(m, sizeof *m) == 0;
    memcpy(m->bytes, key, RW_AEAD_MASTER_KEY_BYTES);
    *out = m;
    return 0;
}

void rw_aead_master_destroy(struct rw_aead_master *master) {
    if (master == NULL) return;
    OPENSSL_cleanse(master->bytes, sizeof master->bytes);
    if (master->locked) munlock(master, sizeof *master);
    free(master);
}

/* HKDF-SHA256 (extract, then expand) of RW_AEAD_KEY_BYTES into `out`: 0, or -EIO. */
static int hkdf_sha256(const uint8_t *ikm, size_t ikm_bytes, const uint8_t *salt, const uint8_t *info, size_t info_bytes,
                       uint8_t *out) {
    EVP_KDF *kdf = EVP_KDF_fetch(NULL, "HKDF", NULL);
    if (kdf == NULL) return -EIO;
    /* The context holds a reference of its own to the algorithm. */
    EVP_KDF_CTX *ctx = EVP_KDF_CTX_new(kdf);
    EVP_KDF_free(kdf);
    if (ctx == NULL) return -EIO;
    /* The parameters point at the caller's bytes; the context copies what it keeps. */
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *)"SHA256", 0),
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, (void *)ikm, ikm_bytes),
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, (void *)salt, RW_AEAD_SALT_BYTES),
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, (void *)info, info_bytes),
        OSSL_PARAM_construct_end(),
    };
    int rc = EVP_KDF_derive(ctx, out, RW_AEAD_KEY_BYTES, params) == 1 ? 0 : -EIO;
    /* Freeing the context cleanses its copies of the key, the salt and the info. */
    EVP_KDF_CTX_free(ctx);
    return rc;
}

int rw_aead_derive(const struct rw_aead_master *master, const uint8_t *salt, const uint8_t *info, size_t info_bytes,
                   struct rw_aead_key **out, uint8_t *key_check) {
    if (info_bytes == 0 || info_bytes > RW_AEAD_INFO_BYTES_MAX) return -EINVAL;
    uint8_t data_key[RW_AEAD_KEY_BYTES];
    uint8_t mac[HMAC_SHA256_BYTES];
    size_t mac_bytes = 0;
    int rc = hkdf_sha256(master->bytes, sizeof master->bytes, salt, info, info_bytes, data_key);
    if (rc == 0 && EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, data_key, sizeof data_key, (const unsigned char *)KEY_CHECK_LABEL,
                             sizeof KEY_CHECK_LABEL - 1, mac, sizeof mac, &mac_bytes) == NULL)
        rc = -EIO;
    if (rc == 0 && mac_bytes != sizeof mac) rc = -EIO;
    struct rw_aead_key *key = NULL;
    if (rc == 0) rc = rw_aead_key_create(data_key, &key);
    /* The data key now lives only in the key's own memory (or nowhere, on failure). */
    OPENSSL_cleanse(data_key, sizeof data_key);
    if (rc == 0) {
        memcpy(key_check, mac, RW_AEAD_KEY_CHECK_BYTES);
        *out = key;
    }
    OPENSSL_cleanse(mac, sizeof mac);
    return rc;
}
