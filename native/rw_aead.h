/*
 * AES-256-GCM over the OpenSSL that Node links (its EVP interface; headers in include/node),
 * for encrypting and decrypting a batch of records in one call (docs/encryption.md). A key
 * lives in memory of its own, locked where RLIMIT_MEMLOCK allows and cleansed when destroyed.
 *
 * A master key is kept the same way and is used only to derive data keys from: HKDF-SHA256 with
 * the caller's salt and info, plus a key check value (docs/encryption.md "Scheme"), so the data
 * key's bytes never leave C.
 */
#ifndef RW_AEAD_H
#define RW_AEAD_H

#include <stddef.h>
#include <stdint.h>

#define RW_AEAD_KEY_BYTES 32u
#define RW_AEAD_NONCE_BYTES 12u
#define RW_AEAD_TAG_BYTES 16u
#define RW_AEAD_MASTER_KEY_BYTES 32u
#define RW_AEAD_SALT_BYTES 16u
#define RW_AEAD_KEY_CHECK_BYTES 16u
/* Info is a short label and identifiers (ringwal's is 29 bytes); the cap keeps it a label. */
#define RW_AEAD_INFO_BYTES_MAX 256u

struct rw_aead_key;
struct rw_aead_master;

/* 0, or -ENOMEM / -EIO (OpenSSL refused). */
int rw_aead_key_create(const uint8_t *key, struct rw_aead_key **out);
/* Cleanses and frees; NULL is allowed. */
void rw_aead_key_destroy(struct rw_aead_key *key);
/* A key of its own with the same bytes (own contexts: usable on another thread): 0, -ENOMEM or -EIO. */
int rw_aead_key_clone(const struct rw_aead_key *key, struct rw_aead_key **out);

/* Encrypts `data` in place and writes the tag: 0, or -EIO. */
int rw_aead_seal(struct rw_aead_key *key, const uint8_t *nonce, const uint8_t *aad, size_t aad_bytes, uint8_t *data, size_t data_bytes,
                 uint8_t *tag);
/* Decrypts `data` in place if the tag holds: 0, -EBADMSG (tag mismatch; `data` then unspecified), or -EIO. */
int rw_aead_open(struct rw_aead_key *key, const uint8_t *nonce, const uint8_t *aad, size_t aad_bytes, uint8_t *data, size_t data_bytes,
                 const uint8_t *tag);

/* 0, or -ENOMEM. */
int rw_aead_master_create(const uint8_t *key, struct rw_aead_master **out);
/* Cleanses and frees; NULL is allowed. */
void rw_aead_master_destroy(struct rw_aead_master *master);

/*
 * The data key HKDF-SHA256(ikm = master, salt, info) as a new AES-GCM key, and its key check
 * value: the first 16 bytes of HMAC-SHA256(data key, "ringwal/v6/key-check"). 0, -EINVAL (info
 * empty or above RW_AEAD_INFO_BYTES_MAX), -ENOMEM or -EIO (OpenSSL refused); the data key's bytes
 * are cleansed from every temporary either way.
 */
int rw_aead_derive(const struct rw_aead_master *master, const uint8_t *salt, const uint8_t *info, size_t info_bytes,
                   struct rw_aead_key **out, uint8_t *key_check);

#endif
