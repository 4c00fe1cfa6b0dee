/* Secret hygiene across modules: a wrong keystore password (eth1 Web3 v3 and eth2 EIP-2335) never
 * shows up in the error detail or in a log line, nor do the right password or the key; AWS
 * credentials (secret and session token) are held in secure memory and a refused credentials
 * file does not echo them; a JSON message built in secret-JSON mode (sigil-host's INIT) lives in
 * secure memory, goes over the channel intact, and logging while in that mode is safe. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "channel/channel.h"
#include "common/hex.h"
#include "common/log.h"
#include "common/secmem.h"
#include "crypto/bls.h"
#include "crypto/eip2335.h"
#include "eth1/keyring.h"
#include "eth1/secp256k1.h"
#include "store/creds.h"

#define RIGHT_PW   "Right-Pw-5b7e0c1d"
#define WRONG_PW   "Wrong-Pw-9f2a6e4c"
#define AWS_SECRET "wJalrXUtnFEMI-K7MDENG-bPxRfiCYEXAMPLEKEY"
#define AWS_TOKEN  "FQoGZXIvYXdzEXAMPLE-session-token-3c9d"

/* ---------------------------------------------------------------- log capture */

static char g_logs[64 * 1024];
static size_t g_logs_len;

static void sink(const char *line, size_t len, void *ctx)
{
    (void)ctx;
    if (g_logs_len + len + 1 < sizeof g_logs) {
        memcpy(g_logs + g_logs_len, line, len);
        g_logs_len += len;
        g_logs[g_logs_len++] = '\n';
        g_logs[g_logs_len] = '\0';
    }
}

static void capture_start(void)
{
    g_logs_len = 0;
    g_logs[0] = '\0';
    sigil_log_set_sink(sink, NULL);
}

static void capture_stop(void) { sigil_log_set_sink(NULL, NULL); }

/* Neither password nor the key's hex (either case) in s. */
static void assert_clean(const char *s, const uint8_t *key, size_t key_len)
{
    assert_null(strstr(s, RIGHT_PW));
    assert_null(strstr(s, WRONG_PW));
    char hx[2 * 32 + 3];
    assert_true(key_len <= 32);
    sigil_hex_encode(hx, key, key_len, 0);
    assert_null(strstr(s, hx));
    /* the tail half too, in case only part of it were printed */
    assert_null(strstr(s, hx + key_len));
}

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    assert_int_equal(fputs(text, f) >= 0, 1);
    assert_int_equal(fclose(f), 0);
}

static int rm_cb(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(p);
}

/* ---------------------------------------------------------------- eth1 */

static void test_eth1_wrong_password(void **state)
{
    (void)state;
    uint8_t raw[32];
    for (int i = 0; i < 32; i++) {
        raw[i] = (uint8_t)(0x51 + i);
    }
    sigil_secp256k1_sk *sk = NULL;
    assert_true(sigil_is_ok(sigil_secp256k1_sk_from_bytes(&sk, raw)));
    struct sigil_eth1_keystore_params prm = {.kdf = SIGIL_ETH1_KDF_PBKDF2, .cost = 2};
    char *json = NULL;
    size_t len = 0;
    assert_true(sigil_is_ok(sigil_eth1_keystore_create(&json, &len, sk, RIGHT_PW, strlen(RIGHT_PW), &prm)));
    sigil_secp256k1_sk_free(sk);
    /* the keystore itself holds neither the password nor the key */
    assert_clean(json, raw, sizeof raw);

    sigil_secp256k1_sk *out = NULL;
    sigil_error_clear();
    sigil_result r = sigil_eth1_keystore_decrypt(&out, json, len, WRONG_PW, strlen(WRONG_PW));
    assert_int_equal(r.code, SIGIL_ERR_KEYSTORE_PASSWORD);
    assert_null(out);
    assert_true(sigil_error_detail()[0] != '\0');
    assert_clean(sigil_error_detail(), raw, sizeof raw);

    /* through the directory loader: the report and every log line stay clean */
    char root[] = "/tmp/sigil-hygiene-XXXXXX";
    assert_non_null(mkdtemp(root));
    char p[512];
    snprintf(p, sizeof p, "%s/a.json", root);
    write_text(p, json);
    snprintf(p, sizeof p, "%s/a.txt", root);
    write_text(p, WRONG_PW "\n");
    struct sigil_eth1_keyring *kr = NULL;
    assert_true(sigil_is_ok(sigil_eth1_keyring_new(&kr)));
    struct sigil_eth1_load_report rep;
    capture_start();
    sigil_error_clear();
    r = sigil_eth1_keyring_load_dir(kr, root, root, 1, &rep);
    capture_stop();
    assert_int_equal(r.code, SIGIL_ERR_KEYSTORE_PASSWORD);
    assert_int_equal(rep.failed, 1);
    assert_true(g_logs_len > 0);           /* the failure was logged ... */
    assert_clean(g_logs, raw, sizeof raw); /* ... without the secret */
    assert_clean(rep.first_error, raw, sizeof raw);
    assert_clean(sigil_error_detail(), raw, sizeof raw);
    sigil_eth1_keyring_free(kr);
    assert_int_equal(nftw(root, rm_cb, 8, FTW_DEPTH | FTW_PHYS), 0);
    free(json);
}

/* ---------------------------------------------------------------- eth2 */

static void test_eth2_wrong_password(void **state)
{
    (void)state;
    uint8_t raw[32] = {0};
    for (int i = 1; i < 32; i++) {
        raw[i] = (uint8_t)(0x21 + 3 * i); /* below the group order: leading zero byte */
    }
    sigil_bls_sk *sk = sigil_secure_alloc(sizeof *sk);
    assert_non_null(sk);
    assert_true(sigil_is_ok(sigil_bls_sk_from_bytes(sk, raw)));
    struct sigil_eip2335_params prm = {.kdf = SIGIL_EIP2335_PBKDF2, .cost = 2};
    char *json = NULL;
    size_t len = 0;
    assert_true(sigil_is_ok(sigil_eip2335_create(&json, &len, sk, RIGHT_PW, strlen(RIGHT_PW), "", &prm)));
    sigil_secure_free(sk);
    assert_clean(json, raw, sizeof raw);
    sigil_bls_sk *out = NULL;
    sigil_error_clear();
    sigil_result r = sigil_eip2335_decrypt(&out, NULL, json, len, WRONG_PW, strlen(WRONG_PW));
    assert_int_equal(r.code, SIGIL_ERR_KEYSTORE_PASSWORD);
    assert_null(out);
    assert_clean(sigil_error_detail(), raw, sizeof raw);
    free(json);
}

/* ---------------------------------------------------------------- AWS credentials */

static void test_aws_creds(void **state)
{
    (void)state;
    char root[] = "/tmp/sigil-hygiene-XXXXXX";
    assert_non_null(mkdtemp(root));
    char p[512];
    snprintf(p, sizeof p, "%s/credentials", root);
    write_text(p, "[default]\naws_access_key_id = AKIDEXAMPLE\naws_secret_access_key = " AWS_SECRET
                  "\naws_session_token = " AWS_TOKEN "\n");
    struct sigil_aws_creds c;
    assert_true(sigil_is_ok(sigil_aws_creds_load(&c, p)));
    assert_string_equal(c.secret, AWS_SECRET);
    assert_string_equal(c.session_token, AWS_TOKEN);
    assert_true(sigil_secure_owns(c.secret));
    assert_true(sigil_secure_owns(c.session_token));
    sigil_aws_creds_free(&c);
    assert_null(c.secret);
    assert_null(c.session_token);

    /* a file without a key id is refused without echoing the secret or the token */
    write_text(p, "[default]\naws_secret_access_key = " AWS_SECRET "\naws_session_token = " AWS_TOKEN "\n");
    sigil_error_clear();
    sigil_result r = sigil_aws_creds_load(&c, p);
    assert_int_equal(r.code, SIGIL_ERR_PARSE);
    assert_null(strstr(sigil_error_detail(), AWS_SECRET));
    assert_null(strstr(sigil_error_detail(), AWS_TOKEN));
    assert_null(c.secret);
    assert_null(c.session_token);

    /* from the environment as well */
    assert_int_equal(setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE", 1), 0);
    assert_int_equal(setenv("AWS_SECRET_ACCESS_KEY", AWS_SECRET, 1), 0);
    assert_int_equal(setenv("AWS_SESSION_TOKEN", AWS_TOKEN, 1), 0);
    assert_true(sigil_is_ok(sigil_aws_creds_load(&c, NULL)));
    assert_true(sigil_secure_owns(c.secret));
    assert_true(sigil_secure_owns(c.session_token));
    assert_string_equal(c.session_token, AWS_TOKEN);
    sigil_aws_creds_free(&c);
    unsetenv("AWS_ACCESS_KEY_ID");
    unsetenv("AWS_SECRET_ACCESS_KEY");
    unsetenv("AWS_SESSION_TOKEN");
    assert_int_equal(nftw(root, rm_cb, 8, FTW_DEPTH | FTW_PHYS), 0);
}

/* ---------------------------------------------------------------- secret-JSON mode (INIT) */

static void test_secret_json_frame(void **state)
{
    (void)state;
    size_t before = sigil_secure_in_use();
    sigil_channel_secret_json(true);
    json_t *kms = json_pack("{s:s, s:s}", "access_key_id", "AKIDEXAMPLE", "secret_access_key", AWS_SECRET);
    json_t *init = json_pack("{s:o, s:I}", "kms", kms, "expected_keys", (json_int_t)3);
    /* a log line in this mode: its serialised form is secure memory and must be freed as such */
    capture_start();
    SIGIL_LOG_INFO("building INIT", SIGIL_LOG_UINT("fields", 2));
    capture_stop();
    sigil_channel_secret_json(false);
    assert_non_null(init);
    assert_non_null(strstr(g_logs, "building INIT"));
    const char *sec = json_string_value(json_object_get(kms, "secret_access_key"));
    assert_string_equal(sec, AWS_SECRET);
    assert_true(sigil_secure_owns(sec));
    assert_true(sigil_secure_owns(init));
    assert_true(sigil_secure_in_use() > before);

    /* outside the mode jansson is the ordinary heap again */
    json_t *plain = json_string("public");
    assert_false(sigil_secure_owns(plain));
    json_decref(plain);

    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    assert_true(sigil_is_ok(sigil_frame_write_json(sv[0], 0x01, init, 1000)));
    uint8_t type = 0;
    uint8_t *payload = NULL;
    size_t len = 0;
    bool secure = false;
    assert_true(sigil_is_ok(sigil_frame_read(sv[1], &type, &payload, &len, &secure, NULL, NULL, 1000)));
    assert_int_equal(type, 0x01);
    json_t *back = json_loadb((const char *)payload, len, 0, NULL);
    assert_non_null(back);
    assert_true(json_equal(back, init));
    json_decref(back);
    sigil_wipe(payload, len);
    if (secure) {
        sigil_secure_free(payload);
    } else {
        free(payload);
    }
    close(sv[0]);
    close(sv[1]);
    json_decref(init);
    /* every secure block of the message was returned (and wiped) */
    assert_int_equal(sigil_secure_in_use(), before);
}

int main(void)
{
    sigil_channel_use_secure_json(); /* as sigil-host and sigild do, before any other jansson use */
    sigil_log_init(SIGIL_LOG_INFO, 2);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_eth1_wrong_password),
        cmocka_unit_test(test_eth2_wrong_password),
        cmocka_unit_test(test_aws_creds),
        cmocka_unit_test(test_secret_json_frame),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
