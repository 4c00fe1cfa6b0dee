#include "common/sha256.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

static EVP_MD *sha256_md;
static pthread_once_t sha256_once = PTHREAD_ONCE_INIT;

static void sha256_fetch(void) { sha256_md = EVP_MD_fetch(NULL, "SHA256", NULL); }

const EVP_MD *sigil_sha256_md(void)
{
    (void)pthread_once(&sha256_once, sha256_fetch);
    if (sha256_md == NULL) {
        (void)fputs("sigil: libcrypto has no SHA-256\n", stderr);
        abort();
    }
    return sha256_md;
}

void sigil_sha256(uint8_t out[32], const void *data, size_t len)
{
    if (EVP_Digest(data, len, out, NULL, sigil_sha256_md(), NULL) != 1) {
        (void)fputs("sigil: SHA-256 failed\n", stderr);
        abort();
    }
}
