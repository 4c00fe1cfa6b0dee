/* Keystore directories (NAME.json beside NAME.txt password files) loaded in parallel: the
 * directory walk, paths, and the thread fan-out with progress logging shared by the validator
 * key loader (src/keys) and the eth1 key ring (src/eth1). */
#ifndef SIGIL_COMMON_KEYDIR_H
#define SIGIL_COMMON_KEYDIR_H

#include <stdbool.h>
#include <stddef.h>

#include "common/result.h"

#define SIGIL_KEYDIR_MAX_FILES       (1u << 20)
#define SIGIL_KEYDIR_MAX_THREADS     64
#define SIGIL_KEYDIR_JSON_SUFFIX     ".json"
#define SIGIL_KEYDIR_PASSWORD_SUFFIX ".txt"
#define SIGIL_KEYDIR_MAX_PASSWORD    4096 /* bytes in a password file */

/* The NAME.json regular files of dir (dot files skipped; symlinks to files count), sorted by
 * name so logs and the order of equal keys are reproducible. *names: n malloc'ed strings, freed
 * with sigil_keydir_names_free. what names the directory in errors ("keystores"). */
sigil_result sigil_keydir_scan(char ***names, size_t *n, const char *dir, const char *what);
void sigil_keydir_names_free(char **names, size_t n);

/* "dir/" + the first name_len bytes of name + suffix (NULL: none); malloc'ed, NULL without memory. */
char *sigil_keydir_join(const char *dir, const char *name, size_t name_len, const char *suffix);
/* dir/NAME.txt for the keystore file name "NAME.json"; malloc'ed, NULL without memory. */
char *sigil_keydir_password_path(const char *passwords_dir, const char *json_name);
bool sigil_keydir_is_regular(const char *path);

/* Reads the password file at path into secure memory (*pw NUL-terminated, free with
 * sigil_secure_free), at most SIGIL_KEYDIR_MAX_PASSWORD bytes, one trailing "\n" or "\r\n"
 * removed. On failure *pw is NULL and the detail names the file, never its contents.
 * Errors: SIGIL_ERR_IO, SIGIL_ERR_TOO_LARGE, SIGIL_ERR_NOMEM. */
SIGIL_RESULT sigil_keydir_read_password_file(char **pw, size_t *pw_len, const char *path);
/* The same for the password of keystore file json_name ("NAME.json"): passwords_dir/NAME.txt.
 * Errors: SIGIL_ERR_NOT_FOUND when that is not a regular file (the keystore has no password),
 * else those of sigil_keydir_read_password_file. */
SIGIL_RESULT sigil_keydir_read_password(char **pw, size_t *pw_len, const char *passwords_dir, const char *json_name);

/* Runs each(ctx, i) for every i in [0, n) on a pool of threads (0: one per CPU; at most
 * SIGIL_KEYDIR_MAX_THREADS, at most n), the caller's thread included. After each item, done(ctx,
 * done, n) when not NULL, and an INFO log line `progress_msg` with done and total at every tenth. */
void sigil_keydir_fan_out(size_t n, unsigned threads, void (*each)(void *ctx, size_t i),
                          void (*done)(void *ctx, size_t done, size_t total), void *ctx, const char *progress_msg);

#endif
