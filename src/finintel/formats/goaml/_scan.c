/* Compiled goAML extraction: one pass over a report's bytes that checks well-formedness and the schema structure and
 * lays out every element as columns (see fast.py, which owns the semantics; this file only shreds).
 *
 * It accepts a strict subset of XML and says "not here" for anything else, so the Python walk over libxml2 stays the
 * reference for every file this pass does not take:
 *   - UTF-8 only (optional BOM, optional <?xml version="1.0" encoding="UTF-8" standalone=...?>); no DOCTYPE, CDATA,
 *     processing instructions, attributes or namespace prefixes; comments only outside value elements and without
 *     '<!' in them (the walk refuses <!DOCTYPE and <!ENTITY even there);
 *   - entity references: the five predefined ones and character references to XML 1.0 characters;
 *   - every element known to its parent's schema type, in schema order, at most its maximum count, every mandatory
 *     child present, every choice satisfied; a value element holds text only.
 * Output: per complex element (type, parent element, schema field, line) and per value element (field, owner element,
 * line, text with references decoded, line ends normalised and stripped as Python strips) as little-endian
 * int32/int64 byte strings.
 *
 * Safety: every read is bounds-checked against the input length; nesting depth and value length are capped; memory
 * grows by doubling with overflow checks; nothing here allocates per element beyond the output columns.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

#define MAX_DEPTH 64
#define MAX_VALUE_BYTES (1 << 20)
#define MAX_NAME 128

typedef struct {
    char *name;
    Py_ssize_t len;
    int child; /* type index, or -1 for a value element */
    int min, max;
    int gid; /* global field id */
    int v5;  /* a goAML 5.x element (sets the schema version) */
    int collapse; /* with `collapse`: a repeat of an earlier equal subtree in this field is left as a stub (below) */
} Field;

typedef struct {
    int n;
    int *fields;
    int min, max;
} Choice;

typedef struct {
    int nfields;
    Field *fields;
    int nchoices;
    Choice *choices;
    int nrequired;
    int *required; /* the fields with min > 0, checked when the element closes */
} Type;

#define MAX_SPACES 64

typedef struct {
    int ntypes;
    Type *types;
    uint32_t spaces[MAX_SPACES]; /* the code points Python's str.strip() removes */
    int nspaces;
    unsigned char ascii_space[128]; /* the same, for the ASCII ones: a lookup */
    int root;
    char root_name[MAX_NAME];
    Py_ssize_t root_len;
} Schema;

static void schema_free(Schema *s) {
    if (s == NULL) return;
    for (int t = 0; t < s->ntypes; t++) {
        Type *ty = &s->types[t];
        for (int i = 0; i < ty->nfields; i++) PyMem_Free(ty->fields[i].name);
        for (int i = 0; i < ty->nchoices; i++) PyMem_Free(ty->choices[i].fields);
        PyMem_Free(ty->required);
        PyMem_Free(ty->fields);
        PyMem_Free(ty->choices);
    }
    PyMem_Free(s->types);
    PyMem_Free(s);
}

static void capsule_free(PyObject *capsule) {
    schema_free((Schema *)PyCapsule_GetPointer(capsule, "finintel.goaml.schema"));
}

/* compile(types, root, root_name, spaces) -> capsule. spaces: sequence of code points a value is stripped of.
 * types: sequence of (fields, choices); fields: sequence of (name: bytes, child: int, min: int, max: int, gid: int,
 * v5: int, collapse: int); choices: sequence of (field indexes: sequence of int, min: int, max: int). */
static PyObject *py_compile(PyObject *Py_UNUSED(self), PyObject *args) {
    PyObject *types, *spaces;
    int root;
    const char *root_name;
    Py_ssize_t root_len;
    if (!PyArg_ParseTuple(args, "Oiy#O", &types, &root, &root_name, &root_len, &spaces)) return NULL;
    if (root_len <= 0 || root_len > MAX_NAME) {
        PyErr_SetString(PyExc_ValueError, "bad root name");
        return NULL;
    }
    uint32_t space_points[MAX_SPACES];
    int nspaces = 0;
    {
        PyObject *sp = PySequence_Fast(spaces, "spaces must be a sequence");
        if (sp == NULL) return NULL;
        Py_ssize_t ns = PySequence_Fast_GET_SIZE(sp);
        if (ns > MAX_SPACES) { Py_DECREF(sp); PyErr_SetString(PyExc_ValueError, "too many spaces"); return NULL; }
        for (Py_ssize_t i = 0; i < ns; i++) {
            long v = PyLong_AsLong(PySequence_Fast_GET_ITEM(sp, i));
            if (v < 0 || v > 0x10FFFF) {
                Py_DECREF(sp);
                if (!PyErr_Occurred()) PyErr_SetString(PyExc_ValueError, "bad space");
                return NULL;
            }
            space_points[nspaces++] = (uint32_t)v;
        }
        Py_DECREF(sp);
    }
    PyObject *seq = PySequence_Fast(types, "types must be a sequence");
    if (seq == NULL) return NULL;
    Py_ssize_t nt = PySequence_Fast_GET_SIZE(seq);
    Schema *s = PyMem_Calloc(1, sizeof(Schema));
    if (s == NULL) { Py_DECREF(seq); return PyErr_NoMemory(); }
    s->types = PyMem_Calloc(nt ? nt : 1, sizeof(Type));
    if (s->types == NULL) { PyMem_Free(s); Py_DECREF(seq); return PyErr_NoMemory(); }
    s->ntypes = (int)nt;
    memcpy(s->spaces, space_points, sizeof(uint32_t) * (size_t)nspaces);
    s->nspaces = nspaces;
    for (int i = 0; i < nspaces; i++)
        if (space_points[i] < 128) s->ascii_space[space_points[i]] = 1;
    s->root = root;
    memcpy(s->root_name, root_name, (size_t)root_len);
    s->root_len = root_len;
    if (root < 0 || root >= nt) { PyErr_SetString(PyExc_ValueError, "root out of range"); goto fail; }
    for (Py_ssize_t t = 0; t < nt; t++) {
        PyObject *fields, *choices;
        if (!PyArg_ParseTuple(PySequence_Fast_GET_ITEM(seq, t), "OO", &fields, &choices)) goto fail;
        PyObject *fs = PySequence_Fast(fields, "fields must be a sequence");
        if (fs == NULL) goto fail;
        Py_ssize_t nf = PySequence_Fast_GET_SIZE(fs);
        Type *ty = &s->types[t];
        ty->fields = PyMem_Calloc(nf ? nf : 1, sizeof(Field));
        if (ty->fields == NULL) { Py_DECREF(fs); PyErr_NoMemory(); goto fail; }
        for (Py_ssize_t i = 0; i < nf; i++) {
            const char *name;
            Py_ssize_t len;
            Field *f = &ty->fields[i];
            if (!PyArg_ParseTuple(PySequence_Fast_GET_ITEM(fs, i), "y#iiiiii", &name, &len, &f->child, &f->min,
                                  &f->max, &f->gid, &f->v5, &f->collapse)) {
                Py_DECREF(fs);
                goto fail;
            }
            if (f->child < -1 || f->child >= nt || len <= 0 || len > MAX_NAME) {
                Py_DECREF(fs);
                PyErr_SetString(PyExc_ValueError, "bad field");
                goto fail;
            }
            f->name = PyMem_Malloc(len);
            if (f->name == NULL) { Py_DECREF(fs); PyErr_NoMemory(); goto fail; }
            memcpy(f->name, name, len);
            f->len = len;
            ty->nfields = (int)(i + 1);
        }
        Py_DECREF(fs);
        ty->required = PyMem_Calloc(nf ? nf : 1, sizeof(int));
        if (ty->required == NULL) { PyErr_NoMemory(); goto fail; }
        for (int i = 0; i < ty->nfields; i++)
            if (ty->fields[i].min > 0) ty->required[ty->nrequired++] = i;
        PyObject *cs = PySequence_Fast(choices, "choices must be a sequence");
        if (cs == NULL) goto fail;
        Py_ssize_t nc = PySequence_Fast_GET_SIZE(cs);
        ty->choices = PyMem_Calloc(nc ? nc : 1, sizeof(Choice));
        if (ty->choices == NULL) { Py_DECREF(cs); PyErr_NoMemory(); goto fail; }
        for (Py_ssize_t i = 0; i < nc; i++) {
            PyObject *idx;
            Choice *c = &ty->choices[i];
            if (!PyArg_ParseTuple(PySequence_Fast_GET_ITEM(cs, i), "Oii", &idx, &c->min, &c->max)) {
                Py_DECREF(cs);
                goto fail;
            }
            PyObject *is = PySequence_Fast(idx, "choice fields must be a sequence");
            if (is == NULL) { Py_DECREF(cs); goto fail; }
            Py_ssize_t ni = PySequence_Fast_GET_SIZE(is);
            c->fields = PyMem_Calloc(ni ? ni : 1, sizeof(int));
            if (c->fields == NULL) { Py_DECREF(is); Py_DECREF(cs); PyErr_NoMemory(); goto fail; }
            for (Py_ssize_t j = 0; j < ni; j++) {
                long v = PyLong_AsLong(PySequence_Fast_GET_ITEM(is, j));
                if (v < 0 || v >= ty->nfields) {
                    Py_DECREF(is);
                    Py_DECREF(cs);
                    if (!PyErr_Occurred()) PyErr_SetString(PyExc_ValueError, "bad choice field");
                    goto fail;
                }
                c->fields[j] = (int)v;
                c->n = (int)(j + 1);
            }
            Py_DECREF(is);
            ty->nchoices = (int)(i + 1);
        }
        Py_DECREF(cs);
    }
    Py_DECREF(seq);
    {
        PyObject *capsule = PyCapsule_New(s, "finintel.goaml.schema", capsule_free);
        if (capsule == NULL) schema_free(s);
        return capsule;
    }
fail:
    Py_DECREF(seq);
    schema_free(s);
    return NULL;
}

/* -- growable byte buffers ------------------------------------------------------------------------------------- */

typedef struct {
    char *data;
    size_t len, cap;
} Buf;

static int buf_grow(Buf *b, size_t extra) {
    if (extra > SIZE_MAX / 2 - b->len) return -1;
    size_t need = b->len + extra;
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < need) cap *= 2;
    char *p = PyMem_RawRealloc(b->data, cap); /* the raw allocator: the pass runs without the GIL */
    if (p == NULL) return -1;
    b->data = p;
    b->cap = cap;
    return 0;
}

static inline int buf_reserve(Buf *b, size_t extra) {
    if (__builtin_expect(extra <= b->cap - b->len, 1)) return 0; /* len <= cap always */
    return buf_grow(b, extra);
}

static inline int buf_put(Buf *b, const void *src, size_t n) {
    if (buf_reserve(b, n) < 0) return -1;
    memcpy(b->data + b->len, src, n);
    b->len += n;
    return 0;
}

static inline int buf_i32(Buf *b, int32_t v) { return buf_put(b, &v, sizeof v); }
static inline int buf_i64(Buf *b, int64_t v) { return buf_put(b, &v, sizeof v); }

/* -- the scanner ---------------------------------------------------------------------------------------------------- */

typedef struct {
    int type;       /* complex type, or -1 for a value element */
    int32_t inst;   /* element index (complex) or value index */
    int last;       /* last field position seen (order check) */
    int *counts;    /* per field of the type */
    const char *name;
    Py_ssize_t name_len;
    size_t text_start; /* a value element: where its text starts in the text buffer */
    int collapse;      /* its field collapses repeats (Field.collapse) */
    int64_t hashed;    /* raw mode: how many bytes from its start skip_repeat hashed (-1: none), into `hash` */
    uint64_t hash;
} Frame;

/* The first occurrences of the subtrees in collapsing fields (open addressing): element index and hash, the depth
 * the element opened at and the line ends its subtree spans (for skip_repeat). */
typedef struct {
    int32_t element; /* -1: empty */
    int32_t depth;
    int32_t lines;
    uint64_t hash;
} Slot;

typedef struct {
    const Schema *s;
    const unsigned char *p, *end;
    int32_t line;
    int depth;
    Frame stack[MAX_DEPTH];
    int *counts_pool; /* MAX_DEPTH slices of max_fields ints */
    int max_fields;
    int v5;
    Buf e_type, e_parent, e_field, e_line;
    Buf e_end, e_vstart, e_vend, e_cstart, e_cend; /* extents of each element's subtree (with `extents`) */
    Buf v_field, v_owner, v_line, v_offsets, text;
    Buf canon;   /* the document in a form where two subtrees are equal bytes when lxml serialises them equally */
    Buf r_stub, r_first; /* with `collapse`: the stubs left for repeated subtrees, and the first occurrence of each */
    int collapse;        /* leave a repeat of an earlier subtree in a collapsing field as a stub (with extents) */
    Slot *firsts;        /* the first occurrences so far (a table of `firsts_cap` slots, `firsts_n` used) */
    size_t firsts_cap, firsts_n;
    int32_t firsts_last; /* the latest element entered */
    int extents; /* record the extents and the canonical form (ingest), or not (validate) */
    int raw;     /* with extents: the document's own bytes are the canonical form while it stays plain (below) */
    int restart; /* raw mode met something that is not plain: run again writing the canonical form */
    const unsigned char *base; /* the document's first byte (raw extents are offsets from it) */
    int32_t n_elements, n_values;
    const char *reason; /* why the pass gave up (NULL: a memory error) */
    int32_t reason_line;
} Scanner;

#define GIVE_UP(sc, why) do { (sc)->reason = (why); (sc)->reason_line = (sc)->line; return -1; } while (0)

/* Raw extents: in a document whose elements are all written plainly (start tags "<name>", end tags "</name>", no
 * character or entity reference, no CR, no comment inside the root), a subtree's bytes map one to one onto its
 * canonical form (tags to markers, text as it is), so two subtrees are equal bytes exactly when their canonical forms
 * are: the document itself serves, and nothing is copied. At the first thing that is not plain the pass stops and
 * runs again writing the canonical form. */
#define NOT_PLAIN(sc) do { if ((sc)->raw) { (sc)->restart = 1; (sc)->reason = "not plain"; return -1; } } while (0)

static int is_space(unsigned char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

/* The characters of the element names this pass takes (ASCII letters, digits, '_', '-', '.'). */
static unsigned char NAME_CHAR[256]; /* filled by init_tables */

static inline int is_name_char(unsigned char c) { return NAME_CHAR[c]; }

/* Length of the valid UTF-8 XML 1.0 character at p (1..4), or 0 if there is none. */
static int xml_char_len(const unsigned char *p, const unsigned char *end) {
    unsigned char c = p[0];
    if (c < 0x80) return (c >= 0x20 || c == '\t' || c == '\n' || c == '\r') ? 1 : 0;
    if (c >= 0xC2 && c <= 0xDF) {
        if (end - p < 2 || (p[1] & 0xC0) != 0x80) return 0;
        return 2;
    }
    if (c >= 0xE0 && c <= 0xEF) {
        if (end - p < 3 || (p[1] & 0xC0) != 0x80 || (p[2] & 0xC0) != 0x80) return 0;
        if (c == 0xE0 && p[1] < 0xA0) return 0;  /* overlong */
        if (c == 0xED && p[1] > 0x9F) return 0;  /* surrogates */
        if (c == 0xEF && p[1] == 0xBF && (p[2] == 0xBE || p[2] == 0xBF)) return 0; /* U+FFFE, U+FFFF */
        return 3;
    }
    if (c >= 0xF0 && c <= 0xF4) {
        if (end - p < 4 || (p[1] & 0xC0) != 0x80 || (p[2] & 0xC0) != 0x80 || (p[3] & 0xC0) != 0x80) return 0;
        if (c == 0xF0 && p[1] < 0x90) return 0;  /* overlong */
        if (c == 0xF4 && p[1] > 0x8F) return 0;  /* above U+10FFFF */
        return 4;
    }
    return 0;
}

static int is_xml_codepoint(uint32_t v) {
    return v == 0x9 || v == 0xA || v == 0xD || (v >= 0x20 && v <= 0xD7FF) || (v >= 0xE000 && v <= 0xFFFD) ||
           (v >= 0x10000 && v <= 0x10FFFF);
}

static int put_utf8(Buf *b, uint32_t v) {
    unsigned char out[4];
    size_t n;
    if (v < 0x80) { out[0] = (unsigned char)v; n = 1; }
    else if (v < 0x800) { out[0] = 0xC0 | (v >> 6); out[1] = 0x80 | (v & 0x3F); n = 2; }
    else if (v < 0x10000) {
        out[0] = 0xE0 | (v >> 12); out[1] = 0x80 | ((v >> 6) & 0x3F); out[2] = 0x80 | (v & 0x3F); n = 3;
    } else {
        out[0] = 0xF0 | (v >> 18); out[1] = 0x80 | ((v >> 12) & 0x3F); out[2] = 0x80 | ((v >> 6) & 0x3F);
        out[3] = 0x80 | (v & 0x3F); n = 4;
    }
    return buf_put(b, out, n);
}

/* At '&': decode one reference; append it to `out` when out is not NULL. */
static int scan_reference(Scanner *sc, Buf *out) {
    const unsigned char *p = sc->p + 1, *end = sc->end;
    uint32_t v = 0;
    if (p < end && *p == '#') {
        p++;
        int hex = 0, digits = 0;
        if (p < end && *p == 'x') { hex = 1; p++; }
        while (p < end && *p != ';') {
            unsigned char c = *p;
            int d;
            if (c >= '0' && c <= '9') d = c - '0';
            else if (hex && c >= 'a' && c <= 'f') d = c - 'a' + 10;
            else if (hex && c >= 'A' && c <= 'F') d = c - 'A' + 10;
            else GIVE_UP(sc, "character reference");
            if (++digits > 8) GIVE_UP(sc, "character reference");
            v = v * (hex ? 16 : 10) + (uint32_t)d;
            p++;
        }
        if (p >= end || digits == 0 || !is_xml_codepoint(v)) GIVE_UP(sc, "character reference");
    } else {
        static const struct { const char *name; size_t len; char value; } predefined[] = {
            {"lt", 2, '<'}, {"gt", 2, '>'}, {"amp", 3, '&'}, {"apos", 4, '\''}, {"quot", 4, '"'},
        };
        int found = 0;
        for (size_t i = 0; i < sizeof predefined / sizeof predefined[0]; i++) {
            size_t n = predefined[i].len;
            if ((size_t)(end - p) > n && memcmp(p, predefined[i].name, n) == 0 && p[n] == ';') {
                v = (unsigned char)predefined[i].value;
                p += n;
                found = 1;
                break;
            }
        }
        if (!found) GIVE_UP(sc, "entity reference");
    }
    sc->p = p + 1; /* past ';' */
    if (out != NULL && put_utf8(out, v) < 0) return -1;
    return 0;
}

/* Per byte, in character data: 1 for a plain character copied as it is (printable ASCII but '<', '&' and ']';
 * tab), 2 for LF (counted as a line), 0 for anything that needs a closer look. */
static unsigned char TEXT_CLASS[256]; /* filled by init_tables */

/* Character data up to the next '<'; appended (references decoded, line ends normalised) when out is not NULL,
 * else it must be whitespace only when `space_only`. */
static int scan_text(Scanner *sc, Buf *out, int space_only) {
    const unsigned char *p = sc->p, *end = sc->end;
    while (p < end && *p != '<') {
        /* a run of plain characters (printable ASCII but '<', '&' and ']'; tab; LF) is copied at once */
        const unsigned char *run = p;
        if (space_only) {
            while (p < end && (*p == ' ' || *p == '\t' || *p == '\n')) {
                if (*p == '\n') sc->line++;
                p++;
            }
        } else {
            while (p < end) {
                unsigned char k = TEXT_CLASS[*p];
                if (k == 0) break;
                if (k == 2) sc->line++;
                p++;
            }
        }
        if (p > run) {
            if (out != NULL && buf_put(out, run, (size_t)(p - run)) < 0) return -1;
            continue;
        }
        unsigned char c = *p;
        if (c == '&') {
            if (space_only) GIVE_UP(sc, "text outside the report");
            sc->p = p;
            NOT_PLAIN(sc);
            if (scan_reference(sc, out) < 0) return -1;
            p = sc->p;
            continue;
        }
        if (space_only && !is_space(c)) { sc->p = p; GIVE_UP(sc, "text outside the report"); }
        if (c == ']' && end - p >= 3 && p[1] == ']' && p[2] == '>') { sc->p = p; GIVE_UP(sc, "']]>' in text"); }
        if (c == '\r') {
            if (sc->depth > 0) { sc->p = p; NOT_PLAIN(sc); }
            /* CR LF and a lone CR are both a line end in the text, but libxml2 (the walk's line numbers) counts a
             * line at each LF only */
            int crlf = end - p >= 2 && p[1] == '\n';
            sc->line += crlf;
            if (out != NULL && buf_put(out, "\n", 1) < 0) return -1;
            p += crlf ? 2 : 1;
            continue;
        }
        int n = xml_char_len(p, end);
        if (n == 0) { sc->p = p; GIVE_UP(sc, "not a UTF-8 XML character"); }
        if (c == '\n') sc->line++;
        if (out != NULL && buf_put(out, p, (size_t)n) < 0) return -1;
        p += n;
    }
    sc->p = p;
    return 0;
}

/* At "<!--": skip one comment. */
static int scan_comment(Scanner *sc) {
    const unsigned char *p = sc->p + 4, *end = sc->end;
    while (p < end) {
        if (*p == '<' && end - p >= 2 && p[1] == '!') {
            sc->p = p;
            GIVE_UP(sc, "'<!' in a comment"); /* the walk refuses a file with <!DOCTYPE or <!ENTITY anywhere */
        }
        if (*p == '-' && end - p >= 2 && p[1] == '-') {
            if (end - p >= 3 && p[2] == '>') { sc->p = p + 3; return 0; }
            sc->p = p;
            GIVE_UP(sc, "'--' in a comment");
        }
        if (*p == '\r') { /* counted at the LF of a CR LF only, as libxml2 counts */
            int crlf = end - p >= 2 && p[1] == '\n';
            sc->line += crlf;
            p += crlf ? 2 : 1;
            continue;
        }
        int n = xml_char_len(p, end);
        if (n == 0) { sc->p = p; GIVE_UP(sc, "not a UTF-8 XML character"); }
        if (*p == '\n') sc->line++;
        p += n;
    }
    sc->p = p;
    GIVE_UP(sc, "unterminated comment");
}

/* Whitespace, comments; stops at any other markup or text. */
static int scan_misc(Scanner *sc) {
    for (;;) {
        if (scan_text(sc, NULL, 1) < 0) return -1;
        if (sc->end - sc->p >= 4 && memcmp(sc->p, "<!--", 4) == 0) {
            if (scan_comment(sc) < 0) return -1;
            continue;
        }
        return 0;
    }
}

/* At whitespace before `key="value"` in the XML declaration: true (and past it) when the value is one of `values`
 * (compared without case when `any_case`, as encoding names are). */
static int quoted_is(const unsigned char **pp, const unsigned char *end, const char *key, const char *const *values,
                     int any_case) {
    const unsigned char *p = *pp;
    size_t klen = strlen(key);
    if (p >= end || !is_space(*p)) return 0; /* pseudo-attributes are separated by whitespace */
    while (p < end && is_space(*p)) p++;
    if ((size_t)(end - p) < klen || memcmp(p, key, klen) != 0) return 0;
    p += klen;
    while (p < end && is_space(*p)) p++;
    if (p >= end || *p != '=') return 0;
    p++;
    while (p < end && is_space(*p)) p++;
    if (p >= end || (*p != '"' && *p != '\'')) return 0;
    unsigned char q = *p++;
    const unsigned char *start = p;
    while (p < end && *p != q) p++;
    if (p >= end) return 0;
    size_t n = (size_t)(p - start);
    for (const char *const *v = values; *v != NULL; v++) {
        const char *text = (const char *)start;
        if (strlen(*v) == n && (any_case ? strncasecmp(text, *v, n) : strncmp(text, *v, n)) == 0) {
            *pp = p + 1;
            return 1;
        }
    }
    return 0;
}

/* An optional BOM and XML declaration: version 1.0, encoding UTF-8 if named, standalone if named. */
static int scan_prolog(Scanner *sc) {
    const unsigned char *p = sc->p, *end = sc->end;
    if (end - p >= 3 && p[0] == 0xEF && p[1] == 0xBB && p[2] == 0xBF) p += 3;
    if (end - p >= 6 && memcmp(p, "<?xml", 5) == 0 && is_space(p[5])) {
        static const char *const versions[] = {"1.0", NULL};
        static const char *const encodings[] = {"UTF-8", NULL};
        static const char *const standalone[] = {"yes", "no", NULL};
        p += 5;
        if (!quoted_is(&p, end, "version", versions, 0)) GIVE_UP(sc, "XML declaration");
        const unsigned char *q = p;
        if (quoted_is(&q, end, "encoding", encodings, 1)) p = q;
        q = p;
        if (quoted_is(&q, end, "standalone", standalone, 0)) p = q;
        while (p < end && is_space(*p)) {
            if (*p == '\n') sc->line++;
            p++;
        }
        if (end - p < 2 || p[0] != '?' || p[1] != '>') GIVE_UP(sc, "XML declaration");
        p += 2;
    }
    sc->p = p;
    return 0;
}

static int is_strip_space(const Schema *s, uint32_t v) {
    if (v < 128) return s->ascii_space[v];
    for (int i = 0; i < s->nspaces; i++)
        if (s->spaces[i] == v) return 1;
    return 0;
}

/* The code point of the (valid, already checked) UTF-8 sequence at p. */
static uint32_t utf8_at(const unsigned char *p, int *len) {
    if (p[0] < 0x80) { *len = 1; return p[0]; }
    if (p[0] < 0xE0) { *len = 2; return ((uint32_t)(p[0] & 0x1F) << 6) | (p[1] & 0x3F); }
    if (p[0] < 0xF0) {
        *len = 3;
        return ((uint32_t)(p[0] & 0x0F) << 12) | ((uint32_t)(p[1] & 0x3F) << 6) | (p[2] & 0x3F);
    }
    *len = 4;
    return ((uint32_t)(p[0] & 0x07) << 18) | ((uint32_t)(p[1] & 0x3F) << 12) | ((uint32_t)(p[2] & 0x3F) << 6) |
           (p[3] & 0x3F);
}

/* Ends the value that starts at text offset `start`: stripped as Python's str.strip() strips, then recorded. */
static int record_value_end(Scanner *sc, size_t start) {
    unsigned char *t = (unsigned char *)sc->text.data;
    size_t a = start, b = sc->text.len;
    while (a < b) {
        int n;
        if (!is_strip_space(sc->s, utf8_at(t + a, &n))) break;
        a += (size_t)n;
    }
    while (b > a) {
        size_t c = b - 1;
        while (c > a && (t[c] & 0xC0) == 0x80) c--;
        int n;
        if (!is_strip_space(sc->s, utf8_at(t + c, &n))) break;
        b = c;
    }
    if (a > start) memmove(t + start, t + a, b - a);
    sc->text.len = start + (b - a);
    return buf_i64(&sc->v_offsets, (int64_t)sc->text.len);
}

static int skip_repeat(Scanner *sc, const unsigned char *start, const unsigned char *name, Py_ssize_t len);

/* A start tag at '<' (name already known to be there); opens a frame. */
static int open_element(Scanner *sc, int *self_closing) {
    const unsigned char *p = sc->p + 1, *end = sc->end;
    const unsigned char *name = p;
    while (p < end && is_name_char(*p)) p++;
    Py_ssize_t len = p - name;
    if (len == 0 || len > MAX_NAME) GIVE_UP(sc, "element name");
    if (p < end && is_space(*p)) NOT_PLAIN(sc);
    while (p < end && is_space(*p)) {
        if (*p == '\n' || *p == '\r') GIVE_UP(sc, "a start tag over several lines"); /* its line is ambiguous */
        p++;
    }
    if (p >= end) GIVE_UP(sc, "unterminated tag");
    *self_closing = 0;
    if (*p == '/') {
        if (end - p < 2 || p[1] != '>') GIVE_UP(sc, "unterminated tag");
        NOT_PLAIN(sc);
        *self_closing = 1;
        p += 2;
    } else if (*p == '>') {
        p++;
    } else {
        GIVE_UP(sc, "attribute or namespace");
    }
    int field = -1, child;
    const Field *f = NULL;
    if (sc->depth == 0) {
        child = sc->s->root;
        if (len != sc->s->root_len || memcmp(name, sc->s->root_name, (size_t)len) != 0) GIVE_UP(sc, "root element");
    } else {
        Frame *top = &sc->stack[sc->depth - 1];
        if (top->type < 0) GIVE_UP(sc, "element inside a value");
        const Type *ty = &sc->s->types[top->type];
        int start = top->last < 0 ? 0 : top->last;
        for (int i = start; i < ty->nfields; i++) { /* in schema order: at or after the last field seen */
            if (ty->fields[i].len == len && memcmp(ty->fields[i].name, name, (size_t)len) == 0) {
                field = i;
                break;
            }
        }
        if (field < 0) {
            for (int i = 0; i < start; i++)
                if (ty->fields[i].len == len && memcmp(ty->fields[i].name, name, (size_t)len) == 0)
                    GIVE_UP(sc, "element out of schema order");
            GIVE_UP(sc, "unknown element");
        }
        f = &ty->fields[field];
        top->last = field;
        if (++top->counts[field] > f->max) GIVE_UP(sc, "element repeated beyond its maximum");
        if (f->v5) sc->v5 = 1;
        child = f->child;
    }
    if (sc->depth >= MAX_DEPTH) GIVE_UP(sc, "nesting too deep");
    Frame *fr = &sc->stack[sc->depth];
    fr->type = child;
    fr->name = (const char *)name;
    fr->name_len = len;
    fr->last = -1;
    fr->collapse = f != NULL && f->collapse;
    fr->hashed = -1;
    int32_t parent = sc->depth == 0 ? -1 : sc->stack[sc->depth - 1].inst;
    int32_t gid = f == NULL ? -1 : f->gid;
    /* canonical form: \x01 name \x02, the decoded text and the children, \x03 (no XML character is one of these) */
    if (sc->extents && !sc->raw) {
        if (buf_reserve(&sc->canon, (size_t)len + 2) < 0) return -1;
        char *c = sc->canon.data + sc->canon.len;
        c[0] = '\x01';
        memcpy(c + 1, name, (size_t)len);
        c[len + 1] = '\x02';
        sc->canon.len += (size_t)len + 2;
    }
    if (child >= 0) {
        fr->inst = sc->n_elements++;
        fr->counts = sc->counts_pool + (size_t)sc->depth * (size_t)sc->max_fields;
        memset(fr->counts, 0, sizeof(int) * (size_t)sc->s->types[child].nfields);
        if (buf_i32(&sc->e_type, child) < 0 || buf_i32(&sc->e_parent, parent) < 0 || buf_i32(&sc->e_field, gid) < 0 ||
            buf_i32(&sc->e_line, sc->line) < 0)
            return -1;
        if (sc->extents && (buf_i32(&sc->e_end, 0) < 0 || buf_i32(&sc->e_vstart, sc->n_values) < 0 ||
                            buf_i32(&sc->e_vend, 0) < 0 ||
                            buf_i64(&sc->e_cstart, sc->raw ? (int64_t)(name - 1 - sc->base)
                                                           : (int64_t)(sc->canon.len - (size_t)len - 2)) < 0 ||
                            buf_i64(&sc->e_cend, 0) < 0))
            return -1;
    } else {
        fr->inst = sc->n_values++;
        fr->counts = NULL;
        fr->text_start = sc->text.len;
        if (buf_i32(&sc->v_field, gid) < 0 || buf_i32(&sc->v_owner, parent) < 0 || buf_i32(&sc->v_line, sc->line) < 0)
            return -1;
    }
    sc->depth++;
    sc->p = p;
    /* raw mode: a repeat of an earlier subtree in a collapsing field, recognised as it opens, is stepped over */
    if (sc->collapse && sc->raw && sc->firsts_n && fr->collapse && child >= 0 && !*self_closing &&
        skip_repeat(sc, name - 1, name, len) < 0)
        return -1;
    return 0;
}

/* -- repeated subtrees ---------------------------------------------------------------------------------------------
 * A report repeats itself: the same account, person or organization is a side of transaction after transaction,
 * byte for byte. The column reader reads such a repeat as its first occurrence (the walk's memo), so with `collapse`
 * a subtree in a collapsing field that equals an earlier one (the same type and the same canonical bytes, compared
 * in full) is left as a stub: the element itself (its line, its extents in the canonical form) without its
 * descendants and values, which are taken back out of the columns. The pass has checked them all the same. The stubs
 * and their first occurrences are listed (r_stub, r_first). A descendant of a repeat is a first occurrence only if
 * its copy in the earlier subtree could not be entered (a long probe chain, then a rehash): such entries are cleared
 * when the repeat is taken out (a cleared slot can only make a later lookup miss: a subtree left in full).
 * In raw mode a repeat is mostly recognised as it opens, by the bytes up to the next end tag of its name, and
 * stepped over without being scanned (skip_repeat): about half of a synthetic report's bytes are such repeats. The
 * result is the same as scanning it and collapsing it at its close (the same stub, extents, lines and first
 * occurrence; tests compare every column with the full scan's, and the pass without this step gave the same bytes
 * on the synthetic reports). Only the table can grow later (a repeat stepped over does not count first occurrences
 * inside it that its collapse would have entered and cleared): that moves entries, at a load of at most a half either
 * way, and changes what a lookup finds only where a probe chain runs past MAX_PROBES (crafted collisions), which
 * leaves a subtree in full. */

#define MAX_PROBES 16 /* a lookup that probes further leaves the subtree as it is: crafted collisions cost little */

static uint64_t subtree_hash(const unsigned char *p, size_t n, uint64_t seed) {
    uint64_t h = (seed + 1) * 0x9E3779B97F4A7C15ULL ^ (uint64_t)n;
    for (; n >= 8; p += 8, n -= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        h = (h ^ w) * 0xFF51AFD7ED558CCDULL;
        h ^= h >> 32;
    }
    uint64_t w = 0;
    memcpy(&w, p, n);
    h = (h ^ w ^ ((uint64_t)n << 56)) * 0xC4CEB9FE1A85EC53ULL;
    return h ^ (h >> 29);
}

static int firsts_grow(Scanner *sc) {
    size_t cap = sc->firsts_cap ? sc->firsts_cap * 2 : 1024;
    Slot *table = PyMem_RawMalloc(cap * sizeof *table);
    if (table == NULL) return -1;
    for (size_t i = 0; i < cap; i++) table[i].element = -1;
    for (size_t i = 0; i < sc->firsts_cap; i++) { /* (a probe chain longer than MAX_PROBES is cut short: no harm) */
        Slot old = sc->firsts[i];
        if (old.element < 0) continue;
        size_t slot = (size_t)(old.hash ^ (old.hash >> 31)) & (cap - 1);
        while (table[slot].element >= 0) slot = (slot + 1) & (cap - 1);
        table[slot] = old;
    }
    PyMem_RawFree(sc->firsts);
    sc->firsts = table;
    sc->firsts_cap = cap;
    return 0;
}

/* The slot of the table's first occurrence of the subtree `p`[0:len] of type `type` (hash `h`, entries compared in
 * full in `bytes`: the document in raw mode, else the canonical form), or the empty slot where it would go; NULL
 * when MAX_PROBES slots hold neither. */
static Slot *probe_firsts(Scanner *sc, const unsigned char *bytes, const unsigned char *p, int64_t len, int32_t type,
                          uint64_t h) {
    const int64_t *cstart = (const int64_t *)sc->e_cstart.data, *cend = (const int64_t *)sc->e_cend.data;
    const int32_t *types = (const int32_t *)sc->e_type.data;
    size_t mask = sc->firsts_cap - 1, slot = (size_t)(h ^ (h >> 31)) & mask;
    for (int probe = 0; probe < MAX_PROBES; probe++, slot = (slot + 1) & mask) {
        Slot *at = &sc->firsts[slot];
        if (at->element < 0) return at;
        int32_t j = at->element;
        if (at->hash == h && types[j] == type && cend[j] - cstart[j] == len &&
            memcmp(bytes + cstart[j], p, (size_t)len) == 0)
            return at;
    }
    return NULL;
}

/* The element of frame `fr` has just closed (its extents recorded, its structure checked): a stub if it repeats an
 * earlier subtree, else (when the table has room on its probe chain) a first occurrence. */
static int collapse_repeat(Scanner *sc, const Frame *fr) {
    int32_t e = fr->inst;
    const int64_t *cstart = (const int64_t *)sc->e_cstart.data, *cend = (const int64_t *)sc->e_cend.data;
    const int32_t *type = (const int32_t *)sc->e_type.data;
    const unsigned char *bytes = sc->raw ? sc->base : (const unsigned char *)sc->canon.data;
    int64_t len = cend[e] - cstart[e];
    /* (the subtree is the bytes skip_repeat hashed when it opened, unless a nested end tag of its name came first) */
    uint64_t h = fr->hashed == len ? fr->hash : subtree_hash(bytes + cstart[e], (size_t)len, (uint64_t)type[e]);
    if ((sc->firsts_n + 1) * 2 > sc->firsts_cap && firsts_grow(sc) < 0) return -1;
    Slot *at = probe_firsts(sc, bytes, bytes + cstart[e], len, type[e], h);
    if (at == NULL) return 0; /* (left in full) */
    if (at->element < 0) {
        at->element = e;
        at->hash = h;
        at->depth = sc->depth; /* (the element's frame is still open, as when it opened) */
        at->lines = sc->line - ((const int32_t *)sc->e_line.data)[e];
        sc->firsts_n++;
        sc->firsts_last = e;
        return 0;
    }
    int32_t j = at->element;
    /* a repeat of j: its descendants and values out of the columns, its stubs and first occurrences too */
    if (sc->firsts_last > e) {
        for (size_t i = 0; i < sc->firsts_cap; i++)
            if (sc->firsts[i].element > e) sc->firsts[i].element = -1; /* (firsts_n stays: a bound) */
        sc->firsts_last = e; /* (an upper bound: e itself is no entry) */
    }
    int32_t v = ((int32_t *)sc->e_vstart.data)[e];
    sc->n_elements = e + 1;
    sc->n_values = v;
    Buf *per_element[] = {&sc->e_type, &sc->e_parent, &sc->e_field, &sc->e_line,
                          &sc->e_end,  &sc->e_vstart, &sc->e_vend};
    for (size_t b = 0; b < sizeof per_element / sizeof per_element[0]; b++)
        per_element[b]->len = (size_t)(e + 1) * sizeof(int32_t);
    sc->e_cstart.len = sc->e_cend.len = (size_t)(e + 1) * sizeof(int64_t);
    ((int32_t *)sc->e_end.data)[e] = e + 1;
    ((int32_t *)sc->e_vend.data)[e] = v;
    sc->v_field.len = sc->v_owner.len = sc->v_line.len = (size_t)v * sizeof(int32_t);
    sc->v_offsets.len = (size_t)(v + 1) * sizeof(int64_t);
    sc->text.len = (size_t)((int64_t *)sc->v_offsets.data)[v];
    while (sc->r_stub.len && ((int32_t *)sc->r_stub.data)[sc->r_stub.len / sizeof(int32_t) - 1] > e) {
        sc->r_stub.len -= sizeof(int32_t);
        sc->r_first.len -= sizeof(int32_t);
    }
    return buf_i32(&sc->r_stub, e) < 0 || buf_i32(&sc->r_first, j) < 0 ? -1 : 0;
}

/* The first occurrence of `needle` (n >= 2 bytes) in [p, end), or NULL. */
static const unsigned char *next_of(const unsigned char *p, const unsigned char *end, const unsigned char *needle,
                                    size_t n) {
#ifdef __GLIBC__
    return memmem(p, (size_t)(end - p), needle, n);
#else
    for (; (size_t)(end - p) >= n; p++) {
        p = memchr(p, needle[0], (size_t)(end - p) - n + 1);
        if (p == NULL) return NULL;
        if (memcmp(p, needle, n) == 0) return p;
    }
    return NULL;
#endif
}

/* Raw mode, an element of a collapsing field (`name`, `len`) has just opened at `start` (its frame pushed, its slots
 * reserved). The bytes up to the next end tag of its name are looked up in the table of first occurrences as
 * collapse_repeat looks a closed subtree up (the hash of the whole, then compared in full). If they are a first
 * occurrence's subtree byte for byte, opened at the same depth, the element is that subtree again: scanning the same
 * bytes from the same kind of element would find what it found there (the same structure, checked then, the same
 * end, every byte plain), so the element becomes its stub at once, with the extents, line and lists collapse_repeat
 * gives a repeat when it closes. (Where the next end tag of the name is not the element's own, no complete subtree
 * in the table is those bytes.) 1: stepped over, 0: scanned as usual, -1: out of memory. */
static int skip_repeat(Scanner *sc, const unsigned char *start, const unsigned char *name, Py_ssize_t len) {
    unsigned char tag[MAX_NAME + 3]; /* the next "</name>" */
    tag[0] = '<';
    tag[1] = '/';
    memcpy(tag + 2, name, (size_t)len);
    tag[len + 2] = '>';
    const unsigned char *close = next_of(sc->p, sc->end, tag, (size_t)len + 3);
    if (close == NULL) return 0;
    int64_t n = (int64_t)(close + len + 3 - start);
    Frame *fr = &sc->stack[sc->depth - 1];
    uint64_t h = subtree_hash(start, (size_t)n, (uint64_t)fr->type);
    fr->hash = h; /* (for collapse_repeat, if the element is not stepped over and closes there) */
    fr->hashed = n;
    const Slot *at = probe_firsts(sc, sc->base, start, n, fr->type, h);
    if (at == NULL || at->element < 0 || at->depth != sc->depth) return 0;
    /* the element, closed as a stub: no descendant, no value, its extents, its first occurrence */
    int32_t e = fr->inst;
    sc->p = start + n;
    sc->line += at->lines;
    ((int32_t *)sc->e_end.data)[e] = sc->n_elements;
    ((int32_t *)sc->e_vend.data)[e] = sc->n_values;
    ((int64_t *)sc->e_cend.data)[e] = (int64_t)(sc->p - sc->base);
    if (buf_i32(&sc->r_stub, e) < 0 || buf_i32(&sc->r_first, at->element) < 0) return -1;
    sc->depth--;
    return 1;
}

static int close_element(Scanner *sc) {
    Frame *fr = &sc->stack[sc->depth - 1];
    if (sc->extents && !sc->raw && buf_put(&sc->canon, "\x03", 1) < 0) return -1;
    if (fr->type < 0) {
        if (record_value_end(sc, fr->text_start) < 0) return -1;
    } else {
        if (sc->extents) { /* the subtree's extents, in the slots reserved when the element opened */
            ((int32_t *)sc->e_end.data)[fr->inst] = sc->n_elements;
            ((int32_t *)sc->e_vend.data)[fr->inst] = sc->n_values;
            ((int64_t *)sc->e_cend.data)[fr->inst] = sc->raw ? (int64_t)(sc->p - sc->base) : (int64_t)sc->canon.len;
        }
        const Type *ty = &sc->s->types[fr->type];
        for (int i = 0; i < ty->nrequired; i++)
            if (fr->counts[ty->required[i]] == 0) GIVE_UP(sc, "mandatory element missing");
        for (int c = 0; c < ty->nchoices; c++) {
            const Choice *ch = &ty->choices[c];
            int present = 0;
            for (int j = 0; j < ch->n; j++) present += fr->counts[ch->fields[j]] > 0;
            if (present < ch->min || present > ch->max) GIVE_UP(sc, "choice not satisfied");
        }
        if (sc->collapse && fr->collapse && collapse_repeat(sc, fr) < 0) return -1;
    }
    sc->depth--;
    return 0;
}

/* At "</": the end tag of the open element. */
static int end_tag(Scanner *sc) {
    Frame *fr = &sc->stack[sc->depth - 1];
    const unsigned char *p = sc->p + 2, *end = sc->end;
    if (end - p < fr->name_len || memcmp(p, fr->name, (size_t)fr->name_len) != 0) GIVE_UP(sc, "mismatched end tag");
    p += fr->name_len;
    if (p < end && is_space(*p)) NOT_PLAIN(sc);
    while (p < end && is_space(*p)) {
        if (*p == '\n') sc->line++;
        p++;
    }
    if (p >= end || *p != '>') GIVE_UP(sc, "mismatched end tag");
    sc->p = p + 1;
    return close_element(sc);
}

static int scan_document(Scanner *sc) {
    if (scan_prolog(sc) < 0) return -1;
    if (scan_misc(sc) < 0) return -1;
    if (sc->p >= sc->end || sc->end - sc->p < 2 || !is_name_char(sc->p[1])) GIVE_UP(sc, "no root element");
    int self_closing;
    if (open_element(sc, &self_closing) < 0) return -1;
    if (self_closing && close_element(sc) < 0) return -1;
    while (sc->depth > 0) {
        Frame *top = &sc->stack[sc->depth - 1];
        if (top->type < 0) {
            size_t before = sc->text.len;
            if (scan_text(sc, &sc->text, 0) < 0) return -1;
            if (sc->text.len - before > MAX_VALUE_BYTES) GIVE_UP(sc, "value too long");
            if (sc->extents && !sc->raw && sc->text.len > before && /* unstripped: lxml serialises it as it is */
                buf_put(&sc->canon, sc->text.data + before, sc->text.len - before) < 0)
                return -1;
        } else if (scan_text(sc, sc->extents && !sc->raw ? &sc->canon : NULL, 0) < 0) {
            return -1;
        }
        if (sc->p >= sc->end) GIVE_UP(sc, "unexpected end of file");
        const unsigned char *p = sc->p, *end = sc->end;
        if (end - p >= 2 && p[1] == '/') {
            if (end_tag(sc) < 0) return -1;
        } else if (end - p >= 4 && memcmp(p, "<!--", 4) == 0) {
            if (top->type < 0) GIVE_UP(sc, "comment inside a value");
            NOT_PLAIN(sc);
            if (scan_comment(sc) < 0) return -1;
        } else if (end - p >= 2 && is_name_char(p[1]) && p[1] != '-' && p[1] != '.' && !(p[1] >= '0' && p[1] <= '9')) {
            if (open_element(sc, &self_closing) < 0) return -1;
            if (self_closing && close_element(sc) < 0) return -1;
        } else {
            GIVE_UP(sc, "markup not handled here (CDATA, processing instruction, declaration)");
        }
    }
    if (scan_misc(sc) < 0) return -1;
    if (sc->p != sc->end) GIVE_UP(sc, "content after the root element");
    return 0;
}

static void scanner_free(Scanner *sc) {
    Buf *bufs[] = {&sc->e_type,   &sc->e_parent, &sc->e_field,   &sc->e_line, &sc->e_end,
                   &sc->e_vstart, &sc->e_vend,   &sc->e_cstart,  &sc->e_cend, &sc->v_field,
                   &sc->v_owner,  &sc->v_line,   &sc->v_offsets, &sc->text,   &sc->canon,
                   &sc->r_stub,   &sc->r_first};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++) PyMem_RawFree(bufs[i]->data);
    PyMem_RawFree(sc->firsts);
    PyMem_RawFree(sc->counts_pool);
}

static PyObject *as_bytes(const Buf *b) { return PyBytes_FromStringAndSize(b->data ? b->data : "", (Py_ssize_t)b->len); }

/* One run of the pass over `data` (the scanner zeroed); 0, or -1 with `reason` (NULL: out of memory). */
static int run_scan(Scanner *sc, const Schema *s, const unsigned char *data, Py_ssize_t size, int extents, int raw,
                    int collapse) {
    memset(sc, 0, sizeof *sc);
    sc->collapse = collapse && extents;
    sc->s = s;
    sc->base = sc->p = data;
    sc->end = data + size;
    sc->line = 1;
    sc->extents = extents;
    sc->raw = raw;
    for (int t = 0; t < s->ntypes; t++)
        if (s->types[t].nfields > sc->max_fields) sc->max_fields = s->types[t].nfields;
    sc->counts_pool = PyMem_RawCalloc((size_t)MAX_DEPTH * (size_t)(sc->max_fields ? sc->max_fields : 1), sizeof(int));
    if (sc->counts_pool == NULL) return -1;
    return buf_i64(&sc->v_offsets, 0) < 0 ? -1 : scan_document(sc);
}

/* scan(schema, data, extents=0, collapse=False)
 *   -> (True, v5, e_type, e_parent, e_field, e_line, v_field, v_owner, v_line, v_offsets, text,
 *       e_end, e_vstart, e_vend, e_cstart, e_cend, canon, raw, r_stub, r_first)
 *      (e_end..canon empty unless extents; r_stub, r_first: int32, empty unless extents and collapse)
 *    | (False, reason, line)
 * e_end: the index after an element's last descendant; e_vstart/e_vend: the values of its subtree; e_cstart/e_cend:
 * its subtree in `canon`, where two subtrees are equal bytes exactly when lxml serialises them equally (names, text
 * decoded and line ends normalised, whitespace between elements included, comments left out).
 * extents: 0 none (validate); 1 the canonical form written out; 2 the same, except that a plain document (see
 * NOT_PLAIN) is its own canonical form: then `raw` is true, `canon` is empty and e_cstart/e_cend are offsets in
 * `data`.
 * collapse (with extents): a repeat of an earlier subtree in a collapsing field is left as a stub (collapse_repeat);
 * r_stub lists the stubs (increasing), r_first the first occurrence each repeats. */
static PyObject *py_scan(PyObject *Py_UNUSED(self), PyObject *args) {
    PyObject *capsule;
    Py_buffer view;
    int extents = 0, collapse = 0;
    if (!PyArg_ParseTuple(args, "Oy*|ip", &capsule, &view, &extents, &collapse)) return NULL;
    Schema *s = PyCapsule_GetPointer(capsule, "finintel.goaml.schema");
    if (s == NULL) { PyBuffer_Release(&view); return NULL; }
    if (extents < 0 || extents > 2) {
        PyBuffer_Release(&view);
        PyErr_SetString(PyExc_ValueError, "extents is 0, 1 or 2");
        return NULL;
    }
    Scanner sc;
    int rc;
    Py_BEGIN_ALLOW_THREADS
    rc = run_scan(&sc, s, view.buf, view.len, extents > 0, extents == 2, collapse);
    if (rc < 0 && sc.restart) { /* not plain: the canonical form written out */
        scanner_free(&sc);
        rc = run_scan(&sc, s, view.buf, view.len, 1, 0, collapse);
    }
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&view);
    PyObject *result;
    if (rc < 0) {
        result = sc.reason == NULL ? PyErr_NoMemory() : Py_BuildValue("(Osi)", Py_False, sc.reason, (int)sc.reason_line);
    } else {
        result = Py_BuildValue("(OiNNNNNNNNNNNNNNNONN)", Py_True, sc.v5, as_bytes(&sc.e_type), as_bytes(&sc.e_parent),
                               as_bytes(&sc.e_field), as_bytes(&sc.e_line), as_bytes(&sc.v_field),
                               as_bytes(&sc.v_owner), as_bytes(&sc.v_line), as_bytes(&sc.v_offsets),
                               as_bytes(&sc.text), as_bytes(&sc.e_end), as_bytes(&sc.e_vstart), as_bytes(&sc.e_vend),
                               as_bytes(&sc.e_cstart), as_bytes(&sc.e_cend), as_bytes(&sc.canon),
                               sc.raw ? Py_True : Py_False, as_bytes(&sc.r_stub), as_bytes(&sc.r_first));
    }
    scanner_free(&sc);
    return result;
}

/* -- helpers of the column reader (colread.py): two lookups numpy can only do by sorting ------------------------- */

/* A buffer argument as `n` int64 (or int32) items; -1 and an exception when its size is not a whole number. */
static Py_ssize_t items_of(const Py_buffer *b, Py_ssize_t size) {
    if (b->len % size != 0) {
        PyErr_SetString(PyExc_ValueError, "buffer size is not a multiple of its item size");
        return -1;
    }
    return b->len / size;
}

/* A keyed hash of a byte range (CPython's own: SipHash with the process's random key, as dict keys are hashed), so
 * crafted subtrees cannot make every lookup collide. */
static uint64_t bytes_hash(const unsigned char *p, Py_ssize_t n) {
#if PY_VERSION_HEX >= 0x030D0000
    return (uint64_t)Py_HashBuffer(p, n);
#else
    return (uint64_t)_Py_HashBytes(p, n);
#endif
}

/* first_same(canons, which, key, start, end) -> int64 bytes: per entry i, the first entry j <= i with
 * key[j] == key[i] and equal subtrees canons[which[j]][start[j]:end[j]] == canons[which[i]][start[i]:end[i]] (the
 * walk's subtree memo: equal bytes, not equal hashes). `canons` is a tuple of bytes (one per file of a batch: they
 * are not joined), `which` says whose bytes an entry's extent is in. */
static PyObject *py_first_same(PyObject *Py_UNUSED(self), PyObject *args) {
    PyObject *canons;
    Py_buffer which, key, start, end;
    if (!PyArg_ParseTuple(args, "O!y*y*y*y*", &PyTuple_Type, &canons, &which, &key, &start, &end)) return NULL;
    PyObject *result = NULL;
    int64_t *table = NULL;
    int64_t *out = NULL;
    uint64_t *hashes = NULL;
    const unsigned char **base = NULL;
    Py_ssize_t *size = NULL;
    Py_ssize_t nb = PyTuple_GET_SIZE(canons);
    Py_ssize_t n = items_of(&key, 8);
    if (n < 0) goto done;
    if (items_of(&start, 8) != n || items_of(&end, 8) != n || items_of(&which, 8) != n) {
        if (!PyErr_Occurred()) PyErr_SetString(PyExc_ValueError, "which, key, start and end differ in length");
        goto done;
    }
    base = PyMem_Malloc((nb ? (size_t)nb : 1) * sizeof *base);
    size = PyMem_Malloc((nb ? (size_t)nb : 1) * sizeof *size);
    if (base == NULL || size == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    for (Py_ssize_t b = 0; b < nb; b++) {
        PyObject *item = PyTuple_GET_ITEM(canons, b);
        if (!PyBytes_Check(item)) {
            PyErr_SetString(PyExc_TypeError, "canons must be bytes");
            goto done;
        }
        base[b] = (const unsigned char *)PyBytes_AS_STRING(item);
        size[b] = PyBytes_GET_SIZE(item);
    }
    const int64_t *w = which.buf, *k = key.buf, *s = start.buf, *e = end.buf;
    for (Py_ssize_t i = 0; i < n; i++) {
        if (w[i] < 0 || w[i] >= nb || s[i] < 0 || e[i] < s[i] || e[i] > size[w[i]]) {
            PyErr_SetString(PyExc_ValueError, "subtree extent out of range");
            goto done;
        }
    }
    size_t cap = 16;
    while (cap < (size_t)n * 2) cap <<= 1;
    table = PyMem_Malloc(cap * sizeof *table);
    out = PyMem_Malloc((n ? (size_t)n : 1) * sizeof *out);
    hashes = PyMem_Malloc((n ? (size_t)n : 1) * sizeof *hashes);
    if (table == NULL || out == NULL || hashes == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    for (Py_ssize_t i = 0; i < n; i++) /* with the GIL: CPython's hash may initialise its key */
        hashes[i] = bytes_hash(base[w[i]] + s[i], (Py_ssize_t)(e[i] - s[i])) ^ ((uint64_t)k[i] * 0x9E3779B97F4A7C15ULL);
    Py_BEGIN_ALLOW_THREADS
    memset(table, 0xff, cap * sizeof *table); /* -1: empty */
    for (Py_ssize_t i = 0; i < n; i++) {
        uint64_t h = hashes[i];
        size_t slot = (size_t)(h ^ (h >> 31)) & (cap - 1);
        int64_t len = e[i] - s[i];
        for (;;) {
            int64_t j = table[slot];
            if (j < 0) {
                table[slot] = i;
                out[i] = i;
                break;
            }
            if (hashes[j] == h && k[j] == k[i] && e[j] - s[j] == len &&
                memcmp(base[w[j]] + s[j], base[w[i]] + s[i], (size_t)len) == 0) {
                out[i] = j;
                break;
            }
            slot = (slot + 1) & (cap - 1);
        }
    }
    Py_END_ALLOW_THREADS
    result = PyBytes_FromStringAndSize((const char *)out, n * (Py_ssize_t)sizeof *out);
done:
    PyMem_Free(base);
    PyMem_Free(size);
    PyMem_Free(table);
    PyMem_Free(out);
    PyMem_Free(hashes);
    PyBuffer_Release(&which);
    PyBuffer_Release(&key);
    PyBuffer_Release(&start);
    PyBuffer_Release(&end);
    return result;
}

/* group_values(v_owner, n) -> (start, order), int64 bytes: the values grouped by owner (0 <= owner < n), document
 * order kept within a group (a counting sort): the values of owner x are order[start[x]] .. order[start[x + 1] - 1]. */
static PyObject *py_group_values(PyObject *Py_UNUSED(self), PyObject *args) {
    Py_buffer owner;
    Py_ssize_t n;
    if (!PyArg_ParseTuple(args, "y*n", &owner, &n)) return NULL;
    PyObject *result = NULL;
    int64_t *start = NULL, *order = NULL;
    Py_ssize_t nv = items_of(&owner, 8);
    if (nv < 0) goto done;
    const int64_t *o = owner.buf;
    if (n < 0) {
        PyErr_SetString(PyExc_ValueError, "negative number of owners");
        goto done;
    }
    for (Py_ssize_t i = 0; i < nv; i++) {
        if (o[i] < 0 || o[i] >= n) {
            PyErr_SetString(PyExc_ValueError, "value owner out of range");
            goto done;
        }
    }
    start = PyMem_Calloc((size_t)n + 2, sizeof *start);
    order = PyMem_Malloc((nv ? (size_t)nv : 1) * sizeof *order);
    if (start == NULL || order == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t i = 0; i < nv; i++) start[o[i] + 2]++;
    for (Py_ssize_t x = 0; x < n; x++) start[x + 2] += start[x + 1];
    for (Py_ssize_t i = 0; i < nv; i++) order[start[o[i] + 1]++] = i;
    Py_END_ALLOW_THREADS
    result = Py_BuildValue("(y#y#)", (const char *)start, (n + 1) * (Py_ssize_t)sizeof *start, (const char *)order,
                           nv * (Py_ssize_t)sizeof *order);
done:
    PyMem_Free(start);
    PyMem_Free(order);
    PyBuffer_Release(&owner);
    return result;
}

/* first_values(start, order, field, elements, gids, null) -> int64 bytes: with the groups of group_values and
 * `field` (int32) the field of each value in group order (field[k] is the field of value order[k]): for each row r
 * of `gids` (len(elements) rows, gids.len / len(elements) columns) and each column j, the first value (document
 * order) of element elements[r] in field gids[r, j]; `null` when there is none, the element is -1 or the gid -1. */
static PyObject *py_first_values(PyObject *Py_UNUSED(self), PyObject *args) {
    Py_buffer start_b, order_b, field_b, elements, gids;
    long long null;
    if (!PyArg_ParseTuple(args, "y*y*y*y*y*L", &start_b, &order_b, &field_b, &elements, &gids, &null)) return NULL;
    PyObject *result = NULL;
    int64_t *out = NULL;
    Py_ssize_t groups = items_of(&start_b, 8) - 1;
    Py_ssize_t nv = items_of(&order_b, 8);
    Py_ssize_t rows = items_of(&elements, 8);
    Py_ssize_t cells = items_of(&gids, 8);
    if (groups < 0 || nv < 0 || rows < 0 || cells < 0) {
        if (!PyErr_Occurred()) PyErr_SetString(PyExc_ValueError, "no groups");
        goto done;
    }
    if (items_of(&field_b, 4) != nv) {
        if (!PyErr_Occurred()) PyErr_SetString(PyExc_ValueError, "order and field differ in length");
        goto done;
    }
    if (rows == 0 ? cells != 0 : cells % rows != 0) {
        PyErr_SetString(PyExc_ValueError, "gids is not a rows x columns matrix");
        goto done;
    }
    Py_ssize_t cols = rows ? cells / rows : 0;
    const int64_t *start = start_b.buf, *order = order_b.buf, *el = elements.buf, *g = gids.buf;
    const int32_t *f = field_b.buf;
    for (Py_ssize_t x = 0; x < groups; x++) {
        if (start[x] < 0 || start[x] > start[x + 1] || start[x + 1] > nv) {
            PyErr_SetString(PyExc_ValueError, "groups out of range");
            goto done;
        }
    }
    out = PyMem_Malloc((cells ? (size_t)cells : 1) * sizeof *out);
    if (out == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t r = 0; r < rows; r++) {
        int64_t x = el[r];
        int in = x >= 0 && x < groups;
        for (Py_ssize_t j = 0; j < cols; j++) {
            int64_t want = g[r * cols + j], hit = null;
            if (in && want >= 0) {
                for (int64_t k = start[x]; k < start[x + 1]; k++) {
                    if (f[k] == want) {
                        hit = order[k];
                        break;
                    }
                }
            }
            out[r * cols + j] = hit;
        }
    }
    Py_END_ALLOW_THREADS
    result = PyBytes_FromStringAndSize((const char *)out, cells * (Py_ssize_t)sizeof *out);
done:
    PyMem_Free(out);
    PyBuffer_Release(&start_b);
    PyBuffer_Release(&order_b);
    PyBuffer_Release(&field_b);
    PyBuffer_Release(&elements);
    PyBuffer_Release(&gids);
    return result;
}

/* ---- typed values: the value column's text (Arrow-style: int64 offsets, n + 1 of them, into the text) ---------- */

/* Whether value j of the column lies in the text; sets ValueError if not (called with the GIL held). */
static int value_in_range(const int64_t *off, Py_ssize_t n, Py_ssize_t text_len, int64_t j) {
    if (j < 0 || j >= n || off[j] < 0 || off[j] > off[j + 1] || off[j + 1] > text_len) {
        PyErr_SetString(PyExc_ValueError, "value index or offsets out of range");
        return 0;
    }
    return 1;
}

/* Parses the arguments shared by the typed-value functions, (offsets, text, at), and checks every selected value
 * lies in the text; `m`: how many are selected. */
static int selected_values(PyObject *args, Py_buffer *offsets, Py_buffer *text, Py_buffer *at, Py_ssize_t *m) {
    if (!PyArg_ParseTuple(args, "y*y*y*", offsets, text, at)) return 0;
    Py_ssize_t n_off = items_of(offsets, 8), n_at = items_of(at, 8);
    if (n_off < 1 || n_at < 0) {
        if (!PyErr_Occurred()) PyErr_SetString(PyExc_ValueError, "no offsets");
        goto fail;
    }
    const int64_t *off = offsets->buf, *idx = at->buf;
    for (Py_ssize_t k = 0; k < n_at; k++) {
        if (!value_in_range(off, n_off - 1, text->len, idx[k])) goto fail;
    }
    *m = n_at;
    return 1;
fail:
    PyBuffer_Release(offsets);
    PyBuffer_Release(text);
    PyBuffer_Release(at);
    return 0;
}

static int two_digits(const unsigned char *s, int lo, int hi, int *out) {
    if (s[0] < '0' || s[0] > '9' || s[1] < '0' || s[1] > '9') return 0;
    int v = (s[0] - '0') * 10 + (s[1] - '0');
    *out = v;
    return v >= lo && v <= hi;
}

/* Days from 1970-01-01 to a proleptic Gregorian date (H. Hinnant's days_from_civil). */
static int64_t days_from_civil(int64_t y, int m, int d) {
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

/* The quick forms of an ISO 8601 date, YYYY-MM-DD or YYYY-MM-DDTHH:MM:SS (a year from 1000, a month from 01 to 12,
 * a day from 01 that exists in its month, hours to 23, minutes and seconds to 59; nothing before or after): 1 and
 * the microseconds since 1970 in `micros`; 0 for anything else, which fast.py parses with values.parse_datetime. */
static int iso_datetime(const unsigned char *s, Py_ssize_t len, int64_t *micros) {
    int year_hi, year_lo, month, day, hour = 0, minute = 0, second = 0;
    if (len != 10 && len != 19) return 0;
    if (s[0] == '0' || !two_digits(s, 10, 99, &year_hi) || !two_digits(s + 2, 0, 99, &year_lo)) return 0;
    if (s[4] != '-' || !two_digits(s + 5, 1, 12, &month) || s[7] != '-' || !two_digits(s + 8, 1, 31, &day)) return 0;
    if (len == 19) {
        if (s[10] != 'T' || !two_digits(s + 11, 0, 23, &hour) || s[13] != ':' || !two_digits(s + 14, 0, 59, &minute) ||
            s[16] != ':' || !two_digits(s + 17, 0, 59, &second))
            return 0;
    }
    int year = year_hi * 100 + year_lo;
    static const int month_days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    if (day > month_days[month - 1] + (month == 2 && leap)) return 0;
    int64_t seconds = days_from_civil(year, month, day) * 86400 + hour * 3600 + minute * 60 + second;
    *micros = seconds * 1000000;
    return 1;
}

/* A typed-value function: 1 if the value (`s`, `len` bytes) has the form, and with a result a value in `*out`. */
typedef int (*value_fn)(const unsigned char *s, Py_ssize_t len, int64_t *out);

/* `fn` over each value index in `at` (int64) of the column (offsets, text): a uint8 flag per value, and with
 * `results` an int64 per value too (0 where the flag is 0), as (int64 bytes, uint8 bytes). */
static PyObject *typed_values(PyObject *args, value_fn fn, int results) {
    Py_buffer offsets, text, at;
    Py_ssize_t m;
    if (!selected_values(args, &offsets, &text, &at, &m)) return NULL;
    PyObject *result = NULL;
    int64_t *out = PyMem_Malloc((m ? (size_t)m : 1) * sizeof *out);
    unsigned char *ok = PyMem_Malloc(m ? (size_t)m : 1);
    if (out == NULL || ok == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    const int64_t *off = offsets.buf, *idx = at.buf;
    const unsigned char *t = text.buf;
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t k = 0; k < m; k++) {
        int64_t j = idx[k];
        out[k] = 0;
        ok[k] = (unsigned char)fn(t + off[j], (Py_ssize_t)(off[j + 1] - off[j]), &out[k]);
        if (!ok[k]) out[k] = 0;
    }
    Py_END_ALLOW_THREADS
    result = results ? Py_BuildValue("(y#y#)", (const char *)out, m * (Py_ssize_t)sizeof *out, (const char *)ok, m)
                     : PyBytes_FromStringAndSize((const char *)ok, m);
done:
    PyMem_Free(out);
    PyMem_Free(ok);
    PyBuffer_Release(&offsets);
    PyBuffer_Release(&text);
    PyBuffer_Release(&at);
    return result;
}

/* iso_datetimes(offsets, text, at) -> (int64 bytes, uint8 bytes): for each value index in `at` (int64), the
 * microseconds since 1970 of its quick ISO 8601 form (iso_datetime) and 1, or 0 and 0 when it has no quick form. */
static PyObject *py_iso_datetimes(PyObject *Py_UNUSED(self), PyObject *args) {
    return typed_values(args, iso_datetime, 1);
}

/* ISO 13616 as values.iban_is_valid decides it: every character but ASCII letters and digits dropped, letters upper
 * cased; then 2 letters, 2 digits and 11 to 30 letters or digits, and the number made of the last ones, then the
 * first four (a letter as two digits: A = 10 ... Z = 35), is 1 modulo 97. */
static int iban_valid(const unsigned char *s, Py_ssize_t len) {
    unsigned char kept[34];
    int n = 0;
    for (Py_ssize_t i = 0; i < len; i++) {
        unsigned char c = s[i];
        if (c >= 'a' && c <= 'z') c = (unsigned char)(c - 'a' + 'A');
        if ((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) {
            if (n == 34) return 0;
            kept[n++] = c;
        }
    }
    if (n < 15) return 0;
    for (int i = 0; i < 4; i++) {
        int letter = kept[i] >= 'A';
        if (letter != (i < 2)) return 0;
    }
    /* the characters after the first four, then the first four, as decimal digits into r, reduced modulo 97 once r
     * may have 16 digits (r < 97 after a reduction, and at most 17 digits before one: below 2^63) */
    uint64_t r = 0;
    int digits = 0;
    for (int k = 4; k < n + 4; k++) {
        unsigned char c = kept[k < n ? k : k - n];
        if (c >= 'A') {
            r = r * 100 + (uint64_t)(c - 'A' + 10);
            digits += 2;
        } else {
            r = r * 10 + (uint64_t)(c - '0');
            digits += 1;
        }
        if (digits >= 16) {
            r %= 97;
            digits = 2;
        }
    }
    return r % 97 == 1;
}

static int iban_value(const unsigned char *s, Py_ssize_t len, int64_t *out) {
    (void)out;
    return iban_valid(s, len);
}

/* iban_valid(offsets, text, at) -> uint8 bytes: for each value index in `at` (int64), 1 if it is a valid IBAN. */
static PyObject *py_iban_valid(PyObject *Py_UNUSED(self), PyObject *args) {
    return typed_values(args, iban_value, 0);
}

static PyMethodDef methods[] = {
    {"compile", py_compile, METH_VARARGS, "compile(types, root, root_name) -> schema capsule"},
    {"scan", py_scan, METH_VARARGS, "scan(schema, data, extents=0, collapse=False) -> columns, or (False, reason, line)"},
    {"first_same", py_first_same, METH_VARARGS, "first_same(canons, which, key, start, end) -> int64 bytes"},
    {"group_values", py_group_values, METH_VARARGS, "group_values(v_owner, n) -> (start, order)"},
    {"first_values", py_first_values, METH_VARARGS,
     "first_values(start, order, field, elements, gids, null) -> int64 bytes"},
    {"iso_datetimes", py_iso_datetimes, METH_VARARGS, "iso_datetimes(offsets, text, at) -> (int64 bytes, uint8 bytes)"},
    {"iban_valid", py_iban_valid, METH_VARARGS, "iban_valid(offsets, text, at) -> uint8 bytes"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_scan", "Compiled goAML extraction (see fast.py).", -1, methods, NULL, NULL, NULL, NULL,
};

static void init_tables(void) {
    for (int c = 0; c < 256; c++) {
        NAME_CHAR[c] = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
                       c == '-' || c == '.';
        TEXT_CLASS[c] = c == '\n' ? 2 : (c == '\t' || (c >= 0x20 && c < 0x7F && c != '<' && c != '&' && c != ']'));
    }
}

PyMODINIT_FUNC PyInit__scan(void) {
    init_tables();
    return PyModule_Create(&module);
}
