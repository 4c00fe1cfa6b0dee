/* Bounded file and stream reading. Secret inputs (passwords, keys, mnemonics) are read into
 * secure memory and never pass through an ordinary heap buffer. */
#ifndef SIGIL_COMMON_IO_H
#define SIGIL_COMMON_IO_H

#include <stddef.h>
#include <stdint.h>

#include "common/result.h"

/* Reads a whole file (at most max bytes, else SIGIL_ERR_TOO_LARGE) into a malloc'ed buffer
 * with a NUL appended (not counted in *len). Caller frees with free(). */
SIGIL_RESULT sigil_read_file(char **out, size_t *len, const char *path, size_t max);

/* Same, into secure memory (free with sigil_secure_free). */
SIGIL_RESULT sigil_read_file_secure(char **out, size_t *len, const char *path, size_t max);

/* Reads all of fd (e.g. stdin) into secure memory, at most max bytes, NUL-terminated. */
SIGIL_RESULT sigil_read_fd_secure(char **out, size_t *len, int fd, size_t max);

/* Writes data to path atomically (temp file + fsync + rename) with the given mode.
 * With exclusive != 0 an existing file is an error (SIGIL_ERR_IO). */
SIGIL_RESULT sigil_write_file(const char *path, const void *data, size_t len, unsigned mode, int exclusive);

/* Removes one trailing "\n" or "\r\n" in place (password files usually end with one). */
void sigil_strip_newline(char *s, size_t *len);

#endif
