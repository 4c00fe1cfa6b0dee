/* ZCash serialization of G1 and G2 points (the format of the IETF BLS draft and Ethereum).
 *
 * The three high bits of the first byte are flags: bit 7 = compressed, bit 6 = infinity,
 * bit 5 = sign of y (set when y is the lexicographically larger root; only with compression
 * and never with infinity). An infinity encoding must be all zero apart from its flags. Fp2
 * coordinates are written c1 first, then c0. Decoders check every flag rule, that each
 * coordinate is below p, and that the point is on the curve; the subgroup check is separate. */

#define FLAG_COMPRESSED 0x80u
#define FLAG_INFINITY   0x40u
#define FLAG_SIGN       0x20u
#define FLAG_MASK       0xe0u

/* true when every byte after the first is zero and the first has no bits outside the flags. */
static bool encoding_rest_is_zero(const uint8_t *in, size_t len)
{
    uint8_t acc = in[0] & (uint8_t)~FLAG_MASK;
    for (size_t i = 1; i < len; i++) {
        acc |= in[i];
    }
    return acc == 0;
}

/* The ZCash "sign" of an Fp2 element: lexicographic order compares c1 first. */
static limb_t fp2_lexically_largest(const fp2 *a)
{
    limb_t c1_zero = fp_is_zero(&a->c1);
    return (c1_zero & fp_lexically_largest(&a->c0)) | ((c1_zero ^ 1) & fp_lexically_largest(&a->c1));
}

static void g1a_compress(uint8_t out[48], const g1a *a)
{
    if (a->inf) {
        memset(out, 0, 48);
        out[0] = FLAG_COMPRESSED | FLAG_INFINITY;
        return;
    }
    fp_to_bytes_be(out, &a->x);
    out[0] |= (uint8_t)(FLAG_COMPRESSED | (fp_lexically_largest(&a->y) ? FLAG_SIGN : 0));
}

static void g1a_serialize(uint8_t out[96], const g1a *a)
{
    if (a->inf) {
        memset(out, 0, 96);
        out[0] = FLAG_INFINITY;
        return;
    }
    fp_to_bytes_be(out, &a->x);
    fp_to_bytes_be(out + 48, &a->y);
}

static void g2a_compress(uint8_t out[96], const g2a *a)
{
    if (a->inf) {
        memset(out, 0, 96);
        out[0] = FLAG_COMPRESSED | FLAG_INFINITY;
        return;
    }
    fp_to_bytes_be(out, &a->x.c1);
    fp_to_bytes_be(out + 48, &a->x.c0);
    out[0] |= (uint8_t)(FLAG_COMPRESSED | (fp2_lexically_largest(&a->y) ? FLAG_SIGN : 0));
}

static void g2a_serialize(uint8_t out[192], const g2a *a)
{
    if (a->inf) {
        memset(out, 0, 192);
        out[0] = FLAG_INFINITY;
        return;
    }
    fp_to_bytes_be(out, &a->x.c1);
    fp_to_bytes_be(out + 48, &a->x.c0);
    fp_to_bytes_be(out + 96, &a->y.c1);
    fp_to_bytes_be(out + 144, &a->y.c0);
}

/* Shared flag checks. Returns OK with *is_inf set, or ENCODING. */
static SIGIL_RESULT decode_flags(bool *is_inf, const uint8_t *in, size_t len, bool compressed)
{
    uint8_t flags = in[0] & FLAG_MASK;
    *is_inf = false;
    if (((flags & FLAG_COMPRESSED) != 0) != compressed) {
        return sigil_error(SIGIL_ERR_BLS_ENCODING);
    }
    if (flags & FLAG_INFINITY) {
        if ((flags & FLAG_SIGN) || !encoding_rest_is_zero(in, len)) {
            return sigil_error(SIGIL_ERR_BLS_ENCODING);
        }
        *is_inf = true;
        return sigil_ok();
    }
    if (!compressed && (flags & FLAG_SIGN)) {
        return sigil_error(SIGIL_ERR_BLS_ENCODING);
    }
    return sigil_ok();
}

/* An Fp element from 48 bytes with the flag bits of the first byte cleared. */
static bool fp_from_flagged_bytes(fp *r, const uint8_t in[48])
{
    uint8_t buf[48];
    memcpy(buf, in, 48);
    buf[0] &= (uint8_t)~FLAG_MASK;
    return fp_from_bytes_be(r, buf);
}

static SIGIL_RESULT g1a_decompress(g1a *out, const uint8_t in[48])
{
    bool inf;
    SIGIL_GUARD(decode_flags(&inf, in, 48, true));
    memset(out, 0, sizeof(*out));
    if (inf) {
        out->inf = 1;
        return sigil_ok();
    }
    fp x, y, t;
    SIGIL_ENSURE(fp_from_flagged_bytes(&x, in), SIGIL_ERR_BLS_ENCODING);
    fp_sqr(&t, &x);
    fp_mul(&t, &t, &x);
    fp four;
    fp_add(&four, &FP_ONE, &FP_ONE);
    fp_add(&four, &four, &four);
    fp_add(&t, &t, &four);
    SIGIL_ENSURE(fp_sqrt(&y, &t), SIGIL_ERR_BLS_NOT_ON_CURVE);
    limb_t want = (in[0] & FLAG_SIGN) ? 1 : 0;
    if (fp_lexically_largest(&y) != want) {
        fp_neg(&y, &y);
    }
    out->x = x;
    out->y = y;
    return sigil_ok();
}

static SIGIL_RESULT g1a_deserialize(g1a *out, const uint8_t in[96])
{
    bool inf;
    SIGIL_GUARD(decode_flags(&inf, in, 96, false));
    memset(out, 0, sizeof(*out));
    if (inf) {
        out->inf = 1;
        return sigil_ok();
    }
    g1a a = {.inf = 0};
    SIGIL_ENSURE(fp_from_flagged_bytes(&a.x, in), SIGIL_ERR_BLS_ENCODING);
    SIGIL_ENSURE(fp_from_bytes_be(&a.y, in + 48), SIGIL_ERR_BLS_ENCODING);
    SIGIL_ENSURE(g1a_on_curve_var(&a), SIGIL_ERR_BLS_NOT_ON_CURVE);
    *out = a;
    return sigil_ok();
}

static SIGIL_RESULT g2a_decompress(g2a *out, const uint8_t in[96])
{
    bool inf;
    SIGIL_GUARD(decode_flags(&inf, in, 96, true));
    memset(out, 0, sizeof(*out));
    if (inf) {
        out->inf = 1;
        return sigil_ok();
    }
    fp2 x, y, t, b;
    SIGIL_ENSURE(fp_from_flagged_bytes(&x.c1, in), SIGIL_ERR_BLS_ENCODING);
    SIGIL_ENSURE(fp_from_bytes_be(&x.c0, in + 48), SIGIL_ERR_BLS_ENCODING);
    fp2_sqr(&t, &x);
    fp2_mul(&t, &t, &x);
    fp2_add(&b, &FP2_ONE, &FP2_ONE);
    fp2_add(&b, &b, &b);
    fp2_mul_by_xi(&b, &b);
    fp2_add(&t, &t, &b);
    SIGIL_ENSURE(fp2_sqrt_var(&y, &t), SIGIL_ERR_BLS_NOT_ON_CURVE);
    limb_t want = (in[0] & FLAG_SIGN) ? 1 : 0;
    if (fp2_lexically_largest(&y) != want) {
        fp2_neg(&y, &y);
    }
    out->x = x;
    out->y = y;
    return sigil_ok();
}

static SIGIL_RESULT g2a_deserialize(g2a *out, const uint8_t in[192])
{
    bool inf;
    SIGIL_GUARD(decode_flags(&inf, in, 192, false));
    memset(out, 0, sizeof(*out));
    if (inf) {
        out->inf = 1;
        return sigil_ok();
    }
    g2a a = {.inf = 0};
    SIGIL_ENSURE(fp_from_flagged_bytes(&a.x.c1, in), SIGIL_ERR_BLS_ENCODING);
    SIGIL_ENSURE(fp_from_bytes_be(&a.x.c0, in + 48), SIGIL_ERR_BLS_ENCODING);
    SIGIL_ENSURE(fp_from_bytes_be(&a.y.c1, in + 96), SIGIL_ERR_BLS_ENCODING);
    SIGIL_ENSURE(fp_from_bytes_be(&a.y.c0, in + 144), SIGIL_ERR_BLS_ENCODING);
    SIGIL_ENSURE(g2a_on_curve_var(&a), SIGIL_ERR_BLS_NOT_ON_CURVE);
    *out = a;
    return sigil_ok();
}
