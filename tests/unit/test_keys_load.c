/* Unit tests for src/keys load.c and cache.c: loading a directory with good, password-less,
 * wrong-password, corrupt and non-keystore files; the fast-load cache (round trip, tampering,
 * changed keystores, wrong password, KEK mode, file mode, no secret bytes in the file); password
 * files (sigil_keydir_read_password); and that no secret or password reaches the log. Keystores
 * are made here with cheap KDF costs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <ftw.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/hex.h"
#include "common/keydir.h"
#include "common/log.h"
#include "common/secmem.h"
#include "crypto/bls.h"
#include "crypto/eip2335.h"
#include "keys/keystore.h"

#define MAXK 8

struct fixture {
    char root[256], ks_dir[300], pw_dir[300], cache[300], cache_pw[300], log_path[300];
    int log_fd;
    sigil_bls_sk sk[MAXK];
    uint8_t pk[MAXK][48];
    char password[MAXK][32];
    size_t progress_calls, progress_total;
};

static struct fixture fx;

static void key_i(unsigned i)
{
    uint8_t ikm[32];
    for (int k = 0; k < 32; k++) {
        ikm[k] = (uint8_t)(i * 17 + (unsigned)k * 3 + 5);
    }
    assert_true(sigil_is_ok(sigil_bls_keygen(&fx.sk[i], ikm, sizeof(ikm), NULL, 0)));
    sigil_bls_pk pk;
    sigil_bls_sk_to_pk(&pk, &fx.sk[i]);
    sigil_bls_pk_compress(fx.pk[i], &pk);
    snprintf(fx.password[i], sizeof(fx.password[i]), "pw-%u-\xc3\xa9t\xc3\xa9", i); /* non-ASCII too */
}

static void write_text(const char *path, const char *text, size_t len)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(text, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
}

static char *read_all(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    char *buf = malloc(1 << 22);
    assert_non_null(buf);
    *len = fread(buf, 1, (1 << 22) - 1, f);
    buf[*len] = '\0';
    (void)fclose(f);
    return buf;
}

/* Writes keystore NAME.json for key i (pbkdf2 c=2, or scrypt n=16 when scrypt) and, with
 * pw != NULL, NAME.txt holding pw plus a newline. */
static void make_keystore(const char *name, unsigned i, const char *pw, bool scrypt)
{
    struct sigil_eip2335_params prm = {scrypt ? SIGIL_EIP2335_SCRYPT : SIGIL_EIP2335_PBKDF2, scrypt ? 16 : 2, NULL};
    char *json;
    size_t len;
    assert_true(
        sigil_is_ok(sigil_eip2335_create(&json, &len, &fx.sk[i], fx.password[i], strlen(fx.password[i]), NULL, &prm)));
    char path[512];
    snprintf(path, sizeof(path), "%s/%s.json", fx.ks_dir, name);
    write_text(path, json, len);
    free(json);
    if (pw != NULL) {
        char line[64];
        int n = snprintf(line, sizeof(line), "%s\n", pw);
        snprintf(path, sizeof(path), "%s/%s.txt", fx.pw_dir, name);
        write_text(path, line, (size_t)n);
    }
}

/* Writes keystores k0 .. k<n-1> for keys 0 .. n-1 with their right passwords; with
 * scrypt_odd, the odd ones use scrypt. */
static void make_keystores(unsigned n, bool scrypt_odd)
{
    for (unsigned i = 0; i < n; i++) {
        char name[16];
        snprintf(name, sizeof(name), "k%u", i);
        make_keystore(name, i, fx.password[i], scrypt_odd && i % 2 == 1);
    }
}

static int rm_entry(const char *path, const struct stat *sb, int type, struct FTW *ftw)
{
    (void)sb;
    (void)ftw;
    return type == FTW_DP ? rmdir(path) : unlink(path);
}

static int setup(void **state)
{
    (void)state;
    memset(&fx, 0, sizeof(fx));
    snprintf(fx.root, sizeof(fx.root), "/tmp/sigil-test-keys-XXXXXX");
    if (mkdtemp(fx.root) == NULL) {
        return -1;
    }
    snprintf(fx.ks_dir, sizeof(fx.ks_dir), "%s/keystores", fx.root);
    snprintf(fx.pw_dir, sizeof(fx.pw_dir), "%s/passwords", fx.root);
    snprintf(fx.cache, sizeof(fx.cache), "%s/keys.cache", fx.root);
    snprintf(fx.cache_pw, sizeof(fx.cache_pw), "%s/cache.pw", fx.root);
    snprintf(fx.log_path, sizeof(fx.log_path), "%s/log.jsonl", fx.root);
    if (mkdir(fx.ks_dir, 0700) != 0 || mkdir(fx.pw_dir, 0700) != 0) {
        return -1;
    }
    fx.log_fd = open(fx.log_path, O_WRONLY | O_CREAT | O_APPEND, 0600);
    if (fx.log_fd < 0) {
        return -1;
    }
    sigil_log_init(SIGIL_LOG_DEBUG, fx.log_fd);
    for (unsigned i = 0; i < MAXK; i++) {
        key_i(i);
    }
    write_text(fx.cache_pw, "correct horse battery staple\n", 29);
    return 0;
}

/* Every test ends by checking that nothing secret reached the log. */
static void assert_log_clean(void)
{
    size_t len;
    char *log = read_all(fx.log_path, &len);
    for (unsigned i = 0; i < MAXK; i++) {
        uint8_t b[32];
        char hex[67];
        sigil_bls_sk_to_bytes(b, &fx.sk[i]);
        sigil_hex_encode(hex, b, 32, 0);
        assert_null(strstr(log, hex));
        assert_null(strstr(log, fx.password[i]));
    }
    assert_null(strstr(log, "correct horse"));
    free(log);
}

static int teardown(void **state)
{
    (void)state;
    assert_log_clean();
    sigil_log_init(SIGIL_LOG_INFO, 2);
    close(fx.log_fd);
    sigil_wipe(fx.sk, sizeof(fx.sk));
    return nftw(fx.root, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static bool log_has(const char *needle)
{
    size_t len;
    char *log = read_all(fx.log_path, &len);
    bool found = strstr(log, needle) != NULL;
    free(log);
    return found;
}

/* Forgets what was logged so far, so the next log_has sees only new lines. */
static void log_reset(void) { assert_int_equal(ftruncate(fx.log_fd, 0), 0); }

static void progress_cb(size_t done, size_t total, void *ctx)
{
    struct fixture *f = ctx;
    /* called from worker threads (no cmocka asserts here); read after the load */
    __atomic_fetch_add(&f->progress_calls, 1, __ATOMIC_RELAXED);
    __atomic_store_n(&f->progress_total, done <= total ? total : (size_t)-1, __ATOMIC_RELAXED);
}

static struct sigil_load_opts opts(bool cache)
{
    struct sigil_load_opts o = {.keystores_dir = fx.ks_dir, .passwords_dir = fx.pw_dir, .threads = 2};
    if (cache) {
        o.cache_path = fx.cache;
        o.cache_password_file = fx.cache_pw;
    }
    return o;
}

static struct sigil_load_report load(struct sigil_keystore **ks, const struct sigil_load_opts *o)
{
    struct sigil_load_report rep;
    assert_true(sigil_is_ok(sigil_keystore_new(ks)));
    assert_true(sigil_is_ok(sigil_keystore_load_dir(*ks, o, &rep)));
    return rep;
}

/* Loads into a new store and frees it again: for the report alone. */
static struct sigil_load_report load_free(const struct sigil_load_opts *o)
{
    struct sigil_keystore *ks;
    struct sigil_load_report rep = load(&ks, o);
    sigil_keystore_free(ks);
    return rep;
}

/* Writes keystores k0 .. k<n-1>, sets *o to the cache options and loads once, which writes the
 * cache. */
static struct sigil_load_report first_cached_load(unsigned n, struct sigil_load_opts *o)
{
    make_keystores(n, false);
    *o = opts(true);
    return load_free(o);
}

/* Signs a fixed message with key i through the store and checks it against the bare key. */
static void assert_signs(struct sigil_keystore *ks, unsigned i)
{
    static const uint8_t msg[32] = {1, 2, 3};
    uint8_t sig[96], want[96];
    assert_true(sigil_is_ok(sigil_keystore_sign(ks, fx.pk[i], msg, sizeof(msg), sig)));
    sigil_bls_sig s;
    sigil_bls_sign(&s, &fx.sk[i], msg, sizeof(msg));
    sigil_bls_sig_compress(want, &s);
    assert_memory_equal(sig, want, 96);
    sigil_bls_pk pk;
    assert_true(sigil_is_ok(sigil_bls_pk_decompress(&pk, fx.pk[i])));
    assert_true(sigil_is_ok(sigil_bls_sig_decompress(&s, sig)));
    assert_true(sigil_bls_verify_var(&pk, msg, sizeof(msg), &s));
}

static void test_load_mix(void **state)
{
    (void)state;
    make_keystore("good-0", 0, fx.password[0], false);
    make_keystore("good-1", 1, fx.password[1], true); /* scrypt keystore */
    make_keystore("good-2", 2, fx.password[2], false);
    make_keystore("nopw-3", 3, NULL, false);
    make_keystore("wrongpw-4", 4, "not the password", false);
    make_keystore(".hidden-5", 5, fx.password[5], false); /* dot files are ignored */
    char path[512];
    snprintf(path, sizeof(path), "%s/corrupt.json", fx.ks_dir);
    write_text(path, "{\"crypto\": ", 11);
    snprintf(path, sizeof(path), "%s/corrupt.txt", fx.pw_dir);
    write_text(path, "x\n", 2);
    snprintf(path, sizeof(path), "%s/README.md", fx.ks_dir);
    write_text(path, "not a keystore", 14);
    snprintf(path, sizeof(path), "%s/good-0.json.bak", fx.ks_dir);
    write_text(path, "{}", 2);
    snprintf(path, sizeof(path), "%s/subdir.json", fx.ks_dir);
    assert_int_equal(mkdir(path, 0700), 0);

    struct sigil_keystore *ks;
    struct sigil_load_opts o = opts(false);
    o.progress = progress_cb;
    o.progress_ctx = &fx;
    struct sigil_load_report rep = load(&ks, &o);
    assert_int_equal(rep.found, 6); /* good x3, nopw, wrongpw, corrupt */
    assert_int_equal(rep.loaded, 3);
    assert_int_equal(rep.failed, 2);
    assert_int_equal(rep.from_cache, 0);
    assert_true(rep.seconds >= 0);
    assert_int_equal(fx.progress_calls, 5);
    assert_int_equal(fx.progress_total, 5);
    assert_int_equal(sigil_keystore_count(ks), 3);
    for (unsigned i = 0; i < 3; i++) {
        assert_signs(ks, i);
    }
    assert_false(sigil_keystore_has(ks, fx.pk[3]));
    assert_false(sigil_keystore_has(ks, fx.pk[4]));
    assert_false(sigil_keystore_has(ks, fx.pk[5]));

    struct sigil_key_info *info;
    size_t n;
    assert_true(sigil_is_ok(sigil_keystore_list(ks, &info, &n)));
    assert_int_equal(n, 3);
    bool names[3] = {false, false, false};
    for (size_t k = 0; k < n; k++) {
        for (unsigned i = 0; i < 3; i++) {
            char want[32];
            snprintf(want, sizeof(want), "good-%u.json", i);
            if (memcmp(info[k].pubkey, fx.pk[i], 48) == 0) {
                assert_string_equal(info[k].name, want);
                names[i] = true;
            }
        }
    }
    assert_true(names[0] && names[1] && names[2]);
    free(info);

    /* The log names the problem files, and only by file name. */
    assert_true(log_has("\"file\":\"nopw-3.json\""));
    assert_true(log_has("\"file\":\"wrongpw-4.json\""));
    assert_true(log_has("\"file\":\"corrupt.json\""));
    assert_true(log_has("keys loaded"));

    /* Loading the same directory again: keys already held are not duplicated. */
    struct sigil_load_report again;
    assert_true(sigil_is_ok(sigil_keystore_load_dir(ks, &o, &again)));
    assert_int_equal(again.loaded, 3);
    assert_int_equal(sigil_keystore_count(ks), 3);
    sigil_keystore_free(ks);

    /* threads = 0 (online CPUs) and threads = 1 give the same result */
    o.threads = 0;
    rep = load_free(&o);
    assert_int_equal(rep.loaded, 3);
    o.threads = 1;
    rep = load_free(&o);
    assert_int_equal(rep.loaded, 3);
}

static void test_load_duplicate_and_no_pubkey(void **state)
{
    (void)state;
    make_keystore("a", 0, fx.password[0], false);
    make_keystore("b", 0, fx.password[0], false); /* the same key in a second file */
    /* A keystore without the optional pubkey: the loader derives it. */
    struct sigil_eip2335_params prm = {SIGIL_EIP2335_PBKDF2, 2, NULL};
    char *json;
    size_t len;
    assert_true(
        sigil_is_ok(sigil_eip2335_create(&json, &len, &fx.sk[1], fx.password[1], strlen(fx.password[1]), NULL, &prm)));
    json_t *root = json_loads(json, 0, NULL);
    assert_non_null(root);
    free(json);
    json_object_set_new(root, "pubkey", json_string(""));
    json = json_dumps(root, 0);
    json_decref(root);
    char path[512];
    snprintf(path, sizeof(path), "%s/nopubkey.json", fx.ks_dir);
    write_text(path, json, strlen(json));
    free(json);
    snprintf(path, sizeof(path), "%s/nopubkey.txt", fx.pw_dir);
    write_text(path, fx.password[1], strlen(fx.password[1])); /* no trailing newline */

    struct sigil_keystore *ks;
    struct sigil_load_opts o = opts(false);
    struct sigil_load_report rep = load(&ks, &o);
    assert_int_equal(rep.found, 3);
    assert_int_equal(rep.loaded, 2);
    assert_int_equal(rep.failed, 1);
    assert_signs(ks, 0);
    assert_signs(ks, 1);
    /* of two files with one key, the first by name wins; the other is reported */
    assert_true(log_has("\"file\":\"b.json\""));
    struct sigil_key_info *info;
    size_t n;
    assert_true(sigil_is_ok(sigil_keystore_list(ks, &info, &n)));
    for (size_t k = 0; k < n; k++) {
        if (memcmp(info[k].pubkey, fx.pk[0], 48) == 0) {
            assert_string_equal(info[k].name, "a.json");
        }
    }
    free(info);
    sigil_keystore_free(ks);
}

static void test_load_errors(void **state)
{
    (void)state;
    struct sigil_keystore *ks;
    assert_true(sigil_is_ok(sigil_keystore_new(&ks)));
    struct sigil_load_opts o = opts(false);
    struct sigil_load_report rep;
    o.keystores_dir = "/nonexistent/sigil";
    assert_int_equal(sigil_keystore_load_dir(ks, &o, &rep).code, SIGIL_ERR_IO);
    o = opts(true);
    o.cache_password_file = NULL;
    assert_int_equal(sigil_keystore_load_dir(ks, &o, &rep).code, SIGIL_ERR_ARG);
    assert_int_equal(sigil_keystore_load_dir(ks, NULL, &rep).code, SIGIL_ERR_ARG);
    /* empty directory: fine, nothing loaded; the cache is written (empty) */
    o = opts(true);
    assert_true(sigil_is_ok(sigil_keystore_load_dir(ks, &o, NULL)));
    assert_true(sigil_is_ok(sigil_keystore_load_dir(ks, &o, &rep)));
    assert_int_equal(rep.found, 0);
    assert_int_equal(sigil_keystore_count(ks), 0);
    /* cache password file missing: warning, load without the cache */
    make_keystore("k", 0, fx.password[0], false);
    o.cache_password_file = "/nonexistent/cache.pw";
    assert_true(sigil_is_ok(sigil_keystore_load_dir(ks, &o, &rep)));
    assert_int_equal(rep.loaded, 1);
    assert_true(log_has("key cache password file cannot be read"));
    sigil_keystore_free(ks);
}

/* The password step shared with the eth1 key ring (sigil_keydir_read_password): NAME.txt beside
 * NAME.json, read into secure memory, one trailing newline removed; errors name the file and
 * never echo what is in it. */
static void test_password_files(void **state)
{
    (void)state;
    char path[512];
    snprintf(path, sizeof(path), "%s/a.txt", fx.pw_dir);
    write_text(path, "pw-a \xc3\xa9\r\n", 9);
    char *pw = NULL;
    size_t len = 0;
    assert_true(sigil_is_ok(sigil_keydir_read_password(&pw, &len, fx.pw_dir, "a.json")));
    assert_int_equal(len, 7);
    assert_string_equal(pw, "pw-a \xc3\xa9");
    assert_true(sigil_secure_owns(pw));
    sigil_secure_free(pw);

    /* no NAME.txt, or one that is not a regular file: the keystore has no password */
    sigil_error_clear();
    assert_int_equal(sigil_keydir_read_password(&pw, &len, fx.pw_dir, "none.json").code, SIGIL_ERR_NOT_FOUND);
    assert_null(pw);
    assert_non_null(strstr(sigil_error_detail(), "none.txt"));
    snprintf(path, sizeof(path), "%s/d.txt", fx.pw_dir);
    assert_int_equal(mkdir(path, 0700), 0);
    assert_int_equal(sigil_keydir_read_password(&pw, &len, fx.pw_dir, "d.json").code, SIGIL_ERR_NOT_FOUND);

    /* over SIGIL_KEYDIR_MAX_PASSWORD: refused naming the file, not quoting it */
    static char big[SIGIL_KEYDIR_MAX_PASSWORD + 2];
    memset(big, 'x', sizeof(big) - 1);
    memcpy(big, "zz-leak-zz", 10);
    snprintf(path, sizeof(path), "%s/big.txt", fx.pw_dir);
    write_text(path, big, SIGIL_KEYDIR_MAX_PASSWORD + 1);
    sigil_error_clear();
    assert_int_equal(sigil_keydir_read_password(&pw, &len, fx.pw_dir, "big.json").code, SIGIL_ERR_TOO_LARGE);
    assert_null(pw);
    assert_non_null(strstr(sigil_error_detail(), path));
    assert_null(strstr(sigil_error_detail(), "zz-leak-zz"));
    write_text(path, big, SIGIL_KEYDIR_MAX_PASSWORD); /* exactly the limit is fine */
    assert_true(sigil_is_ok(sigil_keydir_read_password_file(&pw, &len, path)));
    assert_int_equal(len, SIGIL_KEYDIR_MAX_PASSWORD);
    sigil_secure_free(pw);

    /* through the loader: the keystore with the oversized password fails, the log names the file */
    make_keystore("big", 0, NULL, false);
    write_text(path, big, SIGIL_KEYDIR_MAX_PASSWORD + 1);
    make_keystore("a", 1, fx.password[1], false);
    struct sigil_load_opts o = opts(false);
    struct sigil_load_report rep = load_free(&o);
    assert_int_equal(rep.loaded, 1);
    assert_int_equal(rep.failed, 1);
    assert_true(log_has("big.txt"));
    assert_false(log_has("zz-leak-zz"));
}

/* Bytes of key i as they could appear in a leaky file: big-endian, little-endian limbs, hex. */
static void assert_no_secret_in(const char *path)
{
    size_t len;
    char *buf = read_all(path, &len);
    for (unsigned i = 0; i < MAXK; i++) {
        uint8_t be[32], le[32];
        char hex[67];
        sigil_bls_sk_to_bytes(be, &fx.sk[i]);
        memcpy(le, fx.sk[i].l, 32);
        assert_null(memmem(buf, len, be, 32));
        assert_null(memmem(buf, len, le, 32));
        assert_null(memmem(buf, len, be, 16)); /* not even half of it */
        assert_null(memmem(buf, len, sigil_hex_encode(hex, be, 32, 0), 64));
        for (char *c = hex; *c; c++) {
            if (*c >= 'a' && *c <= 'f') {
                *c = (char)(*c - 'a' + 'A');
            }
        }
        assert_null(memmem(buf, len, hex, 64));
    }
    free(buf);
}

static void test_cache_round_trip(void **state)
{
    (void)state;
    make_keystores(5, true);
    struct sigil_load_opts o = opts(true);
    struct sigil_keystore *ks;
    struct sigil_load_report rep = load(&ks, &o);
    assert_int_equal(rep.loaded, 5);
    assert_int_equal(rep.from_cache, 0);
    sigil_keystore_free(ks);

    struct stat sb;
    assert_int_equal(stat(fx.cache, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0600);
    assert_no_secret_in(fx.cache);
    /* no temp file left behind */
    char tmp[512];
    snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", fx.cache, (long)getpid());
    assert_int_not_equal(access(tmp, F_OK), 0);

    /* Second load: 100% from the cache, signs identically. Break every password file to prove
     * the keystore KDF is not run. */
    for (unsigned i = 0; i < 5; i++) {
        char p[512];
        snprintf(p, sizeof(p), "%s/k%u.txt", fx.pw_dir, i);
        write_text(p, "broken\n", 7);
    }
    assert_int_equal(stat(fx.cache, &sb), 0);
    time_t mtime = sb.st_mtime;
    ino_t ino = sb.st_ino;
    rep = load(&ks, &o);
    assert_int_equal(rep.loaded, 5);
    assert_int_equal(rep.from_cache, 5);
    assert_int_equal(rep.failed, 0);
    for (unsigned i = 0; i < 5; i++) {
        assert_signs(ks, i);
    }
    sigil_keystore_free(ks);
    /* nothing changed, so the cache was not rewritten */
    assert_int_equal(stat(fx.cache, &sb), 0);
    assert_int_equal(sb.st_ino, ino);
    assert_int_equal(sb.st_mtime, mtime);

    /* A keystore without a password file is skipped even though the cache has its key. */
    char p[512];
    snprintf(p, sizeof(p), "%s/k4.txt", fx.pw_dir);
    assert_int_equal(unlink(p), 0);
    rep = load(&ks, &o);
    assert_int_equal(rep.loaded, 4);
    assert_false(sigil_keystore_has(ks, fx.pk[4]));
    sigil_keystore_free(ks);
    /* ... and the cache now holds 4 keys: restoring the password needs the real one again */
    write_text(p, "broken\n", 7);
    rep = load_free(&o);
    assert_int_equal(rep.from_cache, 4);
    assert_int_equal(rep.failed, 1);
}

static void flip_byte(const char *path, long off_from_start, bool from_end)
{
    size_t len;
    char *buf = read_all(path, &len);
    size_t at = from_end ? len - (size_t)off_from_start : (size_t)off_from_start;
    assert_true(at < len);
    buf[at] ^= 0x01;
    write_text(path, buf, len);
    free(buf);
}

static void test_cache_tamper(void **state)
{
    (void)state;
    struct sigil_load_opts o;
    struct sigil_load_report rep = first_cached_load(3, &o);
    struct sigil_keystore *ks;
    assert_int_equal(rep.from_cache, 0);

    /* body byte, tag byte, nonce byte (header is authenticated), key-check byte, salt byte */
    static const struct {
        long off;
        bool from_end;
        const char *reason;
    } flips[] = {
        {112 + 50, false, "failed authentication"}, {3, true, "failed authentication"},
        {85, false, "failed authentication"},       {100, false, "wrong cache password"},
        {20, false, "wrong cache password"},        {0, false, "not a Sigil key cache"},
    };
    for (size_t k = 0; k < sizeof(flips) / sizeof(flips[0]); k++) {
        flip_byte(fx.cache, flips[k].off, flips[k].from_end);
        assert_log_clean();
        log_reset();
        rep = load(&ks, &o);
        assert_int_equal(rep.loaded, 3);
        assert_int_equal(rep.from_cache, 0);
        for (unsigned i = 0; i < 3; i++) {
            assert_signs(ks, i);
        }
        sigil_keystore_free(ks);
        assert_true(log_has(flips[k].reason));
        assert_true(log_has("key cache ignored"));
        /* the cache was rewritten and is good again */
        rep = load(&ks, &o);
        assert_int_equal(rep.from_cache, 3);
        sigil_keystore_free(ks);
    }

    /* truncated file */
    size_t len;
    char *buf = read_all(fx.cache, &len);
    write_text(fx.cache, buf, len - 20);
    free(buf);
    rep = load_free(&o);
    assert_int_equal(rep.loaded, 3);
    assert_int_equal(rep.from_cache, 0);

    /* garbage and an empty file */
    write_text(fx.cache, "hello", 5);
    rep = load_free(&o);
    assert_int_equal(rep.from_cache, 0);
    write_text(fx.cache, "", 0);
    rep = load_free(&o);
    assert_int_equal(rep.from_cache, 0);
    assert_int_equal(rep.loaded, 3);
    rep = load_free(&o);
    assert_int_equal(rep.from_cache, 3);
}

static void test_cache_changed_keystores(void **state)
{
    (void)state;
    struct sigil_load_opts o;
    struct sigil_load_report rep = first_cached_load(4, &o);
    struct sigil_keystore *ks;

    /* k1 re-encrypted (same key, new salt/IV: other bytes), k5 new, k3 removed */
    make_keystore("k1", 1, fx.password[1], false);
    make_keystore("k5", 5, fx.password[5], false);
    char p[512];
    snprintf(p, sizeof(p), "%s/k3.json", fx.ks_dir);
    assert_int_equal(unlink(p), 0);
    rep = load(&ks, &o);
    assert_int_equal(rep.found, 4);
    assert_int_equal(rep.loaded, 4);
    assert_int_equal(rep.from_cache, 2); /* k0, k2 */
    assert_signs(ks, 1);
    assert_signs(ks, 5);
    assert_false(sigil_keystore_has(ks, fx.pk[3]));
    sigil_keystore_free(ks);

    rep = load_free(&o);
    assert_int_equal(rep.from_cache, 4);

    /* k0's file now holds key 6 (same name, other content): the cache must not return key 0 */
    make_keystore("k0", 6, fx.password[6], false);
    rep = load(&ks, &o);
    assert_int_equal(rep.from_cache, 3);
    assert_true(sigil_keystore_has(ks, fx.pk[6]));
    assert_false(sigil_keystore_has(ks, fx.pk[0]));
    sigil_keystore_free(ks);
}

static void test_cache_wrong_password(void **state)
{
    (void)state;
    struct sigil_load_opts o;
    struct sigil_load_report rep = first_cached_load(3, &o);
    struct sigil_keystore *ks;

    write_text(fx.cache_pw, "another password\n", 17);
    log_reset();
    rep = load(&ks, &o);
    assert_int_equal(rep.loaded, 3);
    assert_int_equal(rep.from_cache, 0);
    for (unsigned i = 0; i < 3; i++) {
        assert_signs(ks, i);
    }
    sigil_keystore_free(ks);
    assert_true(log_has("wrong cache password"));
    assert_true(log_has("\"level\":\"warn\""));

    /* rewritten under the new password */
    rep = load_free(&o);
    assert_int_equal(rep.from_cache, 3);

    /* empty password: no cache at all */
    write_text(fx.cache_pw, "\n", 1);
    rep = load_free(&o);
    assert_int_equal(rep.from_cache, 0);
    assert_int_equal(rep.loaded, 3);
    assert_true(log_has("key cache password is empty"));
}

static void test_cache_kek(void **state)
{
    (void)state;
    make_keystores(3, false);
    uint8_t kek[32], kek2[32];
    memset(kek, 0x42, sizeof(kek));
    memset(kek2, 0x43, sizeof(kek2));
    struct sigil_load_opts o = opts(true);
    o.cache_password_file = NULL;
    o.cache_kek = kek;
    struct sigil_keystore *ks;
    struct sigil_load_report rep = load(&ks, &o);
    assert_int_equal(rep.from_cache, 0);
    sigil_keystore_free(ks);
    assert_no_secret_in(fx.cache);
    size_t len;
    char *buf = read_all(fx.cache, &len);
    assert_null(memmem(buf, len, kek, sizeof(kek)));
    free(buf);

    rep = load(&ks, &o);
    assert_int_equal(rep.from_cache, 3);
    for (unsigned i = 0; i < 3; i++) {
        assert_signs(ks, i);
    }
    sigil_keystore_free(ks);

    /* two rewrites under one KEK use different data keys and nonces: the files differ even
     * with identical content */
    char *first = read_all(fx.cache, &len);
    assert_int_equal(unlink(fx.cache), 0);
    rep = load_free(&o);
    size_t len2;
    char *second = read_all(fx.cache, &len2);
    assert_int_equal(len, len2);
    assert_memory_not_equal(first + 48, second + 48, 64 - 16);
    assert_memory_not_equal(first + 112, second + 112, len - 112);
    free(first);
    free(second);

    /* wrong KEK, and a password where a KEK was used: both refused, then rewritten */
    o.cache_kek = kek2;
    rep = load_free(&o);
    assert_int_equal(rep.from_cache, 0);
    assert_int_equal(rep.loaded, 3);
    o.cache_kek = NULL;
    o.cache_password_file = fx.cache_pw;
    rep = load_free(&o);
    assert_int_equal(rep.from_cache, 0);
    rep = load_free(&o);
    assert_int_equal(rep.from_cache, 3);
    o.cache_kek = kek; /* the KEK wins when both are given */
    rep = load_free(&o);
    assert_int_equal(rep.from_cache, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_load_mix, setup, teardown),
        cmocka_unit_test_setup_teardown(test_load_duplicate_and_no_pubkey, setup, teardown),
        cmocka_unit_test_setup_teardown(test_load_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_password_files, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cache_round_trip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cache_tamper, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cache_changed_keystores, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cache_wrong_password, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cache_kek, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
