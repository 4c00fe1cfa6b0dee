/* src/kms: everything Sigil needs to talk to AWS KMS and to sigil-kms.
 *   sigv4.h     SigV4 signing (client) and verification (sigil-kms)
 *   cms.h       CMS EnvelopedData: KMS CiphertextForRecipient unwrap and build
 *   recipient.h ephemeral RSA-2048 recipient keys for attestation documents
 *   client.h    the KMS JSON 1.1 client over HTTPS (libcurl or a custom transport) */
#ifndef SIGIL_KMS_KMS_H
#define SIGIL_KMS_KMS_H

#include "kms/client.h"
#include "kms/cms.h"
#include "kms/recipient.h"
#include "kms/sigv4.h"

#endif
