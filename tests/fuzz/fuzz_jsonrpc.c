/* Fuzz harness for the wallet's JSON-RPC request layer (src/eth1/rpc.c): a body of any bytes goes
 * through sigil_rpc_parse (envelope, batch, method dispatch, parameters, transaction / EIP-712 /
 * EIP-191 / EIP-7702 parsing and digests) and the responses a server would build from it. The
 * first byte, when odd, routes the rest to the REST eth1/sign body parser instead. Nothing may
 * crash, leak or exceed its limits; every call must end with either a digest or an error. */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>

#include "eth1/rpc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) {
        return 0;
    }
    const char *body = (const char *)data + 1;
    size_t len = size - 1;
    if ((data[0] & 1) != 0) {
        struct sigil_rpc_call c;
        sigil_result ignored_ = sigil_rpc_parse_raw_sign(&c, body, len);
        (void)ignored_;
        sigil_rpc_call_free(&c);
        return 0;
    }
    struct sigil_rpc_request req;
    if (sigil_is_ok(sigil_rpc_parse(&req, body, len, 1u << 20))) {
        if (req.http_status != 200 && req.n != 1) {
            abort(); /* a body refused whole carries exactly its one error */
        }
        json_t *arr = json_array();
        for (size_t i = 0; i < req.n; i++) {
            const struct sigil_rpc_call *c = &req.calls[i];
            if (c->method == SIGIL_RPC_NONE && c->error_code == 0) {
                abort(); /* neither a method nor an error */
            }
            if (c->notification) {
                continue;
            }
            json_t *resp = c->error_code != 0 ? sigil_rpc_error_response(c->id, c->error_code, c->error, NULL)
                                              : sigil_rpc_result_response(c->id, json_string("0x"));
            char *text = resp != NULL ? json_dumps(resp, JSON_COMPACT) : NULL;
            free(text);
            if (resp != NULL) {
                json_array_append_new(arr, resp);
            }
        }
        json_decref(arr);
    }
    sigil_rpc_request_free(&req);
    return 0;
}
