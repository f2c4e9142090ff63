#include "rw_aead.h"

#include <errno.h>
#include <limits.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
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
