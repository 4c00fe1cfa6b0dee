/* sigil keys derive | new, sigil keystore create | decrypt: written against src/crypto/
 * eip2333.h, eip2335.h, bip39.h and deposit.h. */
#include "cli.h"

int cmd_keys(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    return cli_fail("keys: not built yet");
}

int cmd_keystore(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    return cli_fail("keystore: not built yet");
}
