/* Fuzz harness for the src/net text parsers that take operator or peer input: the
 * known-clients file, the listen address, and metric label strings. The first byte selects the
 * parser; the rest is its input. Beyond "does not crash" it checks that a failed parse returns
 * no object, that a parsed listen address is consistent, and that no accepted label string
 * holds a raw newline. (evhttp's own request parser is libevent's and not reachable without a
 * socket, so it is covered by the hostile-input tests in test_net_http.c instead.) */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "net/http.h"
#include "net/metrics.h"
#include "net/tls.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0) {
        return 0;
    }
    uint8_t which = data[0] % 3;
    data++;
    size--;
    if (which == 0) {
        struct sigil_known_clients *kc = NULL;
        if (sigil_is_ok(sigil_known_clients_parse(&kc, (const char *)data, size))) {
            /* a lookup of an input-derived fingerprint must return NULL or a sane name */
            uint8_t fp[SIGIL_TLS_FINGERPRINT_LEN] = {0};
            memcpy(fp, data, size < sizeof fp ? size : sizeof fp);
            const char *name = sigil_known_clients_lookup(kc, fp);
            if (name != NULL && (name[0] == '\0' || strlen(name) >= SIGIL_TLS_CLIENT_NAME_MAX)) {
                abort();
            }
            sigil_known_clients_free(kc);
        } else if (kc != NULL) {
            abort();
        }
        return 0;
    }
    char *s = malloc(size + 1);
    if (s == NULL) {
        return 0;
    }
    memcpy(s, data, size);
    s[size] = '\0';
    if (which == 1) {
        struct sigil_listen_addr la;
        if (sigil_is_ok(sigil_net_parse_listen(&la, s))) {
            if (la.family != AF_INET && la.family != AF_INET6 && la.family != AF_UNIX && la.family != AF_VSOCK) {
                abort();
            }
            if (la.sslen == 0 || la.sslen > sizeof la.ss || (la.family == AF_UNIX && !la.loopback)) {
                abort();
            }
        }
    } else {
        int ok = sigil_metrics_labels_valid(s);
        if (ok && (strchr(s, '\n') != NULL)) {
            abort(); /* a raw newline would break the exposition format */
        }
        (void)sigil_metrics_name_valid(s);
    }
    free(s);
    return 0;
}
