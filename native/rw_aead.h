/*
 * AES-256-GCM over the OpenSSL that Node links (its EVP interface; headers in include/node),
 * for encrypting and decrypting a batch of records in one call (docs/encryption.md). A key
 * lives in memory of its own, locked where RLIMIT_MEMLOCK allows and cleansed when destroyed.
 */
#ifndef RW_AEAD_H
#define RW_AEAD_H

#include <stddef.h>
#include <stdint.h>

#define RW_AEAD_KEY_BYTES 32u
#define RW_AEAD_NONCE_BYTES 12u
#define RW_AEAD_TAG_BYTES 16u

struct rw_aead_key;

/* 0, or -ENOMEM / -EIO (OpenSSL refused). */
int rw_aead_key_create(const uint8_t *key, struct rw_aead_key **out);
/* Cleanses and frees; NULL is allowed. */
void rw_aead_key_destroy(struct rw_aead_key *key);

/* Encrypts `data` in place and writes the tag: 0, or -EIO. */
int rw_aead_seal(struct rw_aead_key *key, const uint8_t *nonce, const uint8_t *aad, size_t aad_bytes, uint8_t *data, size_t data_bytes,
                 uint8_t *tag);
/* Decrypts `data` in place if the tag holds: 0, -EBADMSG (tag mismatch; `data` then unspecified), or -EIO. */
int rw_aead_open(struct rw_aead_key *key, const uint8_t *nonce, const uint8_t *aad, size_t aad_bytes, uint8_t *data, size_t data_bytes,
                 const uint8_t *tag);

#endif
