/* Fuzz harness for the CMS EnvelopedData profile check and the OpenSSL-backed unwrap: any
 * input must yield an error or, for inspect-valid input, a decrypt attempt that fails cleanly
 * (the fuzzer cannot know the key), never a crash or a leak. */
#include <stdint.h>
#include <stdlib.h>

#include "common/secmem.h"
#include "kms/cms.h"
#include "kms/recipient.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct sigil_kms_recipient *rcpt;
    if (rcpt == NULL && !sigil_is_ok(sigil_kms_recipient_new(&rcpt))) {
        abort();
    }
    struct sigil_kms_cms_info info;
    sigil_result r = sigil_kms_cms_inspect(&info, data, size);
    if (sigil_is_ok(r)) {
        if (info.content_len == 0 || info.content_len % 16 != 0 || info.encrypted_key_len == 0) {
            abort();
        }
    }
    sigil_kms_cms_info_clear(&info);
    uint8_t *plain = NULL;
    size_t plain_len = 0;
    sigil_result d = sigil_kms_recipient_decrypt(rcpt, &plain, &plain_len, data, size);
    if (sigil_is_ok(d) != (plain != NULL) || (sigil_is_ok(d) && !sigil_is_ok(r))) {
        abort();
    }
    sigil_secure_free(plain);
    return 0;
}
