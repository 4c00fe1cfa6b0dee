/* `sigil kms ...`: operator commands against sigil-kms (or AWS KMS) through the src/kms client.
 *   create-key --endpoint URL --ca F --credentials F [--bind-pcr0 HEX] [--bind-image-sha384 HEX]
 *              [--description S] [--region R]                      prints the key id
 *   put-policy --endpoint URL --ca F --credentials F --key-id ID --policy-file F [--region R]
 *   get-policy --endpoint URL --ca F --credentials F --key-id ID [--region R]   prints the policy
 * The credentials file is the one sigil-kms writes (AWS shared-credentials syntax). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/io.h"
#include "common/secmem.h"
#include "kms/client.h"
#include "kmsd/kmsd.h"

struct cli_opts {
    const char *endpoint, *ca, *credentials, *region, *pcr0, *image, *key_id, *policy_file, *description;
};

static int usage(const char *msg)
{
    fprintf(stderr, "sigil kms: %s\n", msg);
    return 2;
}

static int refused(const char *what, sigil_result r, const struct sigil_kms_client *c)
{
    const char *aws = c != NULL ? sigil_kms_client_last_error(c) : "";
    fprintf(stderr, "sigil kms: %s failed: %s%s%s%s\n", what, sigil_strerror(r.code), aws[0] ? " (" : "", aws,
            aws[0] ? ")" : "");
    if (sigil_error_detail()[0] != '\0') {
        fprintf(stderr, "sigil kms: %s\n", sigil_error_detail());
    }
    return r.code == SIGIL_ERR_IO || r.code == SIGIL_ERR_TLS || r.code == SIGIL_ERR_CONFIG ? 2 : 1;
}

static int connect_client(struct sigil_kms_client **out, const struct cli_opts *o)
{
    char *akid = NULL, *secret = NULL;
    size_t secret_len = 0;
    sigil_result r = sigil_kmsd_read_credentials(o->credentials, &akid, &secret, &secret_len);
    if (!sigil_is_ok(r)) {
        fprintf(stderr, "sigil kms: cannot read %s: %s\n", o->credentials, sigil_error_detail());
        return 2;
    }
    struct sigil_kms_config cfg = {.region = o->region ? o->region : "us-east-1",
                                   .endpoint = o->endpoint,
                                   .ca_file = o->ca,
                                   .allow_plain_http = getenv("SIGIL_KMS_ALLOW_HTTP") != NULL};
    struct sigil_kms_credentials cr = {.access_key_id = akid, .secret_access_key = secret, .secret_len = secret_len};
    r = sigil_kms_client_new(out, &cfg, &cr);
    free(akid);
    sigil_secure_free(secret);
    if (!sigil_is_ok(r)) {
        fprintf(stderr, "sigil kms: invalid endpoint or region: %s\n", sigil_error_detail());
        return 2;
    }
    return 0;
}

int sigil_kms_cli(int argc, char **argv)
{
    if (argc > 0 && strcmp(argv[0], "kms") == 0) {
        argc--;
        argv++;
    }
    if (argc < 1) {
        return usage("usage: sigil kms create-key|put-policy|get-policy --endpoint URL --ca F --credentials F ...");
    }
    const char *cmd = argv[0];
    static const struct option lo[] = {
        {"endpoint", required_argument, NULL, 'e'},    {"ca", required_argument, NULL, 'c'},
        {"credentials", required_argument, NULL, 'k'}, {"region", required_argument, NULL, 'r'},
        {"bind-pcr0", required_argument, NULL, 'p'},   {"bind-image-sha384", required_argument, NULL, 'i'},
        {"key-id", required_argument, NULL, 'K'},      {"policy-file", required_argument, NULL, 'f'},
        {"description", required_argument, NULL, 'd'}, {NULL, 0, NULL, 0}};
    struct cli_opts o = {0};
    optind = 1;
    opterr = 0;
    int ch;
    while ((ch = getopt_long(argc, argv, "", lo, NULL)) != -1) {
        switch (ch) {
        case 'e':
            o.endpoint = optarg;
            break;
        case 'c':
            o.ca = optarg;
            break;
        case 'k':
            o.credentials = optarg;
            break;
        case 'r':
            o.region = optarg;
            break;
        case 'p':
            o.pcr0 = optarg;
            break;
        case 'i':
            o.image = optarg;
            break;
        case 'K':
            o.key_id = optarg;
            break;
        case 'f':
            o.policy_file = optarg;
            break;
        case 'd':
            o.description = optarg;
            break;
        default:
            return usage("unknown option or missing value");
        }
    }
    if (optind != argc) {
        return usage("unexpected argument");
    }
    if (o.endpoint == NULL || o.credentials == NULL) {
        return usage("--endpoint and --credentials are required");
    }
    bool create = strcmp(cmd, "create-key") == 0, put = strcmp(cmd, "put-policy") == 0,
         get = strcmp(cmd, "get-policy") == 0;
    if (!create && !put && !get) {
        return usage("unknown command (create-key, put-policy, get-policy)");
    }
    if ((put || get) && o.key_id == NULL) {
        return usage("--key-id is required");
    }
    if (put && o.policy_file == NULL) {
        return usage("--policy-file is required");
    }
    if (!create && (o.pcr0 != NULL || o.image != NULL || o.description != NULL)) {
        return usage("--bind-pcr0, --bind-image-sha384 and --description only apply to create-key");
    }
    char *policy = NULL;
    size_t plen = 0;
    if (create && (o.pcr0 != NULL || o.image != NULL) &&
        !sigil_is_ok(sigil_kmsd_bound_policy(&policy, o.pcr0, o.image))) {
        return usage("--bind-pcr0 / --bind-image-sha384 must be 48 bytes of hex");
    }
    if (put && !sigil_is_ok(sigil_read_file(&policy, &plen, o.policy_file, SIGIL_KMSD_MAX_POLICY))) {
        fprintf(stderr, "sigil kms: cannot read %s: %s\n", o.policy_file, sigil_error_detail());
        return 2;
    }
    struct sigil_kms_client *c = NULL;
    int rc = connect_client(&c, &o);
    if (rc != 0) {
        free(policy);
        return rc;
    }
    sigil_result r;
    if (create) {
        struct sigil_kms_create_key_args a = {.description = o.description, .policy = policy};
        char *id = NULL, *arn = NULL;
        r = sigil_kms_create_key(c, &a, &id, &arn);
        if (sigil_is_ok(r)) {
            printf("%s\n", id);
        }
        free(id);
        free(arn);
    } else if (put) {
        r = sigil_kms_put_key_policy(c, o.key_id, NULL, policy);
    } else {
        char *text = NULL;
        r = sigil_kms_get_key_policy(c, o.key_id, NULL, &text);
        if (sigil_is_ok(r)) {
            printf("%s\n", text);
        }
        free(text);
    }
    rc = sigil_is_ok(r) ? 0 : refused(cmd, r, c);
    sigil_kms_client_free(c);
    free(policy);
    return rc;
}
