/* Fuzz harness for the control channel: the input is the byte stream a hostile host writes
 * (any number of frames). It goes through a socketpair into a channel with sigild's shape of
 * dispatch table, answers to sigild's own AUDIT requests included (AUDIT_OK / ERROR, which no
 * request here waits for); dispatching must end in a clean close, never a crash or a hang.
 * Inputs of odd length run with the reader thread (sigild's mode), even ones without. The input
 * is also checked as an AUDIT frame's lines (the host's check). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "channel/channel.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static enum sigil_channel_verdict answer(struct sigil_channel *ch, const json_t *msg, int64_t id, void *ctx)
{
    (void)ctx;
    (void)id;
    /* a touch of real handler behaviour: move the state and sometimes object to the payload */
    if (json_object_get(msg, "close") != NULL) {
        return SIGIL_CH_CLOSE;
    }
    if (sigil_channel_state(ch) == SIGIL_CH_NEW) {
        sigil_channel_set_state(ch, SIGIL_CH_INITIALIZING);
    } else if (json_is_true(json_object_get(msg, "last"))) {
        sigil_channel_set_state(ch, SIGIL_CH_READY);
    }
    return json_object_get(msg, "refuse") != NULL ? SIGIL_CH_REFUSED : SIGIL_CH_DONE;
}

static const struct sigil_channel_rule rules[] = {
    {SIGIL_MSG_INIT, SIGIL_CH_MASK(SIGIL_CH_NEW), true, true, answer},
    {SIGIL_MSG_KEYS_PAGE, SIGIL_CH_MASK(SIGIL_CH_INITIALIZING) | SIGIL_CH_MASK(SIGIL_CH_READY), false, false, answer},
    {SIGIL_MSG_STATUS, SIGIL_CH_MASK(SIGIL_CH_INITIALIZING) | SIGIL_CH_MASK(SIGIL_CH_READY), false, false, answer},
    {SIGIL_MSG_KEYGEN, SIGIL_CH_MASK(SIGIL_CH_READY), false, false, answer},
    {SIGIL_MSG_AUDIT_OK, SIGIL_CH_MASK(SIGIL_CH_INITIALIZING) | SIGIL_CH_MASK(SIGIL_CH_READY), false, false, NULL},
    {SIGIL_MSG_ERROR, SIGIL_CH_MASK(SIGIL_CH_INITIALIZING) | SIGIL_CH_MASK(SIGIL_CH_READY), false, false, NULL},
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 256 * 1024) {
        return 0;
    }
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0) {
        return 0;
    }
    /* the socket buffer must hold the whole input: the harness is single-threaded */
    int sz = 512 * 1024;
    (void)setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &sz, sizeof sz);
    (void)setsockopt(sv[1], SOL_SOCKET, SO_RCVBUF, &sz, sizeof sz);
    size_t off = 0;
    while (off < size) {
        ssize_t w = write(sv[0], data + off, size - off);
        if (w <= 0) {
            break;
        }
        off += (size_t)w;
    }
    shutdown(sv[0], SHUT_WR);
    struct sigil_channel *ch = NULL;
    if (!sigil_is_ok(sigil_channel_new(&ch, sv[1], rules, sizeof rules / sizeof rules[0], NULL))) {
        close(sv[0]);
        close(sv[1]);
        return 0;
    }
    sigil_channel_set_timeouts(ch, 50, 50);
    if ((size & 1u) != 0 && !sigil_is_ok(sigil_channel_start_reader(ch))) {
        abort();
    }
    for (int i = 0; i < 10000 && sigil_is_ok(sigil_channel_dispatch_one(ch)); i++) {
    }
    if (sigil_channel_state(ch) != SIGIL_CH_CLOSED) {
        abort();
    }
    sigil_channel_free(ch);
    close(sv[0]);
    return 0;
}
