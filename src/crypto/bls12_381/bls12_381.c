/* BLS12-381 as one translation unit: see internal.h for the layering contract.
 * Only the functions declared in crypto/bls.h leave this file. */
#include "crypto/bls.h"

#include "crypto/bls12_381/internal.h"

#include "crypto/bls12_381/fp_impl.h"
#include "crypto/bls12_381/fp2_impl.h"
#include "crypto/bls12_381/fp12_impl.h"
#include "crypto/bls12_381/g1_impl.h"
#include "crypto/bls12_381/g2_impl.h"
#include "crypto/bls12_381/pairing_impl.h"
#include "crypto/bls12_381/hash_to_curve_impl.h"
#include "crypto/bls12_381/serialize_impl.h"
#include "crypto/bls12_381/scalar_impl.h"
#include "crypto/bls12_381/api_impl.h"
#include "crypto/bls12_381/verify_impl.h"
