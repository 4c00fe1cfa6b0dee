/* Key policy parser and evaluator of sigil-kms: the AWS shapes it accepts, what it refuses
 * (fail closed), and the attestation conditions (ImageSha384 = PCR0, PCRn, IgnoreCase). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "kmsd/kmsd.h"

#define ARN "arn:aws:kms:us-east-1:000000000000:key/00000000-0000-4000-8000-000000000000"

static int eval(const char *policy, const char *action, const struct sigil_attest_doc *att, char *why, size_t cap)
{
    struct sigil_kmsd_policy *p = NULL;
    sigil_result r = sigil_kmsd_policy_parse(&p, policy, strlen(policy));
    assert_int_equal(r.code, SIGIL_OK);
    struct sigil_kmsd_request_ctx rq = {
        .action = action, .principal = SIGIL_KMSD_PRINCIPAL, .resource = ARN, .att = att};
    r = sigil_kmsd_policy_eval(p, &rq, why, cap);
    sigil_kmsd_policy_free(p);
    return r.code;
}

static void doc_with_pcr0(struct sigil_attest_doc *d, uint8_t v)
{
    memset(d, 0, sizeof *d);
    for (int i = 0; i < 16; i++) {
        d->pcr_present[i] = true;
        d->pcr_len[i] = 48;
    }
    memset(d->pcrs[0], v, 48);
}

static void test_default_policy(void **state)
{
    (void)state;
    char why[300];
    assert_int_equal(eval(sigil_kmsd_default_policy(), "kms:Decrypt", NULL, why, sizeof why), SIGIL_OK);
    assert_int_equal(eval(sigil_kmsd_default_policy(), "kms:PutKeyPolicy", NULL, why, sizeof why), SIGIL_OK);
}

static void test_bound_policy(void **state)
{
    (void)state;
    char hex[97];
    memset(hex, 'A', 96); /* upper case: StringEqualsIgnoreCase */
    hex[96] = '\0';
    char *pol = NULL;
    assert_int_equal(sigil_kmsd_bound_policy(&pol, hex, hex).code, SIGIL_OK);
    struct sigil_attest_doc *d = malloc(sizeof *d);
    assert_non_null(d);
    char why[300];
    doc_with_pcr0(d, 0xaa);
    assert_int_equal(eval(pol, "kms:Decrypt", d, why, sizeof why), SIGIL_OK);
    assert_int_equal(eval(pol, "kms:Decrypt", NULL, why, sizeof why), SIGIL_ERR_FORBIDDEN);
    assert_non_null(strstr(why, "kms:RecipientAttestation:"));
    assert_non_null(strstr(why, "no Recipient"));
    doc_with_pcr0(d, 0xab);
    assert_int_equal(eval(pol, "kms:Decrypt", d, why, sizeof why), SIGIL_ERR_FORBIDDEN);
    assert_non_null(strstr(why, "StringEqualsIgnoreCase"));
    assert_int_equal(eval(pol, "kms:Encrypt", NULL, why, sizeof why), SIGIL_OK);
    assert_int_equal(eval(pol, "kms:GenerateDataKey", NULL, why, sizeof why), SIGIL_OK);
    assert_int_equal(eval(pol, "kms:ScheduleKeyDeletionX", NULL, why, sizeof why), SIGIL_ERR_FORBIDDEN);
    free(pol);
    pol = NULL;
    assert_int_equal(sigil_kmsd_bound_policy(&pol, NULL, NULL).code, SIGIL_ERR_ARG);
    free(pol);
    free(d);
}

static void test_conditions(void **state)
{
    (void)state;
    struct sigil_attest_doc *d = malloc(sizeof *d);
    assert_non_null(d);
    doc_with_pcr0(d, 0x11);
    memset(d->pcrs[8], 0x22, 48);
    char why[300];
    char pol[2048];
    char h11[97], h22[97];
    memset(h11, '1', 96);
    memset(h22, '2', 96);
    h11[96] = h22[96] = '\0';
    snprintf(pol, sizeof pol,
             "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Principal\":{\"AWS\":[\"x\",\"*\"]},"
             "\"Action\":[\"kms:Gen*\",\"kms:Decrypt\"],\"Resource\":\"arn:aws:kms:*\",\"Condition\":{"
             "\"StringEqualsIgnoreCase\":{\"kms:RecipientAttestation:PCR0\":[\"ff\",\"%s\"],"
             "\"kms:RecipientAttestation:PCR8\":\"%s\"}}},"
             "{\"Effect\":\"Deny\",\"Principal\":\"*\",\"Action\":\"kms:GenerateRandom\"}]}",
             h11, h22);
    assert_int_equal(eval(pol, "kms:Decrypt", d, why, sizeof why), SIGIL_OK);
    assert_int_equal(eval(pol, "kms:GenerateDataKey", d, why, sizeof why), SIGIL_OK);
    assert_int_equal(eval(pol, "kms:GenerateRandom", d, why, sizeof why), SIGIL_ERR_FORBIDDEN);
    assert_non_null(strstr(why, "Deny"));
    memset(d->pcrs[8], 0x23, 48);
    assert_int_equal(eval(pol, "kms:Decrypt", d, why, sizeof why), SIGIL_ERR_FORBIDDEN);
    assert_non_null(strstr(why, "PCR8"));
    /* StringEquals is case-sensitive: upper-case hex never equals the lower-case PCR */
    snprintf(pol, sizeof pol,
             "{\"Statement\":{\"Effect\":\"Allow\",\"Principal\":\"*\",\"Action\":\"*\",\"Condition\":{"
             "\"StringEquals\":{\"kms:RecipientAttestation:ImageSha384\":\"%s\"}}}}",
             "1111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111AA");
    assert_int_equal(eval(pol, "kms:Decrypt", d, why, sizeof why), SIGIL_ERR_FORBIDDEN);
    free(d);
}

static void test_refused(void **state)
{
    (void)state;
    const char *bad[] = {
        "",
        "[]",
        "{}",
        "{\"Statement\":[]}",
        "{\"Statement\":{}}",
        "{\"Version\":\"2020\",\"Statement\":{}}",
        "{\"Statement\":{\"Effect\":\"Allow\",\"Action\":\"*\"}}",
        "{\"Statement\":{\"Effect\":\"Maybe\",\"Principal\":\"*\",\"Action\":\"*\"}}",
        "{\"Statement\":{\"Effect\":\"Allow\",\"Principal\":\"*\",\"NotAction\":\"*\"}}",
        "{\"Statement\":{\"Effect\":\"Allow\",\"Principal\":\"me\",\"Action\":\"*\"}}",
        "{\"Statement\":{\"Effect\":\"Allow\",\"Principal\":\"*\",\"Action\":[]}}",
        "{\"Statement\":{\"Effect\":\"Allow\",\"Principal\":\"*\",\"Action\":[1]}}",
        "{\"Statement\":{\"Effect\":\"Allow\",\"Principal\":\"*\",\"Action\":\"*\",\"Condition\":{\"StringLike\":"
        "{\"kms:RecipientAttestation:PCR0\":\"*\"}}}}",
        "{\"Statement\":{\"Effect\":\"Allow\",\"Principal\":\"*\",\"Action\":\"*\",\"Condition\":{\"StringEquals\":"
        "{\"kms:EncryptionContext:x\":\"y\"}}}}",
        "{\"Statement\":{\"Effect\":\"Allow\",\"Principal\":\"*\",\"Action\":\"*\",\"Condition\":{\"StringEquals\":"
        "{\"kms:RecipientAttestation:PCR16\":\"y\"}}}}",
        "{\"Statement\":{\"Effect\":\"Allow\",\"Principal\":\"*\",\"Action\":\"*\",\"Condition\":{\"StringEquals\":"
        "{\"kms:RecipientAttestation:PCR01\":\"y\"}}}}",
        "{\"Statement\":{\"Effect\":\"Allow\",\"Principal\":\"*\",\"Action\":\"*\"},\"Extra\":1}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct sigil_kmsd_policy *p = NULL;
        sigil_result r = sigil_kmsd_policy_parse(&p, bad[i], strlen(bad[i]));
        assert_int_not_equal(r.code, SIGIL_OK);
        assert_null(p);
    }
    size_t n = SIGIL_KMSD_MAX_POLICY + 10;
    char *big = malloc(n + 1);
    assert_non_null(big);
    memset(big, ' ', n);
    big[n] = '\0';
    struct sigil_kmsd_policy *p = NULL;
    assert_int_equal(sigil_kmsd_policy_parse(&p, big, n).code, SIGIL_ERR_TOO_LARGE);
    free(big);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_default_policy),
        cmocka_unit_test(test_bound_policy),
        cmocka_unit_test(test_conditions),
        cmocka_unit_test(test_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
