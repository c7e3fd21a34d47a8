/* The worker's and the backtest's hot decode, in C: a transaction record of the usual, valid
 * shape, straight from its JSON bytes to a ``models.Transaction``.
 *
 * ``transaction(raw)`` returns exactly what ``models._py_fast_transaction(raw)`` returns (and
 * so what the reference decode, ``parse_event(orjson.loads(raw))``, returns) for every record
 * it takes itself; any record it does not take is handed, unchanged, to that Python function
 * (the fallback given to ``init``), which decides it and raises for anything unusual. This
 * decoder takes only a strict subset: one flat JSON object of known keys, each once, whose
 * values are plain strings (no escape, valid UTF-8) or null; ``ts`` as
 * ``YYYY-MM-DDTHH:MM:SS`` with ``Z`` or ``+HH:MM``; amounts as ``digits.dd`` (at most 18
 * digits). Everything else (escapes, other layouts, negative balances, numbers, odd keys...)
 * goes to the fallback, so no validation is written twice with a chance to differ: the C side
 * only ever declines.
 *
 * Why C: per record the Python fast path spends ~1 µs in msgspec and ~1.2 µs converting the
 * timestamp and amounts and building the object (bench/worker_engine_share.py, py-spy), a
 * quarter of a worker's time per event. See docs/architecture.md, "The C decoder".
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <structmember.h>
#include <string.h>

enum {
    F_TYPE, F_EVENT_ID, F_CUSTOMER_ID, F_ACCOUNT_ID, F_TS, F_KIND, F_AMOUNT, F_CURRENCY,
    F_CHANNEL, F_BALANCE, F_CPB, NFIELDS
};
static const char *FIELD_NAMES[NFIELDS] = {
    "type", "event_id", "customer_id", "account_id", "ts", "kind", "amount", "currency",
    "channel", "balance_after", "counterparty_bank"
};
#define NKINDS 6
static const char *KIND_NAMES[NKINDS] = {
    "deposit", "withdrawal", "transfer_in", "transfer_out", "fee", "interest"
};
#define MAX_ID_LEN 128      /* models.MAX_ID_LEN, code points */
#define MAX_TEXT_LEN 8192   /* models.MAX_TEXT_LEN, code points */
#define MAX_CENTS_DIGITS 18 /* fits an int64 */

/* models.Transaction's fields in constructor order (init checks them against the class) */
#define NARGS 11
static const char *TX_FIELDS[NARGS] = {
    "event_id", "customer_id", "account_id", "ts", "tz", "kind", "amount", "currency",
    "channel", "balance_after", "counterparty_bank"
};

typedef struct {
    PyTypeObject *tx_type;  /* models.Transaction */
    Py_ssize_t offsets[NARGS];  /* of its slots, in the instance */
    PyObject *fallback;  /* models._py_fast_transaction */
    PyObject *kinds[NKINDS];
    PyObject *cny;
    PyObject *empty;
    PyObject *item_type;   /* streams.shard.Item */
    PyObject *parse_item;  /* streams.shard.parse_item */
    PyObject *a_offset, *a_timestamp, *a_key, *a_value;  /* interned attribute names */
} State;

static State S;  /* set by init(); one interpreter */

typedef struct {
    const char *p;    /* the string's bytes, between the quotes */
    Py_ssize_t n;
    int present;
    int null;
    int ascii;
} Val;

static inline Py_ssize_t skip_ws(const char *s, Py_ssize_t i, Py_ssize_t n) {
    while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r'))
        i++;
    return i;
}

/* A JSON string without escapes or control characters starting after its opening quote:
 * the index of its closing quote, or -1. */
static inline Py_ssize_t scan_string(const char *s, Py_ssize_t i, Py_ssize_t n, int *ascii) {
    int a = 1;
    for (; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"') {
            *ascii = a;
            return i;
        }
        if (c == '\\' || c < 0x20)
            return -1;
        if (c >= 0x80)
            a = 0;
    }
    return -1;
}

static inline int field_of(const char *k, Py_ssize_t n) {
    for (int f = 0; f < NFIELDS; f++) {
        const char *name = FIELD_NAMES[f];
        if ((Py_ssize_t)strlen(name) == n && memcmp(name, k, (size_t)n) == 0)
            return f;
    }
    return -1;
}

/* Fill vals from one flat object; 0 if the record is not of the strict shape. */
static int scan_object(const char *s, Py_ssize_t n, Val *vals) {
    Py_ssize_t i = skip_ws(s, 0, n);
    if (i >= n || s[i] != '{')
        return 0;
    i = skip_ws(s, i + 1, n);
    if (i < n && s[i] == '}')
        goto end;
    for (;;) {
        int ascii;
        if (i >= n || s[i] != '"')
            return 0;
        Py_ssize_t k = i + 1, ke = scan_string(s, k, n, &ascii);
        if (ke < 0)
            return 0;
        int f = field_of(s + k, ke - k);
        if (f < 0 || vals[f].present)
            return 0;  /* an unknown or repeated key: the fallback decides */
        i = skip_ws(s, ke + 1, n);
        if (i >= n || s[i] != ':')
            return 0;
        i = skip_ws(s, i + 1, n);
        Val *v = &vals[f];
        v->present = 1;
        if (i < n && s[i] == '"') {
            Py_ssize_t e = scan_string(s, i + 1, n, &v->ascii);
            if (e < 0)
                return 0;
            v->p = s + i + 1;
            v->n = e - i - 1;
            i = e + 1;
        } else if (n - i >= 4 && memcmp(s + i, "null", 4) == 0) {
            v->null = 1;
            i += 4;
        } else {
            return 0;
        }
        i = skip_ws(s, i, n);
        if (i < n && s[i] == ',') {
            i = skip_ws(s, i + 1, n);
            continue;
        }
        if (i < n && s[i] == '}')
            break;
        return 0;
    }
end:
    return skip_ws(s, i + 1, n) == n;
}

/* A new str of the value, with its length in code points checked; NULL (no error set) if it
 * is not valid UTF-8 or is out of bounds. */
static PyObject *make_str(const Val *v, Py_ssize_t min_len, Py_ssize_t max_len) {
    PyObject *u;
    if (v->ascii) {
        if (v->n < min_len || v->n > max_len)
            return NULL;
        u = PyUnicode_New(v->n, 127);
        if (u == NULL)
            return NULL;
        memcpy(PyUnicode_1BYTE_DATA(u), v->p, (size_t)v->n);
        return u;
    }
    u = PyUnicode_DecodeUTF8(v->p, v->n, "strict");
    if (u == NULL) {
        PyErr_Clear();
        return NULL;
    }
    Py_ssize_t len = PyUnicode_GET_LENGTH(u);
    if (len < min_len || len > max_len) {
        Py_DECREF(u);
        return NULL;
    }
    return u;
}

static inline int is_digit(char c) { return c >= '0' && c <= '9'; }

static inline int two(const char *p, int *out) {
    if (!is_digit(p[0]) || !is_digit(p[1]))
        return 0;
    *out = (p[0] - '0') * 10 + (p[1] - '0');
    return 1;
}

/* Days from 1970-01-01 to y-m-d (proleptic Gregorian; H. Hinnant's days_from_civil). */
static long long days_from_civil(int y, int m, int d) {
    y -= m <= 2;
    const long long era = (y >= 0 ? y : y - 399) / 400;
    const unsigned yoe = (unsigned)(y - era * 400);
    const unsigned doy = (153 * (unsigned)(m + (m > 2 ? -3 : 9)) + 2) / 5 + (unsigned)d - 1;
    const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (long long)doe - 719468;
}

static int days_in_month(int y, int m) {
    static const int DAYS[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (m == 2 && (y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)))
        return 29;
    return DAYS[m - 1];
}

/* "YYYY-MM-DDTHH:MM:SS" + "Z" or "+HH:MM" / "-HH:MM" into (epoch ms, offset minutes), with
 * the checks datetime.fromisoformat makes on that layout; 0 for anything else. */
static int parse_ts(const Val *v, long long *ms, int *tz) {
    const char *p = v->p;
    if (!v->ascii || (v->n != 20 && v->n != 25))
        return 0;
    int yh, yl, mo, d, h, mi, se;
    if (!two(p, &yh) || !two(p + 2, &yl) || p[4] != '-' || !two(p + 5, &mo) || p[7] != '-'
        || !two(p + 8, &d) || p[10] != 'T' || !two(p + 11, &h) || p[13] != ':'
        || !two(p + 14, &mi) || p[16] != ':' || !two(p + 17, &se))
        return 0;
    int y = yh * 100 + yl;
    if (y < 1 || mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo) || h > 23 || mi > 59
        || se > 59)
        return 0;
    int off_s = 0;
    if (v->n == 20) {
        if (p[19] != 'Z')
            return 0;
    } else {
        int oh, om;
        if ((p[19] != '+' && p[19] != '-') || !two(p + 20, &oh) || p[22] != ':'
            || !two(p + 23, &om) || oh > 23 || om > 59)
            return 0;
        off_s = (oh * 3600 + om * 60) * (p[19] == '-' ? -1 : 1);
    }
    long long local_s = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + se;
    *ms = (local_s - off_s) * 1000;
    *tz = off_s / 60;  /* exact: a whole number of minutes */
    return 1;
}

/* "digits.dd" as integer cents; 0 (declined) for any other form or more than 18 digits. */
static int parse_cents(const Val *v, long long *out) {
    const char *p = v->p;
    Py_ssize_t n = v->n;
    if (n <= 3 || n - 1 > MAX_CENTS_DIGITS || p[n - 3] != '.')
        return 0;
    long long c = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        if (i == n - 3)
            continue;
        if (!is_digit(p[i]))
            return 0;
        c = c * 10 + (p[i] - '0');
    }
    *out = c;
    return 1;
}

static inline int is(const Val *v, const char *text) {
    size_t len = strlen(text);
    return v->present && !v->null && (size_t)v->n == len && memcmp(v->p, text, len) == 0;
}

static inline int given(const Val *v) { return v->present && !v->null; }

/* Optional text: absent, null (and "" where empty_is_default) → dflt (new ref). */
static PyObject *opt_text(const Val *v, PyObject *dflt, int empty_is_default) {
    if (!given(v) || (empty_is_default && v->n == 0)) {
        Py_INCREF(dflt);
        return dflt;
    }
    return make_str(v, 0, MAX_TEXT_LEN);
}

/* The Transaction, or NULL with no error set when the record is not one this decoder takes. */
static PyObject *decode(const char *s, Py_ssize_t n) {
    Val vals[NFIELDS];
    memset(vals, 0, sizeof vals);
    if (!scan_object(s, n, vals) || !is(&vals[F_TYPE], "transaction"))
        return NULL;
    const Val *kv = &vals[F_KIND];
    PyObject *kind = NULL;
    for (int k = 0; k < NKINDS && given(kv); k++)
        if (is(kv, KIND_NAMES[k]))
            kind = S.kinds[k];
    long long ms, amount, balance = 0;
    int tz;
    if (kind == NULL || !given(&vals[F_EVENT_ID]) || !given(&vals[F_CUSTOMER_ID])
        || !given(&vals[F_TS]) || !parse_ts(&vals[F_TS], &ms, &tz)
        || !given(&vals[F_AMOUNT]) || !parse_cents(&vals[F_AMOUNT], &amount) || amount <= 0)
        return NULL;
    const Val *bv = &vals[F_BALANCE];
    int has_balance = given(bv) && bv->n > 0;  /* "" means none, as in the Python path */
    if (has_balance && !parse_cents(bv, &balance))
        return NULL;
    const Val *cv = &vals[F_CURRENCY];
    if (given(cv) && cv->n > 0 && (!cv->ascii || cv->n > MAX_TEXT_LEN))
        return NULL;  /* str.upper() beyond ASCII: left to the fallback */

    PyObject *args[NARGS] = {NULL};
    PyObject *result = NULL;
    args[0] = make_str(&vals[F_EVENT_ID], 1, MAX_ID_LEN);
    args[1] = make_str(&vals[F_CUSTOMER_ID], 1, MAX_ID_LEN);
    args[2] = opt_text(&vals[F_ACCOUNT_ID], S.empty, 0);
    args[3] = PyLong_FromLongLong(ms);
    args[4] = PyLong_FromLong(tz);
    Py_INCREF(kind);
    args[5] = kind;
    args[6] = PyLong_FromLongLong(amount);
    if (given(cv) && cv->n > 0) {
        if (cv->n == 3 && memcmp(cv->p, "CNY", 3) == 0) {
            Py_INCREF(S.cny);
            args[7] = S.cny;
        } else if ((args[7] = PyUnicode_New(cv->n, 127)) != NULL) {
            Py_UCS1 *out = PyUnicode_1BYTE_DATA(args[7]);
            for (Py_ssize_t i = 0; i < cv->n; i++) {
                char c = cv->p[i];
                out[i] = (Py_UCS1)(c >= 'a' && c <= 'z' ? c - 32 : c);
            }
        }
    } else {
        Py_INCREF(S.cny);
        args[7] = S.cny;
    }
    args[8] = opt_text(&vals[F_CHANNEL], S.empty, 0);
    if (has_balance) {
        args[9] = PyLong_FromLongLong(balance);
    } else {
        Py_INCREF(Py_None);
        args[9] = Py_None;
    }
    args[10] = opt_text(&vals[F_CPB], Py_None, 1);
    for (int i = 0; i < NARGS; i++)
        if (args[i] == NULL)
            goto done;  /* declined (a bound or UTF-8), or out of memory (error set) */
    /* What the dataclass's __init__ does (assign each slot), without running it: that Python
     * frame was a quarter of this function's time. init checked the slots are plain ones. */
    result = S.tx_type->tp_alloc(S.tx_type, 0);
    if (result != NULL) {
        for (int i = 0; i < NARGS; i++) {
            *(PyObject **)((char *)result + S.offsets[i]) = args[i];
            args[i] = NULL;  /* the slot owns it */
        }
    }
done:
    for (int i = 0; i < NARGS; i++)
        Py_XDECREF(args[i]);
    return result;
}

static PyObject *transaction(PyObject *self, PyObject *raw) {
    (void)self;
    if (S.tx_type == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "alerting._speedups.init() was not called");
        return NULL;
    }
    if (PyBytes_CheckExact(raw)) {
        PyObject *ev = decode(PyBytes_AS_STRING(raw), PyBytes_GET_SIZE(raw));
        if (ev != NULL || PyErr_Occurred())
            return ev;
    }
    return PyObject_CallOneArg(S.fallback, raw);
}

/* One record of the worker's batch as ``shard.parse_item`` makes it, the decode in C. */
static PyObject *one_item(PyObject *rec) {
    PyObject *offset = NULL, *timestamp = NULL, *key = NULL, *value = NULL, *item = NULL;
    if ((offset = PyObject_GetAttr(rec, S.a_offset)) == NULL
        || (timestamp = PyObject_GetAttr(rec, S.a_timestamp)) == NULL
        || (key = PyObject_GetAttr(rec, S.a_key)) == NULL
        || (value = PyObject_GetAttr(rec, S.a_value)) == NULL)
        goto done;
    PyObject *ev = NULL;
    if (PyBytes_CheckExact(value)) {
        ev = decode(PyBytes_AS_STRING(value), PyBytes_GET_SIZE(value));
        if (ev == NULL && PyErr_Occurred())
            goto done;
    }
    if (ev != NULL) {
        /* Item(ts, offset, timestamp_ms, key, value, event): ts is the event's own slot */
        PyObject *ts = *(PyObject **)((char *)ev + S.offsets[3]);
        PyObject *args[6] = {ts, offset, timestamp, key, value, ev};
        item = PyObject_Vectorcall(S.item_type, args, 6, NULL);
        Py_DECREF(ev);
    } else {
        /* parse_item with the Python decoder: this one has just declined the record */
        PyObject *args[5] = {offset, timestamp, key, value, S.fallback};
        item = PyObject_Vectorcall(S.parse_item, args, 5, NULL);
    }
done:
    Py_XDECREF(offset);
    Py_XDECREF(timestamp);
    Py_XDECREF(key);
    Py_XDECREF(value);
    return item;
}

static PyObject *items(PyObject *self, PyObject *records) {
    (void)self;
    if (S.tx_type == NULL || S.item_type == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "alerting._speedups: init_items() was not called");
        return NULL;
    }
    PyObject *seq = PySequence_Fast(records, "records must be a sequence");
    if (seq == NULL)
        return NULL;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
    PyObject *out = PyList_New(n);
    for (Py_ssize_t i = 0; out != NULL && i < n; i++) {
        PyObject *item = one_item(PySequence_Fast_GET_ITEM(seq, i));
        if (item == NULL)
            Py_CLEAR(out);
        else
            PyList_SET_ITEM(out, i, item);
    }
    Py_DECREF(seq);
    return out;
}

static PyObject *init_items(PyObject *self, PyObject *args) {
    PyObject *item_type, *parse_item;
    (void)self;
    if (!PyArg_ParseTuple(args, "OO", &item_type, &parse_item))
        return NULL;
    if (!PyCallable_Check(item_type) || !PyCallable_Check(parse_item)) {
        PyErr_SetString(PyExc_TypeError, "init_items(Item, parse_item): both callable");
        return NULL;
    }
    Py_INCREF(item_type);
    Py_INCREF(parse_item);
    Py_XSETREF(S.item_type, item_type);
    Py_XSETREF(S.parse_item, parse_item);
    Py_RETURN_NONE;
}

static PyObject *init(PyObject *self, PyObject *args) {
    PyObject *tx_type, *fallback, *names;
    (void)self;
    if (!PyArg_ParseTuple(args, "O!OO!", &PyType_Type, &tx_type, &fallback, &PyTuple_Type,
                          &names))
        return NULL;
    PyTypeObject *tp = (PyTypeObject *)tx_type;
    if (!PyCallable_Check(fallback) || PyTuple_GET_SIZE(names) != NARGS
        || tp->tp_init == NULL || PyObject_HasAttrString(tx_type, "__post_init__")) {
        PyErr_SetString(PyExc_TypeError, "init(Transaction, fallback, field names): a slots "
                        "dataclass without __post_init__ and its 11 fields expected");
        return NULL;
    }
    Py_ssize_t offsets[NARGS];
    for (int i = 0; i < NARGS; i++) {
        PyObject *name = PyTuple_GET_ITEM(names, i);
        const char *text = PyUnicode_Check(name) ? PyUnicode_AsUTF8(name) : NULL;
        if (text == NULL || strcmp(text, TX_FIELDS[i]) != 0) {
            PyErr_Format(PyExc_TypeError, "Transaction field %d must be %s", i, TX_FIELDS[i]);
            return NULL;
        }
        /* a slot of this very class: a member descriptor holding an object */
        PyObject *descr = PyDict_GetItemWithError(tp->tp_dict, name);
        if (descr == NULL || Py_TYPE(descr) != &PyMemberDescr_Type
            || ((PyMemberDescrObject *)descr)->d_member->type != T_OBJECT_EX) {
            if (!PyErr_Occurred())
                PyErr_Format(PyExc_TypeError, "Transaction.%s is not a slot", TX_FIELDS[i]);
            return NULL;
        }
        offsets[i] = ((PyMemberDescrObject *)descr)->d_member->offset;
    }
    Py_INCREF(tx_type);
    Py_INCREF(fallback);
    Py_XSETREF(S.tx_type, tp);
    Py_XSETREF(S.fallback, fallback);
    memcpy(S.offsets, offsets, sizeof offsets);
    Py_RETURN_NONE;
}

static PyMethodDef METHODS[] = {
    {"init", init, METH_VARARGS,
     "init(Transaction, fallback, field_names): the class to build, the Python decoder of "
     "the rest and the class's fields in constructor order (checked)."},
    {"transaction", transaction, METH_O,
     "transaction(raw: bytes) -> Transaction: the C fast path, else fallback(raw)."},
    {"init_items", init_items, METH_VARARGS,
     "init_items(Item, parse_item): what items() builds, and the Python path of the rest "
     "(called as parse_item(offset, timestamp, key, value, fallback))."},
    {"items", items, METH_O,
     "items(records) -> list[Item]: [parse_item(r.offset, r.timestamp, r.key, r.value) for r "
     "in records], the usual transactions decoded in C."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef MODULE = {
    PyModuleDef_HEAD_INIT, "alerting._speedups",
    "The C decoder of usual transaction records (see _speedups.c).", -1, METHODS,
    NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__speedups(void) {
    PyObject *m = PyModule_Create(&MODULE);
    if (m == NULL)
        return NULL;
    for (int k = 0; k < NKINDS; k++) {
        /* interned: the engine looks kinds up in dicts keyed by the same strings */
        if ((S.kinds[k] = PyUnicode_InternFromString(KIND_NAMES[k])) == NULL)
            return NULL;
    }
    if ((S.cny = PyUnicode_InternFromString("CNY")) == NULL
        || (S.empty = PyUnicode_InternFromString("")) == NULL
        || (S.a_offset = PyUnicode_InternFromString("offset")) == NULL
        || (S.a_timestamp = PyUnicode_InternFromString("timestamp")) == NULL
        || (S.a_key = PyUnicode_InternFromString("key")) == NULL
        || (S.a_value = PyUnicode_InternFromString("value")) == NULL)
        return NULL;
    return m;
}
