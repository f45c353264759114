/*
 * json.h: a small, strict JSON reader (RFC 8259) for one request line.
 *
 * It parses a line in place: strings are unescaped into the line's own bytes (an escape is never
 * shorter than what it stands for), so a json_value's text points into the caller's buffer and
 * lives as long as that buffer. Numbers keep their source text, so 64-bit integers are read
 * exactly. Refused: invalid UTF-8, lone surrogates, raw control characters in strings, leading
 * zeros, trailing commas, comments and anything after the value. A leading UTF-8 byte order mark
 * is skipped.
 */
#ifndef SMI_EXAMPLE_JSON_H
#define SMI_EXAMPLE_JSON_H

#include <stddef.h>
#include <stdint.h>

typedef enum json_type {
    JSON_NULL,
    JSON_FALSE,
    JSON_TRUE,
    JSON_INTEGER, /* a number with no fraction and no exponent */
    JSON_NUMBER,  /* any other number */
    JSON_STRING,
    JSON_ARRAY,
    JSON_OBJECT
} json_type;

/* One value. Children of an array or object are linked by index (-1 ends a list). */
typedef struct json_value {
    json_type type;
    const char *text; /* string: unescaped bytes (may hold NUL); number: source text */
    size_t length;
    const char *key;  /* when the value is an object member: its unescaped key */
    size_t key_length;
    int first_child;
    int next;
} json_value;

typedef struct json_document {
    json_value *values; /* values[0] is the root */
    int count;
    int capacity;
} json_document;

#define JSON_DOCUMENT_INIT {NULL, 0, 0}
#define JSON_MAX_DEPTH 128

/* Parses `text` (modified in place). Returns 0, or -1 with a one-line message in `error`
 * (-2 when out of memory). The document can be reused for the next line. */
int json_parse(json_document *document, char *text, size_t length, char *error, size_t error_size);

/* Frees the document's value array. */
void json_document_free(json_document *document);

/* The root value, valid after a successful json_parse. */
const json_value *json_root(const json_document *document);

/* The first member of `object` named `key` (a member whose value is null counts as absent);
 * NULL when there is none. */
const json_value *json_member(const json_document *document, const json_value *object, const char *key);

/* The first child of an array or object, and the next sibling; NULL at the end. */
const json_value *json_first(const json_document *document, const json_value *value);
const json_value *json_next(const json_document *document, const json_value *value);

/* Reads an integer exactly. Return 0 on success, -1 when the value is not a JSON integer or does
 * not fit ("-0" is 0 for json_uint64). */
int json_uint64(const json_value *value, uint64_t *out);
int json_int64(const json_value *value, int64_t *out);

/* A short phrase naming the value's type for messages: "a string", "an object", ... */
const char *json_type_name(const json_value *value);

#endif
