/* json.c: see json.h. */
#include "json.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct parser {
    json_document *document;
    char *text;
    size_t length;
    size_t position;
    char *error;
    size_t error_size;
} parser;

/* Records the first error; returns -1 (or -2 for "out of memory") so callers can `return fail(...)`. */
static int fail(parser *p, const char *message) {
    if (p->error_size > 0) {
        snprintf(p->error, p->error_size, "invalid JSON at column %zu: %s", p->position + 1, message);
    }
    return -1;
}

static int peek(const parser *p) {
    return p->position < p->length ? (unsigned char)p->text[p->position] : -1;
}

static void skip_whitespace(parser *p) {
    while (p->position < p->length) {
        char c = p->text[p->position];
        if (c != ' ' && c != '\t' && c != '\n' && c != '\r') break;
        p->position++;
    }
}

/* Appends a value and returns its index, or -1 when out of memory. */
static int new_value(parser *p, json_type type) {
    json_document *d = p->document;
    if (d->count == d->capacity) {
        int capacity = d->capacity ? d->capacity * 2 : 16;
        json_value *values = realloc(d->values, (size_t)capacity * sizeof *values);
        if (values == NULL) return -1;
        d->values = values;
        d->capacity = capacity;
    }
    json_value *v = &d->values[d->count];
    memset(v, 0, sizeof *v);
    v->type = type;
    v->first_child = -1;
    v->next = -1;
    return d->count++;
}

static int is_digit(int c) { return c >= '0' && c <= '9'; }

static int hex_value(int c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Reads 4 hex digits after "\u". */
static int read_hex4(parser *p, uint32_t *out) {
    uint32_t value = 0;
    for (int i = 0; i < 4; i++) {
        int digit = hex_value(peek(p));
        if (digit < 0) return fail(p, "invalid hexadecimal digit in a \\u escape");
        value = value << 4 | (uint32_t)digit;
        p->position++;
    }
    *out = value;
    return 0;
}

static size_t put_utf8(char *out, uint32_t scalar) {
    if (scalar < 0x80) {
        out[0] = (char)scalar;
        return 1;
    }
    if (scalar < 0x800) {
        out[0] = (char)(0xC0 | scalar >> 6);
        out[1] = (char)(0x80 | (scalar & 0x3F));
        return 2;
    }
    if (scalar < 0x10000) {
        out[0] = (char)(0xE0 | scalar >> 12);
        out[1] = (char)(0x80 | (scalar >> 6 & 0x3F));
        out[2] = (char)(0x80 | (scalar & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | scalar >> 18);
    out[1] = (char)(0x80 | (scalar >> 12 & 0x3F));
    out[2] = (char)(0x80 | (scalar >> 6 & 0x3F));
    out[3] = (char)(0x80 | (scalar & 0x3F));
    return 4;
}

/* Length of the valid UTF-8 sequence at `s` (at most `available` bytes), or 0 if it is invalid:
 * overlong forms, surrogates and values above U+10FFFF are refused. */
static size_t utf8_sequence(const unsigned char *s, size_t available) {
    size_t length;
    uint32_t scalar, minimum;
    if (s[0] >= 0xC2 && s[0] <= 0xDF) {
        length = 2, minimum = 0x80, scalar = s[0] & 0x1Fu;
    } else if (s[0] >= 0xE0 && s[0] <= 0xEF) {
        length = 3, minimum = 0x800, scalar = s[0] & 0x0Fu;
    } else if (s[0] >= 0xF0 && s[0] <= 0xF4) {
        length = 4, minimum = 0x10000, scalar = s[0] & 0x07u;
    } else {
        return 0;
    }
    if (length > available) return 0;
    for (size_t i = 1; i < length; i++) {
        if ((s[i] & 0xC0) != 0x80) return 0;
        scalar = scalar << 6 | (s[i] & 0x3Fu);
    }
    if (scalar < minimum || scalar > 0x10FFFF || (scalar >= 0xD800 && scalar < 0xE000)) return 0;
    return length;
}

/* Parses a string at its opening quote, unescaping it in place. */
static int parse_string(parser *p, const char **text, size_t *length) {
    p->position++; /* " */
    char *start = p->text + p->position;
    char *out = start;
    for (;;) {
        int c = peek(p);
        if (c < 0) return fail(p, "unexpected end of input in a string");
        if (c == '"') {
            p->position++;
            *text = start;
            *length = (size_t)(out - start);
            return 0;
        }
        if (c < 0x20) return fail(p, "a control character in a string must be escaped");
        if (c >= 0x80) {
            size_t n = utf8_sequence((const unsigned char *)p->text + p->position, p->length - p->position);
            if (n == 0) return fail(p, "invalid UTF-8 in a string");
            memmove(out, p->text + p->position, n);
            out += n;
            p->position += n;
            continue;
        }
        if (c != '\\') {
            *out++ = (char)c;
            p->position++;
            continue;
        }
        p->position++;
        int escape = peek(p);
        p->position++;
        switch (escape) {
        case '"': *out++ = '"'; break;
        case '\\': *out++ = '\\'; break;
        case '/': *out++ = '/'; break;
        case 'b': *out++ = '\b'; break;
        case 'f': *out++ = '\f'; break;
        case 'n': *out++ = '\n'; break;
        case 'r': *out++ = '\r'; break;
        case 't': *out++ = '\t'; break;
        case 'u': {
            uint32_t unit;
            if (read_hex4(p, &unit) != 0) return -1;
            if (unit >= 0xD800 && unit < 0xDC00) {
                uint32_t low;
                if (peek(p) != '\\' || p->position + 1 >= p->length || p->text[p->position + 1] != 'u') {
                    return fail(p, "a high surrogate \\u escape must be followed by a low surrogate");
                }
                p->position += 2;
                if (read_hex4(p, &low) != 0) return -1;
                if (low < 0xDC00 || low >= 0xE000) {
                    return fail(p, "a high surrogate \\u escape must be followed by a low surrogate");
                }
                unit = 0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00);
            } else if (unit >= 0xDC00 && unit < 0xE000) {
                return fail(p, "a low surrogate \\u escape without a high surrogate before it");
            }
            out += put_utf8(out, unit); /* 6 or 12 source bytes give at most 4: never overtakes */
            break;
        }
        case -1: return fail(p, "unexpected end of input in a string");
        default: return fail(p, "invalid escape in a string");
        }
    }
}

static int parse_number(parser *p, int index) {
    size_t start = p->position;
    int integer = 1;
    if (peek(p) == '-') p->position++;
    if (peek(p) == '0') {
        p->position++;
        if (is_digit(peek(p))) return fail(p, "a number may not have a leading zero");
    } else if (is_digit(peek(p))) {
        while (is_digit(peek(p))) p->position++;
    } else {
        return fail(p, "expected a digit");
    }
    if (peek(p) == '.') {
        integer = 0;
        p->position++;
        if (!is_digit(peek(p))) return fail(p, "expected a digit after '.'");
        while (is_digit(peek(p))) p->position++;
    }
    if (peek(p) == 'e' || peek(p) == 'E') {
        integer = 0;
        p->position++;
        if (peek(p) == '+' || peek(p) == '-') p->position++;
        if (!is_digit(peek(p))) return fail(p, "expected a digit in the exponent");
        while (is_digit(peek(p))) p->position++;
    }
    json_value *v = &p->document->values[index];
    v->type = integer ? JSON_INTEGER : JSON_NUMBER;
    v->text = p->text + start;
    v->length = p->position - start;
    return 0;
}

static int parse_word(parser *p, const char *word) {
    size_t n = strlen(word);
    if (p->length - p->position < n || memcmp(p->text + p->position, word, n) != 0) {
        return fail(p, "invalid literal");
    }
    p->position += n;
    return 0;
}

static int parse_value(parser *p, int depth, int *index);

/* Parses the members of an object or the items of an array, after its opening bracket. */
static int parse_container(parser *p, int depth, int index, int is_object) {
    char close = is_object ? '}' : ']';
    p->position++;
    skip_whitespace(p);
    if (peek(p) == close) {
        p->position++;
        return 0;
    }
    int last = -1;
    for (;;) {
        const char *key = NULL;
        size_t key_length = 0;
        skip_whitespace(p);
        if (is_object) {
            if (peek(p) != '"') return fail(p, "expected a string key");
            if (parse_string(p, &key, &key_length) != 0) return -1;
            skip_whitespace(p);
            if (peek(p) != ':') return fail(p, "expected ':' after an object key");
            p->position++;
            skip_whitespace(p);
        }
        int child;
        int status = parse_value(p, depth, &child);
        if (status != 0) return status;
        /* values may have moved (realloc): link by index, through fresh pointers */
        p->document->values[child].key = key;
        p->document->values[child].key_length = key_length;
        if (last < 0) {
            p->document->values[index].first_child = child;
        } else {
            p->document->values[last].next = child;
        }
        last = child;
        skip_whitespace(p);
        int c = peek(p);
        if (c == ',') {
            p->position++;
        } else if (c == close) {
            p->position++;
            return 0;
        } else {
            return fail(p, is_object ? "expected ',' or '}'" : "expected ',' or ']'");
        }
    }
}

static int parse_value(parser *p, int depth, int *index) {
    int c = peek(p);
    json_type type;
    switch (c) {
    case '{': type = JSON_OBJECT; break;
    case '[': type = JSON_ARRAY; break;
    case '"': type = JSON_STRING; break;
    case 't': type = JSON_TRUE; break;
    case 'f': type = JSON_FALSE; break;
    case 'n': type = JSON_NULL; break;
    case -1: return fail(p, "unexpected end of input, expected a value");
    default:
        if (c == '-' || is_digit(c)) {
            type = JSON_INTEGER;
            break;
        }
        return fail(p, "unexpected character, expected a value");
    }
    int i = new_value(p, type);
    if (i < 0) {
        if (p->error_size > 0) snprintf(p->error, p->error_size, "out of memory");
        return -2;
    }
    *index = i;
    switch (type) {
    case JSON_OBJECT:
    case JSON_ARRAY:
        if (depth + 1 > JSON_MAX_DEPTH) return fail(p, "the document nests too deep");
        return parse_container(p, depth + 1, i, type == JSON_OBJECT);
    case JSON_STRING: {
        const char *text;
        size_t length;
        if (parse_string(p, &text, &length) != 0) return -1;
        p->document->values[i].text = text;
        p->document->values[i].length = length;
        return 0;
    }
    case JSON_TRUE: return parse_word(p, "true");
    case JSON_FALSE: return parse_word(p, "false");
    case JSON_NULL: return parse_word(p, "null");
    default: return parse_number(p, i);
    }
}

int json_parse(json_document *document, char *text, size_t length, char *error, size_t error_size) {
    parser p = {document, text, length, 0, error, error_size};
    document->count = 0;
    if (length >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0) p.position = 3;
    skip_whitespace(&p);
    int root;
    int status = parse_value(&p, 0, &root);
    if (status != 0) return status;
    skip_whitespace(&p);
    if (p.position != p.length) return fail(&p, "unexpected content after the JSON value");
    return 0;
}

void json_document_free(json_document *document) {
    free(document->values);
    document->values = NULL;
    document->count = document->capacity = 0;
}

const json_value *json_root(const json_document *document) {
    return document->count > 0 ? &document->values[0] : NULL;
}

const json_value *json_first(const json_document *document, const json_value *value) {
    if (value == NULL || value->first_child < 0) return NULL;
    return &document->values[value->first_child];
}

const json_value *json_next(const json_document *document, const json_value *value) {
    if (value == NULL || value->next < 0) return NULL;
    return &document->values[value->next];
}

const json_value *json_member(const json_document *document, const json_value *object, const char *key) {
    if (object == NULL || object->type != JSON_OBJECT) return NULL;
    size_t n = strlen(key);
    for (const json_value *v = json_first(document, object); v != NULL; v = json_next(document, v)) {
        if (v->key_length == n && memcmp(v->key, key, n) == 0) {
            return v->type == JSON_NULL ? NULL : v;
        }
    }
    return NULL;
}

/* Reads an integer's magnitude; -1 when it is not an integer or exceeds UINT64_MAX. */
static int magnitude(const json_value *value, int *negative, uint64_t *out) {
    if (value == NULL || value->type != JSON_INTEGER) return -1;
    size_t i = 0;
    *negative = value->length > 0 && value->text[0] == '-';
    if (*negative) i = 1;
    uint64_t m = 0;
    for (; i < value->length; i++) {
        uint64_t digit = (uint64_t)(value->text[i] - '0');
        if (m > (UINT64_MAX - digit) / 10) return -1;
        m = m * 10 + digit;
    }
    *out = m;
    return 0;
}

int json_uint64(const json_value *value, uint64_t *out) {
    int negative;
    uint64_t m;
    if (magnitude(value, &negative, &m) != 0 || (negative && m != 0)) return -1;
    *out = m;
    return 0;
}

int json_int64(const json_value *value, int64_t *out) {
    int negative;
    uint64_t m;
    if (magnitude(value, &negative, &m) != 0) return -1;
    if (negative) {
        if (m > (uint64_t)INT64_MAX + 1) return -1;
        *out = m == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)m;
    } else {
        if (m > (uint64_t)INT64_MAX) return -1;
        *out = (int64_t)m;
    }
    return 0;
}

const char *json_type_name(const json_value *value) {
    switch (value->type) {
    case JSON_NULL: return "null";
    case JSON_FALSE:
    case JSON_TRUE: return "a boolean";
    case JSON_INTEGER:
    case JSON_NUMBER: return "a number";
    case JSON_STRING: return "a string";
    case JSON_ARRAY: return "an array";
    case JSON_OBJECT: return "an object";
    }
    return "a value";
}
