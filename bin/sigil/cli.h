/* Shared pieces of the sigil CLI: option parsing, exit codes, reading secrets from stdin/files.
 *
 * Exit codes (stable; scripts and tests rely on them): 0 success, 1 a valid "no" (for example an
 * invalid signature), 2 bad input or usage, with one sentence on stderr. Secrets are read from
 * stdin or files, never from argv. */
#ifndef SIGIL_CLI_H
#define SIGIL_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/result.h"

enum { CLI_OK = 0, CLI_NO = 1, CLI_BAD = 2 };

struct cli_opt {
    const char *name; /* long name without dashes */
    bool has_arg;
    const char **value; /* receives the argument (or "1" for flags); NULL if absent */
};

/* Parses argv[0..argc) against opts; positional arguments go to pos (up to max_pos).
 * Prints a sentence and returns false on an unknown option or a missing argument. */
bool cli_parse(int argc, char **argv, struct cli_opt *opts, size_t nopts, const char **pos, size_t max_pos,
               size_t *npos, const char *cmd);

/* Prints "sigil: <sentence>" to stderr and returns CLI_BAD. */
int cli_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Prints the error of a failed result (its detail if any, else the code's sentence) prefixed
 * with context, returns CLI_BAD. */
int cli_fail_result(const char *context, sigil_result r);

/* Reads a hex secret of exactly n bytes from stdin into out (whitespace/0x tolerated). */
SIGIL_RESULT cli_read_secret_hex_stdin(uint8_t *out, size_t n);

/* Reads a password file into secure memory, stripping one trailing newline. */
SIGIL_RESULT cli_read_password_file(char **out, size_t *len, const char *path);

/* Decodes a public hex argument of exactly n bytes, naming the option on failure. */
bool cli_hex_arg(uint8_t *out, size_t n, const char *value, const char *opt);

/* Decodes a public hex argument of any length up to cap. */
bool cli_hex_arg_var(uint8_t *out, size_t cap, size_t *len, const char *value, const char *opt);

/* Prints 0x-prefixed hex and a newline on stdout. */
void cli_print_hex(const uint8_t *data, size_t n);

int cmd_bls(int argc, char **argv);
int cmd_keys(int argc, char **argv);
int cmd_keystore(int argc, char **argv);
int cmd_bench(int argc, char **argv);

#endif
