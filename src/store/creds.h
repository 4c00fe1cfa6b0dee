/* AWS credentials for KMS calls, as the operator CLI and sigil-host read them: an AWS
 * shared-credentials file ([default] aws_access_key_id / aws_secret_access_key /
 * aws_session_token), else the AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN
 * environment variables. The secret lives in secure memory. */
#ifndef SIGIL_STORE_CREDS_H
#define SIGIL_STORE_CREDS_H

#include <stddef.h>

#include "common/result.h"

#define SIGIL_CREDS_FILE_MAX 16384

struct sigil_aws_creds {
    char *access_key_id; /* malloc'ed */
    char *secret;        /* secure memory, NUL-terminated */
    size_t secret_len;
    char *session_token; /* secure memory, NUL-terminated, or NULL */
};

/* Reads credentials from path (NULL: the environment). Errors: SIGIL_ERR_IO (unreadable file),
 * SIGIL_ERR_PARSE (missing key id or secret; the detail names the field), SIGIL_ERR_NOMEM. */
SIGIL_RESULT sigil_aws_creds_load(struct sigil_aws_creds *out, const char *path);

/* Wipes and frees. Safe on a zeroed struct. */
void sigil_aws_creds_free(struct sigil_aws_creds *c);

#endif
