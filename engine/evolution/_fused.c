/* engine.evolution._fused: a population's outputs for a plain float32 chain in one call.
 *
 * The torch evaluation (engine/evolution/population.py) makes some 25 calls a generation,
 * each a pass over the whole population's activations; at N = 100 their fixed costs are
 * a third of the time. This evaluates one individual at a time, block by block of
 * samples, with every layer's activations in registers and the L1 cache (see
 * fused_kernel.h), and lets go of the GIL while it runs so that two threads can take
 * half a population each. engine/evolution/fused.py decides when it applies and keeps
 * the loss in torch.
 *
 * The kernel is compiled three times on x86-64, for AVX-512, for AVX2 with FMA and for the
 * baseline, and the best copy the CPU can run is chosen once, at import (GCC 9 or clang;
 * elsewhere the baseline alone).
 */

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <stdlib.h>
#include <limits.h>
#include <string.h>

enum { ACT_NONE = 0, ACT_TANH = 1, ACT_RELU = 2 };
enum { LOSS_NONE = 0, LOSS_MSE = 1, LOSS_BCE_WITH_LOGITS = 2 };
/* rows are padded to whole PADs of samples; each kernel copy takes BLOCK of them at a
 * time, a divisor of PAD */
enum { PAD = 64, MAX_LAYERS = 64, ALIGN = 64 };

typedef struct {
    int layers;
    int in[MAX_LAYERS], out[MAX_LAYERS], weight_at[MAX_LAYERS], activation[MAX_LAYERS];
    float alpha[MAX_LAYERS];
    int table_first;        /* the first layer is read from ``table`` */
    const float *table;     /* (16^(in + 1), padded): f(w.x + b) for every code row */
    long powers[8];         /* the first layer's weight digits' place values */
    const float *inputs;    /* (in, padded): the shared data, feature-major */
    int loss;               /* LOSS_NONE: write the outputs */
    const float *targets;   /* (width, padded), for a loss */
    long samples, padded;   /* padded: samples rounded up to PAD */
    long genome;
    float code_values[16];
} Plan;

typedef struct {
    float *weights;        /* one individual's decoded genome */
    float *h[2];           /* (width, BLOCK) activations of a block, layer after layer */
    const float **rows;    /* a layer's input rows */
    const float **table_rows;  /* the first layer's rows of the table, one per unit */
} Scratch;

#define CAT(a, b) a##_##b
#define NAME(a, b) CAT(a, b)

/* Each copy: LANES floats a vector, BLOCK samples a block, OUTPUTS_AT_ONCE outputs' sums
 * in registers at once (the fastest of those measured on the benchmark's 16 x 16 layer:
 * AVX-512 0.71x the time of AVX2 on an AMD EPYC, though its FMA units are 256 bits wide) */
#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define HAVE_X86_COPIES 1

#if defined(__clang__)
#pragma clang attribute push (__attribute__((target("avx512f,avx512vl,avx512dq,fma"))), apply_to = function)
#else
#pragma GCC push_options
#pragma GCC target("avx512f,avx512vl,avx512dq,fma")
#endif
#define LANES 16
#define BLOCK 64
#define OUTPUTS_AT_ONCE 4
#define KERNEL(name) NAME(name, avx512)
/* x second: these return their second operand when either is NaN, so NaN stays */
#define MIN(x, bound) ((KERNEL(vec))_mm512_min_ps((__m512)(bound), (__m512)(x)))
#define MAX(x, bound) ((KERNEL(vec))_mm512_max_ps((__m512)(bound), (__m512)(x)))
/* 14 bits, made exact enough by the tanh's refinement step */
#define RECIPROCAL(q) ((KERNEL(vec))_mm512_rcp14_ps((__m512)(q)))
#include "fused_kernel.h"
#undef MIN
#undef MAX
#undef RECIPROCAL
#undef KERNEL
#undef OUTPUTS_AT_ONCE
#undef BLOCK
#undef LANES
#if defined(__clang__)
#pragma clang attribute pop
#else
#pragma GCC pop_options
#endif

#if defined(__clang__)
#pragma clang attribute push (__attribute__((target("avx2,fma"))), apply_to = function)
#else
#pragma GCC push_options
#pragma GCC target("avx2,fma")
#endif
#define LANES 8
#define BLOCK 32
#define OUTPUTS_AT_ONCE 2
#define KERNEL(name) NAME(name, avx2)
#define MIN(x, bound) ((KERNEL(vec))_mm256_min_ps((__m256)(bound), (__m256)(x)))
#define MAX(x, bound) ((KERNEL(vec))_mm256_max_ps((__m256)(bound), (__m256)(x)))
/* 12 bits, made exact enough by the tanh's refinement step */
#define RECIPROCAL(q) ((KERNEL(vec))_mm256_rcp_ps((__m256)(q)))
#include "fused_kernel.h"
#undef MIN
#undef MAX
#undef RECIPROCAL
#undef KERNEL
#undef OUTPUTS_AT_ONCE
#undef BLOCK
#undef LANES
#if defined(__clang__)
#pragma clang attribute pop
#else
#pragma GCC pop_options
#endif
#endif

#define LANES 4
#define BLOCK 32
#define OUTPUTS_AT_ONCE 2
#define KERNEL(name) NAME(name, baseline)
#define MIN(x, bound) KERNEL(select)((x) > (bound), (bound), (x))
#define MAX(x, bound) KERNEL(select)((x) < (bound), (bound), (x))
#define RECIPROCAL(q) (1.0f / (q))
#include "fused_kernel.h"
#undef MIN
#undef MAX
#undef RECIPROCAL
#undef KERNEL
#undef OUTPUTS_AT_ONCE
#undef BLOCK
#undef LANES

typedef void (*Evaluate)(const Plan *, const uint8_t *, long, float *, Scratch *);
typedef void (*Tanh)(float *, long);
static Evaluate evaluate_copy = evaluate_baseline;
static Tanh tanh_copy = tanh_values_baseline;
static const char *instruction_set = "baseline";

static int read_ints(PyObject *sequence, int *into, int count, const char *what) {
    PyObject *fast = PySequence_Fast(sequence, what);
    if (fast == NULL)
        return -1;
    if (PySequence_Fast_GET_SIZE(fast) != count) {
        PyErr_Format(PyExc_ValueError, "%s: expected %d values", what, count);
        Py_DECREF(fast);
        return -1;
    }
    for (int k = 0; k < count; k++) {
        long value = PyLong_AsLong(PySequence_Fast_GET_ITEM(fast, k));
        if (value == -1 && PyErr_Occurred()) {
            Py_DECREF(fast);
            return -1;
        }
        if (value < 0 || value > INT_MAX) {
            PyErr_Format(PyExc_ValueError, "%s: %ld is out of range", what, value);
            Py_DECREF(fast);
            return -1;
        }
        into[k] = (int)value;
    }
    Py_DECREF(fast);
    return 0;
}

/* a * b into *product, or 0 where it overflows (a size no buffer can have) */
static int multiply(long a, long b, long *product) {
    return !__builtin_mul_overflow(a, b, product);
}

static long table_rows(int in) {
    long rows = 16;
    for (int k = 0; k < in; k++)
        rows *= 16;
    return rows;
}

static void release(Py_buffer *views, int count) {
    for (int k = 0; k < count; k++)
        if (views[k].obj != NULL)
            PyBuffer_Release(&views[k]);
}

PyDoc_STRVAR(outputs_doc,
"outputs(codes, out, code_values, inputs, table, targets, powers, in_features,\n"
"        out_features, weight_at, activations, alphas, samples, loss)\n\n"
"Write the last layer's outputs (N, width, samples) of the genomes ``codes``\n"
"(N, genome) uint8 into ``out`` (float32), or with ``loss`` (1 mse, 2 binary\n"
"cross-entropy with logits) their mean losses (N). ``inputs`` (in, padded),\n"
"``table`` (rows, padded; empty when the first layer is a product) and ``targets``\n"
"(width, padded; empty without a loss) are float32 with padded a multiple of 64; the\n"
"layer lists give each linear layer's widths, its weights' genome position, the\n"
"activation after it (0 none, 1 tanh, 2 relu) and its alpha.");

static PyObject *outputs(PyObject *self, PyObject *args) {
    PyObject *in_seq, *out_seq, *at_seq, *act_seq, *alpha_seq, *powers_seq;
    Py_buffer views[6] = {{0}};  /* codes, out, code values, inputs, table, targets */
    long samples;
    int loss;
    if (!PyArg_ParseTuple(args, "y*w*y*y*y*y*OOOOOOli", &views[0], &views[1], &views[2],
                          &views[3], &views[4], &views[5], &powers_seq, &in_seq, &out_seq,
                          &at_seq, &act_seq, &alpha_seq, &samples, &loss))
        return NULL;
    Plan plan;
    memset(&plan, 0, sizeof plan);
    Py_ssize_t layers = PySequence_Size(in_seq);
    if (layers < 1 || layers > MAX_LAYERS) {
        if (!PyErr_Occurred())
            PyErr_Format(PyExc_ValueError, "between 1 and %d linear layers", MAX_LAYERS);
        release(views, 6);
        return NULL;
    }
    plan.layers = (int)layers;
    if (read_ints(in_seq, plan.in, plan.layers, "in_features") ||
        read_ints(out_seq, plan.out, plan.layers, "out_features") ||
        read_ints(at_seq, plan.weight_at, plan.layers, "weight_at") ||
        read_ints(act_seq, plan.activation, plan.layers, "activations")) {
        release(views, 6);
        return NULL;
    }
    PyObject *alphas = PySequence_Fast(alpha_seq, "alphas");
    if (alphas == NULL || PySequence_Fast_GET_SIZE(alphas) != plan.layers) {
        Py_XDECREF(alphas);
        if (!PyErr_Occurred())
            PyErr_SetString(PyExc_ValueError, "alphas: one per layer");
        release(views, 6);
        return NULL;
    }
    for (int l = 0; l < plan.layers && !PyErr_Occurred(); l++)
        plan.alpha[l] = (float)PyFloat_AsDouble(PySequence_Fast_GET_ITEM(alphas, l));
    Py_DECREF(alphas);
    for (int l = 0; l < plan.layers && !PyErr_Occurred(); l++)
        if (plan.activation[l] > ACT_RELU)
            PyErr_SetString(PyExc_ValueError, "activations: 0 none, 1 tanh or 2 relu");
    if (PyErr_Occurred()) {
        release(views, 6);
        return NULL;
    }
    Py_ssize_t digits = PySequence_Size(powers_seq);
    if (digits < 0 || digits > 8) {
        if (!PyErr_Occurred())
            PyErr_SetString(PyExc_ValueError, "powers: at most 8 digits");
        release(views, 6);
        return NULL;
    }
    for (Py_ssize_t k = 0; k < digits; k++) {
        PyObject *item = PySequence_GetItem(powers_seq, k);
        plan.powers[k] = item ? PyLong_AsLong(item) : -1;
        Py_XDECREF(item);
    }
    for (Py_ssize_t k = 0; k < digits && !PyErr_Occurred(); k++)
        if (plan.powers[k] != table_rows((int)(digits - k - 1)))
            PyErr_SetString(PyExc_ValueError, "powers: the place values of base-16 digits");
    if (PyErr_Occurred()) {
        release(views, 6);
        return NULL;
    }
    /* every size below in long, checked: a product that overflows matches no buffer */
    if (samples < 1 || samples > (1L << 40) || loss < LOSS_NONE ||
        loss > LOSS_BCE_WITH_LOGITS) {
        PyErr_SetString(PyExc_ValueError, "outputs: samples from 1 to 2^40, loss 0, 1 or 2");
        release(views, 6);
        return NULL;
    }
    plan.samples = samples;
    plan.padded = (samples + PAD - 1) / PAD * PAD;
    plan.table_first = views[4].len > 0;
    plan.table = views[4].buf;
    plan.inputs = views[3].buf;
    plan.targets = views[5].buf;
    plan.loss = loss;
    long max_width = plan.in[0];
    long genome = 0;
    for (int l = 0; l < plan.layers; l++) {
        if (plan.in[l] < 1 || plan.out[l] < 1 || (l > 0 && plan.in[l] != plan.out[l - 1])) {
            PyErr_SetString(PyExc_ValueError, "outputs: the layers do not chain");
            release(views, 6);
            return NULL;
        }
        /* ints below 2^31: these sums and this product fit in a long */
        long end = plan.weight_at[l] + (long)plan.out[l] * plan.in[l] + plan.out[l];
        genome = end > genome ? end : genome;
        max_width = plan.out[l] > max_width ? plan.out[l] : max_width;
    }
    long count = views[0].len / genome;
    plan.genome = genome;
    long last = plan.out[plan.layers - 1];
    long per_individual = loss == LOSS_NONE ? 0 : 1, values, out_bytes, input_bytes;
    long target_bytes = 0, table_bytes = 0;
    int sizes_fit =
        (loss != LOSS_NONE || multiply(last, samples, &per_individual)) &&
        multiply(count, per_individual, &values) && multiply(values, 4, &out_bytes) &&
        multiply((long)plan.in[0] * 4, plan.padded, &input_bytes) &&
        (loss == LOSS_NONE || multiply(last * 4, plan.padded, &target_bytes)) &&
        (!plan.table_first || (digits == plan.in[0] &&
                               multiply(table_rows(plan.in[0]) * 4, plan.padded,
                                        &table_bytes)));
    if (!sizes_fit || views[0].len != count * genome || views[1].len != out_bytes ||
        views[2].len != 16 * 4 || views[3].len != input_bytes ||
        (loss != LOSS_NONE && views[5].len != target_bytes) ||
        (plan.table_first && views[4].len != table_bytes)) {
        PyErr_SetString(PyExc_ValueError, "outputs: buffer sizes do not match the layers");
        release(views, 6);
        return NULL;
    }
    memcpy(plan.code_values, views[2].buf, sizeof plan.code_values);
    Scratch scratch;
    size_t weights_bytes = ((size_t)genome * 4 + ALIGN - 1) / ALIGN * ALIGN;
    size_t h_bytes = (size_t)max_width * PAD * 4;
    char *memory = aligned_alloc(ALIGN, weights_bytes + 2 * h_bytes);
    scratch.rows = malloc(sizeof(float *) * max_width);
    scratch.table_rows = malloc(sizeof(float *) * plan.out[0]);
    if (memory == NULL || scratch.rows == NULL || scratch.table_rows == NULL) {
        free(memory);
        free(scratch.rows);
        free(scratch.table_rows);
        release(views, 6);
        return PyErr_NoMemory();
    }
    scratch.weights = (float *)memory;
    scratch.h[0] = (float *)(memory + weights_bytes);
    scratch.h[1] = (float *)(memory + weights_bytes + h_bytes);
    Evaluate evaluate = evaluate_copy;  /* read with the GIL: use() may change it */
    Py_BEGIN_ALLOW_THREADS
    evaluate(&plan, views[0].buf, count, views[1].buf, &scratch);
    Py_END_ALLOW_THREADS
    free(memory);
    free(scratch.rows);
    free(scratch.table_rows);
    release(views, 6);
    Py_RETURN_NONE;
}

PyDoc_STRVAR(tanh_doc, "tanh(values): the kernel's tanh on a float32 buffer, in place "
                       "(its length a multiple of 64), for the tests.");

static PyObject *tanh_in_place(PyObject *self, PyObject *args) {
    Py_buffer view;
    if (!PyArg_ParseTuple(args, "w*", &view))
        return NULL;
    long count = view.len / 4;
    if (count % PAD) {
        PyBuffer_Release(&view);
        PyErr_SetString(PyExc_ValueError, "tanh: a multiple of 64 values");
        return NULL;
    }
    tanh_copy(view.buf, count);  /* with the GIL: quick, and only for the tests */
    PyBuffer_Release(&view);
    Py_RETURN_NONE;
}

/* the copies this CPU can run, best first */
typedef struct {
    const char *name;
    Evaluate evaluate;
    Tanh tanh;
} Copy;
static Copy copies[3];
static int copy_count = 0;

PyDoc_STRVAR(copies_doc, "copies(): the kernel copies this CPU can run, best first.");

static PyObject *list_copies(PyObject *self, PyObject *unused) {
    PyObject *names = PyList_New(copy_count);
    for (int k = 0; names != NULL && k < copy_count; k++)
        PyList_SET_ITEM(names, k, PyUnicode_FromString(copies[k].name));
    return names;
}

PyDoc_STRVAR(use_doc, "use(name): run the copy ``name`` from now on (for the tests, which "
                      "check every copy); returns the one it replaces.");

static PyObject *use(PyObject *self, PyObject *args) {
    const char *name;
    if (!PyArg_ParseTuple(args, "s", &name))
        return NULL;
    for (int k = 0; k < copy_count; k++)
        if (strcmp(copies[k].name, name) == 0) {
            PyObject *previous = PyUnicode_FromString(instruction_set);
            evaluate_copy = copies[k].evaluate;
            tanh_copy = copies[k].tanh;
            instruction_set = copies[k].name;
            return previous;
        }
    PyErr_Format(PyExc_ValueError, "no kernel copy %s on this CPU", name);
    return NULL;
}

PyDoc_STRVAR(instruction_set_doc, "instruction_set(): the name of the copy in use.");

static PyObject *current_copy(PyObject *self, PyObject *unused) {
    return PyUnicode_FromString(instruction_set);
}

static PyMethodDef methods[] = {
    {"copies", list_copies, METH_NOARGS, copies_doc},
    {"instruction_set", current_copy, METH_NOARGS, instruction_set_doc},
    {"use", use, METH_VARARGS, use_doc},
    {"outputs", outputs, METH_VARARGS, outputs_doc},
    {"tanh", tanh_in_place, METH_VARARGS, tanh_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_fused",
    "A plain float32 chain's population outputs in one call (see fused.py).", -1, methods,
};

PyMODINIT_FUNC PyInit__fused(void) {
    copy_count = 0;
#ifdef HAVE_X86_COPIES
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") &&
        __builtin_cpu_supports("avx512dq"))
        copies[copy_count++] = (Copy){"avx512", evaluate_avx512, tanh_values_avx512};
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        copies[copy_count++] = (Copy){"avx2+fma", evaluate_avx2, tanh_values_avx2};
#endif
    copies[copy_count++] = (Copy){"baseline", evaluate_baseline, tanh_values_baseline};
    evaluate_copy = copies[0].evaluate;
    tanh_copy = copies[0].tanh;
    instruction_set = copies[0].name;
    return PyModule_Create(&module);
}
