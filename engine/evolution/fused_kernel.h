/* The fused evaluation of a plain chain's population: the body of _fused.c, included
 * once per instruction set with KERNEL(name) naming that copy's functions.
 *
 * A chain here is Linear (activation) Linear (activation) ... in float32. Each individual
 * is evaluated alone, block by block of BLOCK samples: its weights decoded once from its
 * codes, then every layer of a block from activations that stay in the L1 cache (the
 * first layer's rows read in place from the table when it is one). Nothing is written
 * to memory but the last layer's outputs.
 */

typedef float KERNEL(vec) __attribute__((vector_size(LANES * sizeof(float))));
/* the same, for loads and stores that may not be aligned (table rows, inputs) */
typedef float KERNEL(uvec) __attribute__((vector_size(LANES * sizeof(float)), aligned(4)));

typedef int32_t KERNEL(mask) __attribute__((vector_size(LANES * sizeof(int32_t))));
typedef uint32_t KERNEL(umask) __attribute__((vector_size(LANES * sizeof(uint32_t))));

static inline KERNEL(vec) KERNEL(splat)(float value) {
    return (KERNEL(vec)){0} + value;
}

/* where ``mask`` (all ones or zeros per lane, a comparison's result) pick a, else b */
static inline KERNEL(vec) KERNEL(select)(KERNEL(mask) mask, KERNEL(vec) a, KERNEL(vec) b) {
    return (KERNEL(vec))((mask & (KERNEL(mask))a) | (~mask & (KERNEL(mask))b));
}

/* Eigen's float tanh (a 13/6 rational, odd, clamped where tanh rounds to ±1), written
 * as x * P(x^2) / Q(x^2) so that no intermediate underflows for a tiny x (x * P first lost
 * digits below 1e-36) and the result takes x's sign, -0 included. The quotient is the
 * reciprocal estimate refined once against the remainder, as exact as a division here
 * and quicker than one (the divider was half the time). Within 5 units in the last place
 * of float32 with fused multiply-adds, 7 without (tests/engine/test_fused_evaluation.py);
 * NaN stays NaN. */
static inline KERNEL(vec) KERNEL(tanh)(KERNEL(vec) x) {
    const KERNEL(vec) clamp = KERNEL(splat)(7.99881172180175781f);
    KERNEL(vec) c = MIN(MAX(x, -clamp), clamp);
    KERNEL(vec) c2 = c * c;
    KERNEL(vec) p = c2 * -2.76076847742355e-16f + 2.00018790482477e-13f;
    p = p * c2 + -8.60467152213735e-11f;
    p = p * c2 + 5.12229709037114e-08f;
    p = p * c2 + 1.48572235717979e-05f;
    p = p * c2 + 6.37261928875436e-04f;
    p = p * c2 + 4.89352455891786e-03f;
    KERNEL(vec) q = c2 * 1.19825839466702e-06f + 1.18534705686654e-04f;
    q = q * c2 + 2.26843463243900e-03f;
    q = q * c2 + 4.89352518554385e-03f;
    KERNEL(vec) r = RECIPROCAL(q);
    KERNEL(vec) y = p * r;
    y = y + r * (p - q * y);
    return y * c;
}

/* e^x for x <= 0 (clamped at -87, where it is below float32's smallest normal and
 * the loss term it feeds is lost beside the others): Cephes' expf, within 2 ulp. */
static inline KERNEL(vec) KERNEL(exp_negative)(KERNEL(vec) x) {
    x = MAX(x, KERNEL(splat)(-87.0f));
    KERNEL(vec) t = x * 1.44269504088896341f + 0.5f;
    KERNEL(mask) n = __builtin_convertvector(t, KERNEL(mask));  /* toward zero */
    n -= (KERNEL(mask))(__builtin_convertvector(n, KERNEL(vec)) > t) & 1;  /* floor */
    KERNEL(vec) fn = __builtin_convertvector(n, KERNEL(vec));
    KERNEL(vec) r = x - fn * 0.693359375f;
    r = r - fn * -2.12194440e-4f;
    KERNEL(vec) p = r * 1.9875691500e-4f + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * (r * r) + r + 1.0f;
    /* 2^n, shifted as unsigned: a NaN x made n INT_MIN (the product stays NaN) */
    KERNEL(umask) scale = (KERNEL(umask))(n + 127) << 23;
    return p * (KERNEL(vec))scale;
}

/* log(1 + t) for t in [0, 1]: Cephes' logf of u = 1 + t, corrected for the rounding of
 * that sum (so that a small t keeps its digits), within 2 ulp. */
static inline KERNEL(vec) KERNEL(log1p_unit)(KERNEL(vec) t) {
    KERNEL(vec) u = t + 1.0f;
    /* log(u + d) = log u + d/u, the whole result where t is below half an ulp of 1 */
    KERNEL(vec) correction = (t - (u - 1.0f)) / u;
    KERNEL(mask) high = u > 1.41421356237f;  /* then log u = log(u/2) + log 2 */
    KERNEL(vec) m = KERNEL(select)(high, u * 0.5f, u);
    KERNEL(vec) e = (KERNEL(vec))(high & (KERNEL(mask))KERNEL(splat)(1.0f));
    KERNEL(vec) f = m - 1.0f;
    KERNEL(vec) z = f * f;
    KERNEL(vec) p = f * 7.0376836292e-2f + -1.1514610310e-1f;
    p = p * f + 1.1676998740e-1f;
    p = p * f + -1.2420140846e-1f;
    p = p * f + 1.4249322787e-1f;
    p = p * f + -1.6668057665e-1f;
    p = p * f + 2.0000714765e-1f;
    p = p * f + -2.4999993993e-1f;
    p = p * f + 3.3333331174e-1f;
    KERNEL(vec) y = f * (z * p) + e * -2.12194440e-4f - 0.5f * z;
    return f + y + e * 0.693359375f + correction;
}

/* the loss of a block's outputs against its targets, per sample */
static inline KERNEL(vec) KERNEL(sample_loss)(KERNEL(vec) z, KERNEL(vec) y, int loss) {
    if (loss == LOSS_MSE) {
        KERNEL(vec) d = z - y;
        return d * d;
    }
    /* binary cross-entropy with logits as torch writes it, (1 - y) z + max(-z, 0) +
     * log(1 + e^-|z|), so that infinite logits give what torch gives (inf or NaN) */
    KERNEL(vec) magnitude = MAX(z, -z);
    KERNEL(vec) negative = MAX(-z, KERNEL(splat)(0.0f));
    return (1.0f - y) * z + negative + KERNEL(log1p_unit)(KERNEL(exp_negative)(-magnitude));
}

/* the tanh above on ``count`` values (a multiple of LANES) in place, for the tests */
static void KERNEL(tanh_values)(float *values, long count) {
    for (long k = 0; k < count; k += LANES)
        *(KERNEL(uvec) *)(values + k) = KERNEL(tanh)(*(KERNEL(uvec) *)(values + k));
}

static inline KERNEL(vec) KERNEL(activate)(KERNEL(vec) z, int activation) {
    if (activation == ACT_TANH)
        return KERNEL(tanh)(z);
    if (activation == ACT_RELU)
        return KERNEL(select)(z < 0, KERNEL(splat)(0.0f), z);  /* NaN stays, as torch's */
    return z;
}

/* hout[o] = f(b[o] + sum_i w[o][i] * rows[i]) for one block, OUTPUTS_AT_ONCE outputs at a
 * time so that their accumulators stay in registers while each input row is read once */
static void KERNEL(layer_block)(const float *w, const float *b, int in, int out,
                                 const float *const *rows, float *hout, int activation) {
    enum { V = BLOCK / LANES };
    int o = 0;
    for (; o + OUTPUTS_AT_ONCE <= out; o += OUTPUTS_AT_ONCE) {
        KERNEL(vec) acc[OUTPUTS_AT_ONCE][V];
        for (int k = 0; k < OUTPUTS_AT_ONCE; k++)
            for (int v = 0; v < V; v++)
                acc[k][v] = KERNEL(splat)(b[o + k]);
        for (int i = 0; i < in; i++) {
            KERNEL(vec) x[V];
            for (int v = 0; v < V; v++)
                x[v] = *(const KERNEL(uvec) *)(rows[i] + v * LANES);
            for (int k = 0; k < OUTPUTS_AT_ONCE; k++) {
                KERNEL(vec) weight = KERNEL(splat)(w[(long)(o + k) * in + i]);
                for (int v = 0; v < V; v++)
                    acc[k][v] += weight * x[v];
            }
        }
        for (int k = 0; k < OUTPUTS_AT_ONCE; k++)
            for (int v = 0; v < V; v++)
                *(KERNEL(vec) *)(hout + (long)(o + k) * BLOCK + v * LANES) =
                    KERNEL(activate)(acc[k][v], activation);
    }
    for (; o < out; o++) {
        KERNEL(vec) acc[V];
        for (int v = 0; v < V; v++)
            acc[v] = KERNEL(splat)(b[o]);
        for (int i = 0; i < in; i++) {
            KERNEL(vec) weight = KERNEL(splat)(w[(long)o * in + i]);
            for (int v = 0; v < V; v++)
                acc[v] += weight * *(const KERNEL(uvec) *)(rows[i] + v * LANES);
        }
        for (int v = 0; v < V; v++)
            *(KERNEL(vec) *)(hout + (long)o * BLOCK + v * LANES) =
                KERNEL(activate)(acc[v], activation);
    }
}

/* Outputs (count, last layer's width, samples) of ``count`` genomes (count, genome), or
 * with plan->loss their mean losses (count). */
static void KERNEL(evaluate)(const Plan *plan, const uint8_t *codes, long count,
                             float *outputs, Scratch *scratch) {
    const int layers = plan->layers;
    const int last_width = plan->out[layers - 1];
    for (long n = 0; n < count; n++) {
        const uint8_t *genome = codes + n * plan->genome;
        double total[LANES] = {0};  /* per lane, block sums added in double */
        /* decode: value(code) * alpha, the product the torch path makes */
        for (int l = plan->table_first; l < layers; l++) {
            const long size = (long)plan->out[l] * plan->in[l] + plan->out[l];
            const uint8_t *c = genome + plan->weight_at[l];
            float *w = scratch->weights + plan->weight_at[l];
            const float alpha = plan->alpha[l];
            for (long k = 0; k < size; k++)
                w[k] = plan->code_values[c[k] & 15] * alpha;  /* & 15: never out of the table */
        }
        const float **table_rows = scratch->table_rows;
        if (plan->table_first) {
            const int in = plan->in[0], units = plan->out[0];
            const uint8_t *wc = genome + plan->weight_at[0];
            const uint8_t *bc = wc + (long)units * in;
            for (int u = 0; u < units; u++) {
                long row = bc[u] & 15;
                for (int k = 0; k < in; k++)
                    row += (long)(wc[(long)u * in + k] & 15) * plan->powers[k];
                table_rows[u] = plan->table + row * plan->padded;
            }
        }
        for (long start = 0; start < plan->samples; start += BLOCK) {
            const float **rows = scratch->rows;
            int width;
            int l = 0;
            if (plan->table_first) {
                width = plan->out[0];
                for (int u = 0; u < width; u++)
                    rows[u] = table_rows[u] + start;
                l = 1;
            } else {
                width = plan->in[0];
                for (int i = 0; i < width; i++)
                    rows[i] = plan->inputs + (long)i * plan->padded + start;
            }
            float *h = scratch->h[0];
            for (; l < layers; l++) {
                const float *w = scratch->weights + plan->weight_at[l];
                const float *b = w + (long)plan->out[l] * plan->in[l];
                h = scratch->h[l & 1];
                KERNEL(layer_block)(w, b, plan->in[l], plan->out[l], rows, h,
                                    plan->activation[l]);
                width = plan->out[l];
                for (int o = 0; o < width; o++)
                    rows[o] = h + (long)o * BLOCK;
            }
            const long valid = plan->samples - start < BLOCK ? plan->samples - start : BLOCK;
            if (plan->loss == LOSS_NONE) {
                for (int o = 0; o < last_width; o++)
                    memcpy(outputs + (n * last_width + o) * plan->samples + start,
                           rows[o], valid * sizeof(float));
                continue;
            }
            /* the padding's lanes count nothing */
            KERNEL(vec) lane = KERNEL(splat)(0.0f);
            for (int k = 0; k < LANES; k++)
                lane[k] = (float)k;
            KERNEL(vec) sum = KERNEL(splat)(0.0f);
            for (int o = 0; o < last_width; o++) {
                const float *targets = plan->targets + (long)o * plan->padded + start;
                for (int v = 0; v < BLOCK / LANES; v++) {
                    KERNEL(vec) loss = KERNEL(sample_loss)(
                        *(const KERNEL(uvec) *)(rows[o] + v * LANES),
                        *(const KERNEL(uvec) *)(targets + v * LANES), plan->loss);
                    KERNEL(mask) inside = lane < (float)(valid - v * LANES);
                    sum += (KERNEL(vec))(inside & (KERNEL(mask))loss);
                }
            }
            for (int k = 0; k < LANES; k++)
                total[k] += sum[k];
        }
        if (plan->loss != LOSS_NONE) {
            double all = 0.0;
            for (int k = 0; k < LANES; k++)
                all += total[k];
            outputs[n] = (float)(all / ((double)plan->samples * last_width));
        }
    }
}
